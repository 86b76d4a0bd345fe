"""Tabular inputs: support-ticket exports (CSV/JSONL), participant rosters and user tables.

A CSV is classified by its header: a text column (description, body, ...) makes it a ticket
export; a participant_id column without text makes it a roster; an id column beside numeric
columns makes it a user table, kept for `persona segment`; anything else is skipped, saying why.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from ..models import Document, SkippedInput, Turn
from .base import make_document
from .exports import THREAD, highlight_columns, review_columns, review_record, text_of

# Metadata a reader adds to a ticket beyond the mapped columns (an app review's rating).
EXTRA = "_meta"

# Our field -> header names seen in Zendesk, Freshdesk, Intercom, Help Scout and Jira exports.
TICKET_ALIASES: dict[str, tuple[str, ...]] = {
    # Compared after _normalise: "Ticket #", "Ticket No." and "Ticket Number" all read "ticket id".
    "id": (
        "id",
        "ticket_id",
        "ticket id",
        "ticket",
        "key",
        "issue key",
        "issue id",
        "case id",
        "case",
        "request id",
        "incident id",
        "reference id",
        "number",
        "conversation_id",
        "review id",
        "feedback id",
        "response id",
    ),
    "text": (
        "description",
        "body",
        "comment",
        "message",
        "text",
        "content",
        "details",
        "first_message",
        # Feedback and review exports without a rating column (those with one are app-store
        # reviews, read by _read_reviews).
        "review",
        "review text",
        "feedback",
        "comments",
    ),
    "subject": ("subject", "title", "summary"),
    "customer": (
        "requester_id",
        "requester id",
        "customer_id",
        "customer id",
        "user_id",
        "user id",
        "contact_id",
        "requester",
        "customer",
        "account_id",
        "account id",
        "account",
        "member_id",
        "member id",
        "member",
        "organization_id",
        "reporter id",
        "reporter",
    ),
    "created_at": (
        "created_at",
        "created at",
        "created",
        "opened",
        "opened at",
        "created time",
        "created date",
        "date created",
        "date",
        "timestamp",
    ),
    "tags": ("tags", "labels"),
    "priority": ("priority", "severity"),
    "channel": ("channel", "via", "source"),
    "product": ("product", "app", "app_name", "application", "component/s", "components"),
    "status": ("status", "state"),
}
ROSTER_KEYS = ("participant_id", "participant")
# The same, as _normalise spells them ("Participant ID" -> "participant id").
ROSTER_NAMES = {*ROSTER_KEYS, "participant id"}


def roster_column(headers: Sequence[str]) -> int | None:
    """Where a roster's participant id is: 'participant_id', 'Participant ID', 'Participant'."""
    for wanted in (lambda h: h.strip().lower(), _normalise):
        found = [i for i, h in enumerate(headers) if h and wanted(h) in ROSTER_NAMES]
        if found:
            return found[0]
    return None


def _roster_field(header: str) -> str:
    """'Participant ID' -> 'participant_id', 'Company size' -> 'company_size'."""
    return re.sub(r"\W+", "_", header.strip().lower()).strip("_") or header


TableKind = Literal["tickets", "roster", "users", "highlights"]
# Rows sampled to tell a user table (numeric columns) from any other CSV.
SAMPLE_ROWS = 200
NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?$")


@dataclass
class TableResult:
    kind: TableKind
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)
    roster: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    # Things the user should know about a file that was read in full (not skipped rows).
    notes: list[str] = field(default_factory=list)


# Header words that mean "identifier": "Ticket #", "Case No.", "Request Number" name id columns.
ID_WORDS = {"#", "no", "nr", "num", "number", "id"}
DELIMITERS = (",", ";", "\t", "|")
# Records read to break a tie between delimiters that appear equally often in the header.
DELIMITER_SAMPLE = 20
# A header is short; an unbalanced quote in it must not make us scan a 50 MB file.
HEADER_SCAN = 65536


