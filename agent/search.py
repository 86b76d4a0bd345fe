"""Semantic search over the ingested evidence, with metadata filters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .config import Settings
from .errors import ConfigError
from .models import DocumentKind
from .store import open_store
from .workspace import Workspace


class SearchHit(BaseModel):
    """One chunk that matches a query, with where it came from."""

    chunk_id: str
    score: float
    text: str
    source: str
    speaker: str
    role: str
    kind: str
    participant_id: str | None = None
    ticket_id: str | None = None
    user_id: str | None = None
    line: int | None = None
    time: str | None = None
    start: int
    end: int


def _where(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def search(
    query: str,
    settings: Settings,
    workspace: Workspace,
    *,
    n: int = 10,
    kind: DocumentKind | None = None,
    participant: str | None = None,
    segment: str | None = None,
    role: str | None = None,
    metadata: dict[str, str] | None = None,
) -> list[SearchHit]:
    """The `n` chunks nearest to `query`; filters narrow the candidates before ranking."""
    if not query.strip():
        raise ConfigError("search needs a non-empty query")
    clauses: list[dict[str, Any]] = []
    if kind:
        clauses.append({"kind": kind})
    if participant:
        clauses.append({"$or": [{"participant_id": participant}, {"user_id": participant}]})
    if role:
        clauses.append({"role": role})
    for key, value in (metadata or {}).items():
        clauses.append({f"meta_{key}": value})
    if segment:
        from .segment import load_assignments

        members = sorted(
            u for u, s in load_assignments(workspace).items() if s.lower() == segment.lower()
        )
        if not members:
            raise ConfigError(f"no users in segment {segment!r} (run `persona segment` first?)")
        clauses.append({"user_id": {"$in": members}})
    store = open_store(settings, workspace)
    hits = store.query("chunks", text=query, n=n, where=_where(clauses))
    return [
        SearchHit(
            chunk_id=h.id,
            score=round(1.0 - h.distance, 4),
            text=h.text,
            source=str(h.metadata.get("source", "")),
            speaker=str(h.metadata.get("speaker", "")),
            role=str(h.metadata.get("role", "")),
            kind=str(h.metadata.get("kind", "")),
            participant_id=h.metadata.get("participant_id"),
            ticket_id=h.metadata.get("ticket_id"),
            user_id=h.metadata.get("user_id"),
            line=h.metadata.get("line"),
            time=h.metadata.get("time"),
            start=int(h.metadata.get("start", 0)),
            end=int(h.metadata.get("end", 0)),
        )
        for h in hits
    ]
