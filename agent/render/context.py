"""Everything a renderer needs, loaded once: personas, journeys, themes, segments, cited chunks.

Evidence ids ('theme:<id>', 'chunk:<id>', 'stat:<key>') are resolved here, so Markdown and HTML
describe the same evidence in the same words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from .. import refs
from ..decisions import FIELDS, Mark
from ..evidence import terms, theme_people
from ..models import (
    Chunk,
    Claim,
    CohortReport,
    ExtractState,
    JourneyMap,
    JourneyStage,
    Persona,
    SegmentReport,
    SegmentStats,
    Theme,
    ThemeReport,
)
from ..review_redraft import Redraft, pending_redrafts
from ..segment_rules import slugify as key_slug
from ..workspace import Workspace

if TYPE_CHECKING:
    from ..library import View

EXCERPT_CHARS = 280
# The stages a mention can name, in journey order ('unknown' is none).
MENTION_STAGES = tuple(s for s in get_args(JourneyStage) if s != "unknown")
ID_MARK = '"id": "'
OFFLINE_NOTICE = (
    "Offline drafts are written by deterministic templates from the scorer's numbers, the themes "
    "and verbatim quotes. Check every field before relying on it."
)


# A claim field as drafted, and the words a reviewer's `extended` decision added to it.
Split = tuple[Claim | None, str | None]


def slugify(text: str) -> str:
    """ASCII, lowercase, hyphenated: safe in file names and HTML ids."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")


def persona_slugs(personas: Iterable[Persona]) -> dict[str, str]:
    """A unique slug per persona id, stable for a given order of personas."""
    slugs: dict[str, str] = {}
    used: set[str] = set()
    for persona in personas:
        # "Dana, the Closer" -> dana; "Churned (anti-persona)" -> churned.
        first = re.sub(r"\(.*?\)", "", first_name(persona))
        base = slugify(first) or slugify(persona.segment) or "persona"
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs[persona.id] = slug
    return slugs


def pct(share: float) -> str:
    """A share (0-1) as a whole percentage; values already above 1 are taken as percentages."""
    value = share * 100 if share <= 1 else share
    return f"{value:.1f}%" if 0 < value < 1 else f"{value:.0f}%"


def fmt_num(value: float | int) -> str:
    """Integers with thousands separators, floats to at most two decimals."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def exact_num(value: float | int) -> str:
    """A stored number exactly as stored (0.3558 stays 0.3558): footnotes back the text's figures."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


QUOTED = re.compile(r"[\"“]([^\"”]{8,})[\"”]")
# Shown between a ticket's subject line and its body: the chunk keeps them as two paragraphs,
# and a footnote shows the chunk as one line, which would run the subject into the body.
SUBJECT_SEPARATOR = " — "


def focus_texts(text: str) -> list[str]:
    """What a citing text points at in a chunk: its quoted passages, then the text itself."""
    return [*QUOTED.findall(text), text]


