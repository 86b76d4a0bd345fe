"""Tool exports with their own shapes: help-desk tickets with threads, app-store reviews, highlights.

Each is turned into the flat records the table readers already understand (id, subject,
description, customer, ...), with the conversation kept as `_thread`: the customer's own replies
stay quotable, the support agent's replies become context that is never quoted as the customer,
and internal notes are left out (they were never part of the conversation).
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..ids import content_hash

# Keys under which exports wrap their list of records.
WRAPPERS = (
    "tickets",
    "conversations",
    "issues",
    "requests",
    "reviews",
    "data",
    "results",
    "records",
)
THREAD = "_thread"
AGENT_AUTHORS = {"admin", "bot", "team", "operator", "agent"}


def unwrap(
    records: list[tuple[int | None, dict[str, Any]]],
) -> list[tuple[int | None, dict[str, Any]]]:
    """`{"tickets": [...]}` (Zendesk), `{"conversations": [...]}` (Intercom), `{"issues": [...]}`
    (Jira) and the like: the records inside, when the file is one such object."""
    if len(records) != 1:
        return records
    line, only = records[0]
    if vendor(only) is not None:
        return records  # one ticket of a known export (its own lists are its thread)
    for key in WRAPPERS:
        inner = only.get(key)
        if isinstance(inner, list) and inner and all(isinstance(v, dict) for v in inner):
            return [(line, v) for v in inner]
    return records


def text_of(value: Any) -> str:
    """Plain text from a string (HTML tags and entities removed) or an Atlassian document."""
    if value is None:
        return ""
    if isinstance(value, dict):
        # Jira Cloud's description and comments are Atlassian Document Format trees.
        parts: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "text":
                    parts.append(str(node.get("text", "")))
                for child in node.get("content", []) or []:
                    walk(child)
                if node.get("type") in {"paragraph", "heading", "listItem", "hardBreak"}:
                    parts.append("\n")

        walk(value)
        return " ".join("".join(parts).split())
    text = str(value)
    if "<" in text and ">" in text:
        text = re.sub(r"<br\s*/?>|</p>|</div>|</li>", "\n", text, flags=re.IGNORECASE)
        text = re.sub(r"<[^>]+>", "", text)
    return " ".join(html.unescape(text).split())


def _when(value: Any) -> str:
    """ISO text for a timestamp: Unix seconds (Intercom) become a UTC date-time."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 10**8:
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "" if value is None else str(value)


def _names(value: Any, key: str = "name") -> str:
    """'a, b' from ["a", "b"] or [{"name": "a"}, ...]."""
    if isinstance(value, dict):
        value = value.get("tags") or value.get(key) or []
    if isinstance(value, list):
        items = [v.get(key, "") if isinstance(v, dict) else v for v in value]
        return ", ".join(str(v) for v in items if v not in (None, ""))
    return "" if value is None else str(value)


def _turn(role: str, text: str) -> dict[str, str]:
    return {"role": role, "speaker": role, "text": text}


def _zendesk(record: Mapping[str, Any]) -> dict[str, Any]:
    requester = record.get("requester_id")
    description = text_of(record.get("description"))
    thread = []
    for comment in record.get("comments") or []:
        if not isinstance(comment, dict) or comment.get("public") is False:
            continue  # an internal note: agents talking among themselves
        body = text_of(comment.get("plain_body") or comment.get("body"))
        if not body or body == description:
            continue  # Zendesk repeats the description as the first comment
        mine = requester is not None and comment.get("author_id") == requester
        thread.append(_turn("customer" if mine else "agent", body))
    via = record.get("via")
    return {
        "id": record.get("id"),
        "subject": record.get("subject") or record.get("raw_subject"),
        "description": description,
        "requester_id": requester,
        "created_at": record.get("created_at"),
        "tags": _names(record.get("tags")),
        "priority": record.get("priority"),
        "status": record.get("status"),
        "channel": via.get("channel") if isinstance(via, dict) else via,
        "product": record.get("product") or record.get("brand"),
        THREAD: thread,
    }


def _intercom_role(author: Any) -> str:
    kind = str(author.get("type", "")).lower() if isinstance(author, dict) else ""
    return "agent" if kind in AGENT_AUTHORS else "customer"


