"""`persona extract`: chunks -> PainPointMentions, through the LLM (or offline cues).

Quotable chunks (participants, customers) are packed into requests within an input budget and
an output budget (the answer copies its quotes out, so it grows with the input): whole
interviews or many tickets per request, a long interview cut across several. Each answer chunk
travels with the interviewer's question before it, as context that can never be quoted. Every
quote is checked verbatim against its chunk by the response model's validators: Instructor
re-asks on failure, and host-mode answers go through the very same models. A request whose
answer hits the output cap is split in two and re-sent. Request boundaries are content-defined,
so adding or removing a ticket re-sends about one request, not every request after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .config import Settings
from .errors import InputError
from .host import register_response_model
from .ids import content_hash
from .llm import LLMRequest, LLMRunner
from .lock import writes_workspace
from .models import (
    QUOTABLE_ROLES,
    CallFailure,
    Chunk,
    ExtractState,
    MentionDraft,
    Observation,
    ObservationDraft,
    PainPointMention,
    Quote,
    QuoteDraft,
    StepSummary,
)
from .verbatim import find_span, normalise
from .workspace import Workspace, iter_models, read_models, write_json, write_models

Kept = TypeVar("Kept", PainPointMention, Observation)
STEP = "extract"
PROMPT = "extract_pain_points"
# Source tokens per request, at most: the fixed prompt (~800 tokens with the schema) stays a
# small share of what is sent (measured on transcripts/: 3000 -> 1.78 tokens sent per source
# token at a 2048 output cap, 6000 -> 1.50 at 4096; a 16k-context local model still fits).
BATCH_TOKENS = 6000
# Chunks per request, at most: short aliases stay easy to tell apart. Tickets meet the output
# budget first (~33 per request at 4096); at 100, three ~28-chunk interviews share a request
# (4 requests for transcripts/ instead of 6, which pays for the content-defined boundaries).
MAX_ITEMS = 100
# Output tokens one mention takes (statement, rationale, a quote, JSON keys).
TOKENS_PER_MENTION = 110
# Interview text per expected mention (pain points are sparser in interviews than in tickets).
INTERVIEW_TOKENS_PER_MENTION = 150
# Share of llm.max_output_tokens a request's expected answer may fill.
OUTPUT_HEADROOM = 0.9
# A request this full is closed rather than cutting the next document across two requests.
FULL_ENOUGH = 0.7
# Content-defined request boundaries (see plan_batches): a request at least MIN_FILL full is
# closed after an anchor document; anchors come ANCHORS_PER_REQUEST times per request's worth of
# documents, and a rarer hard anchor closes a request however full, so that a shift can never
# run on for long. Measured with bench/extract_stability.py on 2000 synthetic tickets: one
# ticket removed or added re-sends 3.0 / 2.15 requests on average (greedy packing: 32.8 / 33.6
# of 61) for 69 requests instead of 61.
MIN_FILL = 0.85
ANCHORS_PER_REQUEST = 10.0
HARD_ANCHORS_PER_REQUEST = 0.1
# A batch whose answer is cut off is split in halves and re-sent, this many times at most.
MAX_SPLITS = 3
QUESTION_WORDS = 60


# --------------------------------------------------------------------------- response models


def _compact(schema: dict[str, Any]) -> None:
    """Drop what the schema says twice, since it is sent with every request: property titles
    repeat the field names, and `"default": null` repeats that a field is not required.
    (The answer model's own title stays: Instructor names the tool after it.)"""
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        if "default" in prop and prop["default"] is None:
            del prop["default"]


def _compact_nested(schema: dict[str, Any]) -> None:
    """A nested model's title too: its $defs key already names it."""
    _compact(schema)
    schema.pop("title", None)


COMPACT = ConfigDict(extra="forbid", json_schema_extra=_compact)
NESTED = ConfigDict(extra="forbid", json_schema_extra=_compact_nested)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ExtractedQuote(QuoteDraft):
    """A verbatim quote: exact words from one chunk's text, with that chunk's id."""

    model_config = NESTED

    @model_validator(mode="after")
    def _verbatim(self, info: ValidationInfo) -> ExtractedQuote:
        chunks = (info.context or {}).get("chunks")
        if chunks is None:
            return self
        text = chunks.get(self.chunk_id)
        if text is None:
            allowed = ", ".join(sorted(chunks)[:12])
            raise ValueError(
                f"chunk_id {self.chunk_id!r} is not a chunk you may quote; use one of: {allowed}"
            )
        if find_span(text, self.text) is None:
            raise ValueError(
                f"quote {_clip(self.text)!r} does not appear verbatim in chunk {self.chunk_id}; "
                f"copy the exact words from that chunk's text (no paraphrase, no '...')"
            )
        return self


class ExtractedMention(MentionDraft):
    """One pain point the speaker states: a problem, frustration, effort or unmet need."""

    model_config = NESTED
    quotes: list[ExtractedQuote] = Field(
        min_length=1, max_length=3, description="1-3 verbatim quotes that state this pain"
    )

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        value = " ".join(value.lower().split())
        if not value:
            raise ValueError("category must not be empty")
        return value

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> ExtractedMention:
        statement = normalise(self.statement)
        if not statement:
            raise ValueError("statement must not be empty")
        for quote in self.quotes:
            said = normalise(quote.text)
            shorter, longer = sorted((statement, said), key=len)
            if shorter and shorter in longer and len(shorter) >= 0.8 * len(longer):
                raise ValueError("statement repeats the quote; describe the pain in your own words")
        documents = (info.context or {}).get("documents")
        if documents:
            owners = {documents.get(q.chunk_id) for q in self.quotes}
            if len(owners) > 1:
                raise ValueError(
                    "all quotes of one mention must come from the same ticket or interview"
                )
        return self


class ExtractedObservation(ObservationDraft):
    """A goal, workaround, tool or positive moment the speaker states, with verbatim quotes."""

    model_config = NESTED
    quotes: list[ExtractedQuote] = Field(
        min_length=1, max_length=2, description="1-2 verbatim quotes that show it"
    )

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> ExtractedObservation:
        if not normalise(self.text):
            raise ValueError("text must not be empty")
        documents = (info.context or {}).get("documents")
        if documents and len({documents.get(q.chunk_id) for q in self.quotes}) > 1:
            raise ValueError("all quotes of one observation must come from the same source")
        return self


@register_response_model(name="extract_pain_points")
class PainPointExtraction(BaseModel):
    """Pain points (problems, requests, questions) and the other observations a persona needs,
    stated in the chunks; empty lists when there are none."""

    model_config = COMPACT
    # Each item is checked on its own (its quotes, its statement, its one document) and the
    # lists have no minimum, so when restoring redacted text breaks one item, the others still
    # form a valid answer: the runner drops just that one and reports it (agent/llm.py).
    DROP_INVALID: ClassVar[tuple[str, ...]] = ("mentions", "observations")

    mentions: list[ExtractedMention] = Field(
        default_factory=list,
        description="Every distinct pain point, request or question, each with verbatim quotes",
    )
    observations: list[ExtractedObservation] = Field(
        default_factory=list,
        description="Goals, workarounds, tools and positive moments, each with verbatim quotes",
    )


# --------------------------------------------------------------------------- batching


@dataclass
class Batch:
    """Chunks that go into one request, with the interviewer questions that precede them."""

    kind: str
    chunks: list[Chunk] = field(default_factory=list)
    questions: dict[str, str] = field(default_factory=dict)
    # Answer chunk id -> the id of the interviewer chunk its question came from.
    question_ids: dict[str, str] = field(default_factory=dict)
    tokens: int = 0
    mentions: float = 0.0  # expected, for the output budget

    def add(self, chunk: Chunk, question: Chunk | None) -> None:
        self.chunks.append(chunk)
        self.tokens += chunk.token_count
        if question is not None:
            self.questions[chunk.id] = _short_question(question.text)
            self.question_ids[chunk.id] = question.id
            self.tokens += question.token_count

    @property
    def aliases(self) -> dict[str, Chunk]:
        """Short ids shown to the model: cheaper and easier to copy than hashes.

        Interview chunks are c1, c2...; ticket chunks t1, t2... and, for a ticket cut into
        several chunks, t3.1, t3.2 so the model can see they belong together.
        """
        if self.kind == "interview":
            return {f"c{i}": chunk for i, chunk in enumerate(self.chunks, start=1)}
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in self.chunks:
            by_doc.setdefault(chunk.document_id, []).append(chunk)
        out: dict[str, Chunk] = {}
        for n, parts in enumerate(by_doc.values(), start=1):
            if len(parts) == 1:
                out[f"t{n}"] = parts[0]
            else:
                out.update({f"t{n}.{k}": c for k, c in enumerate(parts, start=1)})
        return out

    def halves(self) -> list[Batch]:
        middle = len(self.chunks) // 2
        out = []
        for part in (self.chunks[:middle], self.chunks[middle:]):
            half = Batch(self.kind, mentions=self.mentions / 2)
            for chunk in part:
                half.chunks.append(chunk)
                half.tokens += chunk.token_count
                if chunk.id in self.questions:
                    half.questions[chunk.id] = self.questions[chunk.id]
                    half.question_ids[chunk.id] = self.question_ids[chunk.id]
            out.append(half)
        return out


def _short_question(text: str) -> str:
    words = text.split()
    return " ".join(words[:QUESTION_WORDS]) + (" ..." if len(words) > QUESTION_WORDS else "")


def _units(doc_chunks: list[Chunk]) -> list[tuple[Chunk, Chunk | None]]:
    """Quotable chunks of one document, each with the interviewer chunk just before it."""
    units, question = [], None
    for chunk in sorted(doc_chunks, key=lambda c: c.start):
        if chunk.role in QUOTABLE_ROLES:
            units.append((chunk, question))
            question = None
        elif chunk.kind == "interview":
            question = chunk
    return units


def _anchor_point(document_id: str) -> float:
    """A fixed pseudo-random number in [0, 1) for a document (the hash of its id)."""
    return int(content_hash(document_id)[:12], 16) / 16**12


def plan_batches(
    chunks: list[Chunk], batch_tokens: int = BATCH_TOKENS, output_tokens: int = 2048
) -> list[Batch]:
    """Group quotable chunks into requests within an input and an output budget.

    The output budget counts the mentions a request is expected to yield (one per ticket, one
    per INTERVIEW_TOKENS_PER_MENTION of interview text), since the answer copies quotes out.
    A request's fill is its largest share of any limit (tokens, expected mentions, items).
    A document goes whole into the open request when it fits; when it does not, it starts a
    fresh request if the open one is already well filled, else it fills the open one and
    carries on in the next. Requests stay full (the fixed prompt is paid per request) and most
    interviews stay in one piece.

    Boundaries are content-defined, so that adding or removing a document re-sends only the
    requests around it (every other request is the same text, answered from the cache): once
    a request is MIN_FILL full, it is closed after any "anchor" document, one whose id hashes
    below ANCHORS_PER_REQUEST x its own fill (below HARD_ANCHORS_PER_REQUEST x its fill, it
    closes the request whatever its fill). Whether a document is an anchor depends on nothing
    but its id, so after a change the requests fall back in step at the next anchor.
    """
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.document_id, []).append(chunk)
    batches: list[Batch] = []
    open_batch: dict[str, Batch] = {}  # the request being filled, per kind
    mention_room = OUTPUT_HEADROOM * output_tokens / TOKENS_PER_MENTION

    def expected(chunk: Chunk, first_of_doc: bool) -> float:
        if chunk.kind == "interview":
            return chunk.token_count / INTERVIEW_TOKENS_PER_MENTION
        return 1.0 if first_of_doc else 0.0

    def fill(tokens: float, mentions: float, items: int) -> float:
        return max(tokens / batch_tokens, mentions / mention_room, items / MAX_ITEMS)

    def fits(batch: Batch, tokens: int, mentions: float, items: int) -> bool:
        return (
            batch.tokens + tokens <= batch_tokens
            and batch.mentions + mentions <= mention_room
            and len(batch.chunks) + items <= MAX_ITEMS
        )

    def fresh(family: str) -> Batch:
        batch = Batch(family)
        batches.append(batch)
        open_batch[family] = batch
        return batch

    for document_id, doc_chunks in by_doc.items():
        units = _units(doc_chunks)
        if not units:
            continue
        family = doc_chunks[0].kind
        cost = sum(c.token_count + (q.token_count if q else 0) for c, q in units)
        mentions = sum(expected(c, i == 0) for i, (c, _) in enumerate(units))
        current = open_batch.get(family)
        if current is None or (
            not fits(current, cost, mentions, len(units))
            and fill(current.tokens, current.mentions, len(current.chunks)) >= FULL_ENOUGH
        ):
            current = fresh(family)
        for i, (chunk, question) in enumerate(units):
            extra = chunk.token_count + (question.token_count if question else 0)
            more = expected(chunk, i == 0)
            if current.chunks and not fits(current, extra, more, 1):
                current = fresh(family)
            current.add(chunk, question)
            current.mentions += more
        own = fill(cost, mentions, len(units))
        point = _anchor_point(document_id)
        if point < HARD_ANCHORS_PER_REQUEST * own or (
            fill(current.tokens, current.mentions, len(current.chunks)) >= MIN_FILL
            and point < ANCHORS_PER_REQUEST * own
        ):
            open_batch.pop(family)
    return batches


