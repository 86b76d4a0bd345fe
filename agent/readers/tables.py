"""Tabular inputs: support-ticket exports (CSV/JSONL), participant rosters and user tables.

A CSV is classified by its header: a text column (description, body, ...) makes it a ticket
export; a participant_id column without text makes it a roster; anything else with an id
column is a user table, kept for `persona segment`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
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


def classify(headers: list[str], overrides: Mapping[str, str]) -> TableKind:
    lowered = {h.strip().lower() for h in headers if h}
    if "text" in _resolve_columns(headers, overrides):
        return "tickets"
    if lowered & set(ROSTER_KEYS):
        return "roster"
    return "users"


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


def read_csv_table(path: Path, text: str, overrides: Mapping[str, str]) -> TableResult:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        headers = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise InputError(str(path), f"malformed CSV header: {exc}", 1) from exc
    if not headers:
        raise InputError(str(path), "CSV has no header row", 1)
    kind = classify(headers, overrides)
    result = TableResult(kind=kind, columns=headers)
    if kind == "users":
        return result
    cols = _resolve_columns(headers, overrides)
    seen: set[str] = set()
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                result.skipped.append(
                    SkippedInput(
                        path=str(path),
                        line=line,
                        reason=f"row has {len(headers) + len(row[None])} fields, header has {len(headers)}",
                    )
                )
                continue
            if kind == "roster":
                pid = next((row[h] for h in headers if h.strip().lower() in ROSTER_KEYS), "")
                if pid:
                    result.roster[pid.strip()] = {
                        k: v for k, v in row.items() if v not in (None, "")
                    }
                continue
            _accept(result, seen, ticket_document(path, row, cols, line), path, line)
    except csv.Error as exc:
        raise InputError(str(path), f"malformed CSV: {exc}", reader.line_num) from exc
    return result


def read_ticket_records(
    path: Path, records: list[tuple[int | None, dict[str, Any]]], overrides: Mapping[str, str]
) -> TableResult:
    """Tickets from JSON/JSONL records (same column detection as CSV)."""
    headers = sorted({k for _, r in records for k in r})
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
    return "turns" not in headers and "text" in _resolve_columns(headers, overrides)