def _centred(flat: str, at: int, end: int, limit: int) -> tuple[int, int]:
    """A window of about `limit` characters around flat[at:end], on word boundaries."""
    pad = max(30, (limit - (end - at)) // 2)
    start, stop = max(0, at - pad), min(len(flat), end + pad)
    if start > 0:
        # Start on a word, never mid-word.
        space = flat.find(" ", start, at)
        start = space + 1 if space >= 0 else at
    if stop < len(flat):
        space = flat.rfind(" ", end, stop)
        stop = space if space >= 0 else end
    return start, stop


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")


def _densest(flat: str, at: int, end: int, wanted: set[str], width: int) -> tuple[int, int]:
    """The `width` characters of flat[at:end] holding most of the `wanted` words (first wins)."""
    hits = [at + m.start() for m in _WORD.finditer(flat, at, end) if terms(m.group()) & wanted]
    best, count = at, -1
    for start in hits:
        n = sum(1 for h in hits if start <= h < start + width)
        if n > count:
            best, count = start, n
    return best, min(end, best + width)


# Content words a paraphrase must share with a sentence for the excerpt to move to it.
MIN_SHARED_WORDS = 2


def _window(flat: str, focus: Iterable[str], limit: int) -> tuple[int, int]:
    """Start and end in `flat` of the excerpt shown: the first focus passage, else the
    sentence sharing most content words with the citing text (a claim paraphrases what it
    cites), else the opening."""
    if len(flat) <= limit:
        return 0, len(flat)
    focus = [" ".join(str(passage).split()) for passage in focus]
    lowered = flat.lower()
    for needle in (p.lower() for p in focus):
        at = lowered.find(needle) if len(needle) >= 3 else -1
        if at < 0:
            continue
        end = at + len(needle)
        if end <= limit - 20:
            break  # the opening already shows it
        return _centred(flat, at, end, limit)
    else:
        wanted = set().union(*(terms(p) for p in focus)) if focus else set()
        best: tuple[int, int, int] | None = None
        for match in _SENTENCE.finditer(flat) if wanted else ():
            shared = len(terms(match.group()) & wanted)
            if shared >= MIN_SHARED_WORDS and (best is None or shared > best[0]):
                best = (shared, match.start(), match.end())
        if best is not None and best[2] > limit - 20:
            at, end = best[1], best[2]
            if end - at > limit - 2 * 30:
                # A run-on sentence (speech, captions): the stretch where the shared words
                # crowd, so the excerpt keeps to its length.
                at, end = _densest(flat, at, end, wanted, limit - 2 * 30)
            return _centred(flat, at, end, limit)
    cut = flat[:limit].rsplit(" ", 1)[0]
    return 0, len(cut)


def quote_window(
    text: str, focus: Iterable[str] = (), limit: int = EXCERPT_CHARS, subject: str = ""
) -> str:
    """The chunk as one line, cut around the first focus passage found in it.

    A long chunk's opening often stops before the sentence a draft quotes; the reader of a
    footnote needs the quoted words with their context, so the window is centred on them.
    `subject`: the ticket's subject line when the chunk opens with it; where the window shows
    both, SUBJECT_SEPARATOR stands between subject and body (display only: the chunk and every
    stored quote stay verbatim).
    """
    head = " ".join(subject.split())
    if head and not text.lstrip().startswith(subject.strip()):
        head = ""
    flat = " ".join(text.split())
    start, stop = _window(flat, focus, limit)
    shown = flat[start:stop]
    # The subject ends where the flattened chunk has a space after exactly its words.
    joint = len(head) if head and flat.startswith(head + " ") else -1
    if start < joint < stop:
        shown = flat[start:joint] + SUBJECT_SEPARATOR + flat[joint + 1 : stop]
    return ("… " if start > 0 else "") + shown + (" …" if stop < len(flat) else "")


@dataclass(frozen=True)
class Evidence:
    """One resolved evidence id, described for a reader."""

    ref: str
    kind: str  # theme | chunk | stat | unknown
    title: str
    detail: str
    quote: str = ""
    found: bool = True


@dataclass(frozen=True)
class People:
    """Who a persona stands for, as a reader is told: how many, what share, called what."""

    size: int
    share: float
    noun: str
    rule: str


@dataclass
class ReportData:
    """The inputs of every renderer, with evidence lookups."""

    personas: list[Persona]
    journeys: dict[str, JourneyMap]
    themes: ThemeReport | None
    segments: SegmentReport | None
    chunks: dict[str, Chunk]
    # Who the personas stand for when no user table was scored (cohorts.json).
    cohorts: CohortReport | None = None
    decisions: dict[str, dict[str, str]] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)
    # Inputs (segments.json, themes.json) changed since the drafts were written; "mentions"
    # when the last extraction left some chunks to earlier results (see `extraction`).
    stale: list[str] = field(default_factory=list)
    extraction: ExtractState | None = None
    # How many fields a reviewer can decide per persona (review.FIELDS).
    review_fields: int = 0
    # Ticket document id -> its subject line, for cited ticket chunks that open with one.
    subjects: dict[str, str] = field(default_factory=dict)
    # persona id -> field path -> what a reviewer's `extended` decision added (review.py).
    additions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # persona id -> positional path ('goals', 'goals.2', 'pain_points.0.impact') -> who wrote
    # it (decisions.Mark); a path without a mark is the draft's, unreviewed.
    marks: dict[str, dict[str, Mark]] = field(default_factory=dict)
    # persona id -> how many list items (not whole fields) a reviewer decided.
    items_decided: dict[str, int] = field(default_factory=dict)
    # Set by render.only_product: the report covers this product only (its totals, its ranks).
    product: str | None = None
    # Theme id -> the participants whose mentions it holds, when personas are groups of
    # listed participants (what a claim citing a theme rests on within the group).
    theme_people: dict[str, set[str]] = field(default_factory=dict)
    # persona id -> its pending re-draft: pain points a reviewer removed that the draft still
    # holds, and the items resting only on them (agent/review_redraft.py).
    redraft: dict[str, Redraft] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.slugs:
            self.slugs = persona_slugs(self.personas)
        self._themes = {t.id: t for t in self.themes.themes} if self.themes else {}
        self._segments = {s.name: s for s in self.segments.segments} if self.segments else {}
        self.lineage = dict(self.themes.lineage) if self.themes else {}
        if self.marks and not self.decisions:
            self.decisions = {
                pid: {p: m.kind for p, m in marks.items() if p in FIELDS}
                for pid, marks in self.marks.items()
            }
        if self.marks and not self.additions:
            self.additions = {
                pid: {p: m.addition for p, m in marks.items() if m.addition not in (None, "", [])}
                for pid, marks in self.marks.items()
            }

    # ------------------------------------------------------------------ lookups
    def theme(self, theme_id: str) -> Theme | None:
        """A theme by id; an earlier id finds the theme that holds its mentions now (lineage)."""
        return self._themes.get(theme_id) or self._themes.get(refs.follow(theme_id, self.lineage))

    def segment(self, name: str) -> SegmentStats | None:
        return self._segments.get(name)

    def people(self, persona: Persona) -> People | None:
        """Who the persona stands for: a scored segment's users, or a cohort's participants
        ('people' for everyone in a ticket corpus); None when neither file names it."""
        segment = self.segment(persona.segment)
        if segment is not None:
            return People(segment.size, segment.share, "users", segment.rule)
        for cohort in self.cohorts.cohorts if self.cohorts else ():
            if cohort.name == persona.segment:
                tickets = self.themes.total_tickets if self.themes else 0
                noun = (
                    "people"
                    if cohort.basis == "everyone" and not cohort.members and tickets
                    else "participants"
                )
                return People(cohort.size, cohort.share, noun, cohort.rule)
        return None

    def journey(self, persona: Persona) -> JourneyMap | None:
        return self.journeys.get(persona.id)

    def theme_label(self, theme_id: str) -> str:
        theme = self.theme(theme_id)
        return theme.label if theme else theme_id

    def review_mark(self, persona: Persona, path: str) -> str | None:
        """The reviewer's decision on a field (confirmed/corrected/extended), if any."""
        return self.decisions.get(persona.id, {}).get(path)

    def mark(self, persona: Persona, path: str) -> Mark | None:
        """Who wrote a field or item (positional path), or None: the draft's, unreviewed."""
        return self.marks.get(persona.id, {}).get(path)

    def resting(self, persona: Persona, path: str) -> str:
        """Why an item no longer stands until the next draft ('' when it does)."""
        found = self.redraft.get(persona.id)
        return found.item_note(path) if found else ""

    def redraft_note(self, persona: Persona, journey: bool = False) -> str:
        """The persona's (or journey map's) re-draft notice ('' when none is pending)."""
        found = self.redraft.get(persona.id)
        return found.note(journey) if found else ""

    def item_human(self, persona: Persona, path: str) -> bool:
        """Is this list item (or item part) a reviewer's own words?"""
        found = self.mark(persona, path)
        return bool(found and found.human and found.addition is None)

    def split_addition(self, persona: Persona, path: str, claim: Claim | None) -> Split:
        """A claim field a reviewer extended, as (the drafted claim, the reviewer's words).

        The stored claim is the draft's text with the addition appended and the draft's
        evidence kept; shown as one text, the footnotes would follow the reviewer's words and
        make them look evidence-backed. Not extended (or not separable): (claim, None).
        """
        added = self.additions.get(persona.id, {}).get(path)
        if claim is None or not isinstance(added, str) or not added:
            return claim, None
        text = claim.text.rstrip()
        if not text.endswith(added):
            return claim, None
        drafted = text[: -len(added)].rstrip()
        if not drafted:
            return None, added  # nothing was drafted: the whole claim is the reviewer's
        return claim.model_copy(update={"text": drafted}), added

    def added_items(self, persona: Persona, path: str, items: Sequence[object]) -> int:
        """How many of a list field's last items a reviewer's `extended` decision added."""
        added = self.additions.get(persona.id, {}).get(path)
        return min(len(added), len(items)) if isinstance(added, list) else 0

    def human_items(self, persona: Persona, path: str, items: Sequence[object]) -> list[bool]:
        """Per item of a list field: did a reviewer write it (added, corrected, or the whole
        list corrected into it)?"""
        return [self.item_human(persona, f"{path}.{i}") for i in range(len(items))]

    def human(self, persona: Persona, path: str, split: bool = False) -> bool:
        """Did a reviewer write text of this field that is not shown apart as theirs?

        `split`: an extended field's addition is shown on its own (split_addition,
        added_items), so its drafted part is the draft's, not the reviewer's.
        """
        mark = self.review_mark(persona, path)
        return mark == "corrected" or (mark == "extended" and not split)

    @property
    def stale_note(self) -> str:
        """The warning shown when drafts predate the current segments or themes, or rest on an
        incomplete extraction ('' if neither)."""
        parts = []
        files = " and ".join(f"{name}.json" for name in self.stale if name != "mentions")
        if files:
            parts.append(
                f"These drafts are older than the current {files}: numbers in the text may not "
                'match the tables and footnotes. Run "persona draft" to re-draft them.'
            )
        if self.extraction is not None and not self.extraction.complete:
            note = self.extraction.describe()
            parts.append(note[:1].upper() + note[1:])
        return " ".join(parts)

    @property
    def offline(self) -> bool:
        return any(p.document_info.mode == "offline" for p in self.personas)

    def corpus_basis(self) -> tuple[int, int, int]:
        """Interviews, tickets and users the report rests on (largest figure seen anywhere).

        A one-product report rests on that product's participants and tickets only.
        """
        if self.product is not None and self.themes:
            users = self.segments.total_users if self.segments else 0
            return self.themes.total_participants, self.themes.total_tickets, users
        interviews = max([p.document_info.based_on_interviews for p in self.personas] or [0])
        tickets = max([p.document_info.based_on_tickets for p in self.personas] or [0])
        users = max([p.document_info.based_on_users for p in self.personas] or [0])
        if self.themes:
            interviews = max(interviews, self.themes.total_participants)
            tickets = max(tickets, self.themes.total_tickets)
        if self.segments:
            users = max(users, self.segments.total_users)
        return interviews, tickets, users

    # ------------------------------------------------------------------ evidence
    def resolve(self, ref: str, focus: Iterable[str] = ()) -> Evidence:
        """Describe an evidence id; an id that resolves to nothing is flagged, never hidden.

        `focus`: texts citing a chunk (a quote, a claim); its excerpt is cut around them.
        """
        parsed = refs.parse(ref)
        kind, key = parsed.kind, parsed.key
        if kind == "theme" and (theme := self.theme(key)):
            return Evidence(ref, "theme", theme.label, theme_stats(theme, self.themes))
        if kind == "chunk" and (chunk := self.chunks.get(key)):
            subject = self.subjects.get(chunk.document_id, "") if chunk.start == 0 else ""
            return Evidence(
                ref,
                "chunk",
                chunk_label(chunk),
                chunk_source(chunk),
                quote_window(chunk.text, focus, subject=subject),
            )
        if kind == "stat" and (value := self.stat(key)) is not None:
            return Evidence(ref, "stat", self.stat_title(key, value), f"{key} = {exact_num(value)}")
        return Evidence(
            ref, "unknown", f"Unresolved: {ref}", "not found in this workspace", found=False
        )

    def stat_title(self, key: str, value: float | int) -> str:
        """A group's size or share as a reader says it ('Binding maintainers: 36.84% of the
        participants' for 'segment.binding_maintainers.share'); any other key as it is (its
        parts are slugs the reader cannot turn back into the values they name)."""
        if key == "cohort.total_participants":
            return f"Participants in the study: {exact_num(value)}"
        owner, _, metric = key.removeprefix("segment.").rpartition(".")
        if not key.startswith("segment.") or metric not in ("size", "share"):
            return key
        groups: dict[str, tuple[str, str]] = {}
        for segment in self.segments.segments if self.segments else ():
            groups[key_slug(segment.name)] = (segment.name, "users")
        for cohort in self.cohorts.cohorts if self.cohorts else ():
            groups.setdefault(cohort.key, (cohort.name, "participants"))
        if owner not in groups:
            return key
        name, noun = groups[owner]
        if metric == "share":
            return f"{name}: {exact_pct(value)} of the {noun}"
        return f"{name}: {exact_num(value)} {noun}"

    def short_name(self, persona: Persona) -> str:
        """What the summary calls a persona: its first name ('Kai'), or its whole name when
        another persona has the same first name (separate drafts may pick the same one)."""
        first = first_name(persona)
        shared = sum(first_name(p) == first for p in self.personas)
        return first if shared < 2 else persona.draft.name

    def members(self, persona: Persona) -> frozenset[str] | None:
        """The participant ids a persona's group holds, when it is a group of interview
        participants (None for a scored segment, whose members are user-table rows)."""
        for cohort in self.cohorts.cohorts if self.cohorts else ():
            if cohort.name == persona.segment and cohort.members:
                return frozenset(cohort.members)
        return None

    def cited_people(self, cited: Iterable[str], members: frozenset[str] | None) -> tuple[int, int]:
        """(participants, tickets) whose words the cited chunks are; with `members`, only the
        group's own participants count (an outsider's words are flagged where cited)."""
        people: set[str] = set()
        tickets: set[str] = set()
        for ref in cited:
            parsed = refs.parse(ref)
            if parsed.kind == "theme" and members is not None:
                raised = self.theme_people.get(refs.follow(parsed.key, self.lineage), set())
                people |= raised & members
            chunk = self.chunks.get(parsed.key) if parsed.kind == "chunk" else None
            if chunk is None:
                continue
            if chunk.kind == "ticket":
                tickets.add(chunk.ticket_id or chunk.document_id)
            elif chunk.participant_id or chunk.document_id:
                people.add(chunk.participant_id or chunk.document_id)
        if members is not None:
            people &= members
        return len(people), len(tickets)

    def support(self, cited: Iterable[str], members: frozenset[str] | None) -> str:
        """'2 of 7 participants': whose words a claim's evidence is, against its group."""
        people, tickets = self.cited_people(cited, members)
        parts = []
        if people:
            of = f" of {len(members)}" if members else ""
            parts.append(f"{people}{of} participant{'' if people == 1 and not of else 's'}")
        if tickets:
            parts.append(f"{fmt_num(tickets)} ticket{'' if tickets == 1 else 's'}")
        return ", ".join(parts)

    def outsider(self, ref: str, members: frozenset[str] | None) -> bool:
        """Is a cited chunk a participant's words from outside these members?"""
        parsed = refs.parse(ref)
        chunk = self.chunks.get(parsed.key) if parsed.kind == "chunk" else None
        return (
            members is not None
            and chunk is not None
            and bool(chunk.participant_id)
            and chunk.participant_id not in members
        )

    def stat(self, key: str) -> float | int | None:
        """A scorer or cohort number by its citable key (None when neither holds it)."""
        for source in (self.segments, self.cohorts):
            if source is not None and key in source.stats:
                return source.stats[key]
        return None

    def quote_source(self, chunk_id: str) -> str:
        """Attribution line for a persona quote."""
        chunk = self.chunks.get(chunk_id)
        if chunk is None:
            return "added by a reviewer" if not chunk_id else f"chunk {chunk_id} (not in workspace)"
        where = chunk.source + (f", ticket {chunk.ticket_id}" if chunk.ticket_id else "")
        return f"{chunk_label(chunk)} · {where}{chunk_place(chunk)}"