def batch_request(batch: Batch) -> LLMRequest:
    """The LLM request for one batch; the context is what the validators check quotes against."""
    aliases = batch.aliases
    data: dict[str, Any] = {}
    if batch.kind == "interview":
        # One object per interview, in transcript order: interviewer questions (q1...) sit right
        # before the answers (c1...) they prompted.
        groups: dict[str, dict[str, str]] = {}
        names: dict[str, str] = {}
        asked = 0
        for alias, chunk in aliases.items():
            if chunk.document_id not in names:
                base = chunk.participant_id or f"interview {len(names) + 1}"
                taken = set(names.values())
                names[chunk.document_id] = next(
                    n for n in (base, *(f"{base} ({k})" for k in range(2, 99))) if n not in taken
                )
            group = groups.setdefault(names[chunk.document_id], {})
            if chunk.id in batch.questions:
                asked += 1
                group[f"q{asked}"] = batch.questions[chunk.id]
            group[alias] = chunk.text
        data = groups
    else:
        data = {alias: chunk.text for alias, chunk in aliases.items()}
    context: dict[str, Any] = {
        "chunks": {a: c.text for a, c in aliases.items()},
        "documents": {a: c.document_id for a, c in aliases.items()},
    }
    return LLMRequest(
        step=STEP,
        prompt=PROMPT,
        variables={"kind": "interview" if batch.kind == "interview" else "ticket", "chunks": data},
        response_model=PainPointExtraction,
        context=context,
        expected_output_tokens=int(20 + batch.mentions * TOKENS_PER_MENTION),
        sources=tuple(sorted({c.id for c in aliases.values()} | set(batch.question_ids.values()))),
    )


