"""The data contracts between stages. schemas/*.json are generated from these models.

Models the LLM fills carry a `Field(description=...)` on every field: Instructor sends those
descriptions to the model as part of the JSON Schema, so they are prompt text too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DocumentKind = Literal["interview", "ticket", "survey"]
SpeakerRole = Literal["participant", "interviewer", "customer", "agent"]
# Whose words may be quoted as evidence: the people studied, never the interviewer or support agent.
QUOTABLE_ROLES: tuple[SpeakerRole, ...] = ("participant", "customer")
JourneyStage = Literal[
    "awareness", "consideration", "decision", "onboarding", "retention", "advocacy", "unknown"
]
LLMMode = Literal["openai", "offline", "host"]
# What a mention is: a problem the speaker has, something they ask to have, or a question. In
# tickets all three are evidence of need; questions and requests are low-severity by nature.
MentionNature = Literal["problem", "request", "question"]
# The other things a persona needs besides pains, extracted and quoted the same way.
ObservationKind = Literal["goal", "workaround", "tool", "positive"]


class Strict(BaseModel):
    """Base: unknown keys are errors, so a typo in a file or an answer never passes silently."""

    model_config = ConfigDict(extra="forbid")


# Models an LLM (or a host agent) fills: an unknown key (a misspelt "workarround", a stray
# "notes") is an error the model is asked to fix, never silently dropped. The JSON Schema says so
# too ("additionalProperties": false), which OpenAI's strict tools require.
LLM_FILLED = ConfigDict(extra="forbid")


def _empty(value: object) -> bool:
    """For `exclude_if`: a field added later is left out of files while it holds nothing."""
    return not value


# --------------------------------------------------------------------------- evidence


class Turn(Strict):
    """One speaker turn; `start` is the offset of `text` in the document's joined text."""

    speaker: str
    role: SpeakerRole
    text: str
    start: int = 0
    line: int | None = None
    time: str | None = None


class Document(Strict):
    """One interview or one ticket, as read from its source."""

    id: str
    source: str
    kind: DocumentKind
    participant_id: str | None = None
    ticket_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    turns: list[Turn] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """The turns joined by blank lines; every char span refers to this string."""
        return TURN_SEPARATOR.join(t.text for t in self.turns)


TURN_SEPARATOR = "\n\n"

# Metadata keys an export names its product (or app) by, in order of preference.
PRODUCT_KEYS = ("product", "app")


def product_in(metadata: Mapping[str, Any]) -> str | None:
    """The product a document's metadata names, if any."""
    for key in PRODUCT_KEYS:
        value = metadata.get(key)
        if value not in (None, ""):
            return str(value)
    return None


class Chunk(Strict):
    """A piece of one speaker's words within a token budget, the unit embedded and quoted."""

    id: str
    document_id: str
    text: str
    token_count: int
    speaker: str
    role: SpeakerRole
    start: int
    end: int
    kind: DocumentKind
    source: str
    line: int | None = None
    time: str | None = None
    participant_id: str | None = None
    ticket_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    def origin(self) -> dict[str, Any]:
        """Whose words these are and where, as a mention or observation drawn from it stores it."""
        return {
            "chunk_id": self.id,
            "document_id": self.document_id,
            "participant_id": self.participant_id,
            "ticket_id": self.ticket_id,
            "user_id": self.user_id,
            "product": product_in(self.metadata),
        }


class SkippedInput(Strict):
    """An input that was not used, and why (shown in every summary)."""

    path: str
    reason: str
    line: int | None = None


# --------------------------------------------------------------------------- pain points


class QuoteDraft(BaseModel):
    """A quote as the model proposes it: checked against the chunk before it is accepted."""

    model_config = LLM_FILLED

    text: str = Field(
        description="Exact words copied from the chunk text, 3-60 words; never paraphrase or merge"
    )
    chunk_id: str = Field(description="Id of the chunk the quote is copied from")


class MentionDraft(BaseModel):
    """One pain point the speaker states: a problem, frustration, effort or unmet need."""

    model_config = LLM_FILLED

    statement: str = Field(
        description="The pain point in your own words, one sentence, not a copy of the quote"
    )
    category: str = Field(
        description="Short lowercase topic of the pain, 1-4 words, e.g. 'bank sync', 'pricing'"
    )
    severity: int = Field(
        ge=1,
        le=5,
        description="1 minor annoyance, 2 irritation, 3 real cost in time, 4 blocks work or "
        "money at risk, 5 threatens renewal or causes data loss",
    )
    severity_rationale: str = Field(description="One line: why this severity")
    journey_stage: JourneyStage = Field(
        description="Stage of the customer journey where the pain occurs; 'unknown' if unclear"
    )
    workaround: str | None = Field(
        default=None, description="What the speaker does today to cope, if they say so"
    )
    nature: MentionNature = Field(
        default="problem",
        description="'problem' (something goes wrong or costs them), 'request' (they ask for a "
        "feature or change) or 'question' (they ask how to do something)",
    )
    quotes: list[QuoteDraft] = Field(
        min_length=1, max_length=3, description="1-3 verbatim quotes that state this pain"
    )