def first_name(persona: Persona) -> str:
    """'Dana' of 'Dana, the Month-End Closer'."""
    return persona.draft.name.split(",")[0].strip()


def chunk_label(chunk: Chunk) -> str:
    who = chunk.participant_id or chunk.ticket_id or chunk.speaker
    return (
        f"{who} ({chunk.kind})"
        if who == chunk.speaker
        else f"{who}, {chunk.speaker} ({chunk.kind})"
    )


def chunk_source(chunk: Chunk) -> str:
    where = chunk.source
    if chunk.ticket_id and chunk.ticket_id not in where:
        where = f"{where}, ticket {chunk.ticket_id}"
    return f"{where}{chunk_place(chunk)}, chars {chunk.start}-{chunk.end}"


def chunk_place(chunk: Chunk) -> str:
    """Where a researcher finds the words: the turn's line in the file, and its time in the
    recording when the transcript has one (VTT/SRT)."""
    what = "row at line" if chunk.kind == "ticket" else "turn at line"
    place = f", {what} {chunk.line}" if chunk.line else ""
    return place + (f" ({chunk.time})" if chunk.time else "")


def exact_pct(share: float) -> str:
    """A stored 0-1 share as a percentage with all its stored digits (0.5833 -> 58.33%)."""
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def theme_totals(theme: Theme, report: ThemeReport | None) -> tuple[int, int, str]:
    """(participants, tickets, whose) a theme's shares divide by.

    Per-product themes divide by their product's totals (themes.json product_totals), so a
    share is shown against that total and named after the product ('FitTrack '), never
    against the whole corpus; otherwise the corpus totals and ''.
    """
    if report is None:
        return 0, 0, ""
    totals = report.product_totals.get(theme.product) if theme.product else None
    if totals is not None:
        return totals.participants, totals.tickets, f"{theme.product} "
    return report.total_participants, report.total_tickets, ""


