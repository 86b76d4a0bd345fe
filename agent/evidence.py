"""Evidence packs: everything one persona may be drafted from, and nothing else.

A pack holds one segment's scorer stats (its own `segment.<slug>.*` keys plus the corpus-level
ones), the themes its people raised with frequency, severity, quotes and workarounds, what its
own people state besides pains (observations; tools counted per person), the journey's columns,
and the participant chunks most relevant to it, within `draft.pack_tokens` (fit_pack). The
grounding validators (agent/grounding.py) check a draft against exactly this pack, and the
report can resolve a draft's evidence ids against it.

Choosing segments (documented decisions):
- Primary personas are the largest segments (`draft.personas`, default 4), ties broken by name.
  The scorer's catch-all ("Other", rule TRUE) is never a primary persona.
- Segments under `draft.min_segment_size` are flagged, never merged: merging two rules' users
  would describe people who match neither rule. They are used only when there are not enough
  large segments to reach the persona count, and their pack says the sample is small.
- The anti-persona (`draft.anti_persona`) is the largest segment whose name holds one of the
  words churn(ed), lapsed, cancelled/canceled, inactive, lost or dormant (whole words, name
  only: a rule on `inactive_seats` is not churn); it is then not a primary persona. Without
  such a segment there is none.
- Without segments.json (interviews only, no user table) the segments come from a `segment`
  or `persona` metadata field on the documents, else one segment covers every participant.

Choosing chunks (participant and customer words only, never the interviewer's or agent's):
first chunks of the segment's own users holding a mention of one of its top themes, then its
other chunks ranked by word overlap with those themes, then the nearest chunks from the whole
corpus (Chroma when the store has chunks, else the same lexical ranking), marked `in_segment:
false`. chunks.jsonl and mentions.jsonl are streamed once, so a million tickets fit in memory.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from .config import DraftSettings, Settings
from .errors import InputError
from .grounding import fold
from .ids import content_hash
from .models import (
    QUOTABLE_ROLES,
    CategoryShare,
    Cohort,
    CohortReport,
    CohortTrait,
    CorpusTotals,
    SegmentReport,
    SegmentStats,
    Strict,
    Theme,
    ThemeFrequency,
    ThemeReport,
    ThemeSeverity,
    product_in,
)
from .segment_rules import slugify
from .stages import FUNNEL, PRESET_SOURCES, plan_for
from .workspace import Workspace, iter_rows, read_json

PACK_VERSION = "2"
# Themes a persona's pack may hold: every theme its people raised, up to this many; the pack's
# token budget (`draft.pack_tokens`, see fit_pack) trims further, lowest-ranked first.
THEMES_PER_PERSONA = 40
WORKAROUNDS_PER_THEME = 2
# Observations a pack holds per kind, from the cohort's own people (goals, workarounds...),
# before the token budget; tools are counted per name instead (TOOLS_PER_PACK, TOOL_VOICES).
OBSERVATIONS_PER_KIND = {"goal": 30, "workaround": 30, "positive": 30}
TOOLS_PER_PACK = 25
# One observation per person who names a tool, up to this many: a drafted count cites one
# chunk per person, so a reader can check it in the footnotes.
TOOL_VOICES = 8
# What the budget never trims below: themes, and observations of each kind.
MIN_THEMES = 3
MIN_OBSERVATIONS = 3
# Extra quotes per theme from the segment's own interview participants (see _own_voices).
OWN_VOICES_PER_THEME = 2

CATCH_ALL_NAMES = {"other", "others", "everyone else", "unassigned", "unclassified", "rest"}
# Whole words of a segment's name: "High Performers", a rule on `cart_abandon_rate` or on
# `inactive_seats` say nothing about the users having left.
CHURN_WORDS = re.compile(r"\b(?:churn|churned|lapsed|cancell?ed|inactive|lost|dormant)\b", re.I)
LEAVING_WORDS = re.compile(
    r"cancel|churn|switch|refund|leav|alternative|expensive|price|pricing", re.I
)
ALL_PARTICIPANTS = "All participants"
METADATA_SEGMENT_KEYS = ("segment", "persona", "user_segment")
_STOPWORD_TEXT = (
    "the and for with that this from have has was were are not but you your they them their what "
    "when which who how can could would should into about just like very really also then than there here been "
    "being our out get got too its it's i'm don't can't does did"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def persona_id(segment: str, is_anti_persona: bool = False) -> str:
    """Stable persona id: a hash of the segment name and the anti-persona flag, never the content.

    Re-drafting the same segment therefore keeps the id, so review decisions stay attached.
    """
    return "persona-" + content_hash({"segment": segment, "anti_persona": is_anti_persona}, 12)


def journey_id(persona: str) -> str:
    """Stable journey id, derived from its persona's id."""
    return "journey-" + content_hash({"persona": persona}, 12)


# --------------------------------------------------------------------------- pack models


class PackQuote(Strict):
    chunk_id: str
    text: str
    participant_id: str | None = None
    ticket_id: str | None = None
    in_segment: bool = False


class PackWorkaround(Strict):
    """What a speaker does today to cope, as the extractor summarised it from the chunk."""

    chunk_id: str
    text: str


def _unset(value: object) -> bool:
    return value is None


