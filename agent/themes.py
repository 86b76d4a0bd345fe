"""Pain-point themes: cluster mentions by meaning, count who has each pain, rank, name.

Deterministic for the same mentions and settings: mentions are sorted by id before clustering,
ids are content hashes of member ids, every float is rounded and every ordering has a tie-break.
Every mention lands in exactly one theme; a mention near no other is a theme of its own.
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
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .cluster import EXACT_LIMIT, cluster_vectors, normalise
from .config import Settings, ThemeSettings
from .embeddings import Embedder, get_embedder
from .errors import BudgetExceeded, HostPending, InputError, LLMError
from .grounding import fold
from .host import register_response_model
from .ids import content_hash
from .lock import writes_workspace
from .models import (
    CallFailure,
    LLMMode,
    PainPointMention,
    Quote,
    StepSummary,
    Theme,
    ThemeFrequency,
    ThemeReport,
    ThemeSeverity,
)
from .workspace import Workspace, read_models, write_json

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
# Most statements an LLM namer sees per theme (the most central ones).
NAMER_STATEMENTS = 12
# Share of a theme's mentions that must carry one category for an offline label to lead with it.
LEAD_SHARE = 0.4
# Themes an LLM names per run (top-ranked, 2+ mentions); the rest keep offline names.
LLM_NAME_LIMIT = 100
_ROUND = 4
_SIM_DECIMALS = 4
STEP = "name_themes"


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


def threshold_for(mentions: Sequence[PainPointMention], settings: ThemeSettings) -> float:
    """Whole-chunk contexts sit closer together than one-sentence statements: their own cut."""
    if mentions and all(m.context for m in mentions):
        return settings.context_distance_threshold
    return settings.distance_threshold


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
    rows = []
    for m, window in zip(mentions, windows, strict=True):
        vector = table[embedding_text(m)].copy()
        if window:
            vector += WINDOW_WEIGHT * table[window]
        weight = category_weight(m)
        if weight > 0:
            vector += weight * table[m.category.strip()]
        rows.append(vector)
    return normalise(np.stack(rows))


# --------------------------------------------------------------------------- naming


@register_response_model
class ThemeName(BaseModel):
    """A name for one group of customer pain-point statements that share a cause."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(
        max_length=80,
        description="3-7 words naming the shared pain, e.g. 'Bank sync drops transactions'",
    )
    description: str = Field(
        max_length=400,
        description="One or two sentences: what goes wrong and its effect, using only the "
        "statements given",
    )


@dataclass(frozen=True)
class ThemeCandidate:
    """What a namer sees of one theme: central statements first, plus distinctive terms."""

    id: str
    statements: list[str]
    quotes: list[str]
    categories: list[str]
    terms: list[str]
    mentions: int
    # Chunks the statements and quotes come from (for purging a withdrawn participant's text).
    sources: tuple[str, ...] = ()
    # The category a clear share of the members have, when it names a topic (offline labels
    # lead with it: "Bank sync: feed / reconnect" reads better than three loose terms).
    lead: str = ""


@dataclass(frozen=True)
class Naming:
    label: str
    description: str
    named_by: LLMMode = "offline"


class ThemeNamer(Protocol):
    """Names themes; must return one Naming per candidate, in order."""

    def name(self, candidates: Sequence[ThemeCandidate]) -> list[Naming]: ...


def offline_naming(candidate: ThemeCandidate) -> Naming:
    """Label from the lead category and distinctive terms; description = the central statement."""
    if candidate.lead:
        lead_stems = {_stem(w) for w in re.findall(r"[a-z0-9'-]+", candidate.lead.lower())}
        rest = [t for t in candidate.terms if not {_stem(w) for w in t.split()} & lead_stems]
        detail = _label_from_terms(rest, limit=2)
        lead = candidate.lead[:1].upper() + candidate.lead[1:]
        label = f"{lead}: {detail[:1].lower() + detail[1:]}" if detail else lead
    else:
        label = _label_from_terms(candidate.terms) or _shorten(candidate.statements[0], 8)
    return Naming(label=label, description=candidate.statements[0], named_by="offline")


