"""Semantic search over the ingested evidence, with metadata filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel

from .config import Settings
from .errors import ConfigError
from .models import SpeakerRole
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


KINDS = ("interview", "ticket")
ROLES: tuple[str, ...] = get_args(SpeakerRole)


def _where(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _choice(option: str, value: str, allowed: Sequence[str]) -> str:
    wanted = value.strip().lower()
    if wanted not in allowed:
        raise ConfigError(f"--{option} {value!r} is not one of: {' | '.join(allowed)}")
    return wanted


def resolve_segment(workspace: Workspace, segment: str) -> tuple[str, list[str]]:
    """(segment name, its user ids) for a name or slug, any case; unknown names list the known."""
    from .segment import load_assignments
    from .segment_rules import slugify

    by_segment: dict[str, list[str]] = {}
    for user, name in load_assignments(workspace).items():
        by_segment.setdefault(name, []).append(user)
    wanted = segment.strip()
    for name in sorted(by_segment):
        if wanted.lower() == name.lower() or slugify(wanted) == slugify(name):
            return name, sorted(by_segment[name])
    known = ", ".join(f"{n} ({slugify(n)})" for n in sorted(by_segment)) or "none"
    raise ConfigError(f"no segment {segment!r}; known segments: {known}")


def search(
    query: str,
    settings: Settings,
    workspace: Workspace,
    *,
    n: int = 10,
    kind: str | None = None,
    participant: str | None = None,
    segment: str | None = None,
    role: str | None = None,
    metadata: dict[str, str] | None = None,
    include_interviewer: bool = False,
) -> list[SearchHit]:
    """The `n` chunks nearest to `query`; filters narrow the candidates before ranking.

    With `participant` and no `role`, interviewer turns are left out (the question asked is not
    what the participant said) unless `include_interviewer` is set.
    """
    if not query.strip():
        raise ConfigError("search needs a non-empty query")
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}")
    clauses: list[dict[str, Any]] = []
    if kind:
        clauses.append({"kind": _choice("kind", kind, KINDS)})
    if role:
        clauses.append({"role": _choice("role", role, ROLES)})
    if participant:
        clauses.append({"$or": [{"participant_id": participant}, {"user_id": participant}]})
        if not role and not include_interviewer:
            clauses.append({"role": {"$ne": "interviewer"}})
    for key, value in (metadata or {}).items():
        clauses.append({f"meta_{key}": value})
    if segment:
        _, members = resolve_segment(workspace, segment)
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
