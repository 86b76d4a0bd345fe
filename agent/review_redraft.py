"""What a reviewer's removal of a pain point leaves standing until the next draft.

Removing a pain point keeps its theme out of the next draft (draft.py takes the theme out of
the evidence pack), but until `persona draft` runs the draft still holds the needs, findings,
recommendations and stage pains written from that theme. Nobody removed those, so they are not
hidden; but they must not read as if they still stood: every item whose evidence is only the
removed pains' themes is flagged, and the persona says a re-draft is pending. A `chunk:` id
counts as the removed pains' evidence when every theme whose mentions quote that chunk is
removed (the draft cites the themes' own quotes and workarounds by chunk). An item citing
other evidence too stays as it is, and so does an item a reviewer decided that the next draft
keeps (any decision on a persona field or item; a journey part's correction or extension; a
journey confirmation holds only while the new draft says the same, so it does not keep it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import refs
from .decisions import JOURNEY_PREFIX, Mark, entry_for, parse_address
from .evidence import themed_mentions

if TYPE_CHECKING:
    from .library import View

COMMAND = "persona draft"
# The only code-formatted part of the notices: renderers format this exact text as code and
# leave every other backtick (a pain title's, from ticket text) as text (render/markdown.py
# md_code, render/html.py ticks).
REDRAFT = f"`{COMMAND}`"


@dataclass(frozen=True)
class RemovedPain:
    """A pain point a reviewer removed that the persona's draft still holds."""

    theme_id: str
    title: str
    by: str
    at: str


@dataclass(frozen=True)
class Redraft:
    """A persona whose draft predates removals: what was removed and what rests only on it."""

    removed: tuple[RemovedPain, ...]
    # Positional path ('needs.must.0', 'journey.key_findings.0', 'journey.stages.3.pain_points.0')
    # -> the removed themes it rests on, in the order removed.
    resting: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def item_note(self, path: str) -> str:
        """'rests only on a pain point Ana removed; `persona draft` re-drafts it' for a flagged
        item ('' when it stands); with several removed it names which, e.g. '… Ana removed
        (“Bank sync drops transactions”); …'."""
        themes = self.resting.get(path)
        if not themes:
            return ""
        pains = [p for p in self.removed if p.theme_id in themes]
        what = "a pain point" if len(pains) == 1 else "pain points"
        if len(_removers(pains)) > 1:
            return (
                f"rests only on {what} reviewers removed ({_by_each(pains)}); "
                f"{REDRAFT} re-drafts it"
            )
        # The notice names the pain; with several removed, the item says which it rests on.
        named = f" ({_names(pains)})" if len(self.removed) > 1 else ""
        return f"rests only on {what} {_who(pains)} removed{named}; {REDRAFT} re-drafts it"

    def headline(self) -> str:
        """'Ana removed the pain point “Bank sync drops transactions”', or with several
        reviewers 'Reviewers removed 2 pain points (“A” by Ana; “B” by Bo)'."""
        count = len(self.removed)
        if len(_removers(self.removed)) > 1:
            return f"Reviewers removed {count} pain points ({_by_each(self.removed)})"
        who = _who(self.removed)
        plural = "" if count == 1 else "s"
        return f"{who[:1].upper()}{who[1:]} removed the pain point{plural} {_names(self.removed)}"

    def note(self, journey: bool = False, marked: bool = True) -> str:
        """The persona's (or its journey map's) re-draft notice; `marked`: the page marks the
        items resting on the removed pains (report.json lists them instead)."""
        one = len(self.removed) == 1
        flagged = self.flagged(journey)
        head = f"{self.headline()} after this draft was written. "
        if flagged:
            many = flagged != 1
            are = "are" if many else "is"
            where = f" {are} marked below, still shown" if marked else f" {are} still in the draft"
            head += (
                f"{flagged} item{'s' if many else ''} drafted only from "
                f"{'its' if one else 'their'} evidence{where} "
                f"(nobody removed {'them' if many else 'it'}); "
            )
        return head + f"{REDRAFT} re-drafts this persona without {'it' if one else 'them'}."

    def flagged(self, journey: bool | None = None) -> int:
        """How many items rest only on the removed pains (the journey's, the persona's, or all)."""
        return sum(
            1 for p in self.resting if journey is None or p.startswith(JOURNEY_PREFIX) == journey
        )


def _names(pains: list[RemovedPain] | tuple[RemovedPain, ...]) -> str:
    """'“A”', '“A” and “B”', '“A”, “B” and “C”': the pains' titles, quoted."""
    return _and([f"“{p.title}”" for p in pains])


