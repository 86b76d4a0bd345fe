"""Offline drafting: deterministic templates filled from one evidence pack, no language model.

Every sentence is built from a stat, a theme or a verbatim quote and cites it; whatever the pack
cannot support (motivations, the aha moment, generic stage goals) is written as an explicit
assumption for a reviewer to fill. The summary's closing label and the document's mode say the
persona was drafted offline; the name never does (a reviewer confirming the name would keep it).
Journey stages follow one rule (`clear_stage`): 'unknown' is never a stage, and a stage is named
only when enough mentions name a stage and that stage holds a clear share of them.
The output passes the same grounding validators as an LLM draft (tests/test_draft.py checks).
"""

from __future__ import annotations

import re

from .evidence import EvidencePack, PackTheme
from .grounding import Checker, PackIndex, fold
from .models import (
    Behaviors,
    Claim,
    Demographics,
    JourneyDraft,
    JourneyStageEntry,
    Needs,
    PersonaDraft,
    PersonaPainPoint,
    PersonaQuote,
    Recommendation,
)
from .segment_rules import slugify

TEMPLATE_VERSION = "offline-3"
STAGES = ("awareness", "consideration", "decision", "onboarding", "advocacy")
# The stages a mention can name (models.JourneyStage without 'unknown'), in journey order.
MENTION_STAGES = ("awareness", "consideration", "decision", "onboarding", "retention", "advocacy")
# The map's five columns and the mention stages each shows: the fourth column is titled
# "Onboarding & Retention" in every report (render.markdown.STAGE_TITLES), so it shows both.
# Text never calls a retention mention an onboarding one: claims name the mention's own stage.
STAGE_SOURCES = {
    "awareness": ("awareness",),
    "consideration": ("consideration",),
    "decision": ("decision",),
    "onboarding": ("onboarding", "retention"),
    "advocacy": ("advocacy",),
}
STAGE_GOALS = {
    "awareness": "Recognise the problem and look for a way to solve it",
    "consideration": "Compare options and judge whether this product fits",
    "decision": "Commit: choose a plan and get started",
    "onboarding": "Set the product up and get value from it week after week",
    "advocacy": "Recommend the product, or warn others off it",
}
ROLE_COLUMNS = re.compile(r"role|job|title|occupation|position|function", re.I)
CHANNEL_COLUMNS = re.compile(r"channel|source|referr|acquisition|utm", re.I)
TOOL_COLUMNS = re.compile(r"tool|integration|platform|device|os$|browser|app", re.I)
INCOME_COLUMNS = re.compile(r"income|salary|revenue", re.I)
COMPANY_COLUMNS = re.compile(r"company|employees|team_size|org", re.I)
BREADTH = "feature_breadth"
NOT_IN_EVIDENCE = "Not in the evidence pack"
OFFLINE_LABEL = "(Offline template draft.)"
# What a severity means, in the words of the extraction scale (models.MentionDraft.severity).
SEVERITY_WORDS = {
    1: "a minor annoyance",
    2: "an irritation",
    3: "a real cost in time",
    4: "blocked work or money at risk",
    5: "a threat to renewal, or lost data",
}
# The one rule for placing pains in a stage (map columns and findings alike): at least
# MIN_STAGED mentions must name a stage ('unknown' never counts), and the stage must hold at
# least STAGE_SHARE of them (a finding also needs the stage to hold strictly the most). A theme
# whose mentions mostly name no stage, or name one a couple of times, is placed nowhere.
MIN_STAGED = 3
STAGE_SHARE = 0.4
# Fewer mentions than this at a stage cannot make its emotion "very negative".
STRONG_EVIDENCE = 5
NUMERIC_STATS = ("median",)


def pct(share: float) -> str:
    """A 0-1 share as the percentage the validators accept (whole, or one decimal)."""
    value = share * 100
    return f"{round(value)}%" if abs(value - round(value)) < 0.05 else f"{value:.1f}%"