def build_requests(chunks: list[Chunk], settings: Settings) -> tuple[list[LLMRequest], list[Batch]]:
    """Requests (and their batches, same order) for every quotable chunk."""
    batches = plan_batches(chunks, BATCH_TOKENS, settings.llm.max_output_tokens)
    return [batch_request(b) for b in batches], batches


# --------------------------------------------------------------------------- mentions


def to_mentions(value: PainPointExtraction, batch: Batch, origin: str) -> list[PainPointMention]:
    """Validated drafts -> stored mentions with exact spans (quotes re-read from the chunk)."""
    out = []
    for draft in value.mentions:
        quotes = _quotes(list(draft.quotes), batch)
        if not quotes:
            continue
        home = next(c for c in batch.chunks if c.id == quotes[0].chunk_id)
        body = {
            "statement": draft.statement,
            "category": draft.category,
            "severity": draft.severity,
            "stage": draft.journey_stage,
            "quotes": [[q.chunk_id, q.start, q.end] for q in quotes],
        }
        out.append(
            PainPointMention(
                id=content_hash(body),
                statement=draft.statement.strip(),
                category=draft.category,
                severity=draft.severity,
                severity_rationale=draft.severity_rationale.strip(),
                journey_stage=draft.journey_stage,
                workaround=(draft.workaround or "").strip() or None,
                quotes=quotes,
                kind=home.kind,
                **home.origin(),
                origin=origin,  # type: ignore[arg-type]
                nature=draft.nature,
            )
        )
    return out