class OfflineNamer:
    """Deterministic names from c-TF-IDF terms: no model, no network."""

    def name(self, candidates: Sequence[ThemeCandidate]) -> list[Naming]:
        return [offline_naming(c) for c in candidates]


@dataclass
class LLMNamer:
    """Names the top themes with the LLM (cached by the runner); any failure keeps the offline name."""

    settings: Settings
    workspace: Workspace
    provider: str | None = None
    limit: int = LLM_NAME_LIMIT
    failures: list[CallFailure] = field(default_factory=list)
    pending: HostPending | None = None

    def name(self, candidates: Sequence[ThemeCandidate]) -> list[Naming]:
        names = [offline_naming(c) for c in candidates]
        chosen = [i for i, c in enumerate(candidates) if c.mentions >= 2][: self.limit]
        if not chosen:
            return names
        from .llm import LLMRequest, LLMRunner

        requests = [
            LLMRequest(
                step=STEP,
                prompt="name_theme",
                variables={
                    "statements": candidates[i].statements,
                    "quotes": candidates[i].quotes,
                    "terms": candidates[i].terms,
                    "categories": candidates[i].categories,
                },
                response_model=ThemeName,
                context={},
                sources=candidates[i].sources,
            )
            for i in chosen
        ]
        mode = self._mode()
        try:
            results = LLMRunner(self.settings, self.workspace, self.provider).run(requests)
        except HostPending as exc:
            # Host mode: requests are written for the calling agent; offline names until answered.
            self.pending = exc
            return names
        except (LLMError, BudgetExceeded) as exc:
            # Names are the one LLM-optional part of themes: keep the offline ones, say why.
            self.failures.append(CallFailure(request_id="*", step=STEP, error=str(exc)))
            return names
        for i, result in zip(chosen, results, strict=True):
            if result.error or not isinstance(result.value, ThemeName):
                error = result.error or "no value"
                self.failures.append(
                    CallFailure(request_id=result.request_id, step=STEP, error=error)
                )
                continue
            value = result.value
            names[i] = Naming(value.label.strip(), value.description.strip(), named_by=mode)
        return names

    def _mode(self) -> LLMMode:
        provider = self.provider or self.settings.llm.resolved_provider()
        return "host" if provider == "host" else "openai"


# Words that say "this is a complaint" rather than what it is about.
_FILLER_WORDS = (
    "really just like get gets got thing things lot also even still ve ll don doesn didn isn won "
    "can t s re m d bit kind sort way actually basically literally pretty quite "
    "i've i'd i'm i'll it's that's there's we're we've they're you're don't doesn't didn't "
    "can't won't isn't wasn't aren't couldn't wouldn't let's"
)
_FILLER = frozenset(_FILLER_WORDS.split())


_SENTENCE_BREAK = re.compile(r"[.!?;:\n]+")