class ObservationDraft(BaseModel):
    """Something a persona needs besides pains: a goal, a workaround, a tool, a good moment."""

    model_config = LLM_FILLED

    kind: ObservationKind = Field(
        description="'goal': what they are trying to achieve in their work; 'workaround': what "
        "they do today to cope with or get around a problem; 'tool': a product, tool, channel or "
        "source they use; 'positive': something that works well for them or that they value"
    )
    text: str = Field(
        description="One short sentence in your own words; for a tool, start with its name "
        "('Excel: keeps the master list of receipts')"
    )
    journey_stage: JourneyStage = Field(
        description="Stage of the customer journey it belongs to; 'unknown' if unclear"
    )
    quotes: list[QuoteDraft] = Field(
        min_length=1, max_length=2, description="1-2 verbatim quotes that show it"
    )


class Quote(Strict):
    """A verbatim quote with its place in its chunk."""

    text: str
    chunk_id: str
    start: int
    end: int
    participant_id: str | None = None
    ticket_id: str | None = None
    source: str | None = None


class PainPointMention(Strict):
    """A validated pain point from one chunk (or one ticket), ready for clustering."""

    id: str
    statement: str
    category: str
    severity: int = Field(ge=1, le=5)
    severity_rationale: str
    journey_stage: JourneyStage
    workaround: str | None = None
    quotes: list[Quote]
    chunk_id: str
    document_id: str
    kind: DocumentKind
    participant_id: str | None = None
    ticket_id: str | None = None
    user_id: str | None = None
    product: str | None = None
    origin: LLMMode = "openai"
    # Extractive (offline) mentions have no model-written statement that names the topic; the
    # words around the quote do, so clustering embeds this instead when it is set.
    context: str | None = None
    # Kept from an earlier run because this run's extraction call for its chunk failed.
    stale: bool = False
    nature: MentionNature = "problem"


class Observation(Strict):
    """A validated goal, workaround, tool or positive moment from one chunk (observations.jsonl)."""

    id: str
    kind: ObservationKind
    text: str
    journey_stage: JourneyStage = "unknown"
    quotes: list[Quote]
    chunk_id: str
    document_id: str
    source_kind: DocumentKind
    participant_id: str | None = None
    ticket_id: str | None = None
    user_id: str | None = None
    product: str | None = None
    origin: LLMMode = "openai"
    stale: bool = False


class ExtractState(Strict):
    """extract_state.json: how complete the last extraction is, for every later step to say.

    A failed call never replaces earlier mentions with nothing: the mentions an earlier run
    found in the failed calls' chunks are kept (marked stale) until a run redoes them.
    """

    mode: LLMMode
    chunks: int = 0
    failed_requests: int = 0
    failed_chunks: list[str] = Field(default_factory=list)
    stale_mentions: int = 0
    # Failed chunks with no earlier mentions to keep: read by no model at all yet.
    unread_chunks: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed_chunks

    def describe(self) -> str:
        """One sentence for reports and summaries ('' when complete)."""
        if self.complete:
            return ""
        kept = (
            f"{self.stale_mentions} mention(s) from an earlier run are kept for them (stale)"
            if self.stale_mentions
            else "no earlier mentions were there to keep"
        )
        unread = (
            f"; {self.unread_chunks} chunk(s) have no mentions at all" if self.unread_chunks else ""
        )
        return (
            f"extraction incomplete: {self.failed_requests} call(s) covering "
            f"{len(self.failed_chunks)} chunk(s) failed in the last run; {kept}{unread}. "
            "Re-run `persona run` (or `persona extract`) to retry only those."
        )


# --------------------------------------------------------------------------- themes


class ThemeFrequency(Strict):
    """How widespread a theme is; shares are of the corpus's participants / tickets."""

    participants: int
    tickets: int
    participant_share: float
    ticket_share: float


class ThemeSeverity(Strict):
    mean: float
    max: int