def _normalise(header: str) -> str:
    """'Ticket #' -> 'ticket id', 'created_at' -> 'created at', 'TicketID' -> 'ticket id'."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header.strip())
    words = ["id" if w in ID_WORDS else w for w in re.findall(r"#|[^\W_]+", spaced.lower())]
    # "Ticket ID #" says "id" twice.
    return " ".join(w for i, w in enumerate(words) if i == 0 or words[i - 1] != w)


def _find(headers: Iterable[str], wanted: str) -> str | None:
    """The header that is `wanted` (case and spacing aside), else one that normalises the same."""
    names = [h for h in headers if h]
    exact = [h for h in names if h.strip().lower() == wanted.strip().lower()]
    if exact:
        return exact[0]
    key = _normalise(wanted)
    return next((h for h in names if key and _normalise(h) == key), None)


def _auto_column(headers: list[str], aliases: Iterable[str]) -> str | None:
    """An exact alias anywhere beats a look-alike: 'Ticket ID' wins over a '#' row counter."""
    names = [h for h in headers if h]
    lowered = {h.strip().lower(): h for h in reversed(names)}
    normalised = {_normalise(h): h for h in reversed(names)}
    for table, key in ((lowered, str.lower), (normalised, _normalise)):
        hit = next((table[key(a)] for a in aliases if key(a) in table), None)
        if hit is not None:
            return hit
    return None


@dataclass
class ColumnMap:
    """Our ticket field -> this file's column, and the configured columns this file lacks."""

    columns: dict[str, str] = field(default_factory=dict)
    # (field, configured column, auto-detected column used instead)
    fallbacks: list[tuple[str, str, str]] = field(default_factory=list)
    # (field, configured column) with nothing auto-detected either
    missing: list[tuple[str, str]] = field(default_factory=list)


def _map_columns(headers: Iterable[str], overrides: Mapping[str, str]) -> ColumnMap:
    """A configured column wins; one this file lacks falls back to auto-detection for its field."""
    names = list(headers)
    found = ColumnMap()
    for ours, aliases in TICKET_ALIASES.items():
        auto = _auto_column(names, aliases)
        configured = overrides.get(ours)
        chosen = _find(names, configured) if configured else auto
        if configured and chosen is None:
            # ingest.ticket_columns holds one mapping for every file; another export may differ.
            if auto is None:
                found.missing.append((ours, configured))
                continue
            found.fallbacks.append((ours, configured, auto))
            chosen = auto
        if chosen is not None:
            found.columns[ours] = chosen
    return found


def _resolve_columns(headers: Iterable[str], overrides: Mapping[str, str]) -> dict[str, str]:
    return _map_columns(headers, overrides).columns


def _is_tickets(headers: list[str], overrides: Mapping[str, str]) -> bool:
    return "text" in _resolve_columns(headers, overrides)