def _quotes(drafts: list[Any], batch: Batch) -> list[Quote]:
    """Validated quote drafts as stored quotes, their exact spans re-read from the chunk."""
    from .offline_extract import quote_at

    aliases = batch.aliases
    out = []
    for q in drafts:
        chunk = aliases.get(q.chunk_id)
        span = find_span(chunk.text, q.text) if chunk is not None else None
        if chunk is not None and span is not None:
            out.append(quote_at(chunk, span))
    return out


def to_observations(value: PainPointExtraction, batch: Batch, origin: str) -> list[Observation]:
    """Validated observation drafts -> stored observations with exact spans."""
    out = []
    for draft in value.observations:
        quotes = _quotes(list(draft.quotes), batch)
        if not quotes:
            continue
        home = next(c for c in batch.chunks if c.id == quotes[0].chunk_id)
        body = {
            "kind": draft.kind,
            "text": draft.text,
            "quotes": [[q.chunk_id, q.start, q.end] for q in quotes],
        }
        out.append(
            Observation(
                id=content_hash(body),
                kind=draft.kind,
                text=" ".join(draft.text.split()),
                journey_stage=draft.journey_stage,
                quotes=quotes,
                source_kind=home.kind,
                **home.origin(),
                origin=origin,  # type: ignore[arg-type]
            )
        )
    return out


