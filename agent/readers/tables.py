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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from ..models import Document, SkippedInput, Turn
from .base import make_document

# Our field -> header names seen in Zendesk, Freshdesk, Intercom, Help Scout and Jira exports.
TICKET_ALIASES: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "ticket_id",
        "ticket id",
        "ticket",
        "key",
        "issue key",
        "number",
        "conversation_id",
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
        "organization_id",
    ),
    "created_at": ("created_at", "created at", "created", "date", "timestamp"),
    "tags": ("tags", "labels"),
    "priority": ("priority", "severity"),
    "channel": ("channel", "via", "source"),
    "product": ("product", "app", "app_name", "application"),
    "status": ("status", "state"),
}
ROSTER_KEYS = ("participant_id", "participant")
TableKind = Literal["tickets", "roster", "users"]
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


def _resolve_columns(headers: Iterable[str], overrides: Mapping[str, str]) -> dict[str, str]:
    lookup = {h.strip().lower(): h for h in headers if h}
    resolved: dict[str, str] = {}
    for ours, aliases in TICKET_ALIASES.items():
        if ours in overrides:
            wanted = overrides[ours].strip().lower()
            if wanted in lookup:
                resolved[ours] = lookup[wanted]
            continue
        for alias in aliases:
            if alias in lookup:
                resolved[ours] = lookup[alias]
                break
    return resolved


def _missing_overrides(headers: Iterable[str], overrides: Mapping[str, str]) -> list[str]:
    """`ingest.ticket_columns` entries that name a column this file does not have."""
    present = {h.strip().lower() for h in headers if h}
    return [
        f"{ours} = {column!r}"
        for ours, column in sorted(overrides.items())
        if column.strip().lower() not in present
    ]


def _is_tickets(headers: list[str], overrides: Mapping[str, str]) -> bool:
    # Auto-detection counts too: a mapped column that is missing must be reported, not turn the
    # ticket export into something else.
    return "text" in _resolve_columns(headers, overrides) or "text" in _resolve_columns(headers, {})


def _check_overrides(path: Path, headers: list[str], overrides: Mapping[str, str]) -> None:
    missing = _missing_overrides(headers, overrides)
    if missing:
        raise InputError(
            str(path),
            f"ingest.ticket_columns {', '.join(missing)}: no such column "
            f"(columns: {', '.join(headers)})",
        )


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
    if {h.strip().lower() for h in headers if h} & set(ROSTER_KEYS):
        return "roster"
    ids = [h for h in headers if _is_id_column(h)]
    numeric = [h for h in _numeric_columns(headers, sample or []) if h not in ids]
    return "users" if ids and numeric else None


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


def ticket_document(
    path: Path, row: Mapping[str, Any], cols: Mapping[str, str], line: int | None
) -> Document | SkippedInput:
    def get(name: str) -> str:
        col = cols.get(name)
        value = row.get(col) if col else None
        return "" if value is None else str(value).strip()

    body, subject, ticket_id = get("text"), get("subject"), get("id")
    if not body and not subject:
        return SkippedInput(
            path=str(path), line=line, reason="ticket has no subject or description"
        )
    if not ticket_id:
        return SkippedInput(path=str(path), line=line, reason="ticket has no id")
    turns: list[Turn] = []
    for text in (subject, body):
        if text:
            start = turns[-1].start + len(turns[-1].text) + 2 if turns else 0
            turns.append(
                Turn(speaker="customer", role="customer", text=text, start=start, line=line)
            )
    customer = get("customer") or None
    meta: dict[str, Any] = {
        k: get(k) for k in ("created_at", "tags", "priority", "channel", "status", "product")
    }
    meta = {k: v for k, v in meta.items() if v}
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


def _runs_into_next_row(fields: list[str], id_index: int, width: int, delimiter: str) -> bool:
    """A quoted field holding lines that parse as further records (an unbalanced quote)."""
    multiline = [v for v in fields if "\n" in v or "\r" in v]
    if not multiline or id_index >= len(fields) or not fields[id_index].strip():
        return False
    shape = _shape(fields[id_index].strip())
    tolerance = max(1, width // 4)
    for value in multiline:
        for embedded in value.splitlines()[1:]:
            try:
                parsed = next(csv.reader([embedded], delimiter=delimiter), [])
            except csv.Error:
                continue
            if (
                len(parsed) >= 2
                and abs(len(parsed) - width) <= tolerance
                and id_index < len(parsed)
                and parsed[id_index].strip()
                and _shape(parsed[id_index].strip()) == shape
            ):
                return True
    return False


def _records(path: Path, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, fields); a quoted field may span lines, so note the line first."""
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
            yield before + 1, fields


def read_csv_table(
    path: Path, text: str, overrides: Mapping[str, str], delimiter: str = ","
) -> TableResult:
    """Tickets, a roster or a user table (only classified: the scorer reads it) from CSV/TSV text."""
    records = _records(path, csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    headers = next(records, (1, []))[1]
    sample = [f for _, f in itertools.islice(records, SAMPLE_ROWS)]
    if not headers:
        raise InputError(str(path), "CSV has no header row", 1)
    kind = classify(headers, overrides, sample)
    if kind is None:
        raise _not_a_table(path, headers, overrides)
    result = TableResult(kind=kind, columns=headers)
    if kind == "users":
        return result
    if kind == "tickets":
        _check_overrides(path, headers, overrides)
    cols = _resolve_columns(headers, overrides)
    lowered = [h.strip().lower() for h in headers]
    if kind == "tickets":
        id_index = headers.index(cols["id"]) if "id" in cols else 0
    else:
        id_index = next(i for i, h in enumerate(lowered) if h in ROSTER_KEYS)
    # Read again from the top: classifying consumed the first rows.
    rows = _records(path, csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    next(rows, None)
    seen: set[str] = set()
    width = len(headers)
    for line, fields in rows:
        reason = None
        if _runs_into_next_row(fields, id_index, width, delimiter):
            reason = "a quoted field runs into the next row (unbalanced quote?)"
        elif len(fields) != width:
            reason = f"row has {len(fields)} fields, header has {width}"
        if reason:
            result.skipped.append(SkippedInput(path=str(path), line=line, reason=reason))
            continue
        row = dict(zip(headers, fields, strict=True))
        if kind == "roster":
            pid = fields[id_index].strip()
            if pid:
                result.roster[pid] = {k: v for k, v in row.items() if v not in (None, "")}
            continue
        _accept(result, seen, ticket_document(path, row, cols, line), path, line)
    return result


def read_ticket_records(
    path: Path, records: list[tuple[int | None, dict[str, Any]]], overrides: Mapping[str, str]
) -> TableResult:
    """Tickets from JSON/JSONL records (same column detection as CSV)."""
    headers = sorted({k for _, r in records for k in r})
    _check_overrides(path, headers, overrides)
    cols = _resolve_columns(headers, overrides)
    result = TableResult(kind="tickets", columns=headers)
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