def num(value: float | int) -> str:
    """A number exactly as stored (the scorer rounds to at most 4 decimals)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def assumption(text: str) -> Claim:
    return Claim(text=text, evidence=[], assumption=True)


class OfflineDrafter:
    """Fills the persona and journey templates from one pack."""

    def __init__(self, pack: EvidencePack) -> None:
        self.pack = pack
        self.seg = pack.segment
        self.prefix = f"segment.{pack.segment.slug}."
        self.checker = Checker(PackIndex.from_pack(pack.context()))

    # ------------------------------------------------------------------ lookups
    def stat(self, suffix: str) -> str | None:
        key = self.prefix + suffix
        return key if key in self.pack.stats else None

    def cat_key(self, column: str, value: str) -> str | None:
        """The stats key holding a categorical value's share in this segment."""
        exact = self.stat(f"{slugify(column)}.{slugify(value)}.share")
        if exact:
            return exact
        share = next(
            (c.share for c in self.seg.categorical.get(column, []) if c.value == value), None
        )
        col = f"{self.prefix}{slugify(column)}."
        return next(
            (
                k
                for k, v in self.pack.stats.items()
                if k.startswith(col) and k.endswith(".share") and v == share
            ),
            None,
        )

    def column(self, pattern: re.Pattern[str]) -> str | None:
        return next((c for c in sorted(self.seg.categorical) if pattern.search(c)), None)

    def top_values(self, column: str, k: int = 3) -> tuple[str, list[str]]:
        """'a (38%), b (21%)' and the stat keys behind it."""
        parts, keys = [], []
        for item in self.seg.categorical.get(column, [])[:k]:
            key = self.cat_key(column, item.value)
            if key:
                parts.append(f"{item.value} ({pct(item.share)})")
                keys.append(f"stat:{key}")
        return ", ".join(parts), keys

    def numeric_columns(self) -> list[str]:
        cols = set()
        for key in self.pack.stats:
            if key.startswith(self.prefix) and key.endswith(".median"):
                cols.add(key[len(self.prefix) : -len(".median")])
        return sorted(cols - {"age_range"})

    def grounded(self, claim: Claim, path: str = "claim") -> bool:
        """Does this template claim pass the validators? (texts copied from mentions may not)."""
        before = len(self.checker.problems)
        self.checker.claim(claim, path)
        ok = len(self.checker.problems) == before
        del self.checker.problems[before:]
        return ok

    @property
    def themes(self) -> list[PackTheme]:
        return self.pack.themes

    @property
    def own_themes(self) -> list[PackTheme]:
        """Themes this segment's users raised, most raised by them first (then corpus rank).

        The corpus-wide top ones stand in when none is linked to the segment.
        """
        own = [t for t in self.themes if t.segment_count]
        return sorted(own, key=lambda t: (-t.segment_count, t.rank, t.id)) or self.themes

    @property
    def ranked(self) -> list[PackTheme]:
        """The segment's own themes first, then the pack's corpus-wide top-ups."""
        own = self.own_themes
        return own + [t for t in self.themes if t not in own]

    # ------------------------------------------------------------------ persona
    def persona(self) -> PersonaDraft:
        anti = self.pack.is_anti_persona
        name = self.seg.name
        return PersonaDraft(
            # No offline marker here: the document's mode and the summary's label carry it.
            name=f"{name} (anti-persona)" if anti else name,
            archetype=f"Not our customer: {name}" if anti else f"The {name}",
            summary=self.summary(),
            role=self.role(),
            demographics=self.demographics(),
            goals=self.goals(),
            motivations=[
                assumption(
                    f"{NOT_IN_EVIDENCE}: motivations need interview answers about why; "
                    "fill in during review"
                )
            ],
            behaviors=self.behaviors(),
            channels=self.channels(),
            tools=self.tools(),
            tech_proficiency=self.proficiency(),
            pain_points=[self.pain_point(t) for t in self.ranked[:4]],
            quotes=self.quotes(),
            needs=self.needs(),
            aha_moment=assumption(
                f"{NOT_IN_EVIDENCE}: ask this segment when the product's value clicked"
                if not anti
                else f"{NOT_IN_EVIDENCE}: this segment left or never found the product's value"
            ),
        )

    def summary(self) -> Claim:
        # Substance first: a card shows only the opening lines, and already shows the
        # segment's size. The offline banner and the name say how it was drafted, so a short
        # label closes the text instead of opening it.
        parts: list[str] = []
        evidence: list[str] = []
        if self.pack.is_anti_persona:
            parts.append("Anti-persona: it stands for who the product is not for.")
        if self.themes:
            top = self.ranked[0]
            raised = f"{top.segment_count} of the segment's users; " if top.segment_count else ""
            parts.append(
                f"Their most raised pain is '{top.label}' ({raised}mean severity "
                f"{top.severity.mean:.1f}/5)."
            )
            evidence.append(f"theme:{top.id}")
        for col in self.numeric_columns()[:2]:
            mine, overall = self.stat(f"{col}.median"), f"overall.{col}.median"
            if mine and overall in self.pack.stats:
                parts.append(
                    f"Median {col.replace('_', ' ')}: {num(self.pack.stats[mine])} "
                    f"(all users: {num(self.pack.stats[overall])})."
                )
                evidence += [f"stat:{mine}", f"stat:{overall}"]
        size, share = self.stat("size"), self.stat("share")
        if size and share:
            parts.append(
                f"{self.seg.size} users ({pct(self.seg.share)} of all users) are in the segment "
                f"'{self.seg.name}' (rule: {self.seg.rule})."
            )
            evidence += [f"stat:{size}", f"stat:{share}"]
        if self.seg.small:
            parts.append("Small sample: treat every number as indicative.")
        parts.append(OFFLINE_LABEL)
        return Claim(text=" ".join(parts), evidence=evidence, assumption=not evidence)

    def role(self) -> Claim:
        column = self.column(ROLE_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                return Claim(text=f"Most common {column.replace('_', ' ')}: {text}.", evidence=keys)
        return assumption(
            f"{NOT_IN_EVIDENCE}: the user table has no role column; fill in during review"
        )

    def demographics(self) -> Demographics:
        low, high = self.stat("age_range.low"), self.stat("age_range.high")
        if self.seg.age_range and low and high:
            age = Claim(
                text=f"{self.seg.age_range} (middle half of the segment's ages)",
                evidence=[f"stat:{low}", f"stat:{high}"],
            )
        else:
            age = assumption(f"{NOT_IN_EVIDENCE}: no age data for this segment")
        return Demographics(
            age_range=age,
            income_range=self.band(INCOME_COLUMNS),
            company_size=self.band(COMPANY_COLUMNS),
        )

    def band(self, pattern: re.Pattern[str]) -> Claim | None:
        column = self.column(pattern)
        if not column:
            return None
        text, keys = self.top_values(column, 2)
        return (
            Claim(text=f"Most common {column.replace('_', ' ')}: {text}", evidence=keys)
            if keys
            else None
        )

    def goals(self) -> list[Claim]:
        if not self.themes:
            return [assumption(f"{NOT_IN_EVIDENCE}: no pain-point themes to derive goals from")]
        verb = "Needed, and did not get:" if self.pack.is_anti_persona else "Get work done without"
        return [
            Claim(text=f"{verb} '{t.label}'", evidence=[f"theme:{t.id}"])
            for t in self.own_themes[:3]
        ]

    def behaviors(self) -> Behaviors:
        column = self.column(CHANNEL_COLUMNS)
        discovery = []
        if column:
            text, keys = self.top_values(column)
            if keys:
                discovery = [Claim(text=f"Arrive through: {text}", evidence=keys)]
        return Behaviors(
            discovery=discovery or [assumption(f"{NOT_IN_EVIDENCE}: how they find products")],
            evaluation=[assumption(f"{NOT_IN_EVIDENCE}: how they evaluate products")],
            purchase_triggers=[assumption(f"{NOT_IN_EVIDENCE}: what makes them buy")],
        )

    def channels(self) -> list[Claim]:
        claims = []
        column = self.column(CHANNEL_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                claims.append(
                    Claim(text=f"Top {column.replace('_', ' ')} values: {text}", evidence=keys)
                )
        tickets = [c for c in self.pack.chunks if c.kind == "ticket" and c.in_segment]
        if tickets:
            claims.append(
                Claim(text="Contacts support through tickets", evidence=[f"chunk:{tickets[0].id}"])
            )
        return claims or [assumption(f"{NOT_IN_EVIDENCE}: channels and information sources")]

    def tools(self) -> list[Claim]:
        column = self.column(TOOL_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                return [
                    Claim(text=f"Most common {column.replace('_', ' ')}: {text}", evidence=keys)
                ]
        return []

    def proficiency(self) -> Claim:
        mine, overall = self.stat(f"{BREADTH}.median"), f"overall.{BREADTH}.median"
        if mine and overall in self.pack.stats:
            return Claim(
                text=(
                    f"Uses a median of {num(self.pack.stats[mine])} tracked "
                    f"feature{'' if self.pack.stats[mine] == 1 else 's'} "
                    f"(all users: {num(self.pack.stats[overall])}): breadth of use, a proxy "
                    "for proficiency"
                ),
                evidence=[f"stat:{mine}", f"stat:{overall}"],
            )
        return assumption(f"{NOT_IN_EVIDENCE}: technical proficiency")

    def pain_point(self, theme: PackTheme) -> PersonaPainPoint:
        ref = f"theme:{theme.id}"
        typical = SEVERITY_WORDS[min(5, max(1, int(theme.severity.mean + 0.5)))]
        worst = SEVERITY_WORDS[min(5, max(1, theme.severity.max))]
        text = f"Mean severity {theme.severity.mean:.1f}/5: on average {typical}"
        if worst != typical:
            text += f"; at worst ({theme.severity.max}/5) {worst}"
        impact = Claim(text=text + ".", evidence=[ref])
        freq = theme.frequency
        reach = []
        if freq.participants:
            reach.append(
                "by "
                + plural(freq.participants, "interview participant")
                + f" ({pct(freq.participant_share)} of all participants)"
            )
        if freq.tickets:
            reach.append(
                "in "
                + plural(freq.tickets, "ticket")
                + f" ({pct(freq.ticket_share)} of all tickets)"
            )
        text = "Raised " + (" and ".join(reach) or "in " + plural(theme.mentions, "mention"))
        if theme.segment_count:
            text += f"; {plural(theme.segment_count, 'user')} of this segment among them"
        else:
            text += "; not linked to this segment's users"
        workaround = None
        for note in theme.workarounds:
            claim = Claim(
                text=f"Reported workaround: {note.text}", evidence=[f"chunk:{note.chunk_id}", ref]
            )
            if self.grounded(claim):
                workaround = claim
                break
        return PersonaPainPoint(
            theme_id=theme.id,
            title=theme.label,
            impact=impact,
            frequency=Claim(text=text + ".", evidence=[ref]),
            workaround=workaround,
        )

    def quotes(self, limit: int = 4) -> list[PersonaQuote]:
        """The persona's own people only: interview voices first, then what they said of their
        goals and workarounds, then their tickets, then their chunks.

        One quote per theme in turn within each tier. Voices from outside the persona's people
        are used only when it has none of its own (the validators hold drafts to the same
        rule). A ticket's subject line is never a quote.
        """
        picked: list[PersonaQuote] = []
        seen: set[str] = set()

        def take(text: str, chunk_id: str) -> None:
            # Tickets often repeat the same words: one chunk, and one wording, once.
            if text and chunk_id not in seen and fold(text) not in seen and len(picked) < limit:
                picked.append(PersonaQuote(text=text, chunk_id=chunk_id))
                seen.update((chunk_id, fold(text)))

        themes = self.ranked
        own_chunks = [c for c in self.pack.chunks if c.in_segment]
        has_own = (
            any(q.in_segment for t in themes for q in t.quotes)
            or bool(self.pack.observations)
            or bool(own_chunks)
        )
        for own in (True,) if has_own else (True, False):
            for voice in (True, False):
                pools = [
                    [q for q in t.quotes if q.in_segment == own and (q.ticket_id is None) == voice]
                    for t in themes
                ]
                for depth in range(max((len(p) for p in pools), default=0)):
                    for pool in pools:
                        if depth < len(pool):
                            take(pool[depth].text, pool[depth].chunk_id)
                if voice and own:
                    for note in self.pack.observations:
                        if note.kind in ("goal", "workaround", "positive") and len(picked) < 2:
                            take(note.quote, note.chunk_id)
        pool_chunks = own_chunks if has_own else self.pack.chunks
        for chunk in sorted(pool_chunks, key=lambda c: c.kind == "ticket"):
            if len(picked) >= 2:
                break
            take(quotable_sentence(chunk.text, ticket=chunk.kind == "ticket"), chunk.id)
        return picked

    def needs(self) -> Needs:
        themes = self.own_themes
        must = [t for t in themes[:3] if t.severity.max >= 4] or themes[:1]
        rest = [t for t in themes if t not in must]

        def need(t: PackTheme) -> Claim:
            return Claim(text=f"A fix for '{t.label}'", evidence=[f"theme:{t.id}"])

        return Needs(
            must=[need(t) for t in must],
            should=[need(t) for t in rest[:2]],
            nice=[need(t) for t in rest[2:4]],
        )

    # ------------------------------------------------------------------ journey
    def journey(self) -> JourneyDraft:
        stages = [self.stage(s) for s in STAGES]
        return JourneyDraft(
            stages=stages,
            key_findings=self.findings(),
            recommendations=[self.recommendation(t) for t in self.ranked[:3]]
            or [
                Recommendation(
                    action="Collect pain points for this segment before acting on it",
                    goal="A grounded journey map",
                    metric="Themes linked to this segment",
                    evidence=[f"stat:{k}" for k in [self.stat("size")] if k],
                )
            ],
        )

    def stage_count(self, theme: PackTheme, stage: str) -> int:
        """The theme's mentions in one map column (the fourth shows onboarding and retention)."""
        return sum(theme.journey_stages.get(s, 0) for s in STAGE_SOURCES[stage])

    def places(self, theme: PackTheme, stage: str) -> bool:
        """Does this map column show the theme? Only by the one rule (see `clear_stage`)."""
        return stage in placed_stages({s: self.stage_count(theme, s) for s in STAGES})

    def stage_themes(self, stage: str) -> list[PackTheme]:
        themes = [t for t in self.ranked if self.places(t, stage)]
        return sorted(themes, key=lambda t: -self.stage_count(t, stage))

    def counted(self, theme: PackTheme, stage: str) -> str:
        """' (7 onboarding mentions, 22 retention mentions)': each count as the theme records it.

        A column showing two mention stages names each, so a retention mention is never
        called an onboarding one.
        """
        sources = [(s, theme.journey_stages.get(s, 0)) for s in STAGE_SOURCES[stage]]
        sources = [(s, n) for s, n in sources if n]
        if len(STAGE_SOURCES[stage]) == 1:
            return f" ({plural(sources[0][1], 'mention')} at this stage)" if sources else ""
        return " (" + ", ".join(plural(n, f"{s} mention") for s, n in sources) + ")"

    def stage(self, stage: str) -> JourneyStageEntry:
        themes = self.stage_themes(stage)
        actions, thoughts, touchpoints = [], [], []
        for t in themes[:2]:
            # Only counts the theme itself records are written (the validators check them).
            actions.append(
                Claim(
                    text=f"Runs into '{t.label}'{self.counted(t, stage)}",
                    evidence=[f"theme:{t.id}"],
                )
            )
            if t.quotes:
                # The segment's own voice first, an interviewee before a ticket.
                q = min(t.quotes, key=lambda q: (not q.in_segment, q.ticket_id is not None))
                thoughts.append(Claim(text=f'"{q.text}"', evidence=[f"chunk:{q.chunk_id}"]))
        ticket_ids = {c.id for c in self.pack.chunks if c.kind == "ticket"}
        cited = [q.chunk_id for t in themes for q in t.quotes if q.chunk_id in ticket_ids]
        if cited:
            touchpoints.append(Claim(text="Support tickets", evidence=[f"chunk:{cited[0]}"]))
        return JourneyStageEntry(
            stage=stage,  # type: ignore[arg-type]
            customer_goal=assumption(
                f"{STAGE_GOALS[stage]} (generic stage goal, not from the evidence)"
            ),
            actions=actions or [assumption(f"{NOT_IN_EVIDENCE}: no theme is tied to this stage")],
            touchpoints=touchpoints
            or [assumption(f"{NOT_IN_EVIDENCE}: touchpoints at the {stage} stage")],
            thoughts=thoughts,
            emotion=self.emotion(themes, stage),
            pain_points=[t.id for t in themes],
            opportunities=[
                Claim(text=f"Remove the cause of '{t.label}'", evidence=[f"theme:{t.id}"])
                for t in themes[:2]
            ],
            metrics=[self.metric(t, f"'{t.label}'") for t in themes[:2]],
        )

    def emotion(self, themes: list[PackTheme], stage: str) -> int:
        """0 with no evidence (renderers show the stage as a gap); never -2 on thin evidence."""
        if not themes:
            return 0
        mentions = sum(self.stage_count(t, stage) for t in themes)
        worst = max(t.severity.mean for t in themes)
        return -2 if mentions >= STRONG_EVIDENCE and worst >= 3.0 else -1

    def metric(self, theme: PackTheme, what: str) -> str:
        """A baseline to track, labelled with what it counts: the corpus, not this persona."""
        freq = theme.frequency
        if freq.participants:
            text = (
                f"Share of all interview participants (every segment) reporting {what}: "
                f"now {pct(freq.participant_share)}"
            )
        else:
            text = f"Tickets about {what}, every segment: now {freq.tickets}"
        if theme.segment_count:
            text += f"; users of this segment raising it: now {theme.segment_count}"
        return text

    def stage_finding(self) -> Claim | None:
        """Where the segment's main pains sit, only when their cited stages clearly say so.

        The segment's own pain-point themes (those the persona lists) with enough staged
        mentions are pooled; their mentions' own stages are counted unfolded, 'unknown' left
        out, and `clear_stage` decides. No clear stage: no stage claim at all.
        """
        # A theme too few of whose mentions name a stage is placed nowhere on the map, so it
        # does not count towards (nor is cited by) a stage claim either.
        cited = [t for t in self.ranked[:4] if t.segment_count and staged(t) >= MIN_STAGED]
        counts = {s: sum(t.journey_stages.get(s, 0) for t in cited) for s in MENTION_STAGES}
        stage = clear_stage(counts)
        if stage is None:
            return None
        return Claim(
            text=(
                "Where mentions of this segment's main pains name a journey stage, "
                f"most name the {stage} stage"
            ),
            evidence=[f"theme:{t.id}" for t in cited],
        )

    def findings(self) -> list[Claim]:
        findings = []
        if self.themes:
            top = self.ranked[0]
            where = (
                f"in this segment ({plural(top.segment_count, 'user')})"
                if top.segment_count
                else "in the corpus"
            )
            findings.append(
                Claim(
                    text=f"'{top.label}' is the most raised pain {where}",
                    evidence=[f"theme:{top.id}"],
                )
            )
        staged = self.stage_finding()
        if staged is not None:
            findings.append(staged)
        for t in self.ranked[1:3]:
            findings.append(
                Claim(
                    text=f"'{t.label}': mean severity {t.severity.mean:.1f}/5, rank {t.rank} overall",
                    evidence=[f"theme:{t.id}"],
                )
            )
        placed = {t.id for s in STAGES for t in self.stage_themes(s)}
        unplaced = [t for t in self.ranked if t.id not in placed]
        if unplaced:
            findings.append(
                Claim(
                    text="Not placed in a journey stage (too few of their mentions name one, "
                    "or none stands out): " + ", ".join(f"'{t.label}'" for t in unplaced),
                    evidence=[f"theme:{t.id}" for t in unplaced],
                )
            )
        return findings or [assumption(f"{NOT_IN_EVIDENCE}: no themes to draw findings from")]

    def recommendation(self, theme: PackTheme) -> Recommendation:
        metric = self.metric(theme, "it")
        return Recommendation(
            action=f"Fix the root cause of '{theme.label}'",
            goal=f"Fewer {self.seg.name} users hit '{theme.label}'",
            metric=metric[0].upper() + metric[1:],
            evidence=[f"theme:{theme.id}"],
        )


def staged(theme: PackTheme) -> int:
    """The theme's mentions that name a journey stage ('unknown' is none)."""
    return sum(theme.journey_stages.get(s, 0) for s in MENTION_STAGES)


def placed_stages(counts: dict[str, int]) -> list[str]:
    """The stages that each hold STAGE_SHARE of the staged mentions, when there are enough.

    `counts`: mentions per stage, 'unknown' excluded. Fewer than MIN_STAGED staged mentions
    place nothing.
    """
    staged = sum(counts.values())
    if staged < MIN_STAGED:
        return []
    return [s for s, n in counts.items() if n and n >= STAGE_SHARE * staged]


def clear_stage(counts: dict[str, int]) -> str | None:
    """The stage that holds a clear share of the staged mentions, or None.

    Clear: at least MIN_STAGED mentions name a stage ('unknown' is no stage and is ignored),
    the stage holds at least STAGE_SHARE of them and strictly more than any other stage (a tie
    names none).
    """
    counts = {s: n for s, n in counts.items() if s != "unknown" and n > 0}
    placed = placed_stages(counts)
    if not placed:
        return None
    ordered = sorted(counts.values(), reverse=True)
    top = max(placed, key=lambda s: counts[s])
    if len(ordered) > 1 and ordered[1] == counts[top]:
        return None
    return top


def first_sentence(text: str, max_words: int = 40) -> str:
    """The text's first sentence (verbatim, within one paragraph), or '' when unquotable."""
    match = re.match(r"\s*(.+?[.!?])(\s|$)", text, re.S)
    sentence = (match.group(1) if match else text).strip()
    words = sentence.split()
    if "\n\n" in sentence or not 3 <= len(words) <= max_words:
        return ""
    return sentence


def quotable_sentence(text: str, ticket: bool = False, max_words: int = 40) -> str:
    """The first quotable sentence of a chunk; a ticket's first paragraph (its subject) is skipped.

    Ticket chunks open with the subject line then a blank line; a body-only ticket loses its
    first paragraph too, which costs a quote but never passes a subject off as one.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if ticket:
        paragraphs = paragraphs[1:]
    for paragraph in paragraphs:
        sentence = first_sentence(paragraph, max_words)
        if sentence:
            return sentence
    return ""


def draft_persona_offline(pack: EvidencePack) -> PersonaDraft:
    """The offline persona draft for one pack."""
    return OfflineDrafter(pack).persona()


def draft_journey_offline(pack: EvidencePack) -> JourneyDraft:
    """The offline journey map for one pack."""
    return OfflineDrafter(pack).journey()