def _intercom(record: Mapping[str, Any]) -> dict[str, Any]:
    source = record.get("source") if isinstance(record.get("source"), dict) else {}
    contacts = record.get("contacts")
    people = contacts.get("contacts", []) if isinstance(contacts, dict) else contacts or []
    customer = next(
        (p.get("external_id") or p.get("id") for p in people if isinstance(p, dict)), None
    )
    opening = text_of(source.get("body"))
    first_role = _intercom_role(source.get("author"))
    thread = []
    parts = record.get("conversation_parts")
    for part in parts.get("conversation_parts", []) if isinstance(parts, dict) else parts or []:
        if not isinstance(part, dict) or part.get("part_type") == "note":
            continue  # notes are internal
        body = text_of(part.get("body"))
        if body:
            thread.append(_turn(_intercom_role(part.get("author")), body))
    subject = text_of(source.get("subject") or record.get("title"))
    if first_role == "agent":
        # An outbound message the customer answered: its subject and words are the agent's.
        said = " ".join(part for part in (subject, opening) if part)
        thread[:0] = [_turn("agent", said)] if said else []
        subject = opening = ""
    return {
        "id": record.get("id"),
        "subject": subject,
        "description": opening,
        "customer_id": customer,
        "created_at": _when(record.get("created_at")),
        "tags": _names(record.get("tags")),
        "priority": record.get("priority"),
        "status": record.get("state"),
        "channel": source.get("type"),
        THREAD: thread,
    }


FRESHDESK_PRIORITY = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
FRESHDESK_STATUS = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}


def _freshdesk(record: Mapping[str, Any]) -> dict[str, Any]:
    thread = []
    for reply in record.get("conversations") or []:
        if not isinstance(reply, dict) or reply.get("private"):
            continue  # a private note
        body = text_of(reply.get("body_text") or reply.get("body"))
        if body:
            thread.append(_turn("customer" if reply.get("incoming") else "agent", body))
    priority, status = record.get("priority"), record.get("status")
    return {
        "id": record.get("id"),
        "subject": record.get("subject"),
        "description": text_of(record.get("description_text") or record.get("description")),
        "requester_id": record.get("requester_id"),
        "created_at": record.get("created_at"),
        "tags": _names(record.get("tags")),
        "priority": FRESHDESK_PRIORITY.get(priority, priority)
        if isinstance(priority, int)
        else priority,
        "status": FRESHDESK_STATUS.get(status, status) if isinstance(status, int) else status,
        "product": record.get("product") or record.get("product_id"),
        THREAD: thread,
    }


def _account(person: Any) -> str | None:
    if isinstance(person, dict):
        return person.get("accountId") or person.get("name") or person.get("emailAddress")
    return None if person is None else str(person)


def _jira(record: Mapping[str, Any]) -> dict[str, Any]:
    fields = record.get("fields") if isinstance(record.get("fields"), dict) else {}
    reporter = _account(fields.get("reporter"))
    thread = []
    comments = fields.get("comment")
    for comment in comments.get("comments", []) if isinstance(comments, dict) else comments or []:
        if not isinstance(comment, dict) or comment.get("jsdPublic") is False:
            continue  # an internal comment in Jira Service Management
        body = text_of(comment.get("body"))
        if body:
            mine = reporter is not None and _account(comment.get("author")) == reporter
            thread.append(_turn("customer" if mine else "agent", body))

    def name(key: str) -> Any:
        value = fields.get(key)
        return value.get("name") if isinstance(value, dict) else value

    return {
        "id": record.get("key") or record.get("id"),
        "subject": fields.get("summary"),
        "description": text_of(fields.get("description")),
        "customer_id": reporter,
        "created_at": fields.get("created"),
        "tags": _names(fields.get("labels")),
        "priority": name("priority"),
        "status": name("status"),
        "product": _names(fields.get("components")),
        THREAD: thread,
    }


def _app_store(record: Mapping[str, Any]) -> dict[str, Any]:
    attributes = record.get("attributes") if isinstance(record.get("attributes"), dict) else {}
    return review_record(
        {
            "id": record.get("id"),
            "title": attributes.get("title"),
            "review": attributes.get("body"),
            "rating": attributes.get("rating"),
            "author": attributes.get("reviewerNickname"),
            "date": attributes.get("createdDate"),
            "country": attributes.get("territory"),
        },
        channel="App Store",
    )


def vendor(record: Mapping[str, Any]) -> str | None:
    """Which export a JSON record comes from, by the keys only that export has."""
    if record.get("type") == "customerReviews" and isinstance(record.get("attributes"), dict):
        return "app_store"
    if "key" in record and isinstance(record.get("fields"), dict):
        return "jira"
    if "conversation_parts" in record or (
        record.get("type") == "conversation" and isinstance(record.get("source"), dict)
    ):
        return "intercom"
    replies = record.get("conversations")
    if "description_text" in record or (
        isinstance(replies, list)
        and "requester_id" in record
        and all(isinstance(r, dict) and "incoming" in r for r in replies)
    ):
        return "freshdesk"
    if "comments" in record and "requester_id" in record:
        return "zendesk"
    return None


# Keys of an export's records that stay when the thread that identifies the export is missing.
PARTIAL_KEYS: dict[str, set[str]] = {
    "zendesk": {"requester_id"},
    "freshdesk": {"requester_id"},
    "intercom": {"conversation_message", "source"},
    "jira": {"fields"},
    "app_store": {"attributes"},
}

READERS = {
    "zendesk": _zendesk,
    "intercom": _intercom,
    "freshdesk": _freshdesk,
    "jira": _jira,
    "app_store": _app_store,
}