def _and(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _removers(pains: list[RemovedPain] | tuple[RemovedPain, ...]) -> list[str]:
    """Who removed the pains, each once, in order ('a reviewer' for an unnamed one)."""
    return list(dict.fromkeys(p.by or "a reviewer" for p in pains))


def _who(pains: list[RemovedPain] | tuple[RemovedPain, ...]) -> str:
    """The one reviewer who removed all of the pains ('a reviewer' when unnamed)."""
    return _removers(pains)[0]


def _by_each(pains: list[RemovedPain] | tuple[RemovedPain, ...]) -> str:
    """'“A” by Ana; “B” by Bo': each pain with who removed it."""
    return "; ".join(f"“{p.title}” by {p.by or 'a reviewer'}" for p in pains)


ChunkThemes = Mapping[str, frozenset[str]]


def chunk_themes(view: View, mentions: Path | None) -> ChunkThemes:
    """Chunk id -> the themes whose mentions quote it (themes.json's mention_ids, the chunks
    from mentions.jsonl); empty without either file."""
    if view.themes is None or mentions is None:
        return {}
    found: dict[str, set[str]] = {}
    for theme, row in themed_mentions(view.themes, mentions):
        quotes = row.get("quotes") if isinstance(row.get("quotes"), list) else []
        chunks = {row.get("chunk_id")} | {q.get("chunk_id") for q in quotes if isinstance(q, dict)}
        for chunk in chunks:
            if isinstance(chunk, str) and chunk:
                found.setdefault(chunk, set()).add(theme)
    return {chunk: frozenset(themes) for chunk, themes in sorted(found.items())}


def pending_redrafts(view: View, mentions: Path | None = None) -> dict[str, Redraft]:
    """persona id -> its pending re-draft, for each persona whose draft still holds a pain
    point a reviewer removed; `mentions` (mentions.jsonl) tells whose chunks a draft cites."""
    drafts = {p.id: p for p in view.drafts}
    out: dict[str, Redraft] = {}
    # Read only once a removal is found: mentions.jsonl can be long.
    cache: list[ChunkThemes] = []

    def chunk_map() -> ChunkThemes:
        if not cache:
            cache.append(chunk_themes(view, mentions))
        return cache[0]

    for reviewed in view.reviewed:
        persona = reviewed.persona
        draft = drafts.get(persona.id)
        found = entry_for(view.store, persona)
        if draft is None or found is None:
            continue
        drafted = {
            refs.follow(p.theme_id, view.lineage): p.title
            for p in draft.draft.pain_points
            if p.theme_id
        }
        removed = []
        for text, decision in sorted(found[1].active().items(), key=lambda p: p[1].rev):
            if decision.decision != "removed" or not text.startswith("pain_points["):
                continue
            parsed = refs.parse(parse_address(text).item or "")
            theme = refs.follow(parsed.key, view.lineage) if parsed.kind == "theme" else ""
            if theme not in drafted:
                continue  # re-drafted since, or not a theme's pain point
            base = decision.base if isinstance(decision.base, dict) else {}
            title = str(base.get("title") or drafted[theme])
            removed.append(RemovedPain(theme, title, decision.by, decision.at))
        if not removed:
            continue
        gone = {p.theme_id for p in removed}
        marks = dict(reviewed.marks)
        journey = view.journey_of(persona.id)
        parts: list[tuple[str, Any]] = [("", persona.draft.model_dump(mode="json"))]
        if journey is not None:
            marks.update(journey.marks)
            parts.append(
                (JOURNEY_PREFIX.rstrip("."), journey.journey.draft.model_dump(mode="json"))
            )
        resting: dict[str, tuple[str, ...]] = {}
        for prefix, data in parts:
            for path, themes in _resting(data, prefix, gone, view.lineage, chunk_map):
                if not _kept(path, marks):
                    resting[path] = tuple(p.theme_id for p in removed if p.theme_id in themes)
        out[persona.id] = Redraft(tuple(removed), resting)
    return out


def _resting(
    node: Any,
    path: str,
    gone: set[str],
    lineage: Mapping[str, str],
    chunk_map: Callable[[], ChunkThemes],
) -> Iterator[tuple[str, set[str]]]:
    """(positional path, removed themes) of every claim, recommendation or stage pain in a
    draft (JSON) whose evidence is only removed themes (or chunks only they quote)."""
    if isinstance(node, dict):
        evidence = node.get("evidence")
        if isinstance(evidence, list):
            themes: set[str] = set()
            for ref in evidence:
                parsed = refs.parse(str(ref))
                if parsed.kind == "theme":
                    cited = frozenset({refs.follow(parsed.key, lineage)})
                elif parsed.kind == "chunk":
                    cited = chunk_map().get(parsed.key, frozenset())
                else:
                    cited = frozenset()
                if not cited or not cited <= gone:
                    return  # cites something else too (or nothing): it stands
                themes |= cited
            if themes:
                yield path, themes
            return
        for key, value in node.items():
            yield from _resting(value, f"{path}.{key}" if path else key, gone, lineage, chunk_map)
    elif isinstance(node, list):
        stage_pains = path.startswith(f"{JOURNEY_PREFIX}stages.") and path.endswith(".pain_points")
        for i, value in enumerate(node):
            if stage_pains and isinstance(value, str):
                if refs.follow(value, lineage) in gone:
                    yield f"{path}.{i}", {refs.follow(value, lineage)}
                continue
            yield from _resting(value, f"{path}.{i}", gone, lineage, chunk_map)


def _kept(path: str, marks: Mapping[str, Mark]) -> bool:
    """Does a reviewer's decision on the item (or on what holds it) keep it through the next
    draft?"""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        found = marks.get(".".join(parts[:end]))
        if found is None:
            continue
        return not (path.startswith(JOURNEY_PREFIX) and found.kind == "confirmed")
    return False
