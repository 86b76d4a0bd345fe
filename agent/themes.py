"""Pain-point themes, as a pipeline: propose -> consolidate -> summarise -> rank -> name.

- propose: average-linkage clustering of mention vectors within each product (agent/cluster.py);
- consolidate: a `Consolidator` turns the candidates into final themes: offline they stand as
  they are; with a model, it merges, splits, names and defines them (agent/consolidate.py);
- summarise: counts, severity, score and quotes, computed by code from the final assignment;
- rank: score, then documented tie-breaks; within each product too when the corpus has several;
- name: themes a model did not name keep the name a model gave the same members last run, else
  get a readable offline label (agent/naming.py).

Deterministic for the same mentions and settings: mentions are sorted by id before clustering,
ids are content hashes of member ids, every float is rounded and every ordering has a tie-break.
Every mention lands in exactly one theme; a mention near no other is a theme of its own. Theme
ids change with their members, so themes.json keeps `lineage` (earlier id -> current id).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .cluster import EXACT_LIMIT, cluster_vectors, normalise
from .config import Settings, ThemeSettings
from .consolidate import Describe, LLMConsolidator, Unit, UnitView, statements_shown
from .embeddings import Embedder, get_embedder
from .errors import InputError
from .grounding import fold
from .ids import content_hash
from .lock import writes_workspace
from .models import (
    CorpusTotals,
    PainPointMention,
    Quote,
    StepSummary,
    Theme,
    ThemeFrequency,
    ThemeGroup,
    ThemeReport,
    ThemeSeverity,
    product_in,
)
from .naming import (
    Naming,
    OfflineNamer,
    ThemeCandidate,
    ThemeNamer,
    distinctive_terms,
    offline_naming,
)
from .theme_groups import Grouped, LLMGrouper
from .workspace import Workspace, read_json, read_models, write_json

if TYPE_CHECKING:
    from .decisions import DecisionStore

SCORE_FORMULA = (
    "score = reach x severity_mean, where reach = the mean of the theme's shares over the evidence "
    "sources the corpus has (participant_share = distinct interview/survey participants with the "
    "pain / all participants; ticket_share = distinct tickets with the pain / all tickets), so "
    "reach is 0..1 and score 0..5. Each source weighs the same, so a thousand tickets cannot "
    "drown a dozen interviews. Rank: score desc, then severity max desc, then distinct "
    "participants + tickets desc, then mentions desc, then theme id."
)
# How much a mention's category pulls on its vector, by who wrote the mention. An LLM's category
# is the topic in a few words: embedded apart and added with this weight, it lets one theme hold
# differently worded statements (transcripts/: 8 of 8 planted pain points exact at 0.55-0.6 with
# it, at most 5 of 8 with the category prefixed to the text, 3 of 8 without it; bench/README.md).
# Offline categories are keyword-table guesses already inside the offline statement: weight 0.
CATEGORY_WEIGHT: dict[str, float] = {"openai": 0.75, "host": 0.75, "offline": 0.0}
# An offline mention shares its chunk's text with every other pain said in that chunk; its own
# sentence and one either side, added at this weight, pull apart two pains said in one answer
# (transcripts/: still 6 of 8 planted points whole and in order; a 4-interview corpus from a
# reviewer: 3 of the 4 participants who named the supplier sync now in its theme, was 2).
WINDOW_WEIGHT = 0.5
VECTOR_RECIPE = (
    "unit(e(statement) + w x e(category)); w = 0.75 for LLM mentions; offline mentions: "
    "unit(e(context) + 0.5 x e(quote sentence with one sentence either side))"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Most statements the offline namer reads per theme (the most central ones).
NAMER_STATEMENTS = 12
# Share of a theme's mentions that must carry one category for an offline label to lead with it.
LEAD_SHARE = 0.4
_ROUND = 4
_SIM_DECIMALS = 4
# Median context length (words) at which extractive mentions get the short-text cut, and at
# which they get the full context cut (threshold_for).
SHORT_WORDS = 15
LONG_WORDS = 40


# --------------------------------------------------------------------------- text to embed


def category_weight(mention: PainPointMention) -> float:
    """The category's weight in this mention's vector (0 when it has none)."""
    return CATEGORY_WEIGHT.get(mention.origin, 0.0) if mention.category.strip() else 0.0


def embedding_text(mention: PainPointMention) -> str:
    """What stands for a mention in embedding space: its context when extractive, else its statement."""
    return mention.context if mention.context else mention.statement


def own_window(mention: PainPointMention, around: int = 1) -> str:
    """An extractive mention's first quote with `around` sentences either side, from its context."""
    text = mention.context
    if not text or not mention.quotes:
        return ""
    start, end = mention.quotes[0].start, mention.quotes[0].end
    bounds = [0, *(m.end() for m in _SENTENCE_END.finditer(text)), len(text)]
    spans = [(a, b) for a, b in pairwise(bounds) if a < b]
    hit = [i for i, (a, b) in enumerate(spans) if a < end and b > start]
    if not hit:
        return ""
    lo, hi = max(0, hit[0] - around), min(len(spans) - 1, hit[-1] + around)
    return text[spans[lo][0] : spans[hi][1]].strip()