def theme_rank(theme: Theme) -> str:
    """'rank 2 in FitTrack' for a theme ranked within its product, else 'rank 4'."""
    if theme.product and theme.product_rank is not None:
        return f"rank {theme.product_rank} in {theme.product}"
    return f"rank {theme.rank}"


def _sources(theme: Theme, report: ThemeReport | None) -> list[tuple[int, int, str, float]]:
    """(count, total, noun, share) for each source a theme is counted in; a source the corpus
    does not have (no tickets at all) is left out, unless the theme itself has some."""
    freq = theme.frequency
    people, tickets, _ = theme_totals(theme, report)
    out = []
    if report is None or report.total_participants or freq.participants:
        out.append((freq.participants, people, "participant", freq.participant_share))
    if report is None or report.total_tickets or freq.tickets:
        out.append((freq.tickets, tickets, "ticket", freq.ticket_share))
    return out


def theme_reach(theme: Theme, report: ThemeReport | None) -> list[str]:
    """The theme's participants and tickets as a reader sees them, each with its share:
    '12 of 30 FitTrack tickets (40%)' for a per-product theme, else '12 tickets (20%)'."""
    whose = theme_totals(theme, report)[2]

    def counted(n: int, total: int, noun: str, share: float) -> str:
        # A per-product share is of the product's own total, so that total is named with it.
        if whose and total:
            return f"{fmt_num(n)} of {fmt_num(total)} {whose}{noun}{'' if total == 1 else 's'} ({pct(share)})"
        return f"{fmt_num(n)} {noun}{'' if n == 1 else 's'} ({pct(share)})"

    return [counted(*source) for source in _sources(theme, report)]


