"""Offline drafting: deterministic templates filled from one evidence pack, no language model.

Every sentence is built from a stat, a theme or a verbatim quote and cites it; whatever the pack
cannot support (motivations, the aha moment, generic stage goals) is written as an explicit
assumption for a reviewer to fill. The name and summary say the persona was drafted offline.
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

TEMPLATE_VERSION = "offline-1"
STAGES = ("awareness", "consideration", "decision", "onboarding", "advocacy")
# Theme journey stages that fold into one of the five map stages.
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
        """Themes this segment's users raised; the corpus-wide top ones when none is linked."""
        return [t for t in self.themes if t.segment_count] or self.themes

    # ------------------------------------------------------------------ persona
    def persona(self) -> PersonaDraft:
        anti = self.pack.is_anti_persona
        name = self.seg.name
        return PersonaDraft(
            name=f"{name} ({'anti-persona, ' if anti else ''}drafted offline)",
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
            pain_points=[self.pain_point(t) for t in self.themes[:4]],
            quotes=self.quotes(),
            needs=self.needs(),
            aha_moment=assumption(
                f"{NOT_IN_EVIDENCE}: ask this segment when the product's value clicked"
                if not anti
                else f"{NOT_IN_EVIDENCE}: this segment left or never found the product's value"
            ),
        )

    def summary(self) -> Claim:
        parts = ["Drafted offline from the evidence pack by templates, without a language model."]
        evidence: list[str] = []
        size, share = self.stat("size"), self.stat("share")
        if size and share:
            parts.append(
                f"{self.seg.size} users ({pct(self.seg.share)} of all users) fall in the segment "
                f"'{self.seg.name}', defined by: {self.seg.rule}."
            )
            evidence += [f"stat:{size}", f"stat:{share}"]
        if self.pack.is_anti_persona:
            parts.append("Anti-persona: it stands for who the product is not for.")
        if self.themes:
            top = self.themes[0]
            parts.append(
                f"Their most mentioned pain is '{top.label}' (mean severity "
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
        if self.seg.small:
            parts.append("Small sample: treat every number as indicative.")
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
                    f"Uses a median of {num(self.pack.stats[mine])} tracked features "
                    f"(all users: {num(self.pack.stats[overall])}): breadth of use, a proxy "
                    "for proficiency"
                ),
                evidence=[f"stat:{mine}", f"stat:{overall}"],
            )
        return assumption(f"{NOT_IN_EVIDENCE}: technical proficiency")

    def pain_point(self, theme: PackTheme) -> PersonaPainPoint:
        ref = f"theme:{theme.id}"
        impact = Claim(
            text=(
                f"{theme.description} Mean severity {theme.severity.mean:.1f}/5, "
                f"worst {theme.severity.max}/5."
            ),
            evidence=[ref],
        )
        reach = []
        freq = theme.frequency
        if freq.participants:
            reach.append(
                plural(freq.participants, "participant") + f" ({pct(freq.participant_share)})"
            )
        if freq.tickets:
            reach.append(plural(freq.tickets, "ticket") + f" ({pct(freq.ticket_share)})")
        text = (
            "Raised in "
            + (" and ".join(reach) or plural(theme.mentions, "mention"))
            + " across the corpus"
        )
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
        """One quote per theme in turn from the segment's own voices; others only to reach two."""
        picked: list[PersonaQuote] = []
        seen: set[str] = set()

        def take(text: str, chunk_id: str) -> None:
            # Tickets often repeat the same words: one chunk, and one wording, once.
            if chunk_id not in seen and fold(text) not in seen:
                picked.append(PersonaQuote(text=text, chunk_id=chunk_id))
                seen.update((chunk_id, fold(text)))

        for own in (True, False):
            pools = [[q for q in t.quotes if q.in_segment == own] for t in self.themes]
            for depth in range(max((len(p) for p in pools), default=0)):
                for pool in pools:
                    if depth < len(pool) and len(picked) < (limit if own else 2):
                        take(pool[depth].text, pool[depth].chunk_id)
            for chunk in self.pack.chunks:
                sentence = first_sentence(chunk.text)
                if chunk.in_segment == own and len(picked) < 2 and sentence:
                    take(sentence, chunk.id)
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
            key_findings=self.findings(stages),
            recommendations=[self.recommendation(t) for t in self.themes[:3]]
            or [
                Recommendation(
                    action="Collect pain points for this segment before acting on it",
                    goal="A grounded journey map",
                    metric="Themes linked to this segment",
                    evidence=[f"stat:{k}" for k in [self.stat("size")] if k],
                )
            ],
        )

    def stage_themes(self, stage: str) -> list[PackTheme]:
        return [
            t for t in self.themes if any(t.journey_stages.get(s) for s in STAGE_SOURCES[stage])
        ]

    def stage(self, stage: str) -> JourneyStageEntry:
        themes = self.stage_themes(stage)
        actions, thoughts, touchpoints = [], [], []
        for t in themes[:2]:
            count = sum(t.journey_stages.get(s, 0) for s in STAGE_SOURCES[stage])
            counted = (
                f" ({count} mentions at this stage)" if count in t.journey_stages.values() else ""
            )
            actions.append(
                Claim(text=f"Runs into '{t.label}'{counted}", evidence=[f"theme:{t.id}"])
            )
            if t.quotes:
                q = t.quotes[0]
                thoughts.append(Claim(text=f'"{q.text}"', evidence=[f"chunk:{q.chunk_id}"]))
        ticket_ids = {c.id for c in self.pack.chunks if c.kind == "ticket"}
        cited = [q.chunk_id for t in themes for q in t.quotes if q.chunk_id in ticket_ids]
        if cited:
            touchpoints.append(Claim(text="Support tickets", evidence=[f"chunk:{cited[0]}"]))
        severities = [t.severity.max for t in themes]
        emotion = 0 if not severities else (-2 if max(severities) >= 4 else -1)
        return JourneyStageEntry(
            stage=stage,  # type: ignore[arg-type]
            customer_goal=assumption(
                f"{STAGE_GOALS[stage]} (generic stage goal, not from the evidence)"
            ),
            actions=actions or [assumption(f"{NOT_IN_EVIDENCE}: no theme is tied to this stage")],
            touchpoints=touchpoints
            or [assumption(f"{NOT_IN_EVIDENCE}: touchpoints at the {stage} stage")],
            thoughts=thoughts,
            emotion=emotion,
            pain_points=[t.id for t in themes],
            opportunities=[
                Claim(text=f"Remove the cause of '{t.label}'", evidence=[f"theme:{t.id}"])
                for t in themes[:2]
            ],
            metrics=[
                f"Share of participants reporting '{t.label}' (now {pct(t.frequency.participant_share)})"
                if t.frequency.participants
                else f"Tickets about '{t.label}' (now {t.frequency.tickets})"
                for t in themes[:2]
            ],
        )

    def findings(self, stages: list[JourneyStageEntry]) -> list[Claim]:
        findings = []
        if self.themes:
            top = self.themes[0]
            where = "in this segment" if top.segment_count else "in the corpus"
            findings.append(
                Claim(
                    text=f"'{top.label}' is the most mentioned pain {where}",
                    evidence=[f"theme:{top.id}"],
                )
            )
        worst = min(stages, key=lambda s: (s.emotion, STAGES.index(s.stage)))
        if worst.pain_points:
            findings.append(
                Claim(
                    text=f"The {worst.stage} stage is where this segment's worst pains sit",
                    evidence=[f"theme:{t}" for t in worst.pain_points],
                )
            )
        for t in self.themes[1:3]:
            findings.append(
                Claim(
                    text=f"'{t.label}': mean severity {t.severity.mean:.1f}/5, rank {t.rank} overall",
                    evidence=[f"theme:{t.id}"],
                )
            )
        placed = {t.id for s in STAGES for t in self.stage_themes(s)}
        unplaced = [t for t in self.themes if t.id not in placed]
        if unplaced:
            findings.append(
                Claim(
                    text="Some pains are not tied to a journey stage: "
                    + ", ".join(f"'{t.label}'" for t in unplaced),
                    evidence=[f"theme:{t.id}" for t in unplaced],
                )
            )
        return findings or [assumption(f"{NOT_IN_EVIDENCE}: no themes to draw findings from")]

    def recommendation(self, theme: PackTheme) -> Recommendation:
        freq = theme.frequency
        baseline = (
            f"share of participants reporting it (now {pct(freq.participant_share)})"
            if freq.participants
            else f"tickets about it (now {freq.tickets})"
        )
        return Recommendation(
            action=f"Fix the root cause of '{theme.label}'",
            goal=f"Fewer {self.seg.name} users hit '{theme.label}'",
            metric=baseline[0].upper() + baseline[1:],
            evidence=[f"theme:{theme.id}"],
        )


def first_sentence(text: str, max_words: int = 40) -> str:
    """The chunk's first sentence (verbatim), or '' when it is too long to quote."""
    match = re.match(r"\s*(.+?[.!?])(\s|$)", text, re.S)
    sentence = (match.group(1) if match else text).strip()
    words = sentence.split()
    return sentence if 3 <= len(words) <= max_words else ""


def draft_persona_offline(pack: EvidencePack) -> PersonaDraft:
    """The offline persona draft for one pack."""
    return OfflineDrafter(pack).persona()


def draft_journey_offline(pack: EvidencePack) -> JourneyDraft:
    """The offline journey map for one pack."""
    return OfflineDrafter(pack).journey()