class Theme(Strict):
    """A consolidated pain point: every mention belongs to exactly one theme."""

    id: str
    label: str
    description: str
    mention_ids: list[str]
    frequency: ThemeFrequency
    severity: ThemeSeverity
    score: float
    rank: int
    representative_quotes: list[Quote]
    segment_counts: dict[str, int] = Field(default_factory=dict)
    journey_stages: dict[str, int] = Field(default_factory=dict)
    product: str | None = None
    # Rank among the themes of its own product (set when the corpus has several products).
    product_rank: int | None = None
    named_by: LLMMode = "offline"
    # Fewer mentions than settings.themes.min_mentions: kept (never dropped), flagged for display.
    below_min_mentions: bool = False
    # Members kept from an earlier run because their extraction call failed this time.
    stale_mentions: int = 0


class ThemeGroup(Strict):
    """A finding: related themes a report names under one heading, counted over all of them."""

    id: str
    label: str
    description: str
    theme_ids: list[str]
    frequency: ThemeFrequency
    severity: ThemeSeverity
    score: float
    rank: int
    product: str | None = None
    named_by: LLMMode = "offline"


class CorpusTotals(Strict):
    """Distinct participants and tickets of one product: what its themes' shares divide by."""

    participants: int
    tickets: int


class ThemeReport(Strict):
    """themes.json: ranked themes plus the corpus totals the shares are computed from."""

    themes: list[Theme]
    total_participants: int
    total_tickets: int
    total_mentions: int
    embedder: str
    score_formula: str
    settings: dict[str, float | int | str] = Field(default_factory=dict)
    # Earlier theme id -> the id of the theme that now holds its mentions. Ids hash their
    # members, so a re-run that merges or grows a theme gives it a new id; review decisions and
    # citations made against the old id follow this map (BERTopic's topic mapper on merge).
    lineage: dict[str, str] = Field(default_factory=dict)
    # Per product when the corpus has several: a theme's shares and score use its product's.
    product_totals: dict[str, CorpusTotals] = Field(default_factory=dict)
    # Reviewer merges applied ("<source id>-><target id>" -> the mention ids it joins), kept so
    # the merge holds on every re-run after the halves' own ids are gone.
    reviewer_merges: dict[str, list[str]] = Field(default_factory=dict)
    stale_mentions: int = 0
    # Findings above the themes (agent/theme_groups.py), model modes only. Left out when empty,
    # so an offline themes.json is the file it was before findings existed.
    groups: list[ThemeGroup] = Field(default_factory=list, exclude_if=_empty)


# --------------------------------------------------------------------------- segments


class NumericSummary(Strict):
    mean: float
    median: float
    q1: float
    q3: float
    min: float
    max: float


class CategoryShare(Strict):
    value: str
    count: int
    share: float


class SegmentStats(Strict):
    """One persona segment from the first-match rules, with its numbers."""

    name: str
    rule: str
    size: int
    share: float
    numeric: dict[str, NumericSummary] = Field(default_factory=dict)
    categorical: dict[str, list[CategoryShare]] = Field(default_factory=dict)
    age_range: str | None = None
    top_complaints: list[CategoryShare] = Field(default_factory=list)
    warning: str | None = None


CohortBasis = Literal["segments", "metadata", "interviews", "products", "everyone"]


class CohortTrait(Strict):
    """What sets a cohort apart, with the evidence it rests on (theme:, chunk: ids)."""

    text: str
    evidence: list[str] = Field(default_factory=list)


class Cohort(Strict):
    """The people one persona stands for: a scored segment, a metadata group, a grouping of
    interview participants by what they do, need and raise, or everyone."""

    key: str
    name: str
    basis: CohortBasis
    # What makes someone a member, in words (a rule, a field value, a grouping).
    rule: str
    size: int
    share: float
    # Participant ids (metadata, interviews, everyone); empty for scored segments, whose
    # members are the user table's rows (segment_assignments.csv).
    members: list[str] = Field(default_factory=list)
    description: str = ""
    traits: list[CohortTrait] = Field(default_factory=list)
    age_range: str | None = None
    warning: str | None = None
    categorical: dict[str, list[CategoryShare]] = Field(default_factory=dict)
    small: bool = False
    named_by: LLMMode = "offline"
    # For a products cohort: the product whose tickets and reviews it stands for.
    product: str | None = None