def theme_counts(theme: Theme, report: ThemeReport | None) -> str:
    """'14 participants · 3 tickets', for lists that show the shares elsewhere."""
    return " · ".join(
        f"{fmt_num(n)} {noun}{'' if n == 1 else 's'}" for n, _, noun, _ in _sources(theme, report)
    )


def theme_stats(theme: Theme, report: ThemeReport | None) -> str:
    """The theme's reach, severity and score in one line, at the precision themes.json holds."""
    freq = theme.frequency
    people, tickets, whose = theme_totals(theme, report)
    parts = []
    if freq.participants or not freq.tickets:
        of = f" of {people} {whose}" if people else " "
        parts.append(f"{freq.participants}{of}participants ({exact_pct(freq.participant_share)})")
    if freq.tickets:
        of = f" of {fmt_num(tickets)} {whose}" if tickets else " "
        parts.append(f"{fmt_num(freq.tickets)}{of}tickets ({exact_pct(freq.ticket_share)})")
    parts.append(f"severity {exact_num(theme.severity.mean)} mean / {theme.severity.max} max")
    parts.append(f"score {exact_num(theme.score)}, {theme_rank(theme)}")
    staged = [
        f"{stage} {theme.journey_stages[stage]}"
        for stage in MENTION_STAGES
        if theme.journey_stages.get(stage)
    ]
    unstaged = theme.journey_stages.get("unknown", 0)
    if staged or unstaged:
        # What a stage claim citing the theme rests on ('unknown' is no stage).
        where = ", ".join(staged) if staged else "none"
        parts.append(f"mentions by journey stage: {where}; no stage named: {unstaged}")
    return ", ".join(parts)