class PackTheme(Strict):
    id: str
    label: str
    description: str
    rank: int
    score: float
    mentions: int
    frequency: ThemeFrequency
    severity: ThemeSeverity
    segment_count: int = Field(description="Users of this segment who raised the theme")
    # Mentions at each extracted stage: the whole study's, then this persona's people's alone
    # (a journey map counts its own people; the study's numbers are not theirs).
    journey_stages: dict[str, int] = Field(default_factory=dict)
    segment_journey_stages: dict[str, int] = Field(default_factory=dict)
    # Set when themes are per product: the rank within it and the totals its shares divide by.
    # Left out of the pack when unset: a one-product corpus's packs (and so its prompts and
    # cached answers) stay as they were, with no null fields for the model to read.
    product: str | None = Field(default=None, exclude_if=_unset)
    product_rank: int | None = Field(default=None, exclude_if=_unset)
    product_totals: CorpusTotals | None = Field(default=None, exclude_if=_unset)
    quotes: list[PackQuote] = Field(default_factory=list)
    workarounds: list[PackWorkaround] = Field(default_factory=list)


class PackChunk(Strict):
    id: str
    text: str
    kind: str
    role: str
    source: str = ""
    participant_id: str | None = None
    ticket_id: str | None = None
    user_id: str | None = None
    in_segment: bool = False


class PackSegment(Strict):
    """Who the persona stands for: a scored segment or another cohort (agent/cohorts.py)."""

    name: str
    slug: str
    rule: str
    size: int
    share: float
    age_range: str | None = None
    warning: str | None = None
    small: bool = False
    categorical: dict[str, list[CategoryShare]] = Field(default_factory=dict)
    basis: str = "segments"
    description: str = ""
    traits: list[CohortTrait] = Field(default_factory=list)
    # Participant ids of an interview or metadata cohort: the only people it may quote.
    members: list[str] = Field(default_factory=list)


class PackObservation(Strict):
    """A goal, workaround, tool or positive moment a member of the cohort stated."""

    kind: str
    text: str
    chunk_id: str
    quote: str
    participant_id: str | None = None
    ticket_id: str | None = None
    journey_stage: str = "unknown"
    # Tools: how many of the cohort's people name this tool (counted by code; one observation
    # per person is kept, up to TOOL_VOICES). 1 for other kinds.
    people: int = 1


class PackJourney(Strict):
    """The journey map's columns and the extracted stages each shows (agent/stages.py)."""

    preset: str = "funnel"
    stages: list[str] = Field(default_factory=lambda: list(FUNNEL))
    sources: dict[str, list[str]] = Field(
        default_factory=lambda: {s: list(v) for s, v in PRESET_SOURCES["funnel"].items()}
    )


class PackCorpus(Strict):
    interviews: int = 0
    tickets: int = 0
    participants: int = 0
    users: int = 0
    mentions: int = 0