class CohortReport(Strict):
    """cohorts.json: who the personas stand for when no user table was scored."""

    basis: CohortBasis
    cohorts: list[Cohort]
    total: int
    stats: dict[str, float | int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    # Why the interviews gave one persona (too few people, or no split found), with what would
    # help; the reports' caveats show it. Left out when they gave several.
    one_persona_reason: str | None = Field(default=None, exclude_if=_empty)


class SegmentReport(Strict):
    """The scorer's whole output. `stats` flattens every number under a stable citable key."""

    source: str
    config: str
    total_users: int
    segments: list[SegmentStats]
    distributions: dict[str, list[CategoryShare]] = Field(default_factory=dict)
    stats: dict[str, float | int] = Field(default_factory=dict)
    assignments_file: str | None = None
    warnings: list[str] = Field(default_factory=list)


class MigrationCell(Strict):
    """Users in `from_segment` in the old snapshot and `to_segment` in the new one."""

    from_segment: str
    to_segment: str
    count: int
    share_of_from: float
    sample_ids: list[str] = Field(default_factory=list)


class Migration(Strict):
    """`persona segment --compare OLD NEW`: who moved where between two snapshots.

    Shares are fractions 0-1 of the users of `from_segment` present in both snapshots.
    """

    old_source: str
    new_source: str
    config: str
    old_total: int
    new_total: int
    in_both: int
    moved: int
    transitions: list[MigrationCell]
    dimensions: dict[str, list[MigrationCell]] = Field(default_factory=dict)
    only_old: dict[str, int] = Field(default_factory=dict)
    only_new: dict[str, int] = Field(default_factory=dict)
    net_change: dict[str, int] = Field(default_factory=dict)
    stats: dict[str, float | int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- personas

EVIDENCE_HELP = (
    "Evidence ids from the evidence pack that support this: 'theme:<id>', 'chunk:<id>' "
    "or 'stat:<key>'. Empty only if assumption is true"
)


class Claim(BaseModel):
    """A statement in a persona, with the evidence it rests on."""

    model_config = LLM_FILLED

    text: str = Field(description="The statement; any number in it must be a cited stat value")
    evidence: list[str] = Field(default_factory=list, description=EVIDENCE_HELP)
    assumption: bool = Field(
        default=False, description="True when no evidence in the pack supports this statement"
    )


class PersonaQuote(BaseModel):
    model_config = LLM_FILLED

    text: str = Field(description="Verbatim words from the cited chunk")
    chunk_id: str = Field(description="Id of the chunk the quote is copied from")


class PersonaPainPoint(BaseModel):
    model_config = LLM_FILLED

    theme_id: str = Field(description="Id of the theme in the evidence pack")
    title: str = Field(description="Short name of the pain point")
    impact: Claim = Field(description="What the pain costs this persona")
    frequency: Claim = Field(description="How often/widely it occurs, citing theme or stat values")
    workaround: Claim | None = Field(default=None, description="What they do today to cope")


class Needs(BaseModel):
    model_config = LLM_FILLED

    must: list[Claim] = Field(default_factory=list, description="Must-have needs")
    should: list[Claim] = Field(default_factory=list, description="Should-have needs")
    nice: list[Claim] = Field(default_factory=list, description="Nice-to-have needs")


class Behaviors(BaseModel):
    model_config = LLM_FILLED

    discovery: list[Claim] = Field(default_factory=list, description="How they find products")
    evaluation: list[Claim] = Field(default_factory=list, description="How they evaluate")
    purchase_triggers: list[Claim] = Field(default_factory=list, description="What makes them buy")


AGE_RANGE = re.compile(r"^\d{2}\s*[-–]\s*\d{2}$")


class Demographics(BaseModel):
    model_config = LLM_FILLED

    age_range: Claim | None = Field(
        default=None,
        description="An age range like '30-39', never an exact age; null when the pack has no "
        "age data",
    )
    income_range: Claim | None = Field(default=None, description="An income band, as a range")
    company_size: Claim | None = Field(default=None, description="Company size band")


class PersonaDraft(BaseModel):
    """What the LLM (or the offline templates) writes for one segment or cohort.

    A field the evidence cannot fill stays empty (an empty list, or null) and the gap goes into
    `open_questions`; only the summary is always written.
    """

    model_config = LLM_FILLED

    name: str = Field(
        description="A first name and an archetype, e.g. 'Dana, the Month-End Closer'"
    )
    archetype: str = Field(description="The archetype in 2-5 words")
    summary: Claim = Field(description="Two or three sentences on who they are")
    role: Claim | None = Field(
        default=None, description="Job role and responsibilities; null when the pack has none"
    )
    demographics: Demographics
    goals: list[Claim] = Field(
        description="Up to 5 goals their own people state (goal observations), each citing its "
        "chunk; empty when none is stated"
    )
    motivations: list[Claim] = Field(
        description="Up to 4 motivations: why they act, from goals and positive moments they "
        "state; empty when none is stated"
    )
    behaviors: Behaviors
    channels: list[Claim] = Field(description="Channels and information sources")
    tools: list[Claim] = Field(
        default_factory=list,
        description="Tools they use (tool observations), each with how many of their people "
        "name it",
    )
    tech_proficiency: Claim | None = Field(
        default=None, description="Technical proficiency; null when the pack shows none"
    )
    pain_points: list[PersonaPainPoint] = Field(description="Top pain points, most severe first")
    quotes: list[PersonaQuote] = Field(
        description="2-4 verbatim quotes of the persona's own people from the evidence pack"
    )
    needs: Needs
    aha_moment: Claim | None = Field(
        default=None,
        description="The moment the product's value clicked for them, from a positive moment "
        "they describe; null when none is described",
    )
    open_questions: list[str] = Field(
        default_factory=list,
        description="What the evidence cannot answer about this persona, each as one research "
        "question to ask next (e.g. 'How do they choose a tool like this?'), instead of a guess "
        "in the field",
    )


class DocumentInfo(Strict):
    version: str = "1.0"
    status: Literal["draft", "reviewed"] = "draft"
    based_on_interviews: int = 0
    based_on_tickets: int = 0
    based_on_users: int = 0
    generated_at: str = ""
    model: str = ""
    prompt_version: str = ""
    mode: LLMMode = "offline"


class Persona(Strict):
    """A drafted persona tied to a segment; `draft` is the part a human reviews field by field."""

    id: str
    segment: str
    is_anti_persona: bool = False
    draft: PersonaDraft
    document_info: DocumentInfo


class JourneyStageEntry(BaseModel):
    model_config = LLM_FILLED

    stage: str = Field(
        description="The stage id, one of the evidence pack's journey.stages, in that order"
    )
    customer_goal: Claim | None = Field(
        default=None,
        description="What they want at this stage, from a goal they state; null when unknown",
    )
    actions: list[Claim] = Field(description="What the customer does at this stage")
    touchpoints: list[Claim] = Field(
        description="Where they meet the product or company: tools and channels they name"
    )
    thoughts: list[Claim] = Field(default_factory=list, description="What they think or feel")
    emotion: int = Field(
        ge=-2,
        le=2,
        description="-2 very negative ... +2 very positive: the good moments at this stage "
        "weighed against its pains; 0 when mixed or unknown",
    )
    pain_points: list[str] = Field(default_factory=list, description="Theme ids felt at this stage")
    positives: list[Claim] = Field(
        default_factory=list,
        description="Good moments at this stage (positive observations), each citing its chunk",
    )
    opportunities: list[Claim] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list, description="Metrics to track this stage")


class Recommendation(BaseModel):
    model_config = LLM_FILLED

    action: str = Field(description="What to do")
    goal: str = Field(description="What it should achieve")
    metric: str = Field(description="How to measure it")
    evidence: list[str] = Field(default_factory=list, description=EVIDENCE_HELP)


class JourneyDraft(BaseModel):
    """A journey map for one persona: one entry per configured stage, in order."""

    model_config = LLM_FILLED

    stages: list[JourneyStageEntry] = Field(
        min_length=2,
        max_length=8,
        description="One entry per stage of the evidence pack's journey.stages, in that order",
    )
    key_findings: list[Claim] = Field(description="3-5 findings across the journey")
    recommendations: list[Recommendation] = Field(description="3-5 recommendations")


class JourneyMap(Strict):
    id: str
    persona_id: str
    draft: JourneyDraft
    document_info: DocumentInfo
    # Column -> the extracted stages it shows, as drafted (agent/stages.py); empty on maps
    # drafted before stages were configurable, which used the funnel.
    stage_sources: dict[str, list[str]] = Field(default_factory=dict)
    # Theme id -> extracted stage -> mentions by the persona's own people, from the evidence
    # pack: renderers count a column's pains (as drafted or as a reviewer set them) with it.
    # Empty on maps drafted before it was kept (renderers then count the whole study's
    # mentions, and say so).
    own_stage_counts: dict[str, dict[str, int]] = Field(default_factory=dict)


# --------------------------------------------------------------------------- runs


class CallFailure(Strict):
    """An LLM call (or host answer) that did not produce a valid result."""

    request_id: str
    step: str
    error: str
    attempts: int = 1


class StepSummary(Strict):
    """What one command did: the `--json` payload of every pipeline command."""

    step: str
    ok: bool = True
    mode: LLMMode | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    skipped: list[SkippedInput] = Field(default_factory=list)
    failures: list[CallFailure] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
