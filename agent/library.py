"""The persona library as readers see it: drafts with human decisions applied, read on demand.

Only drafting writes personas.json; this read model puts the decision store over it each time it
is read (the reports, `persona review`, `persona serve`), follows theme lineage so citations of
an old theme id resolve, applies theme renames, flags drafts older than their inputs, and finds
the words around a cited chunk (the turn before and after, with file line or recording time).
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import refs
from .decisions import (
    DecisionStore,
    Reviewed,
    ReviewedJourney,
    ThemeDecisions,
    apply_decisions,
    apply_journeys,
    load_store,
    resolve_themes,
)
from .errors import InputError
from .models import (
    Chunk,
    CohortReport,
    Document,
    ExtractState,
    JourneyMap,
    Persona,
    SegmentReport,
    ThemeReport,
)
from .workspace import Workspace, read_json

V = TypeVar("V", bound=BaseModel)

ID_MARK = '"id": "'


@dataclass
class View:
    """personas.json read through the decision store; `journeys` are reviewed too (their
    drafts and per-item marks are in `journey_reviews`)."""

    raw: dict[str, Any]
    drafts: list[Persona]
    reviewed: list[Reviewed]
    journeys: list[JourneyMap]
    themes: ThemeReport | None
    segments: SegmentReport | None
    store: DecisionStore
    cohorts: CohortReport | None = None
    lineage: dict[str, str] = field(default_factory=dict)
    theme_decisions: ThemeDecisions = field(default_factory=ThemeDecisions)
    stale: list[str] = field(default_factory=list)
    extraction: ExtractState | None = None
    journey_reviews: list[ReviewedJourney] = field(default_factory=list)

    @property
    def personas(self) -> list[Persona]:
        return [r.persona for r in self.reviewed]

    def journey_of(self, persona_id: str) -> ReviewedJourney | None:
        """A persona's reviewed journey map, or None when it has none."""
        return next((r for r in self.journey_reviews if r.journey.persona_id == persona_id), None)


def load_drafts(workspace: Workspace) -> tuple[dict[str, Any], list[Persona], list[JourneyMap]]:
    """personas.json as drafted: the raw object, its personas and its journeys."""
    if not workspace.personas.exists():
        raise InputError(str(workspace.personas), "no personas yet: run `persona draft` first")
    raw = _read(workspace.personas)
    if not isinstance(raw, dict):
        raise InputError(
            str(workspace.personas), "expected an object with 'personas' and 'journeys'"
        )
    personas = _validated(workspace.personas, Persona, raw.get("personas", []), "personas")
    journeys = _validated(workspace.personas, JourneyMap, raw.get("journeys", []), "journeys")
    return raw, personas, journeys


def _read(path: Path) -> object:
    try:
        return read_json(path)
    except ValueError as exc:
        raise InputError(str(path), f"not valid JSON ({exc})") from exc


def _validated(path: Path, model: type[V], items: object, what: str) -> list[V]:
    """Each item as `model`; the first that does not fit is one error naming the file, the item
    and the field (a hand edit, or a file another version of the tool wrote)."""
    if not isinstance(items, list):
        raise InputError(str(path), f"'{what}' should be a list")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_tolerant(model, item))
        except ValidationError as exc:
            raise InputError(
                str(path),
                f"{what}[{i}].{_first_error(exc)} (a hand edit, or written by another version "
                "of persona-agent; `persona draft` writes it again)",
            ) from exc
    return out


def _first_error(exc: ValidationError) -> str:
    """'stages.2.emotion: Input should be a valid integer': where and what, the first misfit."""
    first = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in first.get('loc', ())) or '(value)'}: {first['msg']}"


