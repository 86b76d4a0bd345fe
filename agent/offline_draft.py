"""Offline drafting: deterministic templates filled from one evidence pack, no language model.

Every sentence is built from a stat, a theme, an observation or a verbatim quote and cites it.
What the persona's own people state fills the fields a researcher reads first: goals in words
taken from the speaker's own sentence, motivations from the reasons they give and the moments
they value, tools with how many of them name each, each pain's workaround from the same people,
touchpoints, and good moments that can lift a journey stage above zero. A field the pack cannot
fill stays empty and the gap becomes one of the persona's `open_questions`; no field carries a
placeholder. The summary's closing label and the document's mode say the persona was drafted
offline; the name never does (a reviewer confirming the name would keep it).

Journey columns come from the pack (`journey`, agent/stages.py). Pains are placed by one rule
(`placed_stages`): 'unknown' is never a stage, and a column shows a theme only when enough of
its mentions name a stage and that column holds a clear share of them. Observations go to the
column their extracted stage maps to. The output passes the same grounding validators as an LLM
draft (tests/test_draft.py checks), and every template sentence is checked before it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .evidence import EvidencePack, PackObservation, PackTheme, terms
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
from .naming import tidy
from .segment_rules import slugify
from .stages import MENTION_STAGES, StagePlan, title

TEMPLATE_VERSION = "offline-5"
# Unplaced pains a journey finding names; the others are left to the themes table.
UNPLACED_NAMED = 5
ROLE_COLUMNS = re.compile(r"role|job|title|occupation|position|function", re.I)
CHANNEL_COLUMNS = re.compile(r"channel|source|referr|acquisition|utm", re.I)
TOOL_COLUMNS = re.compile(r"tool|integration|platform|device|os$|browser|app", re.I)
INCOME_COLUMNS = re.compile(r"income|salary|revenue", re.I)
COMPANY_COLUMNS = re.compile(r"company|employees|team_size|org", re.I)
# Tool names that are channels: where people talk, learn and ask, more than what they work in.
CHANNEL_NAMES = re.compile(
    r"\b(?:slack|teams|e-?mail|phone|chat|google|youtube|reddit|linkedin|twitter|facebook|"
    r"community|forums?|webinars?|docs|documentation|help (?:center|centre)|support|g2|capterra|"
    r"app store|google play|whatsapp|zoom|newsletters?|blogs?|podcasts?|word of mouth|referrals?)\b",
    re.I,
)
# Capitalised words a tool cue catches that name no tool ("since January", "on Monday").
_CALENDAR = (
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday"
)
# ISO currency codes read as tools after "in" ("receipts in JPY").
_CURRENCIES = "usd eur gbp jpy cad aud chf cny inr mxn brl sek nok dkk nzd sgd hkd zar"
NOT_TOOLS = frozenset(_CALENDAR.split() + _CURRENCIES.split())
BREADTH = "feature_breadth"
# The placeholder prefix older drafts wrote (decisions.PLACEHOLDER_PREFIX reads it).
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
# Fewer mentions (or people with a good moment) than this cannot make a stage "very" anything.
STRONG_EVIDENCE = 5
# How far good moments and pains must tip a stage's balance ((good - pain) / both) before its
# emotion leaves neutral, and before it is strong.
LEAN = 0.2
TILT = 0.5
MAX_GOALS = 5
# Content words a workaround must share with a pain to be taken as about it, when its speaker
# is not quoted on that pain.
SAME_PAIN_WORDS = 3
MAX_MOTIVATIONS = 4
MAX_TOOLS = 8
# Longer than this, a stated sentence is not shown whole as a behaviour, thought or good moment.
QUOTE_WORDS = 40

# Where a goal, a reason or a responsibility starts in a speaker's sentence; the words after it,
# up to the end of the clause, are the goal in their own words. Strongest cues first.
_APOS = "['\u2019]"
GOAL_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        (
            "goal",
            r"\b(?:my|our) (?:main |real |whole |only |big )?(?:goal|aim|priority) (?:is|was) (?:to )?",
        ),
        ("goal", r"\b(?:the|my|our) (?:whole )?point (?:is|was) to "),
        ("goal", r"\bwhat (?:I|we) (?:really )?(?:care about|need|want) is (?:to )?"),
        ("goal", r"\b(?:I|we) (?:really |just |always )?(?:want|need|have|had) to (?=make sure\b)"),
        (
            "goal",
            rf"\b(?:I|we|I{_APOS}m|we{_APOS}re|I am|we are) (?:really |just |always )?"
            r"(?:want|wanted|trying|try|tried|hope|hoping) to (?:be able to )?",
        ),
        # "I spent a whole weekend trying to set up the approval chains".
        ("goal", r"\b(?:I|we)\b[^.,;!?]{0,40}?\b(?:trying|tried) to "),
        ("goal", rf"\b(?:I{_APOS}d|we{_APOS}d|I would|we would) (?:really )?like to "),
        ("why", r"\bso (?:that )?(?:I|we) can "),
        (
            "role",
            rf"\b(?:I{_APOS}m|I am|we{_APOS}re|we are) (?=(?:responsible|in charge) (?:for|of)\b)",
        ),
        ("role", r"\bmy job is (?:to )?"),
        ("goal", r"\b(?:I|we) (?:really |just )?need to (?:be able to )?"),
    )
)
_PRONOUNS = frozenset(["it", "this", "that", "them", "these", "those", "there"])
# Clauses that start like a goal but are a figure of speech ("I have to say", "to be honest").
_NOT_GOALS = re.compile(r"^(?:say|be honest|be fair|admit|mention|tell|ask|add|know|think)\b", re.I)
_CLAUSE_END = re.compile(
    r"[.;:!?(\"\u201c\u201d]|\s[-\u2013\u2014]\s|,\s(?:but|and then|because|so|which|although|"
    r"though|while|or)\b|\s(?:but|because|although)\s"
    # A comma before a new subject starts a new clause ("..., the import kept failing").
    r"|,\s(?:the|I|we|it|my|our|they|he|she|that|this|there)\s"
)
# What a sentence must say to show how they found, weighed or chose a product.
BEHAVIOUR_CUES = {
    "awareness": re.compile(
        r"\b(?:found|heard|came across|recommended|referred|googled|searched|saw an? |"
        r"told (?:me|us) about|word of mouth)\b",
        re.I,
    ),
    "consideration": re.compile(
        r"\b(?:compared|comparing|trial|demo|evaluat\w*|shortlist\w*|reviews?|tested|"
        r"looked at|alternatives?|competitors?)\b",
        re.I,
    ),
    "decision": re.compile(
        r"\b(?:signed up|bought|chose|picked|decided|switched|went with|because|so we)\b", re.I
    ),
}
# Words that make a pain's quote a statement of what they do about it.
_COPING = re.compile(
    r"\b(?:end(?:ed)? up|by hand|manually|instead|re-?key|re-?type|retype|re-?enter|"
    r"spreadsheet|work ?around|copy and paste)\b",
    re.I,
)
# Where a workaround starts in a sentence that states one ("..., so I end up exporting ...").
_WORKAROUND_AT = re.compile(
    r"\b(?:I|we|my team|our team|they)\s+(?:just |usually |always |still "
    r"|now |often )?(?:end(?:ed)? up|have to|had to|manually|keep|kept|export|copy|re-?key|"
    r"re-?type|re-?enter|retype|type|paste|track|check|use|go back|write|print|email|download|"
    r"call|build|save|pull|split|reconnect|re-?import)\b",
    re.I,
)


def product_words(theme: PackTheme) -> str:
    """Whose totals a per-product theme's shares are of: 'FitTrack's' (or 'the product's').

    A product name with digits in it would read as a number the grounding checker must find
    in the evidence, so such a name is not written out.
    """
    name = " ".join((theme.product or "").split())
    return f"{name}'s" if name and not re.search(r"\d", name) else "the product's"


def rank_words(theme: PackTheme) -> str:
    """'rank 2 among FitTrack's themes' when themes are ranked per product, else 'rank 4 overall'."""
    if theme.product_rank is not None and theme.product:
        return f"rank {theme.product_rank} among {product_words(theme)} themes"
    return f"rank {theme.rank} overall"


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


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def clause(text: str, max_words: int = 18) -> str:
    """The clause `text` opens with, verbatim: up to its end, or its last comma within
    `max_words`; '' when too short or too long to read as one phrase."""
    end = _CLAUSE_END.search(text)
    part = text[: end.start()] if end else text
    words = part.split()
    if len(words) > max_words:
        head = " ".join(words[:max_words])
        if "," not in head:
            return ""
        part = head[: head.rindex(",")]
    part = part.strip(" ,")
    return part if 2 <= len(part.split()) <= max_words else ""


def goal_phrases(sentence: str) -> list[tuple[str, str]]:
    """(kind, clause) for each goal, reason ('why') or responsibility ('role') the sentence
    states, strongest cue first; each clause is the speaker's own words.

    A question states no goal ("do I need to create every account by hand?"), and a short
    clause about "it" or "this" means nothing out of its context ("raise this formally").
    """
    if sentence.rstrip().rstrip("\"'\u201d").endswith("?"):
        return []
    found: list[tuple[str, str]] = []
    for kind, cue in GOAL_CUES:
        for match in cue.finditer(sentence):
            # As a researcher would cite it: no "uh", no restarted words.
            phrase = clause(tidy(sentence[match.end() :]))
            words = phrase.lower().split()
            # "raise this formally", "tag expenses there": nothing without their context.
            vague = len(words) < 6 and bool({*words[1:2], *words[-1:]} & _PRONOUNS)
            if (
                len(words) >= 3
                and not vague
                and not _NOT_GOALS.match(phrase)
                and all(phrase != p for _, p in found)
            ):
                found.append((kind, phrase))
    return found


def workaround_clause(sentence: str) -> str:
    """The part of a sentence that says what the speaker does to cope, verbatim: from the
    workaround's first words ("I end up ..."), else from the clause holding a coping word ("...,
    and I typed them in by hand"), else the whole sentence."""
    match = _WORKAROUND_AT.search(sentence)
    if match:
        text = sentence[match.start() :]
    elif coping := _COPING.search(sentence):
        start = sentence.rfind(", ", 0, coping.start())
        text = sentence[start + 2 :] if start >= 0 else sentence
        text = re.sub(r"^(?:(?:and|so|but|then)\s+)+", "", text, flags=re.I)
    else:
        text = sentence
    return " ".join(text.split()).rstrip()


def known_tool(name: str) -> bool:
    """Is the name in the offline extractor's tools list (not merely capitalised)?"""
    from .offline_extract import vocabulary

    return any(p.fullmatch(name) for p in vocabulary().tools)


def users_of(segment: str) -> str:
    """'New Users' for a segment named 'New User', 'Casual tracker users' otherwise."""
    last = segment.split()[-1].lower() if segment.split() else ""
    if last in ("user", "users"):
        return segment if last == "users" else segment + "s"
    return f"{segment} users"


# Saying one uses, opens or goes through a name makes it a tool; so does a product word after it.
_TOOL_VERBS = (
    r"use|uses|used|using|open|opens|opened|opening|via|through|switch(?:ed)? to|"
    r"export(?:s|ed|ing)?(?: it| them)? to|import(?:s|ed|ing)?(?: it| them)? from|"
    r"sync(?:s|ed|ing)? (?:with|to)|connect(?:s|ed|ing)? (?:to|with)|integrat\w* with|"
    r"log(?:s|ged|ging)? into"
)
_TOOL_NOUNS = r"sync|integration|app|plugin|add-on|extension"


def used_as_tool(name: str, notes: Iterable[PackObservation]) -> bool:
    """Does someone say they use, open or go through `name` ("using Notion", "the QBO sync")?
    "In Ireland" and "with Fiona" name a place and a person."""
    said = re.escape(name)
    verb = re.compile(
        rf"\b(?:{_TOOL_VERBS})\s+(?:a |an |the |our |my |their )?{said}\b"
        rf"|\b{said}\s+(?:{_TOOL_NOUNS})\b",
        re.IGNORECASE,
    )
    return any(verb.search(n.quote) for n in notes)


def extractive(note: PackObservation) -> bool:
    """Is the observation's text the speaker's sentence itself (offline extraction), rather than
    a model's summary of it?"""
    text = note.text.split(":", 1)[1] if note.kind == "tool" and ":" in note.text else note.text
    return fold(text) == fold(note.quote)


def who(note: PackObservation) -> str:
    return note.participant_id or note.ticket_id or note.chunk_id


def tool_name(note: PackObservation) -> str:
    return note.text.split(":", 1)[0].strip()


def short_quote(text: str) -> str:
    """A stated sentence, whole and on one line, when it is short enough to show ('' if not)."""
    flat = " ".join(text.split())
    return flat if 3 <= len(flat.split()) <= QUOTE_WORDS else ""


def archetype_for(name: str) -> str:
    """'The Finance Power User'; a group named for what its people raise reads as one of them
    ('A participant who raises ...'), never 'The All participants'."""
    if name == "All participants":
        return "A participant in the study"
    for plural, singular in (("raise", "raises"), ("use", "uses")):
        prefix = f"Participants who {plural} "
        if name.startswith(prefix):
            return f"A participant who {singular} {name[len(prefix) :]}"
    return f"The {name}"


class OfflineDrafter:
    """Fills the persona and journey templates from one pack."""

    def __init__(self, pack: EvidencePack) -> None:
        self.pack = pack
        self.seg = pack.segment
        self.prefix = f"segment.{pack.segment.slug}."
        self.checker = Checker(PackIndex.from_pack(pack.context()))
        self.plan = StagePlan.from_dict(pack.journey.model_dump())
        self._workarounds: dict[str, Claim] = {}

    # ------------------------------------------------------------------ who they are
    @property
    def scored(self) -> bool:
        """A scored segment of a user table (its people are 'users'), not a cohort of people."""
        return self.seg.basis == "segments"

    @property
    def noun(self) -> str:
        """What the persona's people are called in its text."""
        if self.scored:
            return "users"
        return "participants" if self.seg.members or self.pack.corpus.tickets == 0 else "people"

    @property
    def among(self) -> str:
        """'users of this segment' / 'of these participants'."""
        return "users of this segment" if self.scored else f"of these {self.noun}"

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
        """Does this template claim pass the validators? (texts copied from evidence may not)."""
        before = len(self.checker.problems)
        self.checker.claim(claim, path)
        ok = len(self.checker.problems) == before
        del self.checker.problems[before:]
        return ok

    def kept(self, claims: Iterable[Claim]) -> list[Claim]:
        """The claims that pass the validators, first wording of each once."""
        out: list[Claim] = []
        for claim in claims:
            if self.grounded(claim) and all(fold(c.text) != fold(claim.text) for c in out):
                out.append(claim)
        return out

    def observed(self, kind: str) -> list[PackObservation]:
        return [o for o in self.pack.observations if o.kind == kind]

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
        self._workarounds = self.workarounds(self.ranked[:4])
        pains = [self.pain_point(t) for t in self.ranked[:4]]
        draft = PersonaDraft(
            # No offline marker here: the document's mode and the summary's label carry it.
            name=f"{name} (anti-persona)" if anti else name,
            archetype=f"Not our customer: {name}" if anti else archetype_for(name),
            summary=self.summary(),
            role=self.role(),
            demographics=self.demographics(),
            goals=self.goals(),
            motivations=self.motivations(),
            behaviors=self.behaviors(),
            channels=self.channels(),
            tools=self.tools(),
            tech_proficiency=self.proficiency(),
            pain_points=pains,
            quotes=self.quotes(),
            needs=self.needs(),
            aha_moment=None if anti else self.aha(),
        )
        draft.open_questions = self.open_questions(draft)
        return draft

    def summary(self) -> Claim:
        # Substance first: a card shows only the opening lines. The offline banner and the
        # name say how it was drafted, so a short label closes the text instead of opening it.
        parts: list[str] = []
        evidence: list[str] = []

        def add(text: str, refs: Sequence[str]) -> None:
            refs = [r for r in refs if self.checker.index.exists(r)]
            if self.grounded(Claim(text=text, evidence=refs, assumption=not refs)):
                parts.append(text)
                evidence.extend(r for r in refs if r not in evidence)

        if self.pack.is_anti_persona:
            parts.append("Anti-persona: it stands for who the product is not for.")
        size, share = self.stat("size"), self.stat("share")
        sized = [f"stat:{k}" for k in (size, share) if k]
        if not self.scored:
            self.cohort_summary(add, sized)
        if self.themes:
            top = self.ranked[0]
            if self.scored:
                raised = (
                    f"{top.segment_count} of the segment's users; " if top.segment_count else ""
                )
            else:
                raised = f"{top.segment_count} of them; " if top.segment_count else ""
            add(
                f"Their most raised pain is '{top.label}' ({raised}mean severity "
                f"{top.severity.mean:.1f}/5).",
                [f"theme:{top.id}"],
            )
        for col in self.numeric_columns()[:2]:
            mine, overall = self.stat(f"{col}.median"), f"overall.{col}.median"
            if mine and overall in self.pack.stats:
                add(
                    f"Median {col.replace('_', ' ')}: {num(self.pack.stats[mine])} "
                    f"(all users: {num(self.pack.stats[overall])}).",
                    [f"stat:{mine}", f"stat:{overall}"],
                )
        if self.scored and size and share:
            add(
                f"{self.seg.size} users ({pct(self.seg.share)} of all users) are in the segment "
                f"'{self.seg.name}' (rule: {self.seg.rule}).",
                sized,
            )
        if self.seg.small:
            parts.append("Small sample: treat every number as indicative.")
        parts.append(OFFLINE_LABEL)
        return Claim(text=" ".join(parts), evidence=evidence, assumption=not evidence)

    def cohort_summary(self, add: Callable[[str, Sequence[str]], None], sized: list[str]) -> None:
        """Who a cohort of people is: its description, its size, what sets it apart."""
        description = " ".join(self.seg.description.split())
        trait_refs = [r for t in self.seg.traits for r in t.evidence]
        if description:
            add(description if description.endswith(".") else description + ".", sized)
        if self.seg.basis == "everyone":
            add(f"Everyone in the corpus: {self.seg.size} {self.noun}.", sized)
        elif f"{self.seg.size} {self.noun}" not in description:
            add(f"{self.seg.size} {self.noun} ({pct(self.seg.share)} of all {self.noun}).", sized)
        traits = [t for t in self.seg.traits if t.evidence]
        if traits:
            text = "What sets them apart: " + "; ".join(
                " ".join(t.text.split()).rstrip(".") for t in traits
            )
            add(text + ".", trait_refs)

    def role(self) -> Claim | None:
        column = self.column(ROLE_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                return Claim(text=f"Most common {column.replace('_', ' ')}: {text}.", evidence=keys)
        parts: list[str] = []
        evidence: list[str] = []
        for trait in self.seg.traits:
            key = trait.text.split(":", 1)[0]
            if ":" in trait.text and ROLE_COLUMNS.search(key) and trait.evidence:
                # "Role: approver_manager (P03, P08)" -> "Approver manager (P03, P08)."
                value = " ".join(trait.text.split(":", 1)[1].replace("_", " ").split())
                claim = Claim(text=capital(value).rstrip(".") + ".", evidence=trait.evidence)
                if self.grounded(claim):
                    parts.append(claim.text)
                    evidence += claim.evidence
        for note, kind, phrase in self.phrases():
            if kind == "role" and len(parts) < 3:
                claim = Claim(text=capital(phrase) + ".", evidence=[f"chunk:{note.chunk_id}"])
                if self.grounded(claim) and claim.text not in parts:
                    parts.append(claim.text)
                    evidence += claim.evidence
        if not parts:
            return None
        return Claim(text=" ".join(parts), evidence=list(dict.fromkeys(evidence)))

    def demographics(self) -> Demographics:
        low, high = self.stat("age_range.low"), self.stat("age_range.high")
        age = None
        if self.seg.age_range and low and high:
            age = Claim(
                text=f"{self.seg.age_range} (middle half of the segment's ages)",
                evidence=[f"stat:{low}", f"stat:{high}"],
            )
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

    # ------------------------------------------------------------------ what they state
    def phrases(self) -> list[tuple[PackObservation, str, str]]:
        """(observation, kind, phrase) for every goal, reason and responsibility the persona's
        people state: the clause from their own sentence, or a model's summary of it.

        Goal observations first; then the persona's other sentences in the pack (its other
        observations, its own quotes on its pains), where a goal is often said in passing
        ("I spent a weekend trying to set up the approval chains"). Interviewees before tickets:
        what someone says of their work outweighs a ticket's request.
        """
        goals = self.observed("goal")
        others = [o for o in self.pack.observations if o.kind not in ("goal", "tool")]
        others += [
            PackObservation(
                kind="goal",
                text=q.text,
                chunk_id=q.chunk_id,
                quote=q.text,
                participant_id=q.participant_id,
                ticket_id=q.ticket_id,
            )
            for t in self.ranked
            for q in t.quotes
            if q.in_segment
        ]
        out: list[tuple[PackObservation, str, str]] = []
        seen: set[str] = set()
        for note in sorted(goals, key=lambda o: o.ticket_id is not None) + sorted(
            others, key=lambda o: o.ticket_id is not None
        ):
            if not extractive(note):
                if note.kind == "goal":
                    out.append((note, "goal", note.text.strip().rstrip(".")))
                continue
            if fold(note.quote) in seen:
                continue
            seen.add(fold(note.quote))
            out += [(note, kind, phrase) for kind, phrase in goal_phrases(note.quote)]
        return out

    def round_robin(
        self, items: Sequence[tuple[PackObservation, Claim]], limit: int
    ) -> list[Claim]:
        """Up to `limit` grounded claims, one person's at a time so no one speaks for all."""
        people: dict[str, list[Claim]] = {}
        for note, claim in items:
            people.setdefault(who(note), []).append(claim)
        out: list[Claim] = []
        depth = 0
        while len(out) < limit and any(depth < len(c) for c in people.values()):
            for claims in people.values():
                if depth < len(claims) and len(out) < limit:
                    claim = claims[depth]
                    head = " ".join(claim.text.lower().split()[:5])
                    if self.grounded(claim) and all(
                        " ".join(c.text.lower().split()[:5]) != head for c in out
                    ):
                        out.append(claim)
            depth += 1
        return out

    def goals(self) -> list[Claim]:
        found = [
            (note, Claim(text=capital(phrase), evidence=[f"chunk:{note.chunk_id}"]))
            for note, kind, phrase in self.phrases()
            if kind == "goal"
        ]
        return self.round_robin(found, MAX_GOALS)

    def motivations(self) -> list[Claim]:
        found = [
            (note, Claim(text=f"Being able to {phrase}", evidence=[f"chunk:{note.chunk_id}"]))
            for note, kind, phrase in self.phrases()
            if kind == "why"
        ]
        for note in self.observed("positive"):
            said = short_quote(note.quote)
            if extractive(note) and not said:
                continue  # a run-on sentence is no motivation a reader can take in
            text = (
                f'Values what works for them: "{said}"'
                if extractive(note)
                else f"Values: {note.text.strip().rstrip('.')}"
            )
            found.append((note, Claim(text=text, evidence=[f"chunk:{note.chunk_id}"])))
        return self.round_robin(found, MAX_MOTIVATIONS)

    def tool_counts(self) -> list[tuple[str, int, list[PackObservation]]]:
        """(name as first written, people who name it, their observations), most named first.

        Offline extraction also takes any capitalised word after "with" or "in" for a tool
        ("with Fiona", "in Lisbon"): such a name counts only when it is in the known tools
        list, or when two people name it and someone says they use, open or go through it
        ("in Ireland", read aloud from a task by six people, is no tool). A model's tool
        observations are taken as they are.
        """
        tools: dict[str, list[PackObservation]] = {}
        for note in self.observed("tool"):
            name = tool_name(note)
            if name and name.lower() not in NOT_TOOLS:
                tools.setdefault(name.lower(), []).append(note)
        # "Notebooks" is "Notebook" said of several: one tool, counted once per person.
        for key in sorted(tools):
            if key.endswith("s") and key[:-1] in tools:
                tools[key[:-1]].extend(tools.pop(key))
        rows = []
        for notes in tools.values():
            name = notes[0].text.split(":", 1)[0].strip()
            name = capital(name) if name.islower() else name  # "email" -> "Email", "iPhone" kept
            people = max(max(n.people for n in notes), len({who(n) for n in notes}))
            said = all(extractive(n) for n in notes)
            if not said or known_tool(name) or (people >= 2 and used_as_tool(name, notes)):
                rows.append((name, people, notes))
        return sorted(rows, key=lambda r: (-r[1], r[0].lower()))

    def tool_claim(self, name: str, people: int, notes: list[PackObservation]) -> Claim:
        """'Excel: named by 3 of the 6 participants', citing one chunk per person, so the count
        is the number of people the footnotes show ('at least' when the pack holds fewer
        voices than people)."""
        voices: dict[str, str] = {}
        for n in notes:
            voices.setdefault(who(n), n.chunk_id)
        refs = [f"chunk:{c}" for c in voices.values()]
        cited = len(voices)
        count = (
            "one"
            if cited == 1 and people == 1
            else f"{cited}"
            if cited >= people
            else f"at least {cited}"
        )
        size = self.stat("size")
        if not self.scored and self.seg.members and size:
            text = f"{name}: named by {count} of the {self.seg.size} {self.noun}"
            refs.append(f"stat:{size}")
        else:
            unit = "person" if count == "one" else "people"
            text = f"{name}: named by {count} {unit}" + (" in this segment" if self.scored else "")
        # A model's observation says what the tool is for ("Excel: keeps the receipts list").
        what = next(
            (n.text.split(":", 1)[1].strip() for n in notes if not extractive(n) and ":" in n.text),
            "",
        )
        if what:
            text += f" ({what.rstrip('.')})"
        return Claim(text=text, evidence=refs)

    def tools(self) -> list[Claim]:
        claims = []
        column = self.column(TOOL_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                claims.append(
                    Claim(text=f"Most common {column.replace('_', ' ')}: {text}", evidence=keys)
                )
        for name, people, notes in self.tool_counts():
            if not CHANNEL_NAMES.search(name):
                claims.append(self.tool_claim(name, people, notes))
        return self.kept(claims)[:MAX_TOOLS]

    def channels(self) -> list[Claim]:
        claims = []
        column = self.column(CHANNEL_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                claims.append(
                    Claim(text=f"Top {column.replace('_', ' ')} values: {text}", evidence=keys)
                )
        for name, people, notes in self.tool_counts():
            if CHANNEL_NAMES.search(name):
                claims.append(self.tool_claim(name, people, notes))
        tickets = [c for c in self.pack.chunks if c.kind == "ticket" and c.in_segment]
        if tickets:
            claims.append(
                Claim(text="Contacts support through tickets", evidence=[f"chunk:{tickets[0].id}"])
            )
        return self.kept(claims)

    def said(self, note: PackObservation) -> Claim | None:
        """An observation as a claim: the speaker's sentence in quotes, or a model's summary."""
        if extractive(note):
            text = short_quote(note.quote)
            return Claim(text=f'"{text}"', evidence=[f"chunk:{note.chunk_id}"]) if text else None
        return Claim(text=note.text.strip(), evidence=[f"chunk:{note.chunk_id}"])

    def behaviors(self) -> Behaviors:
        """Discovery, evaluation and purchase triggers: what the persona's people say at the
        awareness, consideration and decision stages (and the user table's channel column)."""

        def at(stage: str) -> list[Claim]:
            # A tool observation lists tools, not what they did; a sentence offline extraction
            # tagged with a stage must also say the behaviour itself (a stage cue alone, like
            # "purchase" in a request, is not a purchase trigger).
            notes = [
                o
                for o in self.pack.observations
                if o.journey_stage == stage
                and o.kind != "tool"
                and (not extractive(o) or BEHAVIOUR_CUES[stage].search(o.quote))
            ]
            return self.kept(c for o in notes if (c := self.said(o)) is not None)[:3]

        discovery = []
        column = self.column(CHANNEL_COLUMNS)
        if column:
            text, keys = self.top_values(column)
            if keys:
                discovery = [Claim(text=f"Arrive through: {text}", evidence=keys)]
        return Behaviors(
            discovery=discovery + at("awareness"),
            evaluation=at("consideration"),
            purchase_triggers=at("decision"),
        )

    def proficiency(self) -> Claim | None:
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
        return None

    def aha(self) -> Claim | None:
        """A good moment at the start of use (onboarding, decision), in their words; the
        moment value clicked is rarely said outright, so nothing else stands in for it."""
        for note in self.observed("positive"):
            if note.journey_stage in ("onboarding", "decision"):
                claim = self.said(note)
                if claim is not None:
                    claim.text = f"An early good moment they describe: {claim.text}"
                    if self.grounded(claim):
                        return claim
        return None

    # ------------------------------------------------------------------ pains
    def workarounds(self, themes: Sequence[PackTheme]) -> dict[str, Claim]:
        """Each pain's workaround, from the persona's own people; each statement used once.

        In order of strength, over all the pains before a weaker tier is tried (so a statement
        goes to the pain it was said about): the extractor's note on one of the theme's
        mentions; a workaround observation in a chunk quoted on the theme; one of the theme's
        own quotes that says what they do instead ("by hand", "end up"); a workaround
        observation by someone quoted on the theme that shares words with it; any of the
        persona's workarounds sharing SAME_PAIN_WORDS content words with it.
        """
        found: dict[str, Claim] = {}
        used: set[str] = set()

        def take(theme: PackTheme, text: str, chunk_id: str) -> None:
            if theme.id in found or chunk_id in used or not text:
                return
            claim = Claim(
                text=f"Reported workaround: {text}",
                evidence=[f"chunk:{chunk_id}", f"theme:{theme.id}"],
            )
            if self.grounded(claim):
                found[theme.id] = claim
                used.add(chunk_id)

        def said(note: PackObservation) -> str:
            if not extractive(note):
                return note.text.strip()
            text = short_quote(workaround_clause(note.quote))
            return f'"{text}"' if text else ""

        notes = self.observed("workaround")
        about = {
            t.id: terms(" ".join([t.label, t.description, *(q.text for q in t.quotes)]))
            for t in themes
        }
        for theme in themes:
            for note in theme.workarounds:
                take(theme, note.text, note.chunk_id)
        for theme in themes:
            own = {q.chunk_id for q in theme.quotes if q.in_segment}
            for note in notes:
                # A ticket or a long turn can hold several problems: the workaround must share
                # a word with this one ("typed the Xero categories in by hand" is no workaround
                # for a question about approval chains asked in the same ticket).
                if note.chunk_id in own and terms(note.quote) & about[theme.id]:
                    take(theme, said(note), note.chunk_id)
        for theme in themes:
            for q in theme.quotes:
                if q.in_segment and _COPING.search(q.text):
                    text = short_quote(workaround_clause(q.text))
                    take(theme, f'"{text}"' if text else "", q.chunk_id)
        for theme in themes:
            speakers = {q.participant_id or q.ticket_id for q in theme.quotes if q.in_segment}
            for note in notes:
                if who(note) in speakers and len(terms(note.quote) & about[theme.id]) >= 2:
                    take(theme, said(note), note.chunk_id)
        # Last, anyone of the persona's people whose workaround is plainly about the pain.
        for theme in themes:
            for note in notes:
                if len(terms(note.quote) & about[theme.id]) >= SAME_PAIN_WORDS:
                    take(theme, said(note), note.chunk_id)
        return found

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
        totals, whose = theme.product_totals, product_words(theme)
        if freq.participants and totals is not None:
            reach.append(
                f"by {freq.participants} of {whose} {plural(totals.participants, 'interview participant')}"
                f" ({pct(freq.participant_share)})"
            )
        elif freq.participants:
            reach.append(
                "by "
                + plural(freq.participants, "interview participant")
                + f" ({pct(freq.participant_share)} of all participants)"
            )
        if freq.tickets and totals is not None:
            # The share is of the product's own tickets, so the sentence names that total.
            reach.append(
                f"in {freq.tickets} of {whose} {plural(totals.tickets, 'ticket')}"
                f" ({pct(freq.ticket_share)})"
            )
        elif freq.tickets:
            reach.append(
                "in "
                + plural(freq.tickets, "ticket")
                + f" ({pct(freq.ticket_share)} of all tickets)"
            )
        text = "Raised " + (" and ".join(reach) or "in " + plural(theme.mentions, "mention"))
        refs = [ref]
        size = self.stat("size")
        if theme.segment_count and self.scored:
            text += f"; {plural(theme.segment_count, 'user')} of this segment among them"
        elif theme.segment_count and self.seg.members and size:
            # "7 of these participants" left the reader to find how many "these" are.
            text += f"; {theme.segment_count} of this persona's {self.seg.size} among them"
            refs.append(f"stat:{size}")
        elif theme.segment_count:
            text += f"; {theme.segment_count} {self.among} among them"
        else:
            text += f"; not linked to this persona's {self.noun}"
        return PersonaPainPoint(
            theme_id=theme.id,
            title=theme.label,
            impact=impact,
            frequency=Claim(text=text + ".", evidence=refs),
            workaround=self._workarounds.get(theme.id),
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

    # ------------------------------------------------------------------ open questions
    def open_questions(self, draft: PersonaDraft) -> list[str]:
        """One research question per gap the evidence leaves, in the order a reader meets them."""
        anti = self.pack.is_anti_persona
        people = self.noun
        out: list[str] = []
        if draft.role is None:
            out.append(
                "What is their role, and what are they responsible for? Neither their words "
                f"in the evidence nor a shared trait of these {people} states it."
            )
        demo = draft.demographics
        missing = [
            label
            for label, value in (
                ("age", demo.age_range),
                ("income", demo.income_range),
                ("company size", demo.company_size),
            )
            if value is None
        ]
        if missing:
            named = (
                missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " or " + missing[-1]
            )
            verb = "Does" if len(missing) == 1 else "Do"
            out.append(
                f"{verb} {named} matter for this persona? The evidence has none; add it to the "
                "roster or the user table if it does."
            )
        if not draft.goals:
            out.append(
                "What are they trying to achieve?"
                + (" What did they come to the product for?" if anti else "")
                + " None of their words in the evidence states a goal."
            )
        if not draft.motivations:
            out.append(
                "Why do they do it: what do they value, and what would make them switch or stay?"
            )
        if not draft.tools:
            out.append(
                "Which tools do they use alongside the product (spreadsheets, accounting or other software)?"
            )
        if not draft.channels:
            out.append("Where do they learn about tools like this, and where do they go for help?")
        behaviours = draft.behaviors
        if (
            not behaviours.discovery
            and not behaviours.evaluation
            and not behaviours.purchase_triggers
        ):
            out.append(
                "How did they find, compare and choose the product? Nothing they say covers it."
            )
        if draft.tech_proficiency is None:
            out.append("How comfortable are they with the product and tools like it?")
        bare = [p.title for p in draft.pain_points if p.workaround is None][:2]
        if bare:
            out.append(
                "What do they do today when "
                + " or when ".join(f"'{t}'" for t in bare)
                + " happens? No workaround is stated."
            )
        if draft.aha_moment is None:
            out.append(
                "What would have made the product's value clear to them before they left?"
                if anti
                else "When did the product's value click for them, if it did?"
            )
        empty = [title(s) for s in self.plan.stages if not self.stage_evidence(s)]
        if empty:
            out.append(
                "What happens at the "
                + ", ".join(f"'{t}'" for t in empty)
                + f" stage{'s' if len(empty) > 1 else ''} of their journey? Nothing in the evidence is placed there."
            )
        return out

    # ------------------------------------------------------------------ journey
    def journey(self) -> JourneyDraft:
        stages = [self.stage(s) for s in self.plan.stages]
        return JourneyDraft(
            stages=stages,
            key_findings=self.findings(stages),
            recommendations=[self.recommendation(t) for t in self.ranked[:3]]
            or [
                Recommendation(
                    action=f"Collect pain points for these {self.noun} before acting on them",
                    goal="A grounded journey map",
                    metric=f"Themes linked to these {self.noun}",
                    evidence=[f"stat:{k}" for k in [self.stat("size")] if k],
                )
            ],
        )

    def columns(self, theme: PackTheme) -> dict[str, int]:
        """The persona's own mentions of the theme in each map column (a column may show
        several extracted stages); other groups' mentions never place a pain on this map."""
        return {
            s: sum(theme.segment_journey_stages.get(src, 0) for src in self.plan.sources_of(s))
            for s in self.plan.stages
        }

    def stage_count(self, theme: PackTheme, stage: str) -> int:
        return self.columns(theme)[stage]

    def places(self, theme: PackTheme, stage: str) -> bool:
        """Does this map column show the theme? Only by the one rule (see `clear_stage`)."""
        return stage in placed_stages(self.columns(theme))

    def stage_themes(self, stage: str) -> list[PackTheme]:
        themes = [t for t in self.ranked if self.places(t, stage)]
        return sorted(themes, key=lambda t: -self.stage_count(t, stage))

    def notes_at(self, stage: str, kind: str | None = None) -> list[PackObservation]:
        """Observations whose extracted stage this column shows."""
        return [
            o
            for o in self.pack.observations
            if (kind is None or o.kind == kind) and self.plan.column_of(o.journey_stage) == stage
        ]

    def stage_evidence(self, stage: str) -> bool:
        return bool(self.stage_themes(stage) or self.notes_at(stage))

    def counted(self, theme: PackTheme, stage: str) -> str:
        """' (7 onboarding mentions, 22 retention mentions)': the persona's own, by stage.

        A column showing several extracted stages names each, so a retention mention is never
        called an onboarding one.
        """
        sources = self.plan.sources_of(stage)
        found = [(s, theme.segment_journey_stages.get(s, 0)) for s in sources]
        found = [(s, n) for s, n in found if n]
        if len(sources) == 1 and sources[0] == stage:
            return f" ({plural(found[0][1], 'mention')} at this stage)" if found else ""
        return " (" + ", ".join(plural(n, f"{s} mention") for s, n in found) + ")" if found else ""

    def touchpoints(self, stage: str, themes: list[PackTheme]) -> list[Claim]:
        """Tools and channels the persona's people name at this stage: tool observations tagged
        with it, the persona's tools named in the quotes cited here, and support tickets."""
        claims: list[Claim] = []
        names = [name for name, _, _ in self.tool_counts()]
        trusted = {n.lower(): n for n in names}
        for note in self.notes_at(stage, "tool"):
            if (shown := trusted.get(tool_name(note).lower())) is not None:
                claims.append(Claim(text=shown, evidence=[f"chunk:{note.chunk_id}"]))
        said = [(q.text, q.chunk_id) for t in themes for q in t.quotes if q.in_segment]
        said += [(o.quote, o.chunk_id) for o in self.notes_at(stage) if o.kind != "tool"]
        for name in names:
            pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.I)
            hit = next((cid for text, cid in said if pattern.search(text)), None)
            if hit:
                claims.append(Claim(text=name, evidence=[f"chunk:{hit}"]))
        tickets = [q.chunk_id for t in themes for q in t.quotes if q.ticket_id and q.in_segment]
        if tickets:
            claims.append(Claim(text="Support tickets", evidence=[f"chunk:{tickets[0]}"]))
        out: list[Claim] = []
        for claim in self.kept(claims):
            if all(c.text.lower() != claim.text.lower() for c in out):
                out.append(claim)
        return out[:4]

    def stage(self, stage: str) -> JourneyStageEntry:
        themes = self.stage_themes(stage)
        actions, thoughts = [], []
        for t in themes[:2]:
            # Only counts the theme itself records are written (the validators check them).
            actions.append(
                Claim(
                    text=f"Runs into '{t.label}'{self.counted(t, stage)}",
                    evidence=[f"theme:{t.id}"],
                )
            )
            # The persona's own voice only: an interviewee before a ticket.
            own = sorted(
                (q for q in t.quotes if q.in_segment), key=lambda q: q.ticket_id is not None
            )
            if own:
                thoughts.append(
                    Claim(text=f'"{own[0].text}"', evidence=[f"chunk:{own[0].chunk_id}"])
                )
        for note in self.notes_at(stage, "workaround")[:2]:
            text = (
                short_quote(workaround_clause(note.quote))
                if extractive(note)
                else note.text.strip()
            )
            if text:
                body = f'"{text}"' if extractive(note) else text
                actions.append(
                    Claim(
                        text=f"Works around a problem: {body}", evidence=[f"chunk:{note.chunk_id}"]
                    )
                )
        positives = self.kept(
            c for o in self.notes_at(stage, "positive") if (c := self.said(o)) is not None
        )[:3]
        goal = next(
            (
                Claim(text=capital(phrase), evidence=[f"chunk:{note.chunk_id}"])
                for note, kind, phrase in self.phrases()
                if kind == "goal" and self.plan.column_of(note.journey_stage) == stage
            ),
            None,
        )
        return JourneyStageEntry(
            stage=stage,
            customer_goal=goal if goal is not None and self.grounded(goal) else None,
            actions=self.kept(actions),
            touchpoints=self.touchpoints(stage, themes),
            thoughts=self.kept(thoughts),
            emotion=self.emotion(themes, stage),
            pain_points=[t.id for t in themes],
            positives=positives,
            opportunities=[
                Claim(text=f"Remove the cause of '{t.label}'", evidence=[f"theme:{t.id}"])
                for t in themes[:2]
            ],
            metrics=[self.metric(t, f"'{t.label}'") for t in themes[:2]],
        )

    def emotion(self, themes: list[PackTheme], stage: str) -> int:
        """Good moments weighed against pains, both counted in people of this persona.

        Pains: for each theme placed here, the persona's people who raised it (at least one).
        Good moments: the persona's people with a positive observation at this stage. 0 with no
        evidence (renderers show the stage as a gap) and when the two balance; never 'very'
        anything on fewer than STRONG_EVIDENCE mentions or people.
        """
        pain = sum(max(1, t.segment_count) for t in themes)
        good = len({who(o) for o in self.notes_at(stage, "positive")})
        if not pain and not good:
            return 0
        balance = (good - pain) / (good + pain)
        if balance >= TILT:
            return 2 if good >= STRONG_EVIDENCE else 1
        if balance > LEAN:
            return 1
        if balance > -LEAN:
            return 0
        if balance > -TILT:
            return -1
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
            who_ = "users of this segment" if self.scored else f"{self.noun} of this persona"
            text += f"; {who_} raising it: now {theme.segment_count}"
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
        counts = {s: sum(t.segment_journey_stages.get(s, 0) for t in cited) for s in MENTION_STAGES}
        stage = clear_stage(counts)
        if stage is None:
            return None
        return Claim(
            text=(
                f"Where mentions of this {'segment' if self.scored else 'persona'}'s main pains "
                f"name a journey stage, most name the {stage} stage"
            ),
            evidence=[f"theme:{t.id}" for t in cited],
        )

    def findings(self, stages: Sequence[JourneyStageEntry] = ()) -> list[Claim]:
        findings = []
        if self.themes:
            top = self.ranked[0]
            if not top.segment_count:
                where = "in the corpus"
            elif self.scored:
                where = f"in this segment ({plural(top.segment_count, 'user')})"
            else:
                where = f"among these {self.noun} ({top.segment_count} of them)"
            findings.append(
                Claim(
                    text=f"'{top.label}' is the most raised pain {where}",
                    evidence=[f"theme:{top.id}"],
                )
            )
        staged_claim = self.stage_finding()
        if staged_claim is not None:
            findings.append(staged_claim)
        for t in self.ranked[1:3]:
            findings.append(
                Claim(
                    text=f"'{t.label}': mean severity {t.severity.mean:.1f}/5, " + rank_words(t),
                    evidence=[f"theme:{t.id}"],
                )
            )
        bright = [s for s in stages if s.emotion > 0 and s.positives]
        for pained, lead in (
            (True, "Good moments outweigh the pains"),
            (False, "Only good moments"),
        ):
            group = [s for s in bright if bool(s.pain_points) == pained]
            if group:
                findings.append(
                    Claim(
                        text=f"{lead} at the "
                        + ", ".join(f"'{title(s.stage)}'" for s in group)
                        + f" stage{'s' if len(group) > 1 else ''}",
                        evidence=[e for s in group for c in s.positives for e in c.evidence],
                    )
                )
        placed = {t.id for s in self.plan.stages for t in self.stage_themes(s)}
        unplaced = [t for t in self.ranked if t.id not in placed]
        if unplaced:
            # The first few by rank; the rest are in the themes table, not a 30-name sentence.
            named = unplaced[:UNPLACED_NAMED]
            rest = len(unplaced) - len(named)
            findings.append(
                Claim(
                    # No count: every number in a draft must come from its evidence.
                    text="Not placed in a journey stage (too few of their mentions name one, "
                    "or none stands out): "
                    + ", ".join(f"'{t.label}'" for t in named)
                    + (", and lower-ranked ones (see the themes table)" if rest else ""),
                    evidence=[f"theme:{t.id}" for t in named],
                )
            )
        return self.kept(findings)

    def recommendation(self, theme: PackTheme) -> Recommendation:
        metric = self.metric(theme, "it")
        who = users_of(self.seg.name) if self.scored else f"{self.noun} like these"
        need = asked(theme)
        # A request is decided on and a question answered; only a problem has a root cause.
        if need == "request":
            action = f"Decide on the request '{theme.label}' (build it, or say why not)"
            goal = f"Fewer {who} ask for '{theme.label}'"
        elif need == "question":
            action = f"Answer '{theme.label}' where they look first (help, onboarding)"
            goal = f"Fewer {who} have to ask '{theme.label}'"
        else:
            action = f"Fix the root cause of '{theme.label}'"
            goal = f"Fewer {who} hit '{theme.label}'"
        return Recommendation(
            action=action,
            goal=goal,
            metric=metric[0].upper() + metric[1:],
            evidence=[f"theme:{theme.id}"],
        )


def asked(theme: PackTheme) -> str | None:
    """'request' or 'question' when most of the theme's quotes ask for something rather than
    report a problem (no pain cue, and a request or a question), else None."""
    from .offline_extract import THRESHOLD, _cues, need_of

    natures = []
    for q in theme.quotes:
        kind = "ticket" if q.ticket_id else "interview"
        natures.append(None if _cues(q.text, kind)[0] >= THRESHOLD else need_of(q.text))
    needs = [n for n in natures if n is not None]
    if not natures or 2 * len(needs) <= len(natures):
        return None
    return "request" if needs.count("request") >= needs.count("question") else "question"


def staged(theme: PackTheme) -> int:
    """The persona's own mentions of the theme that name a journey stage ('unknown' is none)."""
    return sum(theme.segment_journey_stages.get(s, 0) for s in MENTION_STAGES)


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