def _ticket_columns(
    path: Path, headers: list[str], overrides: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The column map of a ticket export, with a note for each configured column it lacks.

    A configured column that is missing with nothing auto-detected in its place, or no id column
    at all, is one error for the whole file rather than one per row.
    """
    mapped = _map_columns(headers, overrides)
    columns = ", ".join(headers)
    if mapped.missing:
        named = ", ".join(f"{ours} = {col!r}" for ours, col in sorted(mapped.missing))
        raise InputError(
            str(path), f"ingest.ticket_columns {named}: no such column (columns: {columns})", 1
        )
    if "id" not in mapped.columns:
        raise InputError(
            str(path),
            "no ticket id column (looked for names like id, ticket id, Ticket #, Case Number, "
            f"Request ID, Issue Key); columns: {columns}; name yours with ingest.ticket_columns "
            'in persona.toml: [ingest] ticket_columns = { id = "<column>" }',
            1,
        )
    notes = []
    if mapped.fallbacks:
        configured = ", ".join(f"{ours} = {col!r}" for ours, col, _ in sorted(mapped.fallbacks))
        used = ", ".join(f"{ours} = {auto!r}" for ours, _, auto in sorted(mapped.fallbacks))
        notes.append(
            f"{path}: ingest.ticket_columns {configured} is not a column of this file, so the "
            f"auto-detected {used} was used instead (columns: {columns})"
        )
    return mapped.columns, notes


def detect_delimiter(text: str) -> str:
    """The delimiter (, ; tab |) found most often outside quotes in the header line.

    A tie is settled by which delimiter gives the next rows the header's field count, then by the
    order above; a header with none of them is a one-column comma file.
    """
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    head = text[:HEADER_SCAN]
    for char in head.lstrip("\r\n"):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    top = max(counts.values())
    tied = [d for d in DELIMITERS if counts[d] == top]
    if top == 0:
        return ","
    if len(tied) == 1:
        return tied[0]

    def consistent(delimiter: str) -> int:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            sample = [r for r in itertools.islice(rows, DELIMITER_SAMPLE + 1) if r]
        except csv.Error:
            return -1
        return sum(len(r) == len(sample[0]) for r in sample[1:]) if sample else 0

    return max(tied, key=lambda d: (consistent(d), -DELIMITERS.index(d)))


def _is_id_column(name: str) -> bool:
    low = name.strip().lower()
    return low in {"id", "uid", "userid"} or low.endswith(("_id", " id"))


def _numeric_columns(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = []
    for i, name in enumerate(headers):
        values = [r[i].strip() for r in rows if i < len(r) and r[i].strip()]
        if values and all(NUMBER.match(v.replace(",", "")) for v in values):
            out.append(name)
    return out


def classify(
    headers: list[str], overrides: Mapping[str, str], sample: list[list[str]] | None = None
) -> TableKind | None:
    """tickets (a text column), roster (participant_id), users (an id and numbers), else None."""
    if _is_tickets(headers, overrides):
        return "tickets"
    if roster_column(headers) is not None:
        return "roster"
    ids = [h for h in headers if _is_id_column(h)]
    numeric = [h for h in _numeric_columns(headers, sample or []) if h not in ids]
    if ids and numeric:
        return "users"
    # An id column by another name ("member", "account"): the first column, its values all
    # present and distinct, next to at least two numeric columns is a metrics export.
    rows = [r for r in sample or [] if r]
    first = [r[0].strip() for r in rows]
    if (
        len(rows) >= 2
        and all(first)
        and len(set(first)) == len(first)
        and len([h for h in numeric if h != headers[0]]) >= 2
    ):
        return "users"
    return None


def _not_a_table(path: Path, headers: list[str], overrides: Mapping[str, str]) -> InputError:
    hint = ""
    if "text" in overrides:
        hint = f"; ingest.ticket_columns text = {overrides['text']!r} is not one of them"
    return InputError(
        str(path),
        "not a ticket export (no text column such as description or body), a participant roster "
        "(participant_id) or a user table (an id column and numeric columns); "
        f"columns: {', '.join(headers)}{hint}",
    )


# Markup a help desk leaves in an exported body ("<p>", "<br>", "&nbsp;"); a bare "<" or "&" in
# what a customer typed ("Smith, Jones & Co") is not markup and is left alone.
HTML_MARKUP = re.compile(
    r"</?(?:p|br|div|span|b|i|u|strong|em|ul|ol|li|a|h[1-6]|table|tr|td|th|blockquote|pre|code|"
    r"img|hr|font|section|article)\b[^>]*>|&(?:nbsp|amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    """A ticket field as text: HTML from a help-desk export read as the JSON readers read it."""
    return text_of(text) if HTML_MARKUP.search(text) else text


def ticket_document(
    path: Path, row: Mapping[str, Any], cols: Mapping[str, str], line: int | None
) -> Document | SkippedInput:
    def get(name: str) -> str:
        col = cols.get(name)
        value = row.get(col) if col else None
        return "" if value is None else str(value).strip()

    body, subject, ticket_id = _plain(get("text")), _plain(get("subject")), get("id")
    thread = [
        {**t, "text": _plain(str(t.get("text", "")))}
        for t in row.get(THREAD) or []
        if str(t.get("text", "")).strip()
    ]
    if not body and not subject and not any(t["role"] == "customer" for t in thread):
        return SkippedInput(
            path=str(path), line=line, reason="ticket has no subject or description"
        )
    if not ticket_id:
        return SkippedInput(path=str(path), line=line, reason="ticket has no id")
    said = [("customer", "customer", text) for text in (subject, body) if text]
    # The thread after the opening message: the customer's replies are theirs to quote; the
    # agent's answers stay beside them as context (role "agent" is never quoted).
    said += [(str(t["role"]), str(t["speaker"]), str(t["text"]).strip()) for t in thread]
    turns: list[Turn] = []
    for role, speaker, text in said:
        start = turns[-1].start + len(turns[-1].text) + 2 if turns else 0
        turns.append(Turn(speaker=speaker, role=role, text=text, start=start, line=line))  # type: ignore[arg-type]
    customer = get("customer") or None
    meta: dict[str, Any] = {
        k: get(k) for k in ("created_at", "tags", "priority", "channel", "status", "product")
    }
    extra = row.get(EXTRA)
    if isinstance(extra, Mapping):
        meta.update({str(k): v for k, v in extra.items()})
    meta = {k: v for k, v in meta.items() if v not in (None, "")}
    return make_document(
        str(path),
        "ticket",
        turns,
        participant_id=customer,
        ticket_id=ticket_id,
        user_id=customer,
        metadata=meta,
    )


def _shape(value: str) -> str:
    """Character classes with runs collapsed: '1001' and '87' -> '9', 'TCK-12' -> 'A-9'."""
    classes = (
        "9" if c.isdigit() else "A" if c.isupper() else "a" if c.isalpha() else c for c in value
    )
    return re.sub(r"(.)\1+", r"\1", "".join(classes))


def _looks_like_row(line: str, id_shape: str, id_index: int, width: int, delimiter: str) -> bool:
    """One line that parses as a record of this table: about the header's width, a similar id."""
    try:
        parsed = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return False
    return (
        len(parsed) >= 2
        and abs(len(parsed) - width) <= max(1, width // 4)
        and id_index < len(parsed)
        and bool(parsed[id_index].strip())
        and _shape(parsed[id_index].strip()) == id_shape
    )


def _runs_into_next_row(fields: list[str], id_index: int, width: int, delimiter: str) -> bool:
    """A quoted field holding lines that parse as further records (an unbalanced quote)."""
    multiline = [v for v in fields if "\n" in v or "\r" in v]
    if not multiline or id_index >= len(fields) or not fields[id_index].strip():
        return False
    shape = _shape(fields[id_index].strip())
    return any(
        _looks_like_row(embedded, shape, id_index, width, delimiter)
        for value in multiline
        for embedded in value.splitlines()[1:]
    )


def _swallowed(
    lines: list[str], first: int, last: int, id_value: str, id_index: int, width: int, delim: str
) -> str:
    """What to say about a record that ran on into the rows below it: which lines it ate."""
    shape = _shape(id_value.strip())
    lost = [
        n
        for n in range(first + 1, last + 1)
        if n <= len(lines) and _looks_like_row(lines[n - 1], shape, id_index, width, delim)
    ]
    rows = (
        f"the row on line {lost[0]} is"
        if len(lost) == 1
        else f"the rows on lines {', '.join(map(str, lost))} are"
        if lost
        else "what they hold is"
    )
    return (
        "a quoted field runs into the next row (unbalanced quote?): "
        f"lines {first}-{last} read as one record, so {rows} skipped too"
    )


def _records(path: Path, text: str, delimiter: str) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each record; a quoted field may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        before = reader.line_num
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            hint = " (an unbalanced quote?)" if "field limit" in str(exc) else ""
            raise InputError(str(path), f"malformed CSV: {exc}{hint}", before + 1) from exc
        if fields:
            yield before + 1, reader.line_num, fields


def read_csv_table(
    path: Path, text: str, overrides: Mapping[str, str], delimiter: str | None = None
) -> TableResult:
    """Tickets, a roster or a user table (only classified: the scorer reads it) from CSV/TSV text.

    With no delimiter given, the header line decides among comma, semicolon, tab and pipe.
    """
    delimiter = delimiter or detect_delimiter(text)
    records = _records(path, text, delimiter)
    headers = next(records, (1, 1, []))[2]
    sample = [f for _, _, f in itertools.islice(records, SAMPLE_ROWS)]
    if not headers:
        raise InputError(str(path), "CSV has no header row", 1)
    if "text" not in overrides:
        reviews = review_columns(headers) if _is_review_export(headers) else None
        if reviews is not None:
            return _read_reviews(path, text, delimiter, headers, reviews)
        highlights = highlight_columns(headers)
        if highlights is not None:
            return _read_highlights(path, text, delimiter, headers, highlights)
    kind = classify(headers, overrides, sample)
    if kind is None:
        raise _not_a_table(path, headers, overrides)
    result = TableResult(kind=kind, columns=headers)
    if kind == "users":
        return result
    cols: dict[str, str] = {}
    if kind == "tickets":
        cols, result.notes = _ticket_columns(path, headers, overrides)
        id_index = headers.index(cols["id"])
    else:
        id_index = roster_column(headers)
        assert id_index is not None
    # Read again from the top: classifying consumed the first rows.
    rows = _records(path, text, delimiter)
    next(rows, None)
    lines: list[str] | None = None
    seen: set[str] = set()
    width = len(headers)
    for line, last, fields in rows:
        reason = None
        if _runs_into_next_row(fields, id_index, width, delimiter):
            if lines is None:
                # The physical lines, split exactly as the csv module splits them.
                lines = [raw.rstrip("\r\n") for raw in io.StringIO(text, newline="")]
            reason = _swallowed(lines, line, last, fields[id_index], id_index, width, delimiter)
        elif len(fields) != width:
            reason = f"row has {len(fields)} fields, header has {width}"
        if reason:
            result.skipped.append(SkippedInput(path=str(path), line=line, reason=reason))
            continue
        row = _row(headers, fields, cols)
        if kind == "roster":
            pid = fields[id_index].strip()
            if pid:
                # "Participant ID" and "Role" are the participant_id and role others write.
                result.roster[pid] = {
                    _roster_field(k): v for k, v in row.items() if v not in (None, "")
                }
            continue
        _accept(result, seen, ticket_document(path, row, cols, line), path, line)
    return result


# Jira's CSV export repeats a "Comment" column per comment: "12/Mar/26 9:14 AM;<author id>;text".
JIRA_COMMENT = re.compile(r"^(?P<when>[^;]{5,40});(?P<author>[^;]{1,80});(?P<text>.*)$", re.DOTALL)


def _row(headers: list[str], fields: list[str], cols: Mapping[str, str]) -> dict[str, Any]:
    """A record as a dict; a repeated header (Jira's Labels, Comment) keeps every value.

    Comment columns that are not the ticket's own text column become its thread: the
    reporter's comments are the customer's, everyone else's the agent's.
    """
    row: dict[str, Any] = {}
    repeated: dict[str, list[str]] = {}
    for header, value in zip(headers, fields, strict=True):
        if header in row:
            repeated.setdefault(header, [row[header]]).append(value)
        row[header] = value
    for header, values in repeated.items():
        row[header] = ", ".join(v.strip() for v in values if v.strip())
    reporter = {
        str(row.get(h, "")).strip().lower()
        for h in headers
        if h.strip().lower() in {"reporter id", "reporter", "requester id", "requester"}
    } - {""}
    thread = []
    for header, value in zip(headers, fields, strict=True):
        if header.strip().lower() not in {"comment", "comments"} or header == cols.get("text"):
            continue
        match = JIRA_COMMENT.match(value.strip())
        if match and match["text"].strip():
            mine = match["author"].strip().lower() in reporter
            role = "customer" if mine else "agent"
            thread.append({"role": role, "speaker": role, "text": match["text"].strip()})
    if thread:
        row[THREAD] = thread
    return row


def _is_review_export(headers: list[str]) -> bool:
    """A rating and the review's own columns: 'Rating' beside 'Body' alone may be a CSAT survey."""
    names = {h.strip().lower() for h in headers}
    return bool(names & REVIEW_MARKERS)


REVIEW_MARKERS = {
    "review text",
    "review",
    "star rating",
    "review title",
    "package name",
    "app",
    "app name",
    "developer reply text",
    "reviewer",
    "review id",
    "store",
}
FLAT = {
    "id": "id",
    "text": "description",
    "subject": "subject",
    "customer": "customer",
    "created_at": "created_at",
    "product": "product",
    "channel": "channel",
}


def _table_rows(
    path: Path, text: str, delimiter: str, headers: list[str], result: TableResult
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of each well-formed record; short or long rows are skipped with a reason."""
    rows = _records(path, text, delimiter)
    next(rows, None)
    for line, _, fields in rows:
        if len(fields) != len(headers):
            reason = f"row has {len(fields)} fields, header has {len(headers)}"
            result.skipped.append(SkippedInput(path=str(path), line=line, reason=reason))
            continue
        yield line, _row(headers, fields, {})


def _read_reviews(
    path: Path, text: str, delimiter: str, headers: list[str], cols: dict[str, str]
) -> TableResult:
    """App Store / Google Play review exports: one review a document, the reply as context."""
    result = TableResult(kind="tickets", columns=headers)
    names = {h.strip().lower() for h in headers}
    # Google Play's monthly review files are the ones that name the package in every row.
    store = "Google Play" if "package name" in names else None
    seen: set[str] = set()
    for line, row in _table_rows(path, text, delimiter, headers, result):
        record = review_record({ours: row.get(col) for ours, col in cols.items()}, channel=store)
        _accept(result, seen, ticket_document(path, record, FLAT, line), path, line)
    result.notes.append(
        f"{path}: read as app-store reviews (rating {cols['rating']!r}, text {cols['review']!r}"
        + (f", app {cols['product']!r}" if "product" in cols else "")
        + "); developer replies are kept as context, never quoted"
    )
    return result


def _read_highlights(
    path: Path, text: str, delimiter: str, headers: list[str], cols: dict[str, str]
) -> TableResult:
    """Research highlights (Dovetail, Condens): each participant's highlights, one interview per
    participant and source note, each highlight a turn that can be quoted."""
    result = TableResult(kind="highlights", columns=headers)
    groups: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for line, row in _table_rows(path, text, delimiter, headers, result):
        words = str(row.get(cols["text"]) or "").strip()
        person = str(row.get(cols["participant"]) or "").strip()
        source = str(row.get(cols.get("source", ""), "") or "").strip()
        if not words:
            result.skipped.append(
                SkippedInput(path=str(path), line=line, reason="highlight has no text")
            )
            continue
        if not person:
            reason = f"highlight has no {cols['participant']!r}: whose words they are is unknown"
            result.skipped.append(SkippedInput(path=str(path), line=line, reason=reason))
            continue
        groups.setdefault((person, source), []).append((line, row))
    for (person, source), rows in sorted(groups.items()):
        turns: list[Turn] = []
        for line, row in rows:
            words = " ".join(str(row[cols["text"]]).split())
            start = turns[-1].start + len(turns[-1].text) + 2 if turns else 0
            turns.append(
                Turn(speaker=person, role="participant", text=words, start=start, line=line)
            )
        meta: dict[str, Any] = {"highlights": len(rows)}
        if source:
            meta["session"] = source
        if "project" in cols and rows[0][1].get(cols["project"]):
            meta["project"] = str(rows[0][1][cols["project"]]).strip()
        result.documents.append(
            make_document(str(path), "interview", turns, participant_id=person, metadata=meta)
        )
    result.notes.append(
        f"{path}: read as research highlights ({cols['text']!r} by {cols['participant']!r}): "
        f"{len(result.documents)} participant/session group(s); tags and notes are not kept"
    )
    return result


def read_ticket_records(
    path: Path, records: list[tuple[int | None, dict[str, Any]]], overrides: Mapping[str, str]
) -> TableResult:
    """Tickets from JSON/JSONL records (same column detection as CSV)."""
    headers = sorted({k for _, r in records for k in r})
    cols, notes = _ticket_columns(path, headers, overrides)
    result = TableResult(kind="tickets", columns=headers, notes=notes)
    seen: set[str] = set()
    for line, record in records:
        _accept(result, seen, ticket_document(path, record, cols, line), path, line)
    return result


def _accept(
    result: TableResult, seen: set[str], item: Document | SkippedInput, path: Path, line: int | None
) -> None:
    """Keep a ticket, or record why not (unreadable row, or an id seen earlier in the file)."""
    if isinstance(item, SkippedInput):
        result.skipped.append(item)
    elif item.ticket_id in seen:
        reason = f"duplicate ticket id {item.ticket_id}"
        result.skipped.append(SkippedInput(path=str(path), line=line, reason=reason))
    else:
        seen.add(item.ticket_id or "")
        result.documents.append(item)


def is_ticket_records(
    records: list[tuple[int | None, dict[str, Any]]], overrides: Mapping[str, str]
) -> bool:
    headers = sorted({k for _, r in records[:50] for k in r})
    return "turns" not in headers and _is_tickets(headers, overrides)