def _tolerant(model: type[V], item: object) -> V:
    """`item` as `model`, leaving out fields this version does not know (an earlier or later
    version wrote them: a draft must survive an upgrade); any other misfit raises."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if not all(e["type"] == "extra_forbidden" for e in errors):
            raise
        trimmed = copy.deepcopy(item)
        for e in errors:
            *parents, key = e["loc"]
            holder: Any = trimmed
            for step in parents:
                holder = holder[step]
            holder.pop(key, None)
        return model.model_validate(trimmed)


def load_themes(workspace: Workspace) -> ThemeReport | None:
    if not workspace.themes.exists():
        return None
    raw = _read(workspace.themes)
    try:
        return ThemeReport.model_validate(raw)
    except ValidationError as exc:
        raise InputError(
            str(workspace.themes), f"{_first_error(exc)} (`persona themes` writes it again)"
        ) from exc


def follow_journey(journey: JourneyMap, lineage: Mapping[str, str]) -> JourneyMap:
    """A journey whose theme citations (refs and each stage's theme list) name current ids."""
    if not lineage:
        return journey
    data = refs.remap_themes(journey.model_dump(mode="json"), lineage)
    for stage in data["draft"]["stages"]:
        stage["pain_points"] = list(
            dict.fromkeys(refs.follow(t, lineage) for t in stage["pain_points"])
        )
    return JourneyMap.model_validate(data)


def renamed(themes: ThemeReport | None, decisions: ThemeDecisions) -> ThemeReport | None:
    """The theme report with reviewers' renames applied (the themes step applies them too)."""
    if themes is None or not decisions.renames:
        return themes
    return themes.model_copy(
        update={
            "themes": [
                t.model_copy(update={"label": decisions.renames[t.id]})
                if t.id in decisions.renames
                else t
                for t in themes.themes
            ]
        }
    )


@dataclass
class Inputs:
    """What the read model is built from, apart from the decisions (cacheable by file stamps)."""

    raw: dict[str, Any]
    drafts: list[Persona]
    journeys: list[JourneyMap]
    themes: ThemeReport | None
    segments: SegmentReport | None
    lineage: dict[str, str]
    stale: list[str]
    extraction: ExtractState | None = None
    cohorts: CohortReport | None = None


def read_inputs(workspace: Workspace) -> Inputs:
    """personas.json, themes.json and segments.json, parsed; the lineage; stale inputs."""
    from .draft import stale_inputs

    raw, drafts, journeys = load_drafts(workspace)
    themes = load_themes(workspace)
    segments = (
        SegmentReport.model_validate(read_json(workspace.segments))
        if workspace.segments.exists()
        else None
    )
    lineage = dict(themes.lineage) if themes else {}
    stale = stale_inputs(workspace, raw.get("inputs"))
    extraction = (
        ExtractState.model_validate(read_json(workspace.extract_state))
        if workspace.extract_state.exists()
        else None
    )
    if extraction is not None and not extraction.complete:
        # Mentions kept from an earlier run stand in for failed calls: say so wherever drafts show.
        stale.append("mentions")
    return Inputs(
        raw=raw,
        drafts=drafts,
        journeys=[follow_journey(j, lineage) for j in journeys],
        themes=themes,
        segments=segments,
        lineage=lineage,
        stale=stale,
        extraction=extraction,
        cohorts=(
            CohortReport.model_validate(read_json(workspace.cohorts))
            if workspace.cohorts.exists()
            else None
        ),
    )


def view_of(inputs: Inputs, store: DecisionStore) -> View:
    """The read view: persona and journey drafts with the store's decisions applied, themes
    renamed."""
    decided = resolve_themes(store, inputs.lineage)
    journeys = apply_journeys(inputs.journeys, inputs.drafts, store, inputs.lineage)
    return View(
        raw=inputs.raw,
        drafts=inputs.drafts,
        reviewed=apply_decisions(inputs.drafts, store, inputs.lineage),
        journeys=[r.journey for r in journeys],
        journey_reviews=journeys,
        themes=renamed(inputs.themes, decided),
        segments=inputs.segments,
        store=store,
        lineage=inputs.lineage,
        theme_decisions=decided,
        stale=inputs.stale,
        extraction=inputs.extraction,
        cohorts=inputs.cohorts,
    )


def load_view(workspace: Workspace, apply: bool = True) -> View:
    """Read the workspace's drafts, themes and segments, with decisions applied (`apply`)."""
    return view_of(read_inputs(workspace), load_store(workspace) if apply else DecisionStore())


def reviewed_personas(workspace: Workspace) -> list[Persona]:
    """The personas as a reader sees them: every decision applied."""
    return load_view(workspace).personas


# --------------------------------------------------------------------------- evidence in context


@dataclass(frozen=True)
class TurnView:
    """One turn shown around cited words; `cited` marks the turns the chunk covers."""

    speaker: str
    role: str
    text: str
    line: int | None
    time: str | None
    cited: bool


@dataclass(frozen=True)
class EvidenceContext:
    """A cited chunk with the turns around it, from its document."""

    chunk: Chunk
    turns: list[TurnView]
    source: str
    more_before: bool = False
    more_after: bool = False


class DocumentIndex:
    """Byte offsets of documents.jsonl lines by document id, built once per file version.

    A ticket corpus can hold a million documents; a reader clicking one citation should not
    parse them all, so the first lookup records where each line starts and later ones seek.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._offsets: dict[str, int] = {}

    def _refresh(self) -> None:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        offsets: dict[str, int] = {}
        with self.path.open("rb") as fh:
            pos = 0
            for line in fh:
                at = line.find(ID_MARK.encode())
                if at >= 0:
                    start = at + len(ID_MARK)
                    offsets[line[start : line.find(b'"', start)].decode()] = pos
                pos += len(line)
        self._offsets, self._stamp = offsets, stamp

    def get(self, document_id: str) -> Document | None:
        if not self.path.exists():
            return None
        self._refresh()
        offset = self._offsets.get(document_id)
        if offset is None:
            return None
        with self.path.open("rb") as fh:
            fh.seek(offset)
            row = json.loads(fh.readline())
        return Document.model_validate(row) if row.get("id") == document_id else None


def chunk_context(chunk: Chunk, document: Document | None, around: int = 1) -> EvidenceContext:
    """The turns the chunk covers, with `around` turns either side (a ticket shows whole)."""
    from .render.context import chunk_source

    if document is None or not document.turns:
        turn = TurnView(chunk.speaker, chunk.role, chunk.text, chunk.line, chunk.time, True)
        return EvidenceContext(chunk, [turn], chunk_source(chunk))
    covered = [
        i
        for i, t in enumerate(document.turns)
        if t.start < chunk.end and t.start + len(t.text) > chunk.start
    ] or [0]
    if document.kind == "ticket":
        first, last = 0, len(document.turns) - 1
    else:
        first = max(0, covered[0] - around)
        last = min(len(document.turns) - 1, covered[-1] + around)
    turns = [
        TurnView(t.speaker, t.role, t.text, t.line, t.time, i in covered)
        for i, t in enumerate(document.turns)
        if first <= i <= last
    ]
    return EvidenceContext(
        chunk,
        turns,
        chunk_source(chunk),
        more_before=first > 0,
        more_after=last < len(document.turns) - 1,
    )


# --------------------------------------------------------------------------- share mode


def participant_names(documents: Path) -> dict[str, str]:
    """Participants' names (as speakers) -> their participant id, for share mode."""
    names: dict[str, str] = {}
    if not documents.exists():
        return names
    with documents.open(encoding="utf-8") as fh:
        for line in fh:
            if '"interview"' not in line:
                continue  # tickets name no participant by speaker name
            doc = Document.model_validate_json(line)
            pid = doc.participant_id or ""
            for turn in doc.turns:
                if turn.role == "participant" and turn.speaker and turn.speaker != pid:
                    names.setdefault(turn.speaker, pid or "participant")
    return names


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


class Pseudonymizer:
    """Replaces participants' names (whole names, each part, accent-free spellings) by ids."""

    def __init__(self, names: Mapping[str, str]) -> None:
        variants: dict[str, str] = {}
        for name, pid in names.items():
            words = [w for w in re.split(r"\s+", name.strip()) if len(w) >= 2]
            for form in {name.strip(), *words}:
                for spelled in {form, _fold(form)}:
                    if spelled and spelled.casefold() != pid.casefold():
                        variants.setdefault(spelled.casefold(), pid)
        self.ids = variants
        ordered = sorted(variants, key=lambda v: (-len(v), v))
        self.pattern = (
            re.compile(
                r"(?<![\w])(" + "|".join(re.escape(v) for v in ordered) + r")(?![\w])",
                re.IGNORECASE,
            )
            if ordered
            else None
        )

    def __call__(self, text: str) -> str:
        if self.pattern is None or not text:
            return text
        return self.pattern.sub(lambda m: self.ids[m.group(1).casefold()], text)