def cited_chunk_ids(personas: Iterable[Persona], journeys: Iterable[JourneyMap]) -> set[str]:
    """Every chunk id any persona or journey cites, so only those chunks are loaded."""
    return refs.ids_in([m.model_dump(mode="json") for m in [*personas, *journeys]], "chunk")


def load_chunks(path: Path, wanted: set[str]) -> dict[str, Chunk]:
    """Stream chunks.jsonl keeping only the wanted ids (a ticket corpus can be millions of lines)."""
    found: dict[str, Chunk] = {}
    if not path.exists() or not wanted:
        return found
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            # write_models' key order puts `"id": "` once per line (quotes inside text are
            # escaped), so unwanted lines are skipped without parsing them.
            at = line.find(ID_MARK)
            if at >= 0:
                start = at + len(ID_MARK)
                if line[start : line.find('"', start)] not in wanted:
                    continue
            elif not line.strip():
                continue
            row = json.loads(line)
            if row.get("id") in wanted:
                found[row["id"]] = Chunk.model_validate(row)
            if len(found) == len(wanted):
                break
    return found


def load_report_data(workspace: Workspace, apply_decisions: bool = True) -> ReportData:
    """Read the workspace's drafted personas and their evidence; reviewer decisions applied."""
    from ..library import load_view

    view = load_view(workspace, apply=apply_decisions)
    chunks = load_chunks(workspace.chunks, cited_chunk_ids(view.personas, view.journeys))
    data = report_data(
        view, chunks, ticket_subjects_for(workspace, chunks), apply_decisions, workspace.mentions
    )
    data.theme_people = group_theme_people(workspace, view)
    return data