class EvidencePack(Strict):
    """The evidence for one persona; its JSON form is the grounding validators' context."""

    version: str = PACK_VERSION
    persona_id: str
    is_anti_persona: bool = False
    segment: PackSegment
    stats: dict[str, float | int] = Field(default_factory=dict)
    themes: list[PackTheme] = Field(default_factory=list)
    chunks: list[PackChunk] = Field(default_factory=list)
    observations: list[PackObservation] = Field(default_factory=list)
    journey: PackJourney = Field(default_factory=PackJourney)
    corpus: PackCorpus = Field(default_factory=PackCorpus)
    notes: list[str] = Field(default_factory=list)
    # Field paths a human confirmed: kept as they are and skipped by the validators.
    locked: list[str] = Field(default_factory=list)

    def context(self, locked: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON-able dict passed as validation context (and to prompts as data)."""
        data = self.model_dump(mode="json")
        data["locked"] = sorted(set(data["locked"]) | set(locked))
        return data

    def evidence_ids(self) -> list[str]:
        """Every id a draft may cite from this pack."""
        ids = [f"theme:{t.id}" for t in self.themes] + [f"stat:{k}" for k in self.stats]
        chunk_ids = {c.id for c in self.chunks} | {o.chunk_id for o in self.observations}
        for theme in self.themes:
            chunk_ids |= {q.chunk_id for q in theme.quotes} | {
                w.chunk_id for w in theme.workarounds
            }
        return ids + [f"chunk:{c}" for c in sorted(chunk_ids)]


# --------------------------------------------------------------------------- choosing segments


@dataclass
class SegmentPlan:
    """One persona to draft: its segment and the themes chosen for it."""

    segment: Cohort
    is_anti_persona: bool
    themes: list[tuple[Theme, int]] = field(default_factory=list)
    small: bool = False
    match_all: bool = False

    @property
    def persona_id(self) -> str:
        # A group of interview participants is who is in it: a better name from the model on
        # a re-run must not orphan the review decisions made on the persona.
        if self.segment.basis == "interviews":
            who = "participants:" + ",".join(sorted(self.segment.members))
            return persona_id(who, self.is_anti_persona)
        return persona_id(self.segment.name, self.is_anti_persona)

    @property
    def slug(self) -> str:
        return self.segment.key


def cohort_of(segment: SegmentStats) -> Cohort:
    """A scored segment as a cohort (its users are the user table's rows)."""
    return Cohort(
        key=slugify(segment.name),
        name=segment.name,
        basis="segments",
        rule=segment.rule,
        size=segment.size,
        share=segment.share,
        age_range=segment.age_range,
        warning=segment.warning,
        categorical=segment.categorical,
    )


def is_catch_all(segment: Cohort) -> bool:
    """The scorer's default bucket: rule TRUE, or a name like 'Other'."""
    rule = segment.rule.strip().upper()
    return (
        rule == "TRUE"
        or rule.startswith("TRUE ")
        or segment.name.strip().lower() in CATCH_ALL_NAMES
    )


def is_churned(segment: Cohort) -> bool:
    """A segment of users who left, by a whole word of its name (never by its rule)."""
    # A snake_case name ("lapsed_users") still names its words.
    return bool(CHURN_WORDS.search(segment.name.replace("_", " ")))


@dataclass
class Selection:
    primary: list[Cohort]
    anti: Cohort | None
    small: set[str]
    notes: list[str]


def is_small(seg: Cohort, draft: DraftSettings, from_rules: bool = True) -> bool:
    """Too few users to trust: by the segment report's own threshold when a rules file scored it.

    segments.json carries no threshold, but segment.py sets a size>0 segment's `warning` only
    when it is under the rules file's `min_segment_size`; so `persona segment` and the drafts
    agree. Metadata pseudo-segments have no rules file: `draft.min_segment_size` decides.
    """
    if from_rules:
        return seg.size > 0 and seg.warning is not None
    return seg.size < draft.min_segment_size


def select_segments(
    report: CohortReport | SegmentReport,
    draft: DraftSettings,
    anti_persona: bool,
    from_rules: bool = True,
) -> Selection:
    """The primary segments (largest first) and the optional anti-persona segment."""
    cohorts = (
        [cohort_of(s) for s in report.segments]
        if isinstance(report, SegmentReport)
        else report.cohorts
    )
    notes = [
        f"catch-all segment {s.name!r} ({s.size} users) is not drafted as a persona"
        for s in cohorts
        if s.size > 0 and is_catch_all(s)
    ]
    candidates = sorted(
        (s for s in cohorts if s.size > 0 and not is_catch_all(s)),
        key=lambda s: (-s.size, s.name),
    )
    anti = None
    if anti_persona:
        anti = next((s for s in candidates if is_churned(s)), None)
        if anti is None:
            notes.append(
                "no anti-persona: no churned, cancelled or inactive segment in segments.json"
            )
    # Users who left are not whom the product is built for next: they inform the anti-persona.
    gone = [s.name for s in candidates if is_churned(s) and (anti is None or s.name != anti.name)]
    if gone:
        notes.append(
            f"churned segment(s) {', '.join(gone)} not drafted as primary personas"
            + ("" if anti_persona else " (use --anti-persona to draft who the product loses)")
        )
    candidates = [s for s in candidates if not is_churned(s)]
    large = [s for s in candidates if not is_small(s, draft, from_rules)]
    small = [s for s in candidates if is_small(s, draft, from_rules)]
    primary = large[: draft.personas]
    flagged: set[str] = set()
    for seg in small[: max(0, draft.personas - len(primary))]:
        primary.append(seg)
        flagged.add(seg.name)
        why = (
            seg.warning
            if from_rules and seg.warning
            else (f"only {seg.size} users (< {draft.min_segment_size})")
        )
        notes.append(
            f"segment {seg.name!r}: {why}; drafted because fewer large segments exist, "
            "flagged as a small sample"
        )
    left = [s.name for s in candidates if s not in primary]
    if left:
        notes.append(
            f"segments not drafted (beyond the {draft.personas} largest): {', '.join(left)}"
        )
    return Selection(primary=primary, anti=anti, small=flagged, notes=notes)


def _segment_key(value: object) -> str:
    return slugify(str(value)) if value not in (None, "") else ""


# --------------------------------------------------------------------------- reading inputs


@dataclass
class Inputs:
    """Who the personas stand for (cohorts), the themes, and the user -> segment map."""

    cohorts: CohortReport
    themes: ThemeReport | None
    assignments: dict[str, str]

    @property
    def scored(self) -> bool:
        """The cohorts are a user table's scored segments (a rules file decided who is in)."""
        return self.cohorts.basis == "segments"


def segments_as_cohorts(report: SegmentReport) -> CohortReport:
    """segments.json in the cohort contract: every segment, its stats, its warnings."""
    return CohortReport(
        basis="segments",
        cohorts=[cohort_of(s) for s in report.segments],
        total=report.total_users,
        stats=report.stats,
        notes=list(report.warnings),
    )


def load_inputs(workspace: Workspace) -> Inputs:
    """The cohorts (segments.json, else cohorts.json, else metadata or everyone), themes.json
    and the user -> segment map."""
    from .cohorts import everyone, metadata_cohorts

    themes = None
    if workspace.themes.exists():
        themes = ThemeReport.model_validate(read_json(workspace.themes))
    if workspace.segments.exists():
        report = SegmentReport.model_validate(read_json(workspace.segments))
        assignments: dict[str, str] = {}
        if workspace.assignments.exists():
            from .segment import load_assignments

            assignments = load_assignments(workspace)
        return Inputs(segments_as_cohorts(report), themes, assignments)
    if themes is None and not workspace.chunks.exists():
        raise InputError(
            str(workspace.root), "nothing to draft from: run ingest, themes and segment first"
        )
    if workspace.cohorts.exists():
        cohorts = CohortReport.model_validate(read_json(workspace.cohorts))
    else:
        note = (
            "no segments.json and no cohorts.json: one persona for everyone "
            "(`persona draft` groups interview participants into cohorts first)"
        )
        cohorts = metadata_cohorts(workspace) or everyone(workspace, note)
    return Inputs(cohorts, themes, {})


def segment_stats(stats: Mapping[str, float | int], slug: str) -> dict[str, float | int]:
    """The segment's own keys plus the corpus-level ones (never another segment's numbers)."""
    own = f"segment.{slugify(slug)}."
    return {
        k: v
        for k, v in sorted(stats.items())
        if k.startswith(own) or not (k.startswith("segment.") or k.startswith("migration."))
    }


def segment_themes(
    themes: ThemeReport | None,
    plan: SegmentPlan,
    k: int = THEMES_PER_PERSONA,
    people: Mapping[str, set[str]] | None = None,
) -> list[tuple[Theme, int]]:
    """Every theme the cohort's people raised (most raised first, ties by global rank, at most
    `k`), topped up by global rank to three. `people`: theme id -> who raised it, for cohorts
    of listed participants (scored segments count through the themes' segment_counts)."""
    if themes is None:
        return []
    name, slug = plan.segment.name, plan.slug
    members = set(plan.segment.members)

    def count(theme: Theme) -> int:
        if plan.match_all:
            return theme.frequency.participants + theme.frequency.tickets
        if people is not None and members:
            return len(people.get(theme.id, set()) & members)
        return theme.segment_counts.get(name, theme.segment_counts.get(slug, 0))

    ranked = sorted(themes.themes, key=lambda t: (-count(t), t.rank, t.id))
    chosen = [t for t in ranked if count(t) > 0][:k]
    if plan.is_anti_persona and not chosen:
        # No per-segment counts: the pains that make people leave are the best evidence left.
        chosen = [
            t
            for t in sorted(themes.themes, key=lambda t: (t.rank, t.id))
            if LEAVING_WORDS.search(f"{t.label} {t.description}")
        ][:k]
    rest = sorted((t for t in themes.themes if t not in chosen), key=lambda t: (t.rank, t.id))
    chosen += rest[: max(0, min(3, k) - len(chosen))]
    return [(t, count(t)) for t in chosen]


def themed_mentions(themes: ThemeReport, mentions: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(theme id, raw mentions.jsonl row) for each mention a theme holds: the one join of the
    mentions file with themes.json that counts, groups and review flags read."""
    theme_of = {m: t.id for t in themes.themes for m in t.mention_ids}
    for row in iter_rows(mentions):
        theme = theme_of.get(row.get("id"))
        if theme is not None:
            yield theme, row


def theme_people(
    workspace: Workspace, themes: ThemeReport, interviews_only: bool = False
) -> dict[str, set[str]]:
    """Theme id -> the participants (or users) whose mentions it holds; `interviews_only`:
    the interview participants alone (a ticket's customer is no study participant)."""
    people: dict[str, set[str]] = {}
    for theme, row in themed_mentions(themes, workspace.mentions):
        if interviews_only:
            who = row.get("participant_id") if row.get("kind") != "ticket" else None
        else:
            who = row.get("participant_id") or row.get("user_id")
        if who:
            people.setdefault(theme, set()).add(who)
    return people


# --------------------------------------------------------------------------- retrieval


def terms(text: str) -> set[str]:
    """Content words for lexical matching."""
    return {w for w in re.findall(r"[a-z][a-z']{2,}", text.lower()) if w not in _STOPWORDS}


class Retriever(Protocol):
    """Finds corpus chunks near a query; returns chunk rows (dicts with Chunk fields)."""

    def search(self, text: str, n: int) -> list[dict[str, Any]]: ...


class StoreRetriever:
    """Nearest participant chunks from the Chroma store (semantic, via the configured embedder)."""

    def __init__(self, settings: Settings, workspace: Workspace) -> None:
        from .store import open_store

        self.store = open_store(settings, workspace)

    def search(self, text: str, n: int) -> list[dict[str, Any]]:
        where = {"role": {"$in": list(QUOTABLE_ROLES)}}
        hits = self.store.query("chunks", text=text, n=n, where=where)
        rows = []
        for hit in hits:
            meta = hit.metadata
            rows.append(
                {
                    "id": hit.id,
                    "text": hit.text,
                    "kind": meta.get("kind", ""),
                    "role": meta.get("role", ""),
                    "source": meta.get("source", ""),
                    "participant_id": meta.get("participant_id"),
                    "ticket_id": meta.get("ticket_id"),
                    "user_id": meta.get("user_id"),
                    "metadata": {k[5:]: v for k, v in meta.items() if k.startswith("meta_")},
                }
            )
        return rows


def default_retriever(settings: Settings, workspace: Workspace) -> Retriever | None:
    """The Chroma store when it holds chunks for this embedder; None means lexical ranking."""
    if not settings.chroma.url and not workspace.chroma_dir.exists():
        return None
    try:
        retriever = StoreRetriever(settings, workspace)
        return retriever if retriever.store.count("chunks") else None
    except Exception:  # any store failure: drafting goes on with lexical ranking
        return None


# --------------------------------------------------------------------------- building packs


@dataclass
class _Candidates:
    """Per-plan chunk candidates gathered in one streaming pass."""

    terms: set[str]
    mention_rank: dict[str, tuple[int, int]]
    with_mention: list[tuple[tuple[int, int, str], dict[str, Any]]] = field(default_factory=list)
    own: list[tuple[tuple[int, str], dict[str, Any]]] = field(default_factory=list)
    outside: list[tuple[tuple[int, str], dict[str, Any]]] = field(default_factory=list)

    @staticmethod
    def keep(items: list, limit: int) -> None:
        if len(items) > 4 * limit:
            items.sort(key=lambda x: x[0])
            del items[limit:]


class PackBuilder:
    """Builds the evidence packs of one workspace, reading each input file once."""

    def __init__(
        self,
        settings: Settings,
        workspace: Workspace,
        retriever: Retriever | None = None,
        inputs: Inputs | None = None,
    ) -> None:
        self.settings = settings
        self.workspace = workspace
        self.inputs = inputs or load_inputs(workspace)
        self.retriever = retriever
        self.notes: list[str] = [] if self.inputs.scored else list(self.inputs.cohorts.notes)
        self._by_slug = {slugify(c.name): c.name for c in self.inputs.cohorts.cohorts}
        self._member: dict[str, str] = {
            m: c.name for c in self.inputs.cohorts.cohorts for m in c.members
        }
        self._theme_people: dict[str, set[str]] | None = None
        self._by_product = {
            c.product: c.name for c in self.inputs.cohorts.cohorts if c.product is not None
        }

    # ------------------------------------------------------------------ planning
    def plans(self, anti_persona: bool | None = None) -> list[SegmentPlan]:
        """The personas to draft, primary ones first, the anti-persona (if any) last."""
        anti = self.settings.draft.anti_persona if anti_persona is None else anti_persona
        report = self.inputs.cohorts
        if report.basis in ("interviews", "products", "everyone"):
            # The grouping already decided how many personas the evidence supports.
            plans = [
                SegmentPlan(c, False, small=c.small, match_all=c.basis == "everyone")
                for c in report.cohorts
            ]
            if anti:
                self.notes.append(
                    "no anti-persona: without a user table there is no group of people who left"
                )
        else:
            sel = select_segments(report, self.settings.draft, anti, self.inputs.scored)
            self.notes += sel.notes
            plans = [SegmentPlan(s, False, small=s.name in sel.small) for s in sel.primary]
            if sel.anti is not None:
                plans.append(
                    SegmentPlan(
                        sel.anti,
                        True,
                        small=is_small(sel.anti, self.settings.draft, self.inputs.scored),
                    )
                )
        if not plans:
            raise InputError(
                str(self.workspace.segments),
                "no segment to draft a persona for (only a catch-all or empty segments)",
            )
        for plan in plans:
            plan.themes = self.themes_for(plan)
        return plans

    def plan_for(self, segment: str, is_anti_persona: bool = False) -> SegmentPlan:
        """A plan for one named segment (for tests, the report and partial re-drafts)."""
        for seg in self.inputs.cohorts.cohorts:
            if seg.name == segment:
                plan = SegmentPlan(
                    seg,
                    is_anti_persona,
                    small=seg.small or is_small(seg, self.settings.draft, self.inputs.scored),
                    match_all=seg.basis == "everyone",
                )
                plan.themes = self.themes_for(plan)
                return plan
        known = ", ".join(s.name for s in self.inputs.cohorts.cohorts)
        raise InputError(
            str(self.workspace.segments), f"no segment named {segment!r} (segments: {known})"
        )

    def themes_for(self, plan: SegmentPlan) -> list[tuple[Theme, int]]:
        """The plan's themes with how many of its people raised each (see segment_themes)."""
        if plan.segment.basis == "products" and self.inputs.themes is not None:
            # A product's persona draws on its own product's themes only, in their product rank.
            mine = sorted(
                (t for t in self.inputs.themes.themes if t.product == plan.segment.product),
                key=lambda t: (t.product_rank or t.rank, t.id),
            )
            return [(t, t.frequency.tickets + t.frequency.participants) for t in mine][
                :THEMES_PER_PERSONA
            ]
        people = None
        if plan.segment.basis in ("interviews", "metadata") and self.inputs.themes is not None:
            people = self.theme_people()
        return segment_themes(self.inputs.themes, plan, people=people)

    def theme_people(self) -> dict[str, set[str]]:
        """Theme id -> the participants (or users) whose mentions it holds."""
        if self._theme_people is None:
            assert self.inputs.themes is not None
            self._theme_people = theme_people(self.workspace, self.inputs.themes)
        return self._theme_people

    # ------------------------------------------------------------------ membership
    def member_of(self, row: Mapping[str, Any]) -> str | None:
        """The cohort a chunk's speaker belongs to: scored user id, listed participant, or
        the documents' segment field."""
        user = row.get("user_id")
        if user and user in self.inputs.assignments:
            return self.inputs.assignments[user]
        who = row.get("participant_id")
        if who and who in self._member:
            return self._member[who]
        if self._by_product:
            return self._by_product.get(product_in(row.get("metadata") or {}) or "")
        from .cohorts import metadata_segment

        meta = metadata_segment(row)
        return self._by_slug.get(_segment_key(meta)) if meta else None

    def in_plan(self, row: Mapping[str, Any], plan: SegmentPlan) -> bool:
        return plan.match_all or self.member_of(row) == plan.segment.name

    # ------------------------------------------------------------------ building
    def build(self, plans: Sequence[SegmentPlan]) -> list[EvidencePack]:
        """One pack per plan, in the plans' order."""
        n = self.settings.draft.chunks_per_persona
        mention_info = self._scan_mentions(plans)
        quote_ids = {
            q.chunk_id for p in plans for t, _ in p.themes for q in t.representative_quotes
        }
        quote_ids |= {m["chunk_id"] for m in mention_info.values()}
        noticed = list(iter_rows(self.workspace.observations))
        quote_ids |= {row["chunk_id"] for row in noticed}
        cands = [
            _Candidates(
                terms=set().union(*(terms(f"{t.label} {t.description}") for t, _ in p.themes)),
                mention_rank={
                    m["chunk_id"]: (pos, -int(m["severity"]))
                    for pos, (t, _) in reversed(list(enumerate(p.themes)))
                    for mid in t.mention_ids
                    if (m := mention_info.get(mid))
                },
            )
            for p in plans
        ]
        corpus, chunk_rows = self._scan_chunks(plans, cands, quote_ids, n)
        packs = []
        for plan, cand in zip(plans, cands, strict=True):
            chunks = self._choose_chunks(plan, cand, n)
            themes = [
                self._pack_theme(plan, t, c, mention_info, chunk_rows) for t, c in plan.themes
            ]
            observations = self._observations(plan, noticed, chunk_rows)
            pack = self._pack(plan, themes, chunks, corpus, observations)
            packs.append(fit_pack(pack, self.settings.draft.pack_tokens))
        return packs

    def _observations(
        self,
        plan: SegmentPlan,
        noticed: Sequence[Mapping[str, Any]],
        chunk_rows: Mapping[str, Mapping[str, Any]],
    ) -> list[PackObservation]:
        """The goals, workarounds, tools and good moments the plan's own people stated.

        Goals, workarounds and good moments: OBSERVATIONS_PER_KIND of each, in source order,
        one per sentence. Tools: the TOOLS_PER_PACK names most of the people name, each with how
        many do (`people`) and one observation per person (up to TOOL_VOICES) to cite.
        """
        taken: Counter[str] = Counter()
        said: set[tuple[str, str]] = set()
        out: list[PackObservation] = []
        tools: dict[str, dict[str, PackObservation]] = {}
        for row in noticed:
            chunk = chunk_rows.get(row["chunk_id"])
            if chunk is None or not self.in_plan(chunk, plan):
                continue
            kind = str(row.get("kind"))
            quote = (row.get("quotes") or [{}])[0]
            note = PackObservation(
                kind=kind,
                text=str(row.get("text", "")),
                chunk_id=str(quote.get("chunk_id") or row["chunk_id"]),
                quote=str(quote.get("text", "")),
                participant_id=row.get("participant_id"),
                ticket_id=row.get("ticket_id"),
                journey_stage=str(row.get("journey_stage") or "unknown"),
            )
            if kind == "tool":
                name = note.text.split(":", 1)[0].strip().lower()
                who = str(
                    row.get("participant_id")
                    or row.get("user_id")
                    or row.get("ticket_id")
                    or row["chunk_id"]
                )
                tools.setdefault(name, {}).setdefault(who, note)
                continue
            if (
                taken[kind] >= OBSERVATIONS_PER_KIND.get(kind, 0)
                or (kind, fold(note.quote)) in said
            ):
                continue
            said.add((kind, fold(note.quote)))
            taken[kind] += 1
            out.append(note)
        ranked = sorted(tools.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOOLS_PER_PACK]
        for _, voices in ranked:
            for note in list(voices.values())[:TOOL_VOICES]:
                out.append(note.model_copy(update={"people": len(voices)}))
        return out

    def _scan_mentions(self, plans: Sequence[SegmentPlan]) -> dict[str, dict[str, Any]]:
        wanted = {mid for p in plans for t, _ in p.themes for mid in t.mention_ids}
        found: dict[str, dict[str, Any]] = {}
        if not wanted:
            return found
        for row in iter_rows(self.workspace.mentions):
            if row.get("id") in wanted:
                found[row["id"]] = {
                    "chunk_id": row["chunk_id"],
                    "severity": row.get("severity", 1),
                    "workaround": row.get("workaround"),
                    "user_id": row.get("user_id"),
                    "kind": row.get("kind"),
                    "quotes": row.get("quotes") or [],
                    "journey_stage": row.get("journey_stage") or "unknown",
                }
        return found

    def _scan_chunks(
        self,
        plans: Sequence[SegmentPlan],
        cands: Sequence[_Candidates],
        quote_ids: set[str],
        n: int,
    ) -> tuple[PackCorpus, dict[str, dict[str, Any]]]:
        interviews: set[str] = set()
        tickets: set[str] = set()
        participants: set[str] = set()
        kept: dict[str, dict[str, Any]] = {}
        for row in iter_rows(self.workspace.chunks):
            kind = row.get("kind")
            if kind == "interview":
                interviews.add(row["document_id"])
            elif kind == "ticket":
                tickets.add(row["document_id"])
            if row.get("role") not in QUOTABLE_ROLES:
                continue
            if row.get("participant_id"):
                participants.add(row["participant_id"])
            if row["id"] in quote_ids:
                kept[row["id"]] = {
                    k: row.get(k) for k in ("id", "user_id", "participant_id", "metadata")
                }
            words = None
            for plan, cand in zip(plans, cands, strict=True):
                inside = self.in_plan(row, plan)
                if inside and row["id"] in cand.mention_rank:
                    pos, sev = cand.mention_rank[row["id"]]
                    cand.with_mention.append(((pos, sev, row["id"]), row))
                    cand.keep(cand.with_mention, n)
                    continue
                words = terms(row.get("text", "")) if words is None else words
                score = len(words & cand.terms)
                if inside:
                    cand.own.append(((-score, row["id"]), row))
                    cand.keep(cand.own, n)
                elif score and self.retriever is None:
                    cand.outside.append(((-score, row["id"]), row))
                    cand.keep(cand.outside, n)
        report = self.inputs.themes
        corpus = PackCorpus(
            interviews=len(interviews),
            tickets=len(tickets),
            participants=report.total_participants if report else len(participants),
            users=self.inputs.cohorts.total if self.inputs.scored else 0,
            mentions=report.total_mentions if report else 0,
        )
        return corpus, kept

    def _choose_chunks(self, plan: SegmentPlan, cand: _Candidates, n: int) -> list[PackChunk]:
        chosen: dict[str, PackChunk] = {}

        def take(row: Mapping[str, Any], inside: bool) -> None:
            if len(chosen) < n and row["id"] not in chosen:
                chosen[row["id"]] = _pack_chunk(row, inside)

        for _, row in sorted(cand.with_mention, key=lambda x: x[0]):
            take(row, True)
        for _, row in sorted(cand.own, key=lambda x: x[0]):
            take(row, True)
        if len(chosen) < n and self.retriever is not None:
            queries = [f"{t.label}. {t.description}" for t, _ in plan.themes[:3]]
            results = [self.retriever.search(q, n) for q in queries]
            for i in range(n):
                for hits in results:
                    if i < len(hits):
                        take(hits[i], self.in_plan(hits[i], plan))
        else:
            for _, row in sorted(cand.outside, key=lambda x: x[0]):
                take(row, False)
        return list(chosen.values())

    def _pack_theme(
        self,
        plan: SegmentPlan,
        theme: Theme,
        count: int,
        mention_info: Mapping[str, Mapping[str, Any]],
        chunk_rows: Mapping[str, Mapping[str, Any]],
    ) -> PackTheme:
        def inside(chunk_id: str) -> bool:
            row = chunk_rows.get(chunk_id)
            return bool(row) and self.in_plan(row, plan)

        quotes = [
            PackQuote(
                chunk_id=q.chunk_id,
                text=q.text,
                participant_id=q.participant_id,
                ticket_id=q.ticket_id,
                in_segment=inside(q.chunk_id),
            )
            for q in theme.representative_quotes
        ]
        quotes += self._own_voices(theme, quotes, mention_info, inside)
        quotes.sort(key=lambda q: not q.in_segment)  # stable: segment's own voices first
        notes = []
        for mid in theme.mention_ids:
            m = mention_info.get(mid)
            if m and m.get("workaround"):
                notes.append((not inside(m["chunk_id"]), -int(m["severity"]), mid, m))
        workarounds: list[PackWorkaround] = []
        for *_, m in sorted(notes, key=lambda x: x[:3]):
            text = " ".join(str(m["workaround"]).split())
            if all(w.text != text for w in workarounds):
                workarounds.append(PackWorkaround(chunk_id=m["chunk_id"], text=text))
            if len(workarounds) >= WORKAROUNDS_PER_THEME:
                break
        own_stages = Counter(
            str(m["journey_stage"])
            for mid in theme.mention_ids
            if (m := mention_info.get(mid)) and inside(m["chunk_id"])
        )
        report = self.inputs.themes
        totals = report.product_totals.get(theme.product) if report and theme.product else None
        return PackTheme(
            id=theme.id,
            label=theme.label,
            description=theme.description,
            rank=theme.rank,
            score=theme.score,
            mentions=len(theme.mention_ids),
            frequency=theme.frequency,
            severity=theme.severity,
            segment_count=count,
            journey_stages=dict(sorted(theme.journey_stages.items())),
            segment_journey_stages=dict(sorted(own_stages.items())),
            product=theme.product,
            product_rank=theme.product_rank,
            product_totals=totals,
            quotes=quotes,
            workarounds=workarounds,
        )

    @staticmethod
    def _own_voices(
        theme: Theme,
        have: Sequence[PackQuote],
        mention_info: Mapping[str, Mapping[str, Any]],
        inside: Callable[[str], bool],
    ) -> list[PackQuote]:
        """Quotes of the segment's own interview participants on this theme.

        The theme's representative quotes are the corpus's most central ones, mostly tickets;
        a persona should hear its own interviewees first when they spoke about the pain.
        """
        taken = {fold(q.text) for q in have}
        found: list[tuple[int, str, PackQuote]] = []
        for mid in theme.mention_ids:
            m = mention_info.get(mid)
            if not m or m.get("kind") == "ticket" or not inside(m["chunk_id"]):
                continue
            for q in m.get("quotes") or ():
                text = str(q.get("text") or "")
                if not text or fold(text) in taken:
                    continue
                quote = PackQuote(
                    chunk_id=q.get("chunk_id") or m["chunk_id"],
                    text=text,
                    participant_id=q.get("participant_id"),
                    in_segment=True,
                )
                found.append((-int(m["severity"]), mid, quote))
                break
        out: list[PackQuote] = []
        seen: set[str] = set()
        for _, _, quote in sorted(found, key=lambda f: f[:2]):
            # One quote per participant, as for the theme's own representative quotes.
            who = quote.participant_id or quote.chunk_id
            if who not in seen and fold(quote.text) not in {fold(q.text) for q in out}:
                seen.add(who)
                out.append(quote)
            if len(out) >= OWN_VOICES_PER_THEME:
                break
        return out

    def _pack(
        self,
        plan: SegmentPlan,
        themes: list[PackTheme],
        chunks: list[PackChunk],
        corpus: PackCorpus,
        observations: list[PackObservation] | None = None,
    ) -> EvidencePack:
        seg = plan.segment
        report = self.inputs.themes
        totals = report.product_totals.get(seg.product) if report and seg.product else None
        if seg.basis == "products" and totals is not None:
            # A product's persona rests on that product's reviews and people, not the export's.
            corpus = corpus.model_copy(
                update={
                    "tickets": totals.tickets,
                    "participants": totals.participants,
                    "interviews": min(corpus.interviews, totals.participants),
                }
            )
        notes = []
        if plan.small or seg.warning:
            people = "users in this segment" if seg.basis == "segments" else "participants"
            notes.append(seg.warning or f"small sample: only {seg.size} {people}")
        if not themes:
            notes.append("no themes.json: no pain-point themes to draw on")
        if themes and not any(t.segment_count for t in themes):
            notes.append(
                "no theme is linked to this segment's users; themes shown are the corpus-wide top ones"
            )
        if plan.is_anti_persona:
            notes.append(
                "anti-persona: this segment stands for who the product is not for; its themes are the "
                "pains that drove or keep them away"
            )
        return EvidencePack(
            persona_id=plan.persona_id,
            is_anti_persona=plan.is_anti_persona,
            segment=PackSegment(
                name=seg.name,
                slug=plan.slug,
                rule=seg.rule,
                size=seg.size,
                share=seg.share,
                age_range=seg.age_range,
                warning=seg.warning,
                small=plan.small,
                categorical=seg.categorical,
                basis=seg.basis,
                description=seg.description,
                traits=seg.traits,
                members=seg.members,
            ),
            stats=segment_stats(self.inputs.cohorts.stats, plan.slug),
            themes=themes,
            chunks=chunks,
            observations=observations or [],
            journey=PackJourney.model_validate(plan_for(self.settings.draft).as_dict()),
            corpus=corpus,
            notes=notes,
        )


def _pack_chunk(row: Mapping[str, Any], inside: bool) -> PackChunk:
    return PackChunk(
        id=row["id"],
        text=row.get("text", ""),
        kind=str(row.get("kind", "")),
        role=str(row.get("role", "")),
        source=str(row.get("source", "")),
        participant_id=row.get("participant_id"),
        ticket_id=row.get("ticket_id"),
        user_id=row.get("user_id"),
        in_segment=inside,
    )


def pack_tokens(pack: EvidencePack) -> int:
    """Tokens the pack takes in a drafting prompt (its data block, as the prompts render it)."""
    from .prompts import data_block
    from .tokens import count_tokens

    return count_tokens(data_block(pack.context(), "evidence_pack"))


def _cost(item: Strict) -> int:
    from .tokens import count_tokens

    text = json.dumps(item.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
    return count_tokens(text) + 1


def _trim_order(pack: EvidencePack) -> list[tuple[str, list[Any], Any]]:
    """What the budget may drop, least needed first: (what, the list holding it, the item)."""
    order: list[tuple[str, list[Any], Any]] = []
    order += [("chunk", pack.chunks, c) for c in reversed(pack.chunks) if not c.in_segment]
    for theme in reversed(pack.themes):
        # The quote kept is the persona's own interviewee when the theme has one (an interview
        # says more than a ticket about how the pain is lived with); tickets go first.
        keep = next((q for q in theme.quotes if q.in_segment and q.ticket_id is None), None)
        keep = keep or (theme.quotes[0] if theme.quotes else None)
        extra = [q for q in theme.quotes if q is not keep]
        extra.sort(key=lambda q: (q.ticket_id is None, q.in_segment))  # stable: latest last
        order += [("quote", theme.quotes, q) for q in extra]
        order += [("workaround", theme.workarounds, w) for w in reversed(theme.workarounds[1:])]
    kinds: dict[str, list[PackObservation]] = {}
    voices: list[PackObservation] = []
    named: set[str] = set()
    for note in pack.observations:
        name = note.text.split(":", 1)[0].strip().lower() if note.kind == "tool" else ""
        if name and name in named:
            voices.append(note)  # a tool's count stays on its first voice
            continue
        named.add(name)
        kinds.setdefault(note.kind, []).append(note)
    order += [("observation", pack.observations, n) for n in reversed(voices)]
    for notes in kinds.values():
        order += [("observation", pack.observations, n) for n in reversed(notes[MIN_OBSERVATIONS:])]
    order += [("chunk", pack.chunks, c) for c in reversed(pack.chunks) if c.in_segment]
    order += [("theme", pack.themes, t) for t in reversed(pack.themes[MIN_THEMES:])]
    return order


def fit_pack(pack: EvidencePack, budget: int) -> EvidencePack:
    """The pack within `budget` tokens, dropping the evidence least needed for this persona first.

    Order: chunks of people outside the cohort; the lowest-ranked themes' extra quotes (tickets
    and outside voices before the persona's interviewees; each theme keeps one quote, an own
    interviewee's when it has one) and workarounds; tool
    voices beyond each tool's first; observations beyond MIN_OBSERVATIONS per kind, latest
    first; the cohort's own chunks, last chosen first; whole themes from the lowest-ranked
    (MIN_THEMES are kept). The pack's notes say what went, so a drafter knows it saw a part.
    """
    total = pack_tokens(pack)
    if total <= budget:
        return pack
    fitted = pack.model_copy(deep=True)
    order = _trim_order(fitted)
    notes = list(fitted.notes)
    dropped: Counter[str] = Counter()

    def note(over: bool) -> str:
        words = ", ".join(f"{n} {what}(s)" for what, n in sorted(dropped.items()))
        return (
            f"evidence trimmed to the {budget}-token pack budget ({words} dropped, least "
            "relevant to this persona first)"
            + ("; still over budget at the minimum kept" if over else "")
        )

    while True:
        while total > budget and order:
            what, holder, item = order.pop(0)
            total -= _cost(item)
            holder[:] = [x for x in holder if x is not item]
            dropped[what] += 1
        # The estimate is close; the exact count, with the note itself, decides.
        fitted.notes = [*notes, note(over=False)]
        total = pack_tokens(fitted)
        if total <= budget or not order:
            break
    if total > budget:
        fitted.notes = [*notes, note(over=True)]
    return fitted


def build_evidence_packs(
    settings: Settings,
    workspace: Workspace,
    anti_persona: bool | None = None,
    retriever: Retriever | None = None,
) -> tuple[list[EvidencePack], list[str]]:
    """Packs for every persona to draft (primary first, anti-persona last) and selection notes."""
    builder = PackBuilder(settings, workspace, retriever or default_retriever(settings, workspace))
    plans = builder.plans(anti_persona)
    return builder.build(plans), builder.notes


def build_evidence_pack(
    settings: Settings,
    workspace: Workspace,
    segment: str,
    is_anti_persona: bool = False,
    retriever: Retriever | None = None,
) -> EvidencePack:
    """The evidence pack of one named segment."""
    builder = PackBuilder(settings, workspace, retriever or default_retriever(settings, workspace))
    return builder.build([builder.plan_for(segment, is_anti_persona)])[0]