def sort_observations(items: list[Observation], chunks: dict[str, Chunk]) -> list[Observation]:
    """Source order, one copy of each (overlapping chunks show a passage twice)."""
    seen: set[tuple[Any, ...]] = set()
    keep = []

    def where(o: Observation) -> tuple[str, str, int, int]:
        chunk = chunks[o.quotes[0].chunk_id]
        q = o.quotes[0]
        return (chunk.source, o.document_id, chunk.start + q.start, chunk.start + q.end)

    for item in sorted(items, key=lambda o: (*where(o), o.id)):
        keys = {("id", item.id), ("span", *where(item), item.kind)}
        if keys & seen:
            continue
        seen |= keys
        keep.append(item)
    return keep


def dedupe_and_sort(
    mentions: list[PainPointMention], chunks: dict[str, Chunk]
) -> list[PainPointMention]:
    """Drop repeats: the same id, or the same pain read twice from one passage.

    Overlapping chunks show a passage twice, so one pain can come back from both with the same
    quote. It counts as a repeat only with the same category as well: two different pains may
    rest on one quote ("it drops transactions, so I re-key them" is about sync and about effort).
    """
    seen: set[tuple[Any, ...]] = set()
    keep = []

    def where(m: PainPointMention) -> tuple[str, int, int]:
        chunk = chunks[m.quotes[0].chunk_id]
        return (m.document_id, chunk.start + m.quotes[0].start, chunk.start + m.quotes[0].end)

    for mention in sorted(mentions, key=lambda m: (chunks[m.chunk_id].source, *where(m), m.id)):
        keys = {("id", mention.id), ("span", *where(mention), mention.category)}
        if keys & seen:
            continue
        seen |= keys
        keep.append(mention)
    return keep