def group_theme_people(workspace: Workspace, view: View) -> dict[str, set[str]]:
    """Theme id -> the interview participants who raised it, when the personas are groups of
    participants (support counts read it); empty otherwise, as nothing then needs it."""
    groups = view.cohorts is not None and any(c.members for c in view.cohorts.cohorts)
    if groups and view.themes is not None and workspace.mentions.exists():
        return theme_people(workspace, view.themes, interviews_only=True)
    return {}


def ticket_subjects_for(workspace: Workspace, chunks: dict[str, Chunk]) -> dict[str, str]:
    """Subject lines of the tickets whose opening chunk is cited."""
    tickets = {c.document_id for c in chunks.values() if c.kind == "ticket" and c.start == 0}
    if not tickets:
        return {}
    from ..themes import ticket_subjects

    return ticket_subjects(workspace, tickets)


def _all_marks(view: View) -> dict[str, dict[str, Mark]]:
    """persona id -> its fields' marks and its journey's ('journey.stages.0.actions.1')."""
    out = {r.persona.id: dict(r.marks) for r in view.reviewed if r.marks}
    for reviewed in view.journey_reviews:
        if reviewed.marks:
            out.setdefault(reviewed.journey.persona_id, {}).update(reviewed.marks)
    return out


def report_data(
    view: View,
    chunks: dict[str, Chunk],
    subjects: dict[str, str],
    apply_decisions: bool = True,
    mentions: Path | None = None,
) -> ReportData:
    """The renderers' inputs from a read view and the chunks it cites (`mentions`:
    mentions.jsonl, which tells whose quotes a draft's chunk ids are)."""
    return ReportData(
        personas=view.personas,
        journeys={j.persona_id: j for j in view.journeys},
        themes=view.themes,
        segments=view.segments,
        cohorts=view.cohorts,
        chunks=chunks,
        stale=view.stale,
        extraction=view.extraction,
        review_fields=len(FIELDS) if apply_decisions else 0,
        subjects=subjects,
        marks=_all_marks(view),
        items_decided={r.persona.id: r.items_decided for r in view.reviewed if r.items_decided},
        redraft=pending_redrafts(view, mentions) if apply_decisions else {},
    )