def normalise(
    records: list[tuple[int | None, dict[str, Any]]],
) -> tuple[list[tuple[int | None, dict[str, Any]]], str | None]:
    """Records of a known export as flat ticket records (with their threads), and its name."""
    records = unwrap(records)
    sample = [r for _, r in records[:50]]
    kinds = {vendor(r) for r in sample} - {None}
    if len(kinds) != 1:
        return records, None
    (kind,) = kinds
    assert kind is not None
    # A ticket nobody replied to has no thread list ("comments"), which is what tells the
    # export apart; it still has the export's own key and belongs with the others.
    if any(vendor(r) is None and not PARTIAL_KEYS[kind] & r.keys() for r in sample):
        return records, None
    read = READERS[kind]
    flat = [
        (line, {k: v for k, v in read(r).items() if v not in (None, "")}) for line, r in records
    ]
    return flat, kind


# --------------------------------------------------------------------------- app-store reviews

# Our field -> header names in Google Play's review CSVs and App Store review exports.
REVIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "rating": ("star rating", "rating", "stars", "score", "star_rating"),
    "review": ("review text", "review", "content", "body", "review body", "text"),
    "title": ("review title", "title", "subject"),
    "id": ("review id", "review_id", "id", "review link"),
    "product": ("package name", "app", "app name", "app_name", "product", "application"),
    "author": ("author", "reviewer", "user name", "nickname", "reviewer nickname"),
    "date": (
        "review submit date and time",
        "date",
        "created",
        "created at",
        "submitted",
        "review date",
    ),
    "version": ("app version name", "version", "app version"),
    "country": ("country", "territory", "store country"),
    "language": ("reviewer language", "language"),
    "reply": ("developer reply text", "developer response", "reply", "response"),
    "store": ("store", "platform"),
}


def review_columns(headers: Sequence[str]) -> dict[str, str] | None:
    """Column map of an app-store review export: a star rating beside the review's text."""
    lowered = {h.strip().lower(): h for h in reversed(headers) if h}
    found = {
        ours: next((lowered[a] for a in aliases if a in lowered), None)
        for ours, aliases in REVIEW_COLUMNS.items()
    }
    if not found["rating"] or not found["review"]:
        return None
    return {k: v for k, v in found.items() if v}


def review_record(row: Mapping[str, Any], channel: str | None = None) -> dict[str, Any]:
    """One review as a flat ticket record; the developer's reply is agent context."""

    def get(key: str) -> str:
        value = row.get(key)
        return "" if value is None else str(value).strip()

    link = re.search(r"reviewid=([^&#]+)", get("id"))
    # Google Play names a review only by its console link; the id inside it is enough.
    ident = (link.group(1) if link else get("id")) or "review-" + content_hash(
        [get("product"), get("author"), get("date"), get("review")]
    )[:12]
    reply = get("reply")
    record: dict[str, Any] = {
        "id": ident,
        "subject": get("title"),
        "description": get("review"),
        "customer": get("author"),
        "created_at": get("date"),
        "product": get("product"),
        "channel": get("store") or channel or "",
        "_meta": {
            k: _number(get(k)) if k == "rating" else get(k)
            for k in ("rating", "version", "country", "language")
            if get(k)
        },
        THREAD: [_turn("agent", reply)] if reply else [],
    }
    return {k: v for k, v in record.items() if v not in (None, "")}


def _number(text: str) -> int | float | str:
    """'4' -> 4, '4.5' -> 4.5; anything else stays text."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


# --------------------------------------------------------------------------- research highlights

HIGHLIGHT_TEXT = (
    "highlight",
    "highlight text",
    "highlight content",
    "text",
    "content",
    "quote",
    "excerpt",
    "snippet",
)
HIGHLIGHT_PERSON = (
    "participant",
    "participant name",
    "participants",
    "person",
    "people",
    "interviewee",
    "respondent",
)
HIGHLIGHT_SOURCE = ("note", "note title", "session", "source", "document", "interview", "recording")
HIGHLIGHT_EXTRA = ("tags", "tag", "project", "created", "created at", "date", "insight")


def highlight_columns(headers: Sequence[str]) -> dict[str, str] | None:
    """Column map of a research highlights export (Dovetail, Condens): text and whose words."""
    lowered = {h.strip().lower(): h for h in reversed(headers) if h}

    def pick(aliases: Sequence[str]) -> str | None:
        return next((lowered[a] for a in aliases if a in lowered), None)

    text, person, source = pick(HIGHLIGHT_TEXT), pick(HIGHLIGHT_PERSON), pick(HIGHLIGHT_SOURCE)
    if not text or not person:
        return None
    found = {"text": text, "participant": person, "source": source}
    found.update({k: lowered[k] for k in HIGHLIGHT_EXTRA if k in lowered})
    return {k: v for k, v in found.items() if v}