def keep_earlier(
    path: Path, model: type[Kept], failed: set[str], chunks: dict[str, Chunk]
) -> list[Kept]:
    """Earlier items of the chunks whose calls failed now, marked stale (never fewer results).

    Chunk ids hash their words, so a chunk still present is the very text they were found in.
    """
    if not failed:
        return []
    return [
        item.model_copy(update={"stale": True})
        for item in iter_models(path, model)
        if item.chunk_id in failed  # type: ignore[attr-defined]
        and item.chunk_id in chunks  # type: ignore[attr-defined]
        and all(q.chunk_id in chunks for q in item.quotes)  # type: ignore[attr-defined]
    ]


@writes_workspace("extract")
def extract_mentions(
    settings: Settings,
    workspace: Workspace,
    provider: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> StepSummary:
    """Extract pain-point mentions from workspace.chunks into workspace.mentions."""
    began = time.perf_counter()
    mode = provider or settings.llm.resolved_provider()
    inputs = ""
    if mode == "offline" and not dry_run:
        from .rerun import fingerprint, kept

        # Offline extraction is a function of chunks.jsonl and the code alone.
        inputs = fingerprint(workspace, [workspace.chunks], {"mode": "offline"})
        unchanged = kept(workspace, STEP, inputs)
        if unchanged is not None:
            unchanged.seconds = round(time.perf_counter() - began, 3)
            return unchanged
    chunks = read_models(workspace.chunks, Chunk)
    if not chunks:
        raise InputError(str(workspace.chunks), "no chunks yet; run `persona ingest` first")
    by_id = {c.id: c for c in chunks}
    quotable = [c for c in chunks if c.role in QUOTABLE_ROLES]
    tokens = {
        "source": sum(c.token_count for c in quotable),
        "context": sum(c.token_count for c in chunks if c.role not in QUOTABLE_ROLES),
    }

    if mode == "offline":
        return _extract_offline(chunks, by_id, workspace, dry_run, tokens, began, inputs)

    requests, batches = build_requests(chunks, settings)
    # The runner reads speaker and participant names from chunks.jsonl when names are redacted.
    runner = LLMRunner(settings, workspace, provider=mode)
    if dry_run:
        estimate = runner.dry_run(requests)
        cost = "cost unknown" if estimate.cost_usd is None else f"est. ${estimate.cost_usd:.4f}"
        return StepSummary(
            step=STEP,
            mode=mode,  # type: ignore[arg-type]
            counts={"calls": estimate.calls, "cached": estimate.cached, "requests": len(requests)},
            tokens={**tokens, "input": estimate.input_tokens, "output": estimate.output_tokens},
            seconds=round(time.perf_counter() - began, 3),
            notes=[
                f"dry run on {estimate.model}: {estimate.calls} calls ({estimate.cached} cached), "
                f"~{estimate.input_tokens:,} input + ~{estimate.output_tokens:,} output tokens, {cost}"
            ],
        )

    mentions: list[PainPointMention] = []
    observations: list[Observation] = []
    failures: list[CallFailure] = []
    failed_chunks = 0
    failed_ids: set[str] = set()
    failed_batches = 0
    dropped = 0
    splits = 0
    for depth in range(MAX_SPLITS + 1):
        results = runner.run([batch_request(b) for b in batches], progress=progress)
        retry: list[Batch] = []
        for batch, result in zip(batches, results, strict=True):
            if result.value is not None:
                mentions.extend(to_mentions(result.value, batch, mode))  # type: ignore[arg-type]
                observations.extend(to_observations(result.value, batch, mode))  # type: ignore[arg-type]
                dropped += len(result.dropped)
                failures.extend(
                    CallFailure(
                        request_id=result.request_id,
                        step=STEP,
                        error=line,
                        attempts=max(1, result.attempts),
                    )
                    for line in result.dropped
                )
            elif result.truncated and len(batch.chunks) > 1 and depth < MAX_SPLITS:
                retry.extend(batch.halves())
                splits += 1
            else:
                failed_chunks += len(batch.chunks)
                failed_ids.update(c.id for c in batch.chunks)
                failed_batches += 1
                failures.append(
                    CallFailure(
                        request_id=result.request_id,
                        step=STEP,
                        error=result.error or "no value",
                        attempts=max(1, result.attempts),
                    )
                )
        if not retry:
            break
        batches = retry
    kept = keep_earlier(workspace.mentions, PainPointMention, failed_ids, by_id)
    mentions = dedupe_and_sort(mentions + kept, by_id)
    write_models(workspace.mentions, mentions)
    kept_obs = keep_earlier(workspace.observations, Observation, failed_ids, by_id)
    observations = sort_observations(observations + kept_obs, by_id)
    write_models(workspace.observations, observations)
    # A request with dropped mentions was not cached either, so a re-run asks it again.
    state = ExtractState(
        mode=mode,  # type: ignore[arg-type]
        chunks=len(quotable),
        failed_requests=failed_batches,
        failed_chunks=sorted(failed_ids),
        stale_mentions=len(kept),
        unread_chunks=len(failed_ids - {m.chunk_id for m in kept}),
    )
    write_json(workspace.extract_state, state)
    failed = len({f.request_id for f in failures})
    notes = [f"{failed} request(s) failed; re-run to retry only those"] if failures else []
    if not state.complete:
        notes.append(state.describe())
    if splits:
        notes.append(f"{splits} batch(es) split in two after the answer hit max_output_tokens")
    return StepSummary(
        step=STEP,
        ok=not failures,
        mode=mode,  # type: ignore[arg-type]
        counts={
            "chunks": len(quotable),
            "requests": len(requests) + 2 * splits,
            "calls": runner.totals["calls"],
            "cached": runner.totals["cached"],
            "failed": failed,
            "dropped_mentions": dropped,
            "failed_chunks": failed_chunks,
            "stale_mentions": len(kept),
            "mentions": len(mentions),
            "observations": len(observations),
        },
        tokens={
            **tokens,
            "input": runner.totals["input_tokens"],
            "output": runner.totals["output_tokens"],
        },
        seconds=round(time.perf_counter() - began, 3),
        failures=failures,
        outputs={
            "mentions": str(workspace.mentions),
            "observations": str(workspace.observations),
            "calls_log": str(workspace.calls_log),
        },
        notes=notes,
    )


def _extract_offline(
    chunks: list[Chunk],
    by_id: dict[str, Chunk],
    workspace: Workspace,
    dry_run: bool,
    tokens: dict[str, int],
    began: float,
    inputs: str = "",
) -> StepSummary:
    from .offline_extract import extract_offline
    from .rerun import forget, record

    quotable = sum(c.role in QUOTABLE_ROLES for c in chunks)
    note = "offline mode: deterministic cue-based extraction, no language model used"
    if dry_run:
        return StepSummary(
            step=STEP,
            mode="offline",
            counts={"calls": 0, "chunks": quotable},
            tokens=tokens,
            notes=[note + "; nothing to estimate"],
        )
    forget(workspace, STEP)
    found, noticed = extract_offline(chunks)
    mentions = dedupe_and_sort(found, by_id)
    write_models(workspace.mentions, mentions)
    observations = sort_observations(noticed, by_id)
    write_models(workspace.observations, observations)
    write_json(workspace.extract_state, ExtractState(mode="offline", chunks=quotable))
    summary = StepSummary(
        step=STEP,
        mode="offline",
        counts={
            "chunks": quotable,
            "mentions": len(mentions),
            "observations": len(observations),
            "calls": 0,
        },
        tokens=tokens,
        seconds=round(time.perf_counter() - began, 3),
        outputs={"mentions": str(workspace.mentions), "observations": str(workspace.observations)},
        notes=[note],
    )
    if inputs:
        outputs = [workspace.mentions, workspace.observations, workspace.extract_state]
        record(workspace, STEP, inputs, outputs, summary)
    return summary