def cut_for(
    mentions: Sequence[PainPointMention], settings: ThemeSettings, consolidating: bool = False
) -> tuple[float, float]:
    """(cosine cut, neighbour smoothing) for these mentions: statements have their cut;
    extractive mentions, embedded with their whole context, get a cut and a smoothing that
    follow how long those contexts are.

    A paragraph of interview shares topic words with many others and sits far from any one
    pain; a one-line ticket ("my card has not arrived") sits close to its own kind only, in a
    noisy cloud. One fixed cut merged up to 23 banking intents into one theme, so from contexts
    of SHORT_WORDS (median) to LONG_WORDS the cut runs from `short_distance_threshold` (on
    vectors averaged with their neighbours, cluster.smooth) to `context_distance_threshold`
    (no smoothing). README: measured on BANKING77 and transcripts/. --threshold sets every cut.
    """
    if not (mentions and all(m.context for m in mentions)):
        # A model consolidates what clustering proposes: merging candidates it sees is easy,
        # splitting a lumped one from a few shown statements is not, so the proposal is tight.
        if consolidating:
            return settings.proposal_distance_threshold, 0.0
        return settings.distance_threshold, 0.0
    words = sorted(len((m.context or "").split()) for m in mentions)
    median = words[len(words) // 2]
    reach = min(1.0, max(0.0, (median - SHORT_WORDS) / (LONG_WORDS - SHORT_WORDS)))
    low, high = settings.short_distance_threshold, settings.context_distance_threshold
    return round(low + (high - low) * reach, 4), round(1.0 - reach, 4)


def threshold_for(mentions: Sequence[PainPointMention], settings: ThemeSettings) -> float:
    """The cosine cut for these mentions (see cut_for)."""
    return cut_for(mentions, settings)[0]


def mention_vectors(
    mentions: Sequence[PainPointMention], embed: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """One unit vector per mention (VECTOR_RECIPE); every distinct text is embedded once."""
    windows = [own_window(m) if m.context else "" for m in mentions]
    texts = sorted(
        {embedding_text(m) for m in mentions}
        | {w for w in windows if w}
        | {m.category.strip() for m in mentions if category_weight(m) > 0}
    )
    if not mentions:
        return np.zeros((0, 1), dtype=np.float32)
    table = dict(zip(texts, normalise(embed(texts)), strict=True))
    # Filled in place, row by row (no list of row copies: 78,000 mentions are 120 MB of rows).
    out = np.empty((len(mentions), len(next(iter(table.values())))), dtype=np.float32)
    for row, (m, window) in enumerate(zip(mentions, windows, strict=True)):
        vector = out[row]
        vector[:] = table[embedding_text(m)]
        if window:
            vector += WINDOW_WEIGHT * table[window]
        weight = category_weight(m)
        if weight > 0:
            vector += weight * table[m.category.strip()]
    return normalise(out)


# --------------------------------------------------------------------------- counting


def _said(m: PainPointMention) -> str:
    """The text a theme is named from: an LLM's statement, or an offline mention's own quote.

    Offline statements open with a cue label ("Something fails or breaks (bank sync): ...")
    that every theme shares; the quote is the customer's sentence without it.
    """
    if m.origin == "offline" and m.quotes:
        return m.quotes[0].text
    return m.statement


def _participant_key(m: PainPointMention) -> str:
    # A transcript without a participant id is still one participant: its document.
    return m.participant_id or m.document_id


def _ticket_key(m: PainPointMention) -> str:
    return m.ticket_id or m.document_id


def _quote_source(quote: Quote, m: PainPointMention) -> tuple[str, str]:
    if m.kind == "ticket":
        return ("ticket", quote.ticket_id or _ticket_key(m))
    return ("participant", quote.participant_id or _participant_key(m))


def _share(part: int, total: int) -> float:
    return round(part / total, _ROUND) if total > 0 else 0.0


def _frequency(members: Sequence[PainPointMention], totals: tuple[int, int]) -> ThemeFrequency:
    participants = {_participant_key(m) for m in members if m.kind != "ticket"}
    tickets = {_ticket_key(m) for m in members if m.kind == "ticket"}
    return ThemeFrequency(
        participants=len(participants),
        tickets=len(tickets),
        participant_share=_share(len(participants), totals[0]),
        ticket_share=_share(len(tickets), totals[1]),
    )


def theme_score(frequency: ThemeFrequency, severity_mean: float, totals: tuple[int, int]) -> float:
    """SCORE_FORMULA: reach (mean share over the sources present) x mean severity."""
    shares = []
    if totals[0] > 0:
        shares.append(frequency.participants / totals[0])
    if totals[1] > 0:
        shares.append(frequency.tickets / totals[1])
    reach = sum(shares) / len(shares) if shares else 0.0
    return round(reach * severity_mean, _ROUND)


def _segment_counts(
    members: Sequence[PainPointMention], segment_of: Mapping[str, str]
) -> dict[str, int]:
    users: dict[str, set[str]] = defaultdict(set)
    for m in members:
        for key in (m.user_id, m.participant_id):
            if key and key in segment_of:
                users[segment_of[key]].add(key)
                break
    return {segment: len(ids) for segment, ids in sorted(users.items())}


def subject_only(quote: Quote, mention: PainPointMention, subjects: Mapping[str, str]) -> bool:
    """True when a ticket quote is nothing but (part of) the ticket's subject line.

    A subject ("Receipt scan wrong amount") names a topic; it is not a customer saying what
    happened to them, so it never stands as a quote.
    """
    subject = subjects.get(mention.document_id) if mention.kind == "ticket" else None
    return bool(subject) and fold(quote.text) in fold(subject or "")


def _representative_quotes(
    ordered: Sequence[PainPointMention], limit: int, subjects: Mapping[str, str]
) -> list[Quote]:
    """First usable quote of the most central mentions, one per participant or ticket.

    One place is kept for an interview participant when the theme has any: tickets usually
    outnumber interviews, and without it no interview voice would reach the reports.
    """
    seen: set[tuple[str, str]] = set()
    wordings: set[str] = set()
    candidates: list[tuple[Quote, bool]] = []
    voices = any(m.kind != "ticket" for m in ordered)
    for m in ordered:
        if len(candidates) >= limit and (not voices or any(v for _, v in candidates)):
            break  # enough, and the interview place (if any) is filled
        for quote in m.quotes:
            source = _quote_source(quote, m)
            if source in seen or fold(quote.text) in wordings or subject_only(quote, m, subjects):
                continue
            seen.add(source)
            # Tickets often repeat one wording word for word: one copy says it.
            wordings.add(fold(quote.text))
            fill: dict[str, Any] = {}
            if m.kind == "ticket" and quote.ticket_id is None:
                fill["ticket_id"] = _ticket_key(m)
            if m.kind != "ticket" and quote.participant_id is None:
                fill["participant_id"] = _participant_key(m)
            candidates.append((quote.model_copy(update=fill), m.kind != "ticket"))
            break
    picked = candidates[:limit]
    if limit > 0 and not any(voice for _, voice in picked):
        interview = next((c for c in candidates if c[1]), None)
        if interview is not None:
            picked = [*picked[: limit - 1], interview]
    return [quote for quote, _ in picked]


# --------------------------------------------------------------------------- building


# --------------------------------------------------------------------------- building


def central_order(sims: np.ndarray, ids: Sequence[str]) -> list[int]:
    """Row order, most central first: similarity rounded coarsely, ties broken by id.

    Float noise (a vector read back from the store differs by ~1e-8) must not reorder the
    central mentions: they pick the quotes, the namer's statements and so the LLM cache keys.
    """
    rounded = np.round(np.asarray(sims, dtype=np.float64), _SIM_DECIMALS)
    return sorted(range(len(ids)), key=lambda j: (-rounded[j], ids[j]))


def _check(mentions: Sequence[PainPointMention], embeddings: np.ndarray | None) -> None:
    counts = Counter(m.id for m in mentions)
    duplicated = sorted(i for i, c in counts.items() if c > 1)
    if duplicated:
        raise InputError("mentions", f"duplicate mention id {duplicated[0]}")
    if embeddings is not None and (embeddings.ndim != 2 or len(embeddings) != len(mentions)):
        raise InputError(
            "embeddings", f"expected {len(mentions)} rows, got shape {tuple(embeddings.shape)}"
        )


class Consolidator(Protocol):
    """Turns the clustering's candidate themes into final ones (a partition of the same rows)."""

    def consolidate(
        self, units: list[Unit], describe: Describe, vectors: np.ndarray
    ) -> list[Unit]: ...


class Grouper(Protocol):
    """Groups final themes into findings (agent/theme_groups.py); themes it leaves out stand
    alone."""

    def group(self, themes: list[Theme]) -> list[Grouped]: ...


class KeepProposal:
    """Offline: the clustering's candidates are the themes."""

    def consolidate(self, units: list[Unit], describe: Describe, vectors: np.ndarray) -> list[Unit]:
        return units


@dataclass
class _Corpus:
    """One theme build's inputs, with the per-row helpers every stage shares."""

    mentions: list[PainPointMention]
    vectors: np.ndarray
    settings: ThemeSettings
    totals: tuple[int, int]
    product_totals: Mapping[str, tuple[int, int]]
    segment_of: Mapping[str, str]
    subjects: Mapping[str, str]

    def central(self, rows: Sequence[int]) -> list[int]:
        """Rows most central first (cosine to their normalised mean)."""
        rows = sorted(rows, key=lambda i: self.mentions[i].id)
        centroid = normalise(self.vectors[rows].mean(axis=0, keepdims=True))[0]
        order = central_order(self.vectors[rows] @ centroid, [self.mentions[i].id for i in rows])
        return [rows[j] for j in order]

    def describe(self, rows: Sequence[int]) -> UnitView:
        """What a model reads of a candidate: typical statements, a quote, who raised it."""
        ordered = self.central(rows)
        members = [self.mentions[i] for i in ordered]
        shown: list[tuple[int, str]] = []
        seen: set[str] = set()
        for i in ordered:
            text = " ".join(_said(self.mentions[i]).split())
            if fold(text) in seen:
                continue  # tickets repeat one wording word for word: once is enough
            seen.add(fold(text))
            shown.append((i, text))
            if len(shown) == statements_shown(len(ordered)):
                break
        quoted = next(
            ((m, q) for m in members for q in m.quotes if not subject_only(q, m, self.subjects)),
            None,
        )
        frequency = _frequency(members, self.totals)
        # Chunks whose words the view carries: a withdrawal purges the cached answer with them.
        sources = {q.chunk_id for i, _ in shown for q in self.mentions[i].quotes}
        sources |= {self.mentions[i].chunk_id for i, _ in shown}
        if quoted is not None:
            sources.add(quoted[1].chunk_id)
        return UnitView(
            statements=shown,
            quote=" ".join(quoted[1].text.split()) if quoted else "",
            mentions=len(members),
            people=frequency.participants,
            tickets=frequency.tickets,
            sources=tuple(sorted(sources)),
        )

    def totals_for(self, product: str | None) -> tuple[int, int]:
        return self.product_totals.get(product or "", self.totals) if product else self.totals


def propose(
    corpus: _Corpus,
    consolidating: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Unit]:
    """Candidate themes: threshold clustering within each product (rows sorted by id);
    `progress(rows clustered, rows)` after each product."""
    mentions = corpus.mentions
    order = sorted(range(len(mentions)), key=lambda i: mentions[i].id)
    by_product: dict[str, list[int]] = defaultdict(list)
    for i in order:
        by_product[mentions[i].product or ""].append(i)
    units: list[Unit] = []
    done = 0
    if progress:
        progress(0, len(order))
    for product in sorted(by_product):
        rows = by_product[product]
        cut, smoothing = cut_for([mentions[i] for i in rows], corpus.settings, consolidating)
        labels = cluster_vectors(corpus.vectors[rows], cut, smoothing=smoothing)
        groups: dict[int, list[int]] = defaultdict(list)
        for row, label in zip(rows, labels.tolist(), strict=True):
            groups[label].append(row)
        units.extend(Unit(members, product or None) for members in groups.values())
        done += len(rows)
        if progress:
            progress(done, len(order))
    return units


def _candidates(corpus: _Corpus, units: Sequence[Unit]) -> list[ThemeCandidate]:
    """What the offline namer (and the consolidator's labels) read of each unit."""
    from .offline_extract import vocabulary

    topics = {name.lower() for name, _ in vocabulary().categories}
    centrals = [corpus.central(u.members) for u in units]
    terms = distinctive_terms(
        [
            [_said(corpus.mentions[i]) for i in rows]
            # "general" is the offline extractor's "no idea": no term worth a label.
            + [
                corpus.mentions[i].category
                for i in rows
                if corpus.mentions[i].category.strip().lower() != "general"
            ]
            for rows in centrals
        ]
    )
    out = []
    for rows, theme_terms in zip(centrals, terms, strict=True):
        members = [corpus.mentions[i] for i in rows]
        categories = Counter(m.category.strip().lower() for m in members if m.category.strip())
        lead = ""
        if categories:
            top, n = min(categories.items(), key=lambda kv: (-kv[1], kv[0]))
            # An offline category outside the keyword table is one salient word, not a topic.
            named = top in topics or any(
                m.origin != "offline" and m.category.strip().lower() == top for m in members
            )
            if named and n >= 2 and n >= LEAD_SHARE * len(members):
                lead = top
        subjects = [
            corpus.subjects[m.document_id]
            for m in members[:NAMER_STATEMENTS]
            if m.kind == "ticket" and m.document_id in corpus.subjects
        ]
        out.append(
            ThemeCandidate(
                id=content_hash(sorted(m.id for m in members)),
                statements=[_said(m) for m in members[:NAMER_STATEMENTS]],
                quotes=[q.text for m in members[:3] for q in m.quotes[:1]],
                categories=[
                    c for c, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
                terms=theme_terms,
                mentions=len(members),
                lead=lead,
                subjects=list(dict.fromkeys(subjects)),
            )
        )
    return out


def _summarise(corpus: _Corpus, unit: Unit) -> Theme:
    """Counts, severity, score and quotes of one final theme, from its member rows."""
    ordered = corpus.central(unit.members)
    central = [corpus.mentions[i] for i in ordered]
    members = sorted(central, key=lambda m: m.id)
    totals = corpus.totals_for(unit.product)
    frequency = _frequency(members, totals)
    severities = [m.severity for m in members]
    mean = round(sum(severities) / len(severities), _ROUND)
    stages = Counter(m.journey_stage for m in members)
    return Theme(
        id=content_hash(sorted(m.id for m in members)),
        label="",
        description="",
        mention_ids=[m.id for m in members],
        frequency=frequency,
        severity=ThemeSeverity(mean=mean, max=max(severities)),
        score=theme_score(frequency, mean, totals),
        rank=0,
        representative_quotes=_representative_quotes(
            central, corpus.settings.quotes_per_theme, corpus.subjects
        ),
        segment_counts=_segment_counts(members, corpus.segment_of),
        journey_stages=dict(sorted(stages.items())),
        product=unit.product,
        below_min_mentions=len(members) < corpus.settings.min_mentions,
        stale_mentions=sum(m.stale for m in members),
    )


def merge_groups(
    merges: Sequence[tuple[str, str]], previous: ThemeReport | None
) -> dict[str, list[str]]:
    """Each reviewer merge (stored source id, stored target id) as the mention ids it joins.

    The first run after a merge takes them from the two themes (followed through lineage); later
    runs keep the set themes.json recorded, since the merged theme no longer has its halves' ids.
    """
    from .refs import follow

    if previous is None:
        return {}
    earlier = {t.id: t for t in previous.themes}
    out: dict[str, list[str]] = {}
    for source, target in merges:
        key = f"{source}->{target}"
        if key in previous.reviewer_merges:
            out[key] = previous.reviewer_merges[key]
            continue
        held: set[str] = set()
        for stored in (source, target):
            theme = earlier.get(follow(stored, previous.lineage))
            held |= set(theme.mention_ids) if theme else set()
        if held:
            out[key] = sorted(held)
    return out


def apply_merges(
    units: list[Unit], groups: Mapping[str, Sequence[str]], mentions: Sequence[PainPointMention]
) -> list[Unit]:
    """Units joined wherever a reviewer merge's mentions fall in more than one of them (never
    across products)."""
    row_of = {m.id: i for i, m in enumerate(mentions)}
    unit_of = {row: u for u, unit in enumerate(units) for row in unit.members}
    parent = list(range(len(units)))

    def root(u: int) -> int:
        while parent[u] != u:
            u = parent[u]
        return u

    for key in sorted(groups):
        holders = sorted({unit_of[row_of[m]] for m in groups[key] if m in row_of})
        for other in holders[1:]:
            a, b = root(holders[0]), root(other)
            if a != b and units[a].product == units[b].product:
                parent[b] = a
    joined: dict[int, list[int]] = defaultdict(list)
    for u in range(len(units)):
        joined[root(u)].append(u)
    out = []
    for head, members in sorted(joined.items()):
        unit = units[head]
        rows = sorted({r for u in members for r in units[u].members})
        out.append(Unit(rows, unit.product, unit.label, unit.naming, unit.splittable))
    return out


def _name_as_targets(
    units: list[Unit],
    merges: Sequence[tuple[str, str]],
    previous: ThemeReport | None,
    mentions: Sequence[PainPointMention],
) -> None:
    """A merged theme keeps the name of the theme it was merged into, as the reviewer chose
    it (in place; followed through lineage, so later runs keep the name they gave it)."""
    from .refs import follow

    if previous is None:
        return
    earlier = {t.id: t for t in previous.themes}
    row_of = {m.id: i for i, m in enumerate(mentions)}
    for _, target in merges:
        theme = earlier.get(follow(target, previous.lineage))
        if theme is None:
            continue
        rows = {row_of[m] for m in theme.mention_ids if m in row_of}
        holder = max(units, key=lambda u: len(rows & set(u.members)), default=None)
        if holder is not None and rows & set(holder.members):
            holder.label = theme.label
            holder.naming = Naming(theme.label, theme.description, theme.named_by)


def _rank_key(theme: Theme) -> tuple[Any, ...]:
    reach = theme.frequency.participants + theme.frequency.tickets
    return (-theme.score, -theme.severity.max, -reach, -len(theme.mention_ids), theme.id)


def _earlier_naming(theme: Theme, previous: ThemeReport | None) -> Naming | None:
    """A model's name for the same members from the run before (never replaced by less)."""
    if previous is None:
        return None
    mine = set(theme.mention_ids)
    best: tuple[int, str] | None = None
    found: Naming | None = None
    for old in previous.themes:
        if old.named_by == "offline":
            continue
        shared = len(mine & set(old.mention_ids))
        # The earlier theme must be mostly this one, both ways, to lend it its name.
        if 2 * shared > len(mine) and 2 * shared > len(old.mention_ids):
            key = (-shared, old.id)
            if best is None or key < best:
                best, found = key, Naming(old.label, old.description, old.named_by)
    return found


def theme_lineage(previous: ThemeReport | None, themes: Sequence[Theme]) -> dict[str, str]:
    """Earlier theme id -> the current theme that holds most of its mentions.

    Earlier lineage is carried forward through the new map, so an id from three runs ago
    still leads to today's theme; ids whose mentions all left the corpus lead nowhere.
    """
    if previous is None:
        return {}
    current = {t.id for t in themes}
    where = {m: t.id for t in themes for m in t.mention_ids}
    out: dict[str, str] = {}
    for old in previous.themes:
        counts = Counter(where[m] for m in old.mention_ids if m in where)
        if counts:
            target = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            if target != old.id:
                out[old.id] = target
    for old_id, then in previous.lineage.items():
        target = out.get(then, then)
        if target in current and target != old_id and old_id not in out:
            out[old_id] = target
    # An id that is a theme again today (the same members came back) is itself, not a
    # pointer elsewhere: following it must not lead to another theme.
    return {k: v for k, v in sorted(out.items()) if k not in current}


def build_themes(
    mentions: list[PainPointMention],
    embedder: Embedder,
    *,
    total_participants: int,
    total_tickets: int,
    settings: ThemeSettings,
    segment_of: Mapping[str, str] | None = None,
    namer: ThemeNamer | None = None,
    consolidator: Consolidator | None = None,
    embeddings: np.ndarray | None = None,
    subjects: Mapping[str, str] | None = None,
    product_totals: Mapping[str, tuple[int, int]] | None = None,
    previous: ThemeReport | None = None,
    merges: Sequence[tuple[str, str]] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    grouper: Grouper | None = None,
) -> ThemeReport:
    """Mentions -> ranked, named themes: propose (cluster) -> consolidate -> summarise -> rank
    -> name -> group into findings (when a `grouper` is given). `embeddings` rows follow `mentions` order; `progress(stage, done, total)` hears
    about clustering, counting and naming.

    `subjects`: ticket document id -> subject line (see `ticket_subjects`); a quote that is only
    a subject line is never a representative quote. `product_totals`: product -> (participants,
    tickets), so a theme of one product is counted against that product's corpus. `previous`:
    the last themes.json, for lineage and for keeping a model's names when a call fails.
    `merges`: a reviewer's theme merges (stored source id, stored target id), applied after
    consolidation on every run so they stick; themes.json records the mentions each one joins.
    """
    _check(mentions, embeddings)
    if embeddings is None:
        embeddings = mention_vectors(mentions, embedder.embed)
    corpus = _Corpus(
        mentions=mentions,
        vectors=normalise(np.asarray(embeddings)),
        settings=settings,
        totals=(total_participants, total_tickets),
        product_totals=product_totals or {},
        segment_of=segment_of or {},
        subjects=subjects or {},
    )
    consolidating = consolidator is not None and not isinstance(consolidator, KeepProposal)
    units = propose(corpus, consolidating, _stage(progress, "themes cluster"))
    proposed = [(unit, list(unit.members)) for unit in units]
    candidates = _candidates(corpus, units)
    for unit, candidate in zip(units, candidates, strict=True):
        unit.label = offline_naming(candidate, prompt_case=True).label
    units = (consolidator or KeepProposal()).consolidate(units, corpus.describe, corpus.vectors)
    joined = merge_groups(merges or (), previous)
    if joined:
        units = apply_merges(units, joined, mentions)
        _name_as_targets(units, merges or (), previous, mentions)
    counted = _stage(progress, "themes count")
    if counted:
        counted(0, len(units))
    themes = []
    for n, unit in enumerate(units, start=1):
        themes.append(_summarise(corpus, unit))
        if counted and (n % 100 == 0 or n == len(units)):
            counted(n, len(units))
    namings: list[Naming | None] = [u.naming for u in units]
    for i, theme in enumerate(themes):
        if namings[i] is None:
            namings[i] = _earlier_naming(theme, previous)
    unnamed = [i for i, n in enumerate(namings) if n is None]
    if unnamed:
        todo = [units[i] for i in unnamed]
        # Offline every proposed unit stays a theme and none is named yet: the candidates the
        # labels were made from are these very ones (distinctive terms weigh the same units).
        same = len(todo) == len(proposed) and all(
            unit is was and unit.members == members
            for unit, (was, members) in zip(todo, proposed, strict=True)
        )
        fill = (namer or OfflineNamer()).name(candidates if same else _candidates(corpus, todo))
        if len(fill) != len(unnamed):
            raise ValueError(f"namer returned {len(fill)} names for {len(unnamed)} themes")
        for i, naming in zip(unnamed, fill, strict=True):
            namings[i] = naming
    named = []
    for theme, naming in zip(themes, namings, strict=True):
        assert naming is not None
        named.append(
            theme.model_copy(
                update={
                    "label": naming.label,
                    "description": naming.description,
                    "named_by": naming.named_by,
                }
            )
        )
    named.sort(key=_rank_key)
    ranked = [t.model_copy(update={"rank": r}) for r, t in enumerate(named, start=1)]
    if len({t.product for t in ranked}) > 1:
        within: Counter[str | None] = Counter()
        for i, theme in enumerate(ranked):
            within[theme.product] += 1
            ranked[i] = theme.model_copy(update={"product_rank": within[theme.product]})
    # Findings only over consolidated themes: while the consolidation waits on a host answer,
    # the themes are the clustering's candidates and grouping them would be asked again.
    waiting = getattr(consolidator, "pending", None) is not None
    groups = findings(corpus, ranked, grouper.group(ranked)) if grouper and not waiting else []
    return ThemeReport(
        themes=ranked,
        total_participants=total_participants,
        total_tickets=total_tickets,
        total_mentions=len(mentions),
        embedder=str(getattr(embedder, "name", "unknown")),
        score_formula=SCORE_FORMULA,
        settings={
            "distance_threshold": cut_for(mentions, settings, consolidating)[0],
            "neighbour_smoothing": cut_for(mentions, settings, consolidating)[1],
            "min_mentions": settings.min_mentions,
            "quotes_per_theme": settings.quotes_per_theme,
            "linkage": "average",
            "metric": "cosine",
            "vector": VECTOR_RECIPE,
            "exact_limit": EXACT_LIMIT,
            "consolidation": "none"
            if consolidator is None or isinstance(consolidator, KeepProposal)
            else "model",
        },
        product_totals={
            p: CorpusTotals(participants=a, tickets=b)
            for p, (a, b) in sorted((product_totals or {}).items())
        },
        lineage=theme_lineage(previous, ranked),
        reviewer_merges=joined,
        stale_mentions=sum(m.stale for m in mentions),
        groups=groups,
    )


def findings(corpus: _Corpus, themes: list[Theme], grouped: Sequence[Grouped]) -> list[ThemeGroup]:
    """Each finding counted like a theme over the union of its themes' mentions, ranked."""
    by_id = {t.id: t for t in themes}
    row_of = {m.id: i for i, m in enumerate(corpus.mentions)}
    summed: list[tuple[Theme, Grouped]] = []
    for group in grouped:
        held = [by_id[t] for t in group.theme_ids]
        rows = sorted(row_of[m] for t in held for m in t.mention_ids)
        unit = Unit(rows, held[0].product, group.naming.label, group.naming, splittable=False)
        summed.append((_summarise(corpus, unit), group))
    summed.sort(key=lambda pair: _rank_key(pair[0]))
    return [
        ThemeGroup(
            id=summary.id,
            label=group.naming.label,
            description=group.naming.description,
            # Most important theme first, as the report lists them.
            theme_ids=sorted(group.theme_ids, key=lambda t: by_id[t].rank),
            frequency=summary.frequency,
            severity=summary.severity,
            score=summary.score,
            rank=rank,
            product=summary.product,
            named_by=group.naming.named_by,
        )
        for rank, (summary, group) in enumerate(summed, start=1)
    ]


# --------------------------------------------------------------------------- workspace step


def _product_of(row: Mapping[str, Any]) -> str:
    return product_in(row.get("metadata") or {}) or ""


def corpus_counts(workspace: Workspace) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """(participants, tickets) in the ingested corpus, overall and per product (when the
    documents carry a product or app field)."""
    path = workspace.documents if workspace.documents.exists() else workspace.chunks
    participants: set[str] = set()
    tickets: set[str] = set()
    per: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    if not path.exists():
        return (0, 0), {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            # Raw JSON, not the models: a million tickets parse in seconds this way.
            row = json.loads(line)
            doc = row.get("document_id") or row.get("id")
            product = _product_of(row)
            if row.get("kind") == "ticket":
                key = row.get("ticket_id") or doc
                tickets.add(key)
                if product:
                    per[product][1].add(key)
            else:
                key = row.get("participant_id") or doc
                participants.add(key)
                if product:
                    per[product][0].add(key)
    products = {p: (len(a), len(b)) for p, (a, b) in sorted(per.items())}
    return (len(participants), len(tickets)), products


def corpus_totals(workspace: Workspace) -> tuple[int, int]:
    """Distinct participants (interviews, surveys) and tickets in the ingested corpus."""
    return corpus_counts(workspace)[0]


_ID_MARK = '"id": "'


def ticket_subjects(workspace: Workspace, document_ids: set[str]) -> dict[str, str]:
    """Subject line of each wanted ticket document that has one (a subject and a body turn)."""
    out: dict[str, str] = {}
    path = workspace.documents
    if not document_ids or not path.exists():
        return out
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            # Keys are written sorted, so the first `"id": "` is the document's own id: lines
            # of other documents are skipped without parsing (a ticket corpus can be huge).
            at = line.find(_ID_MARK)
            if at < 0:
                continue
            start = at + len(_ID_MARK)
            if line[start : line.find('"', start)] not in document_ids:
                continue
            row = json.loads(line)
            turns = row.get("turns") or []
            # A ticket is read as [subject, body]; a single turn is the only text there is.
            if row.get("kind") == "ticket" and len(turns) >= 2:
                out[row["id"]] = str(turns[0].get("text", ""))
    return out


# Texts embedded per block when the themes step embeds (progress is reported per block).
EMBED_BLOCK = 256
# The evidence store's collections this step reads (named as in agent/ingest.py).
CHUNKS = "chunks"
MENTIONS = "mentions"


@dataclass
class CachedEmbed:
    """Embeds texts through the evidence store: a text is never embedded twice.

    `sources` maps a text to the chunk whose words it is (an offline mention's context is its
    chunk's text): ingest stored that chunk's vector, which is read back instead of embedding
    the text again. Other texts go through the store's `mentions` collection, a cache keyed by
    a hash of embedder and text.
    """

    settings: Settings
    workspace: Workspace
    embedder: Embedder
    sources: Mapping[str, str] = field(default_factory=dict)
    progress: Callable[[int, int], None] | None = None
    hits: int = 0
    reused: int = 0
    embedded: int = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        try:
            from .store import open_store
        except ImportError:  # the store is optional for this step: embed without a cache
            return self.embedder.embed(texts)
        store = open_store(self.settings, self.workspace)
        # Each distinct text's row in the answer; vectors go straight into it as they arrive.
        rows: dict[str, list[int]] = defaultdict(list)
        for i, text in enumerate(texts):
            rows[text].append(i)
        out: np.ndarray | None = None

        def put(text: str, vector: np.ndarray) -> None:
            nonlocal out
            if out is None:
                out = np.zeros((len(texts), len(vector)), dtype=np.float32)
            out[rows[text]] = vector

        done: set[str] = set()
        wanted = {self.sources[t]: t for t in rows if t in self.sources}
        if wanted:
            # Bit for bit the vector ingest computed for these words: the model's output does
            # not depend on the batch a text is embedded in (tests/test_rerun.py checks it).
            for chunk, vector in store.vectors_of_texts(CHUNKS, wanted).items():
                put(wanted[chunk], vector)
                done.add(wanted[chunk])
            self.reused += len(done)
        rest = [t for t in rows if t not in done]
        keys = {t: content_hash([self.embedder.name, t]) for t in rest}
        cached = store.get_embeddings(MENTIONS, list(keys.values()))
        missing = [t for t in rest if keys[t] not in cached]
        self.hits += len(rest) - len(missing)
        for t in rest:
            if keys[t] in cached:
                put(t, cached[keys[t]])
        del cached
        # Short texts first, as the embedder batches them, so each block pads little.
        missing.sort(key=len)
        if self.progress and missing:
            self.progress(0, len(missing))
        for begin in range(0, len(missing), EMBED_BLOCK):
            block = missing[begin : begin + EMBED_BLOCK]
            fresh = self.embedder.embed(block)
            ids = [keys[t] for t in block]
            store.upsert(
                MENTIONS,
                ids=ids,
                # Vectors by hashed key only: the cache holds no participant's words.
                texts=None,
                embeddings=fresh,
                metadatas=[{"embedder": self.embedder.name} for _ in block],
            )
            # The store may hand back a vector one float32 ulp away from what went in (measured:
            # 1.5e-8 with MiniLM); reading the fresh ones back makes the first run cluster on
            # exactly the vectors every later run reads from the cache.
            back = store.get_embeddings(MENTIONS, ids)
            for j, t in enumerate(block):
                put(t, back.get(keys[t], fresh[j]))
            self.embedded += len(block)
            if self.progress:
                self.progress(begin + len(block), len(missing))
        assert out is not None
        return out


def _segment_map(workspace: Workspace) -> dict[str, str]:
    if not workspace.assignments.exists():
        return {}
    try:
        from .segment import load_assignments
    except ImportError:
        return {}
    return {str(k): str(v) for k, v in dict(load_assignments(workspace)).items()}


@writes_workspace("themes")
def run_themes(
    settings: Settings,
    workspace: Workspace,
    provider: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> StepSummary:
    """`persona themes`: mentions.jsonl -> themes.json; consolidated and named by the model in
    openai/host mode, by the clustering and offline labels otherwise.

    Offline, themes.json is kept as it is when nothing it was built from changed (agent/rerun.py).
    """
    started = time.perf_counter()
    if not workspace.mentions.exists():
        raise InputError(str(workspace.mentions), "no mentions yet: run `persona extract` first")
    mode = provider or settings.llm.resolved_provider()
    inputs = ""
    if mode not in ("openai", "host"):
        from .rerun import kept

        # A model's answers (and failures) are not a function of the files: only offline skips.
        inputs = _offline_inputs(settings, workspace)
        unchanged = kept(workspace, STEP, inputs)
        if unchanged is not None:
            unchanged.seconds = round(time.perf_counter() - started, 3)
            return unchanged
    from .rerun import forget, record

    forget(workspace, STEP)
    mentions = read_models(workspace.mentions, PainPointMention)
    (participants, tickets), per_product = corpus_counts(workspace)
    embedder = get_embedder(settings.embeddings, settings.llm)
    cached_embed = CachedEmbed(
        settings,
        workspace,
        embedder,
        # An offline mention's context is its chunk's text: ingest has its vector already.
        sources={m.context: m.chunk_id for m in mentions if m.context},
        progress=_stage(progress, "themes embed"),
    )
    vectors = mention_vectors(mentions, cached_embed)
    consolidator = (
        LLMConsolidator(settings, workspace, mode, embed=cached_embed)
        if mode in ("openai", "host")
        else None
    )
    grouper = LLMGrouper(settings, workspace, mode) if consolidator is not None else None
    previous = None
    if workspace.themes.exists():
        try:
            previous = ThemeReport.model_validate(read_json(workspace.themes))
        except ValueError:
            previous = None  # an unreadable earlier file lends nothing; it is rewritten below
    store = _review_store(workspace)
    report = build_themes(
        mentions,
        embedder,
        total_participants=participants,
        total_tickets=tickets,
        settings=settings.themes,
        segment_of=_segment_map(workspace),
        consolidator=consolidator,
        embeddings=vectors,
        subjects=ticket_subjects(
            workspace, {m.document_id for m in mentions if m.kind == "ticket"}
        ),
        product_totals=per_product if len(per_product) > 1 else None,
        previous=previous,
        merges=_reviewer_merges(store),
        progress=progress,
        grouper=grouper,
    )
    report = _with_reviewer_names(report, store)
    write_json(workspace.themes, report)
    summary = _summary(report, workspace.themes, cached_embed, time.perf_counter() - started)
    summary.mode = consolidator.mode if consolidator is not None else "offline"
    if consolidator is not None and grouper is not None:
        summary.failures.extend(consolidator.failures + grouper.failures)
        summary.counts["consolidation_calls"] = consolidator.calls
        summary.tokens["consolidation"] = consolidator.tokens
        summary.counts["theme_groups"] = len(report.groups)
        summary.counts["grouping_calls"] = grouper.calls
        summary.tokens["grouping"] = grouper.tokens
        # Candidates stand in for failed calls, but the run must still say calls failed.
        summary.ok = not consolidator.failures and not grouper.failures
        if consolidator.failures:
            summary.notes.append(
                f"{len(consolidator.failures)} consolidation call(s) failed: their candidates are "
                "themes as clustered, named as last time where the members match; re-run to retry"
            )
        for product, count in sorted(grouper.left_out.items()):
            summary.notes.append(
                f"{count} theme(s) of {product or 'the corpus'} beyond its {grouper.bound()} "
                "most important were not grouped: they stand alone"
            )
        if grouper.failures:
            summary.notes.append(
                f"{len(grouper.failures)} grouping call(s) failed: those themes are listed "
                "without findings above them; re-run to retry"
            )
        if consolidator.pending is not None:
            # themes.json holds the unconsolidated candidates until the host answers.
            raise consolidator.pending
        if grouper.pending is not None:
            # themes.json holds the final themes; their findings follow the host's answer.
            raise grouper.pending
    if inputs:
        # Replayed by a run that embeds nothing: the counts of work done are that run's, 0.
        again = summary.model_copy(deep=True)
        again.counts.update(embeddings_cached=0, chunk_vectors_reused=0, texts_embedded=0)
        record(workspace, STEP, inputs, [workspace.themes], again)
    return summary


def _review_store(workspace: Workspace) -> DecisionStore | None:
    """The reviewers' decisions (read once per build), or None when nobody reviewed yet."""
    from .decisions import load_store, store_path

    return load_store(workspace) if store_path(workspace).exists() else None


def _with_reviewer_names(report: ThemeReport, store: DecisionStore | None) -> ThemeReport:
    """The report with reviewers' renames as the labels, so drafts written from themes.json
    and `persona themes` use the reviewer's name, not only the reports."""
    from .decisions import resolve_themes
    from .library import renamed

    if store is None:
        return report
    return renamed(report, resolve_themes(store, report.lineage)) or report


def _reviewer_merges(store: DecisionStore | None) -> list[tuple[str, str]]:
    """Theme merges a reviewer decided, as stored (source id, target id), oldest first."""
    if store is None:
        return []
    return [
        (source, d.merged_into)
        for source, d in sorted(store.themes.items(), key=lambda kv: kv[1].rev)
        if d.merged_into
    ]


STEP = "themes"


def _offline_inputs(settings: Settings, workspace: Workspace) -> str:
    """Fingerprint of everything an offline theme build reads (themes.json itself is the
    output: rerun.kept checks it is still the file this step wrote)."""
    from .decisions import store_path
    from .rerun import fingerprint

    # The review store: a reviewer's theme merges are applied on every build.
    files = [
        workspace.mentions,
        workspace.documents,
        workspace.chunks,
        workspace.assignments,
        store_path(workspace),
    ]
    used = {
        "mode": "offline",
        "themes": settings.themes.model_dump(mode="json"),
        "embeddings": settings.embeddings.model_dump(mode="json"),
    }
    return fingerprint(workspace, files, used)


def _stage(
    progress: Callable[[str, int, int], None] | None, name: str
) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(name, done, total)


def _summary(report: ThemeReport, path: Path, embed: CachedEmbed, seconds: float) -> StepSummary:
    themes = report.themes
    singletons = sum(1 for t in themes if len(t.mention_ids) == 1)
    notes = ["score = reach x mean severity (the full formula is in themes.json)"]
    if report.total_participants + report.total_tickets == 0:
        notes.append("no documents.jsonl or chunks.jsonl: shares are 0 (run `persona ingest`)")
    return StepSummary(
        step="themes",
        counts={
            "mentions": report.total_mentions,
            "themes": len(themes),
            "singleton_themes": singletons,
            "below_min_mentions": sum(1 for t in themes if t.below_min_mentions),
            "llm_named": sum(1 for t in themes if t.named_by != "offline"),
            "stale_mentions": report.stale_mentions,
            "embeddings_cached": embed.hits,
            "chunk_vectors_reused": embed.reused,
            "texts_embedded": embed.embedded,
            "participants": report.total_participants,
            "tickets": report.total_tickets,
        },
        seconds=round(seconds, 3),
        outputs={"themes": str(path)},
        notes=notes,
    )


__all__ = [
    "SCORE_FORMULA",
    "Consolidator",
    "KeepProposal",
    "Naming",
    "OfflineNamer",
    "ThemeCandidate",
    "ThemeNamer",
    "build_themes",
    "central_order",
    "corpus_counts",
    "corpus_totals",
    "distinctive_terms",
    "mention_vectors",
    "run_themes",
    "subject_only",
    "theme_score",
    "ticket_subjects",
]