def distinctive_terms(groups: Sequence[Sequence[str]], top: int = 8) -> list[list[str]]:
    """Per group of texts (one group per theme), its top terms by class-based TF-IDF.

    BERTopic's c-TF-IDF: a term's frequency in the group, times log(1 + average group size /
    the term's frequency over all groups). Bigrams are counted within a sentence only.
    """
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    sentences: list[str] = []
    owner: list[int] = []
    for g, texts in enumerate(groups):
        for text in texts:
            parts = [p for p in _SENTENCE_BREAK.split(text) if p.strip()]
            sentences.extend(parts)
            owner.extend([g] * len(parts))
    if not sentences:
        return [[] for _ in groups]
    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | _FILLER),
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9'-]*[a-zA-Z0-9]\b",
    )
    try:
        per_sentence = vectorizer.fit_transform(sentences)
    except ValueError:  # nothing but stop words
        return [[] for _ in groups]
    membership = csr_matrix(
        (np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(len(groups), len(owner))
    )
    counts = (membership @ per_sentence).tocsr().astype(np.float64)
    vocab = vectorizer.get_feature_names_out()
    term_totals = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = counts.sum() / max(counts.shape[0], 1)
    idf = np.log1p(avg_words / np.maximum(term_totals, 1.0))
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    out: list[list[str]] = []
    for r in range(counts.shape[0]):
        start, end = counts.indptr[r], counts.indptr[r + 1]
        cols, vals = counts.indices[start:end], counts.data[start:end]
        scores = np.round(vals / max(row_sums[r], 1.0) * idf[cols], 9)
        ranked = sorted(
            zip(scores.tolist(), vocab[cols].tolist(), strict=True), key=lambda sv: (-sv[0], sv[1])
        )
        out.append([term for _, term in ranked[:top]])
    return out


def _stem(word: str) -> str:
    """Crude suffix strip, only to see that 'feed' and 'feeds' say the same thing."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _label_from_terms(terms: Sequence[str], limit: int = 3) -> str:
    """Up to `limit` non-overlapping terms; a word gives way to the best bigram holding it."""
    bigrams = [t for t in terms if " " in t]
    chosen: list[str] = []
    covered: set[str] = set()
    for term in terms:
        options = [term]
        if " " not in term:
            options = [b for b in bigrams if _stem(term) in {_stem(w) for w in b.split()}][:1]
            options.append(term)
        for option in options:
            stems = {_stem(w) for w in option.split()}
            if not stems & covered:
                chosen.append(option)
                covered |= stems
                break
        if len(chosen) == limit:
            break
    label = " / ".join(chosen)
    return label[:1].upper() + label[1:]


def _said(m: PainPointMention) -> str:
    """The text a theme is named from: an LLM's statement, or an offline mention's own quote.

    Offline statements open with a cue label ("Something fails or breaks (bank sync): ...")
    that every theme shares; the quote is the customer's sentence without it.
    """
    if m.origin == "offline" and m.quotes:
        return m.quotes[0].text
    return m.statement


def _shorten(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


# --------------------------------------------------------------------------- counting


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


@dataclass
class _Draft:
    members: list[PainPointMention]
    central: list[PainPointMention]
    product: str | None
    theme: Theme | None = None


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


def build_themes(
    mentions: list[PainPointMention],
    embedder: Embedder,
    *,
    total_participants: int,
    total_tickets: int,
    settings: ThemeSettings,
    segment_of: Mapping[str, str] | None = None,
    namer: ThemeNamer | None = None,
    embeddings: np.ndarray | None = None,
    subjects: Mapping[str, str] | None = None,
) -> ThemeReport:
    """Cluster mentions into ranked, named themes; `embeddings` rows follow `mentions` order.

    `subjects`: ticket document id -> subject line (see `ticket_subjects`); a quote that is only
    a subject line is never a representative quote.
    """
    _check(mentions, embeddings)
    if embeddings is None:
        embeddings = mention_vectors(mentions, embedder.embed)
    vectors = normalise(np.asarray(embeddings))
    order = sorted(range(len(mentions)), key=lambda i: mentions[i].id)
    by_product: dict[str, list[int]] = defaultdict(list)
    for i in order:
        by_product[mentions[i].product or ""].append(i)
    totals = (total_participants, total_tickets)
    drafts: list[_Draft] = []
    for product in sorted(by_product):
        rows = by_product[product]
        labels = cluster_vectors(
            vectors[rows], threshold_for([mentions[i] for i in rows], settings)
        )
        groups: dict[int, list[int]] = defaultdict(list)
        for row, label in zip(rows, labels.tolist(), strict=True):
            groups[label].append(row)
        for members in groups.values():
            centroid = normalise(vectors[members].mean(axis=0, keepdims=True))[0]
            order = central_order(vectors[members] @ centroid, [mentions[i].id for i in members])
            central = [mentions[members[j]] for j in order]
            drafts.append(
                _Draft(
                    members=sorted((mentions[i] for i in members), key=lambda m: m.id),
                    central=central,
                    product=product or None,
                )
            )
    for draft in drafts:
        draft.theme = _theme(draft, totals, settings, segment_of or {}, subjects or {})
    drafts.sort(key=lambda d: _rank_key(d.theme))  # type: ignore[arg-type]
    _name(drafts, namer or OfflineNamer())
    themes = []
    for rank, draft in enumerate(drafts, start=1):
        assert draft.theme is not None
        themes.append(draft.theme.model_copy(update={"rank": rank}))
    return ThemeReport(
        themes=themes,
        total_participants=total_participants,
        total_tickets=total_tickets,
        total_mentions=len(mentions),
        embedder=str(getattr(embedder, "name", "unknown")),
        score_formula=SCORE_FORMULA,
        settings={
            "distance_threshold": threshold_for(mentions, settings),
            "min_mentions": settings.min_mentions,
            "quotes_per_theme": settings.quotes_per_theme,
            "linkage": "average",
            "metric": "cosine",
            "vector": VECTOR_RECIPE,
            "exact_limit": EXACT_LIMIT,
        },
    )


def _theme(
    draft: _Draft,
    totals: tuple[int, int],
    settings: ThemeSettings,
    segment_of: Mapping[str, str],
    subjects: Mapping[str, str],
) -> Theme:
    members = draft.members
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
            draft.central, settings.quotes_per_theme, subjects
        ),
        segment_counts=_segment_counts(members, segment_of),
        journey_stages=dict(sorted(stages.items())),
        product=draft.product,
        below_min_mentions=len(members) < settings.min_mentions,
    )


def _rank_key(theme: Theme) -> tuple[Any, ...]:
    reach = theme.frequency.participants + theme.frequency.tickets
    return (-theme.score, -theme.severity.max, -reach, -len(theme.mention_ids), theme.id)


def _name(drafts: list[_Draft], namer: ThemeNamer) -> None:
    from .offline_extract import vocabulary

    topics = {name.lower() for name, _ in vocabulary().categories}
    terms = distinctive_terms(
        [
            [_said(m) for m in d.members]
            # "general" is the offline extractor's "no idea": no term worth a label.
            + [m.category for m in d.members if m.category.strip().lower() != "general"]
            for d in drafts
        ]
    )
    candidates = []
    for draft, theme_terms in zip(drafts, terms, strict=True):
        assert draft.theme is not None
        categories = Counter(
            m.category.strip().lower() for m in draft.members if m.category.strip()
        )
        lead = ""
        if categories:
            top, n = min(categories.items(), key=lambda kv: (-kv[1], kv[0]))
            # An offline category outside the keyword table is one salient word, not a topic.
            named = top in topics or any(
                m.origin != "offline" and m.category.strip().lower() == top for m in draft.members
            )
            if named and n >= 2 and n >= LEAD_SHARE * len(draft.members):
                lead = top
        candidates.append(
            ThemeCandidate(
                id=draft.theme.id,
                statements=[_said(m) for m in draft.central[:NAMER_STATEMENTS]],
                quotes=[q.text for q in draft.theme.representative_quotes],
                categories=[
                    c for c, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
                terms=theme_terms,
                mentions=len(draft.members),
                lead=lead,
                sources=tuple(
                    sorted(
                        {m.chunk_id for m in draft.members}
                        | {q.chunk_id for m in draft.members for q in m.quotes}
                    )
                ),
            )
        )
    namings = namer.name(candidates)
    if len(namings) != len(candidates):
        raise ValueError(f"namer returned {len(namings)} names for {len(candidates)} themes")
    for draft, naming in zip(drafts, namings, strict=True):
        assert draft.theme is not None
        draft.theme = draft.theme.model_copy(
            update={
                "label": naming.label,
                "description": naming.description,
                "named_by": naming.named_by,
            }
        )


# --------------------------------------------------------------------------- workspace step


def corpus_totals(workspace: Workspace) -> tuple[int, int]:
    """Distinct participants (interviews, surveys) and tickets in the ingested corpus."""
    path = workspace.documents if workspace.documents.exists() else workspace.chunks
    participants: set[str] = set()
    tickets: set[str] = set()
    if not path.exists():
        return 0, 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            # Raw JSON, not the models: a million tickets parse in seconds this way.
            row = json.loads(line)
            doc = row.get("document_id") or row.get("id")
            if row.get("kind") == "ticket":
                tickets.add(row.get("ticket_id") or doc)
            else:
                participants.add(row.get("participant_id") or doc)
    return len(participants), len(tickets)


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


@dataclass
class CachedEmbed:
    """Embeds texts through the store's `mentions` collection: a text is never embedded twice."""

    settings: Settings
    workspace: Workspace
    embedder: Embedder
    hits: int = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        keys = [content_hash([self.embedder.name, t]) for t in texts]
        try:
            from .store import open_store
        except ImportError:  # the store is optional for this step: embed without a cache
            return self.embedder.embed(texts)
        store = open_store(self.settings, self.workspace)
        cached = store.get_embeddings("mentions", keys)
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in cached]
        self.hits += len(keys) - len(missing)
        if missing:
            fresh = self.embedder.embed([t for _, t in missing])
            store.upsert(
                "mentions",
                ids=[k for k, _ in missing],
                # Vectors by hashed key only: the cache holds no participant's words.
                texts=None,
                embeddings=fresh,
                metadatas=[{"embedder": self.embedder.name} for _ in missing],
            )
            # The store may hand back a vector one float32 ulp away from what went in (measured:
            # 1.5e-8 with MiniLM); reading the fresh ones back makes the first run cluster on
            # exactly the vectors every later run reads from the cache.
            stored = store.get_embeddings("mentions", [k for k, _ in missing])
            cached.update({k: stored.get(k, fresh[j]) for j, (k, _) in enumerate(missing)})
        return np.stack([cached[k] for k in keys])


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
    settings: Settings, workspace: Workspace, provider: str | None = None
) -> StepSummary:
    """`persona themes`: mentions.jsonl -> themes.json, names by the LLM only in openai/host mode."""
    started = time.perf_counter()
    if not workspace.mentions.exists():
        raise InputError(str(workspace.mentions), "no mentions yet: run `persona extract` first")
    mentions = read_models(workspace.mentions, PainPointMention)
    participants, tickets = corpus_totals(workspace)
    embedder = get_embedder(settings.embeddings, settings.llm)
    cached_embed = CachedEmbed(settings, workspace, embedder)
    vectors = mention_vectors(mentions, cached_embed)
    mode = provider or settings.llm.resolved_provider()
    namer: OfflineNamer | LLMNamer = (
        LLMNamer(settings, workspace, mode) if mode in ("openai", "host") else OfflineNamer()
    )
    report = build_themes(
        mentions,
        embedder,
        total_participants=participants,
        total_tickets=tickets,
        settings=settings.themes,
        segment_of=_segment_map(workspace),
        namer=namer,
        embeddings=vectors,
        subjects=ticket_subjects(
            workspace, {m.document_id for m in mentions if m.kind == "ticket"}
        ),
    )
    write_json(workspace.themes, report)
    summary = _summary(report, workspace.themes, cached_embed.hits, time.perf_counter() - started)
    summary.mode = "offline" if isinstance(namer, OfflineNamer) else namer._mode()
    if isinstance(namer, LLMNamer):
        summary.failures.extend(namer.failures)
        # Offline names stand in for failed calls, but the run must still say calls failed.
        summary.ok = not namer.failures
        if namer.pending is not None:
            # themes.json is written with offline names; the host answers, then re-runs.
            raise namer.pending
    return summary


def _summary(report: ThemeReport, path: Path, cache_hits: int, seconds: float) -> StepSummary:
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
            "embeddings_cached": cache_hits,
            "participants": report.total_participants,
            "tickets": report.total_tickets,
        },
        seconds=round(seconds, 3),
        outputs={"themes": str(path)},
        notes=notes,
    )


__all__ = [
    "SCORE_FORMULA",
    "LLMNamer",
    "Naming",
    "OfflineNamer",
    "ThemeCandidate",
    "ThemeName",
    "ThemeNamer",
    "build_themes",
    "central_order",
    "corpus_totals",
    "distinctive_terms",
    "mention_vectors",
    "run_themes",
    "subject_only",
    "theme_score",
    "ticket_subjects",
]
