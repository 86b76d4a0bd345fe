"""`persona eval`: how far a finished run agrees with a human coding the researcher already has.

Inputs: a workspace (documents.jsonl, chunks.jsonl, mentions.jsonl, themes.json) and any of
- a coding CSV, one row per coded passage: who said it (participant, ticket or document id),
  the code, and the excerpt text (MAXQDA, Atlas.ti, NVivo, Taguette and Dovetail exports name
  these columns differently; common names are recognised, others mapped with `columns`);
- a label CSV, one row per ticket: its id and a human label (intent, issue, cluster);
- another workspace of the same inputs (`against`), to measure run-to-run stability.

Metrics, each deterministic (ties broken by counts, then rank, then id; shares rounded to 4
decimals):

- **located passages.** A coded row's id is matched to documents by participant id (interviews)
  or ticket id (tickets), else by the document's file name or file stem, exactly and then
  ignoring case; rows whose id matches no document are `unknown id` and left out of everything
  below. Its excerpt is then located in the text of those documents: first verbatim, with the
  project's quote matcher (agent/verbatim.py: whitespace, case, quote marks and dashes folded);
  failing that, fuzzily: the excerpt's words (3 or more) are aligned by voting on shared word
  trigrams, and it is located when at least FUZZY_MIN (80%) of its words appear in order in a
  window of the document no longer than the excerpt plus a quarter (speaker labels or
  transcription edits inside an excerpt are what this forgives). Excerpts found neither way are
  `not located`, counted apart and left out of coverage.
- **coverage** = located passages overlapped (by at least one character of the document text)
  by a quote of some mention from the same document / located passages. **Chance coverage**
  is what the same quotes would score against passages of the same lengths placed at random:
  for each located passage, the share of start positions inside its document's participant
  (customer) turns from which a span of its length would overlap a quote, averaged. A run
  whose coverage is near chance quotes a lot of text, not the passages the human coded.
- **precision** = mention quotes, in documents where a passage was located, that overlap a
  located passage / all such quotes; **chance precision** the same for quotes of the same
  lengths placed at random in their document's participant (customer) turns. A coding that
  marks only problem passages makes this the share of the run's evidence a coder also saw as
  a problem (a coder who codes a study only in part makes it a floor).
- **theme recovery** of shared codes. A code's holders are the distinct participants (tickets,
  for a ticket coding) coded with it; n = their number. For every code with n >= 3: a theme
  holds a holder when a mention covering one of that holder's passages of the code belongs to
  it. The best theme is the one holding most holders (ties: participant count nearer n, then
  rank, then id). The code is recovered when the best theme holds at least n - 1 holders AND
  its own distinct-participant count (ticket count for tickets) is within +-1 of n. Reported:
  the recovered share and, per code, n, best theme, how many holders it holds, its count, and
  how many themes the code's covering mentions were spread over. When the run has theme groups
  (model modes), the same test is made one level up (a theme outside every group stands for
  itself) and reported apart: `one theme or theme group`, per code its best group.
- **labelled tickets.** Each labelled ticket found in the workspace is assigned the theme that
  holds most of its mentions (ties: better rank, then id). A ticket with no mention is a
  singleton cluster of its own AND counted in `left without a theme` (its share is reported):
  a run that drops tickets is not rewarded with purer clusters. V-measure (with homogeneity
  and completeness) and the adjusted Rand index are scikit-learn's, human label vs assignment;
  `singleton V` is the V-measure of putting every ticket alone, the trivial floor to beat.
  Matched-size correlation: for each human label, its size and the size (labelled tickets
  assigned to it) of the theme holding most of its tickets (0 if none); Pearson r over labels
  (undefined, and said so, when every label has the same size). `most labels in one theme`:
  the largest number of distinct human labels among one theme's tickets.
- **quote fidelity** = mention quotes that are verbatim (same matcher) in their chunk's text,
  or in the original document text at the chunk's place (a redacted chunk) / all quotes.
- **stability** (`against`): the adjusted Rand index between the two runs' theme assignments
  of the mentions both runs have (matched by id, else by chunk and first quote), and of the
  tickets both have (each ticket assigned as above; no mention = a singleton).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Literal

from pydantic import Field

from .errors import InputError, PersonaError
from .models import (
    QUOTABLE_ROLES,
    Chunk,
    Document,
    PainPointMention,
    Strict,
    Theme,
    ThemeGroup,
    ThemeReport,
)
from .readers.base import decode
from .readers.tables import TICKET_ALIASES, detect_delimiter
from .verbatim import find_span, is_verbatim
from .workspace import Workspace, iter_models

# Share of an excerpt's words that must be found, in order, for a fuzzy match.
FUZZY_MIN = 0.8
# Word n-gram used to align an excerpt with its document; shorter excerpts must match verbatim.
ALIGN_GRAM = 3
# Alignments tried per excerpt (the offsets with the most shared n-grams).
ALIGN_CANDIDATES = 3
# A code is "shared" when this many distinct participants (or tickets) hold it.
MIN_SHARED = 3
_ROUND = 4

CODING_ALIASES: dict[str, tuple[str, ...]] = {
    "participant": (
        "participant",
        "participant id",
        "participant_id",
        "document",
        "document name",
        "doc",
        "respondent",
        "interviewee",
        "speaker",
        "ticket",
        "ticket id",
        "ticket_id",
        "case",
        "file",
        "source",
        "id",
    ),
    "code": ("code", "codes", "tag", "tags", "code name", "label", "category", "theme"),
    "excerpt": (
        "excerpt",
        "segment",
        "coded segment",
        "text",
        "quote",
        "quotation",
        "quotation content",
        "content",
        "passage",
        "highlight",
        "reference",
    ),
}
LABEL_ALIASES = ("label", "intent", "category", "class", "topic", "cluster", "issue")
COLUMN_KEYS = {
    "participant": "participant",
    "id": "participant",
    "ticket": "participant",
    "document": "participant",
    "code": "code",
    "excerpt": "excerpt",
    "label": "label",
}
Unit = Literal["participant", "ticket"]


class EvalError(PersonaError):
    """The workspace or an evaluation option cannot be used as given."""


# --------------------------------------------------------------------------- report contract


def _none(value: object) -> bool:
    return value is None


class CodeRecovery(Strict):
    """One shared code: does one theme hold it with the right participant count?"""

    code: str
    n: int = Field(description="Distinct participants (tickets) the human coded with this code")
    best_theme_id: str | None
    best_theme_label: str | None
    holds: int = Field(description="How many of the n the best theme holds")
    theme_count: int = Field(description="The best theme's own distinct participant count")
    themes: int = Field(description="Themes the code's covering mentions were spread over")
    recovered: bool
    # The same test one level up, against the theme groups (absent when the run has none).
    best_group_id: str | None = Field(default=None, exclude_if=_none)
    best_group_label: str | None = Field(default=None, exclude_if=_none)
    group_holds: int | None = Field(default=None, exclude_if=_none)
    group_count: int | None = Field(default=None, exclude_if=_none)
    recovered_by_group: bool | None = Field(default=None, exclude_if=_none)


class CodingEval(Strict):
    """A coding CSV against the run: where its passages are and whether themes match codes."""

    file: str
    unit: Unit
    passages: int
    units: int
    codes: int
    exact: int
    fuzzy: int
    not_located: int
    unknown_id: int
    unknown_ids: list[str] = Field(default_factory=list)
    covered: int
    coverage: float | None
    chance_coverage: float | None = Field(
        description="Coverage expected if each located passage lay at a random place in its "
        "document's participant (customer) turns, same length and same mention quotes"
    )
    fuzzy_min: float = FUZZY_MIN
    quotes_in_coded: int = Field(
        description="Mention quotes in the documents where the coding located a passage"
    )
    quotes_on_passages: int
    precision: float | None = Field(
        description="Share of those quotes that overlap a located coded passage"
    )
    chance_precision: float | None = Field(
        description="Precision expected if each of those quotes lay at a random place in its "
        "document's participant (customer) turns, same length"
    )
    shared_codes: int
    recovered: int
    recovery: float | None
    # Codes recovered by a theme OR by a theme group (absent when the run has no groups).
    recovered_with_groups: int | None = Field(default=None, exclude_if=_none)
    recovery_with_groups: float | None = Field(default=None, exclude_if=_none)
    per_code: list[CodeRecovery] = Field(default_factory=list)


class LabelMatch(Strict):
    """One human label and the theme that holds most of its tickets."""

    label: str
    size: int
    best_theme_id: str | None
    best_theme_label: str | None
    best_theme_size: int
    overlap: int


class LabelEval(Strict):
    """Labelled tickets against the run's theme assignment."""

    file: str
    label_column: str
    tickets: int
    not_found: int
    left_without_theme: int
    left_without_theme_share: float | None
    labels: int
    clusters: int
    v_measure: float | None
    homogeneity: float | None
    completeness: float | None
    ari: float | None
    singleton_v_measure: float | None
    size_correlation: float | None
    most_labels_in_one_theme: int = Field(
        description="The most distinct human labels any one theme holds (1 = no theme mixes)"
    )
    per_label: list[LabelMatch] = Field(default_factory=list)


class FidelityEval(Strict):
    quotes: int
    verbatim: int
    share: float | None


class StabilityEval(Strict):
    """Theme assignments of this run against another run of the same inputs."""

    other: str
    mentions_common: int
    mentions_only_here: int
    mentions_only_other: int
    mention_ari: float | None
    tickets_common: int
    ticket_ari: float | None


class EvalReport(Strict):
    """`persona eval --json`: a run measured against a human coding, labels or another run."""

    workspace: str
    mentions: int
    themes: int
    coding: CodingEval | None = None
    labels: LabelEval | None = None
    fidelity: FidelityEval
    stability: StabilityEval | None = None
    notes: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- the run


@dataclass
class Run:
    """What eval reads from one workspace, indexed."""

    root: Path
    documents: dict[str, Document]
    chunks: dict[str, Chunk]
    mentions: list[PainPointMention]
    themes: dict[str, Theme]
    theme_of: dict[str, str]
    # document id -> (mention id, start, end) of each quote, in document coordinates
    quote_spans: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    groups: dict[str, ThemeGroup] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)  # theme id -> its group's id


def load_run(root: Path) -> Run:
    """The finished run in `root`; a missing or unreadable file is one clear error."""
    ws = Workspace(root)
    for path in (ws.documents, ws.chunks, ws.mentions, ws.themes):
        if not path.exists():
            raise EvalError(
                f"{path}: not found; `persona eval` reads a finished run (persona run first)"
            )
    try:
        documents = {d.id: d for d in iter_models(ws.documents, Document)}
        chunks = {c.id: c for c in iter_models(ws.chunks, Chunk)}
        mentions = sorted(iter_models(ws.mentions, PainPointMention), key=lambda m: m.id)
        report = ThemeReport.model_validate_json(ws.themes.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise EvalError(f"{root}: a workspace file does not parse: {_first_line(exc)}") from exc
    themes = {t.id: t for t in report.themes}
    theme_of = {mid: t.id for t in report.themes for mid in t.mention_ids}
    run = Run(ws.root, documents, chunks, mentions, themes, theme_of)
    run.groups = {g.id: g for g in report.groups}
    run.group_of = {t: g.id for g in report.groups for t in g.theme_ids}
    for m in mentions:
        for quote in m.quotes:
            span = _quote_span(run, quote.chunk_id, quote.text, quote.start, quote.end)
            if span is not None:
                run.quote_spans.setdefault(span[0], []).append((m.id, span[1], span[2]))
    return run


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _quote_span(
    run: Run, chunk_id: str, text: str, start: int, end: int
) -> tuple[str, int, int] | None:
    """(document id, start, end) of a quote in its document's text."""
    chunk = run.chunks.get(chunk_id)
    doc = run.documents.get(chunk.document_id) if chunk else None
    if chunk is None or doc is None:
        return None
    original = doc.text[chunk.start : chunk.end]
    fits = original == chunk.text and 0 <= start < end <= len(original)
    if fits and is_verbatim(text, original[start:end]):
        return doc.id, chunk.start + start, chunk.start + end
    # Offsets that do not fit (a redacted chunk, a hand-edited file): find the quote again; a
    # quote that is not in its chunk covers nothing.
    span = find_span(original, text)
    return (doc.id, chunk.start + span[0], chunk.start + span[1]) if span else None


def _unit_of(doc: Document) -> tuple[Unit, str]:
    # The keys themes count by (agent/themes.py): participant or ticket, else the document.
    if doc.kind == "ticket":
        return "ticket", doc.ticket_id or doc.id
    return "participant", doc.participant_id or doc.id


def _mention_unit(m: PainPointMention) -> str:
    if m.kind == "ticket":
        return m.ticket_id or m.document_id
    return m.participant_id or m.document_id


# --------------------------------------------------------------------------- CSV input


def _norm_header(name: str) -> str:
    return " ".join(re.sub(r"[_\-\s]+", " ", name.replace("#", " id ")).lower().split())


def _pick(headers: Sequence[str], aliases: Iterable[str]) -> str | None:
    """The first alias (in alias order) that names a column, compared case- and space-blind."""
    table = {_norm_header(h): h for h in reversed(headers) if h.strip()}
    return next((table[_norm_header(a)] for a in aliases if _norm_header(a) in table), None)


def parse_columns(spec: str | None) -> dict[str, str]:
    """'participant=Doc,code=Tag' -> {'participant': 'Doc', 'code': 'Tag'}."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        ours = COLUMN_KEYS.get(key.strip().lower())
        if not sep or ours is None or not value.strip():
            known = ", ".join(sorted(COLUMN_KEYS))
            raise EvalError(
                f"--columns: {part.strip()!r} is not KEY=COLUMN with KEY one of {known}"
            )
        out[ours] = value.strip()
    return out


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line, row) pairs of a CSV/TSV file; the delimiter comes from the header."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = decode(path, data)
    except UnicodeDecodeError as exc:
        # A BOM that promises UTF-16 over bytes that are not: decode() only checks UTF-8.
        raise InputError(str(path), f"not UTF-8 or UTF-16 text ({exc.reason})") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(text))
    rows: list[tuple[int, dict[str, str]]] = []
    headers: list[str] = []
    try:
        for fields in reader:
            if not fields or not any(f.strip() for f in fields):
                continue
            if not headers:
                headers = [h.strip() for h in fields]
                continue
            padded = fields + [""] * (len(headers) - len(fields))
            rows.append((reader.line_num, dict(zip(headers, padded, strict=False))))
    except csv.Error as exc:
        raise InputError(str(path), f"malformed CSV: {exc}", reader.line_num) from exc
    if not headers:
        raise InputError(str(path), "empty file: expected a header row", 1)
    return headers, rows


def _column(
    path: Path, headers: list[str], key: str, mapping: Mapping[str, str], aliases: Iterable[str]
) -> str:
    wanted = mapping.get(key)
    found = _pick(headers, [wanted] if wanted else aliases)
    if found is None:
        how = f"--columns {key}={wanted}" if wanted else f"no {key} column recognised"
        raise InputError(
            str(path),
            f"{how}: not among the columns ({', '.join(headers)}); "
            f"name it with --columns {key}=<column>",
            1,
        )
    return found


# --------------------------------------------------------------------------- locating


_WORD = re.compile(r"\w+")


@dataclass
class _Words:
    """A text's words (case-folded), their character spans, and where each n-gram starts."""

    tokens: list[str]
    spans: list[tuple[int, int]]
    grams: dict[tuple[str, ...], list[int]] = field(default_factory=dict)


def _words(text: str) -> _Words:
    found = list(_WORD.finditer(text))
    words = _Words([m.group().casefold() for m in found], [m.span() for m in found])
    for i in range(len(words.tokens) - ALIGN_GRAM + 1):
        words.grams.setdefault(tuple(words.tokens[i : i + ALIGN_GRAM]), []).append(i)
    return words


def fuzzy_span(text: str, excerpt: str, words: _Words | None = None) -> tuple[int, int] | None:
    """Where `excerpt` is in `text` allowing small edits (see the module docstring), or None."""
    doc = words or _words(text)
    ex = _words(excerpt).tokens
    m = len(ex)
    if m < ALIGN_GRAM or len(doc.tokens) < ALIGN_GRAM:
        return None
    votes: Counter[int] = Counter()
    for j in range(m - ALIGN_GRAM + 1):
        for i in doc.grams.get(tuple(ex[j : j + ALIGN_GRAM]), ()):
            votes[i - j] += 1
    if not votes:
        return None
    offsets = sorted(votes, key=lambda o: (-votes[o], o))[:ALIGN_CANDIDATES]
    slack = max(ALIGN_GRAM, m // 8)
    best: tuple[float, int, tuple[int, int]] | None = None
    for offset in offsets:
        lo = max(0, offset - slack)
        hi = min(len(doc.tokens), offset + m + slack)
        blocks = [
            b
            for b in SequenceMatcher(
                None, doc.tokens[lo:hi], ex, autojunk=False
            ).get_matching_blocks()
            if b.size
        ]
        matched = sum(b.size for b in blocks)
        if not blocks or matched / m < FUZZY_MIN:
            continue
        first, last = lo + blocks[0].a, lo + blocks[-1].a + blocks[-1].size - 1
        if last - first + 1 > m + m // 4:
            continue
        key = (-matched / m, first, (doc.spans[first][0], doc.spans[last][1]))
        best = key if best is None or key < best else best
    return best[2] if best else None


@dataclass
class _Passage:
    line: int
    raw_id: str
    code: str
    excerpt: str
    unit: str | None = None
    unit_kind: Unit | None = None
    where: tuple[str, int, int] | None = None
    how: Literal["exact", "fuzzy"] | None = None
    covering: list[str] = field(default_factory=list)


class _DocumentIndex:
    """A coded id -> its documents: participant/ticket ids first, then file names and stems;
    exact first, then ignoring case."""

    def __init__(self, run: Run) -> None:
        docs = sorted(run.documents.values(), key=lambda d: (d.source, d.id))
        exact: dict[str, list[Document]] = defaultdict(list)
        for doc in docs:
            exact[_unit_of(doc)[1]].append(doc)
        by_file: dict[str, list[Document]] = defaultdict(list)
        for doc in docs:
            for key in sorted({Path(doc.source).name, Path(doc.source).stem}):
                if key not in exact:
                    by_file[key].append(doc)
        self.exact = {**by_file, **exact}
        # Ids before file names, so a case-blind id wins over a case-blind file name.
        self.folded = {k.casefold(): v for k, v in [*by_file.items(), *exact.items()]}

    def get(self, raw: str) -> list[Document]:
        key = raw.strip()
        for candidate in (key, Path(key).stem):
            if candidate in self.exact:
                return self.exact[candidate]
            if candidate.casefold() in self.folded:
                return self.folded[candidate.casefold()]
        return []


def _locate(passage: _Passage, docs: list[Document], cache: dict[str, _Words]) -> None:
    for doc in docs:
        span = find_span(doc.text, passage.excerpt)
        if span is not None:
            passage.where, passage.how = (doc.id, *span), "exact"
            return
    for doc in docs:
        if doc.id not in cache:
            cache[doc.id] = _words(doc.text)
        span = fuzzy_span(doc.text, passage.excerpt, cache[doc.id])
        if span is not None:
            passage.where, passage.how = (doc.id, *span), "fuzzy"
            return


# --------------------------------------------------------------------------- coding


def evaluate_coding(
    run: Run, path: Path, columns: Mapping[str, str] | None = None
) -> tuple[CodingEval, list[str]]:
    """Coverage of coded passages and recovery of shared codes (see the module docstring)."""
    mapping = dict(columns or {})
    headers, rows = _read_table(path)
    cols = {k: _column(path, headers, k, mapping, CODING_ALIASES[k]) for k in CODING_ALIASES}
    notes: list[str] = []
    index = _DocumentIndex(run)
    passages: list[_Passage] = []
    words: dict[str, _Words] = {}
    blank: list[int] = []
    unknown: set[str] = set()
    for line, row in rows:
        raw, code, excerpt = (
            row.get(cols[k], "").strip() for k in ("participant", "code", "excerpt")
        )
        if not raw or not code or not excerpt:
            blank.append(line)
            continue
        passage = _Passage(line, raw, code, excerpt)
        docs = index.get(raw)
        if not docs:
            unknown.add(raw)
        else:
            passage.unit_kind, passage.unit = _unit_of(docs[0])
            passages.append(passage)
            _locate(passage, docs, words)
    if blank:
        shown = ", ".join(map(str, blank[:10])) + (" ..." if len(blank) > 10 else "")
        notes.append(
            f"{path}: {len(blank)} row(s) without an id, code or excerpt skipped (lines {shown})"
        )
    unknown_rows = sum(1 for _, row in rows if row.get(cols["participant"], "").strip() in unknown)
    if unknown:
        notes.append(
            f"{path}: {len(unknown)} id(s) match no document of the run "
            f"({', '.join(sorted(unknown)[:10])}); their passages are left out"
        )
    for passage in passages:
        if passage.where is None:
            continue
        doc_id, start, end = passage.where
        passage.covering = sorted(
            {mid for mid, s, e in run.quote_spans.get(doc_id, []) if s < end and start < e}
        )
    kinds = Counter(p.unit_kind for p in passages)
    unit: Unit = "ticket" if kinds["ticket"] > kinds["participant"] else "participant"
    located = [p for p in passages if p.where is not None]
    covered = [p for p in located if p.covering]
    per_code = _recovery(run, passages, unit)
    recovered = sum(c.recovered for c in per_code)
    in_coded, on_passages, chance_precision = _precision(run, located)
    either = sum(c.recovered or bool(c.recovered_by_group) for c in per_code)
    return (
        CodingEval(
            file=str(path),
            unit=unit,
            passages=len(passages),
            units=len({p.unit for p in passages}),
            codes=len({p.code for p in passages}),
            exact=sum(p.how == "exact" for p in passages),
            fuzzy=sum(p.how == "fuzzy" for p in passages),
            not_located=len(passages) - len(located),
            unknown_id=unknown_rows,
            unknown_ids=sorted(unknown),
            covered=len(covered),
            coverage=_share(len(covered), len(located)),
            chance_coverage=_chance(run, located),
            quotes_in_coded=in_coded,
            quotes_on_passages=on_passages,
            precision=_share(on_passages, in_coded),
            chance_precision=chance_precision,
            shared_codes=len(per_code),
            recovered=recovered,
            recovery=_share(recovered, len(per_code)),
            recovered_with_groups=either if run.groups else None,
            recovery_with_groups=_share(either, len(per_code)) if run.groups else None,
            per_code=per_code,
        ),
        notes,
    )


def _union(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged half-open integer intervals."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _overlap(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> int:
    """Length of the intersection of two merged interval lists (one sweep)."""
    i = j = size = 0
    while i < len(xs) and j < len(ys):
        size += max(0, min(xs[i][1], ys[j][1]) - max(xs[i][0], ys[j][0]))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return size


def _chance(run: Run, located: list[_Passage]) -> float | None:
    """Mean over located passages of P(a same-length span at a random quotable start overlaps
    a mention quote of its document): the coverage a run would get by quoting the same
    amount of text with no regard to what the passages say."""
    if not located:
        return None
    total = 0.0
    for p in located:
        doc_id, start, end = p.where  # type: ignore[misc]
        doc = run.documents[doc_id]
        length = end - start
        starts = _quotable(doc)
        # A span starting at s overlaps the quote [a, b) when a - length < s < b.
        hits = _union((a - length + 1, b) for _, a, b in run.quote_spans.get(doc_id, []))
        room = sum(b - a for a, b in starts)
        total += _overlap(starts, hits) / room if room else 0.0
    return round(total / len(located), _ROUND)


def _quotable(doc: Document) -> list[tuple[int, int]]:
    return _union((t.start, t.start + len(t.text)) for t in doc.turns if t.role in QUOTABLE_ROLES)


def _precision(run: Run, located: list[_Passage]) -> tuple[int, int, float | None]:
    """Mention quotes in coded documents, how many overlap a coded passage, and the share a
    quote of the same length at a random quotable start would score (mean over quotes)."""
    coded: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for p in located:
        doc_id, start, end = p.where  # type: ignore[misc]
        coded[doc_id].append((start, end))
    quotes = hits = 0
    chance = 0.0
    for doc_id in sorted(coded):
        passages = _union(coded[doc_id])
        starts = _quotable(run.documents[doc_id])
        room = sum(b - a for a, b in starts)
        for _, a, b in run.quote_spans.get(doc_id, []):
            quotes += 1
            hits += bool(_overlap([(a, b)], passages))
            # A quote of length L starting at s overlaps the passage [x, y) when x - L < s < y.
            near = _union((x - (b - a) + 1, y) for x, y in passages)
            chance += _overlap(starts, near) / room if room else 0.0
    return quotes, hits, (round(chance / quotes, _ROUND) if quotes else None)


def _recovery(run: Run, passages: list[_Passage], unit: Unit) -> list[CodeRecovery]:
    holders: dict[str, set[str]] = defaultdict(set)
    for p in passages:
        holders[p.code].add(p.unit or "")
    levels: dict[str, Theme | ThemeGroup] = {**run.themes, **run.groups}
    out = []
    for code in sorted(holders, key=lambda c: (-len(holders[c]), c)):
        n = len(holders[code])
        if n < MIN_SHARED:
            continue
        held: dict[str, set[str]] = defaultdict(set)
        for p in passages:
            if p.code != code:
                continue
            for mid in p.covering:
                theme = run.theme_of.get(mid)
                if theme is not None:
                    held[theme].add(p.unit or "")
        best, holds, size = _best(held, n, unit, run.themes)
        row = CodeRecovery(
            code=code,
            n=n,
            best_theme_id=best,
            best_theme_label=run.themes[best].label if best else None,
            holds=holds,
            theme_count=size,
            themes=len(held),
            recovered=_recovers(best, holds, size, n),
        )
        if run.groups:
            # A theme outside every group is its own group here: the finding is that theme.
            up: dict[str, set[str]] = defaultdict(set)
            for theme, who in held.items():
                up[run.group_of.get(theme, theme)] |= who
            # Theme and group ranks are on different scales: ties go to the higher score.
            group, group_holds, group_size = _best(up, n, unit, levels, by_score=True)
            row.best_group_id = group
            row.best_group_label = levels[group].label if group else None
            row.group_holds = group_holds
            row.group_count = group_size
            row.recovered_by_group = _recovers(group, group_holds, group_size, n)
        out.append(row)
    return out


def _recovers(best: str | None, holds: int, size: int, n: int) -> bool:
    """A code is recovered by a theme (or group) holding n - 1 of its n holders whose own count
    is within +-1 of n."""
    return best is not None and holds >= n - 1 and abs(size - n) <= 1


def _best(
    held: Mapping[str, set[str]],
    n: int,
    unit: Unit,
    pool: Mapping[str, Theme | ThemeGroup],
    by_score: bool = False,
) -> tuple[str | None, int, int]:
    """The container holding most of a code's holders (ties: count nearer n, then rank, or
    score when `by_score`, then id): its id, how many holders it holds and its own count."""

    def count(key: str) -> int:
        f = pool[key].frequency
        return f.tickets if unit == "ticket" else f.participants

    def order(key: str) -> float:
        return -pool[key].score if by_score else pool[key].rank

    ranked = sorted(held, key=lambda k: (-len(held[k]), abs(count(k) - n), order(k), k))
    if not ranked:
        return None, 0, 0
    return ranked[0], len(held[ranked[0]]), count(ranked[0])


# --------------------------------------------------------------------------- labels


NO_THEME = "\x00no theme:"


def ticket_assignment(run: Run) -> dict[str, str]:
    """Ticket id -> the theme holding most of its mentions, or a singleton marker if none."""
    by_ticket: dict[str, Counter[str]] = defaultdict(Counter)
    for m in run.mentions:
        if m.kind == "ticket" and m.id in run.theme_of:
            by_ticket[_mention_unit(m)][run.theme_of[m.id]] += 1
    out = {}
    for doc in run.documents.values():
        if doc.kind != "ticket":
            continue
        _, ticket = _unit_of(doc)
        votes = by_ticket.get(ticket)
        if votes:
            out[ticket] = min(votes, key=lambda t: (-votes[t], run.themes[t].rank, t))
        else:
            out[ticket] = NO_THEME + ticket
    return out


def evaluate_labels(
    run: Run, path: Path, label_column: str | None = None, columns: Mapping[str, str] | None = None
) -> tuple[LabelEval, list[str]]:
    """V-measure, ARI and matched sizes of labelled tickets (see the module docstring)."""
    from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure

    mapping = dict(columns or {})
    if label_column:
        mapping["label"] = label_column
    headers, rows = _read_table(path)
    id_col = _column(path, headers, "participant", mapping, TICKET_ALIASES["id"])
    label_col = _column(path, headers, "label", mapping, LABEL_ALIASES)
    assigned = ticket_assignment(run)
    notes: list[str] = []
    seen: dict[str, str] = {}
    not_found: list[str] = []
    duplicates = 0
    for _, row in rows:
        ticket, label = row.get(id_col, "").strip(), row.get(label_col, "").strip()
        if not ticket or not label:
            continue
        if ticket in seen:
            duplicates += 1
        elif ticket not in assigned:
            not_found.append(ticket)
        else:
            seen[ticket] = label
    if duplicates:
        notes.append(f"{path}: {duplicates} repeated ticket id(s); the first label of each is used")
    if not_found:
        notes.append(
            f"{path}: {len(not_found)} labelled ticket(s) are not in the run "
            f"(e.g. {', '.join(not_found[:5])}); left out"
        )
    tickets = sorted(seen)
    truth = [seen[t] for t in tickets]
    clusters = [assigned[t] for t in tickets]
    left = sum(c.startswith(NO_THEME) for c in clusters)
    per_label = _label_matches(run, truth, clusters)
    sizes = [p.size for p in per_label]
    correlation = _pearson(sizes, [p.best_theme_size for p in per_label])
    if correlation is None and len(set(sizes)) == 1 and len(sizes) > 1:
        notes.append(
            f"{path}: every label has {sizes[0]} tickets, so matched-size correlation is undefined"
        )
    mixed: dict[str, set[str]] = defaultdict(set)
    for label, cluster in zip(truth, clusters, strict=True):
        mixed[cluster].add(label)
    v = hom = comp = ari = singleton = None
    if tickets:
        hom, comp, v = homogeneity_completeness_v_measure(truth, clusters)
        ari = adjusted_rand_score(truth, clusters)
        singleton = homogeneity_completeness_v_measure(truth, tickets)[2]
    return (
        LabelEval(
            file=str(path),
            label_column=label_col,
            tickets=len(tickets),
            not_found=len(not_found),
            left_without_theme=left,
            left_without_theme_share=_share(left, len(tickets)),
            labels=len(set(truth)),
            clusters=len(set(clusters)),
            v_measure=_round(v),
            homogeneity=_round(hom),
            completeness=_round(comp),
            ari=_round(ari),
            singleton_v_measure=_round(singleton),
            size_correlation=correlation,
            most_labels_in_one_theme=max((len(v) for v in mixed.values()), default=0),
            per_label=per_label,
        ),
        notes,
    )


def _label_matches(run: Run, truth: list[str], clusters: list[str]) -> list[LabelMatch]:
    theme_size = Counter(c for c in clusters if not c.startswith(NO_THEME))
    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    for label, cluster in zip(truth, clusters, strict=True):
        by_label[label][cluster] += 0 if cluster.startswith(NO_THEME) else 1
    sizes = Counter(truth)
    out = []
    for label in sorted(sizes, key=lambda lab: (-sizes[lab], lab)):
        votes = {t: n for t, n in by_label[label].items() if n}
        best = min(votes, key=lambda t: (-votes[t], run.themes[t].rank, t)) if votes else None
        out.append(
            LabelMatch(
                label=label,
                size=sizes[label],
                best_theme_id=best,
                best_theme_label=run.themes[best].label if best else None,
                best_theme_size=theme_size[best] if best else 0,
                overlap=votes.get(best, 0) if best else 0,
            )
        )
    return out


# --------------------------------------------------------------------------- fidelity, stability


def quote_fidelity(run: Run) -> FidelityEval:
    """Mention quotes verbatim in their chunk (or at the chunk's place in the original text)."""
    total = found = 0
    for m in run.mentions:
        for quote in m.quotes:
            total += 1
            chunk = run.chunks.get(quote.chunk_id)
            if chunk is None:
                continue
            doc = run.documents.get(chunk.document_id)
            original = doc.text[chunk.start : chunk.end] if doc else ""
            found += is_verbatim(quote.text, chunk.text) or is_verbatim(quote.text, original)
    return FidelityEval(quotes=total, verbatim=found, share=_share(found, total))


def _fallback_key(m: PainPointMention) -> str:
    """A mention's key when ids differ between runs: its chunk and its first quote."""
    quote = m.quotes[0].text if m.quotes else ""
    return f"{m.chunk_id}\x00{' '.join(quote.casefold().split())}"


def stability(run: Run, other: Run) -> StabilityEval:
    """ARI between two runs' theme assignments of the mentions and tickets both have."""
    from sklearn.metrics import adjusted_rand_score

    here = {m.id: m for m in run.mentions}
    there = {m.id: m for m in other.mentions}
    pairs: dict[str, tuple[str, str]] = {}
    for mid in sorted(here.keys() & there.keys()):
        pairs[mid] = (mid, mid)
    spare_here = {_fallback_key(here[i]): i for i in sorted(here.keys() - there.keys())}
    spare_there = {_fallback_key(there[i]): i for i in sorted(there.keys() - here.keys())}
    for key in sorted(spare_here.keys() & spare_there.keys()):
        pairs[key] = (spare_here[key], spare_there[key])
    a = [run.theme_of.get(x, NO_THEME + x) for x, _ in pairs.values()]
    b = [other.theme_of.get(y, NO_THEME + y) for _, y in pairs.values()]
    tickets_a, tickets_b = ticket_assignment(run), ticket_assignment(other)
    common = sorted(tickets_a.keys() & tickets_b.keys())
    return StabilityEval(
        other=str(other.root),
        mentions_common=len(pairs),
        mentions_only_here=len(here) - len(pairs),
        mentions_only_other=len(there) - len(pairs),
        mention_ari=_round(adjusted_rand_score(a, b)) if pairs else None,
        tickets_common=len(common),
        ticket_ari=(
            _round(
                adjusted_rand_score([tickets_a[t] for t in common], [tickets_b[t] for t in common])
            )
            if common
            else None
        ),
    )


# --------------------------------------------------------------------------- entry point


def evaluate(
    workspace: Path,
    *,
    coding: Path | None = None,
    labels: Path | None = None,
    label_column: str | None = None,
    columns: Mapping[str, str] | None = None,
    against: Path | None = None,
) -> EvalReport:
    """Measure the run in `workspace` against a coding CSV, a label CSV and/or another run."""
    run = load_run(workspace)
    notes: list[str] = []
    coding_eval = labels_eval = None
    if coding is not None:
        coding_eval, found = evaluate_coding(run, coding, columns)
        notes += found
    if labels is not None:
        labels_eval, found = evaluate_labels(run, labels, label_column, columns)
        notes += found
    return EvalReport(
        workspace=str(workspace),
        mentions=len(run.mentions),
        themes=len(run.themes),
        coding=coding_eval,
        labels=labels_eval,
        fidelity=quote_fidelity(run),
        stability=stability(run, load_run(against)) if against is not None else None,
        notes=notes,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), _ROUND)


def _share(part: int, total: int) -> float | None:
    return round(part / total, _ROUND) if total else None


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson r, or None with fewer than 2 points or a constant side."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return round(sxy / (sxx * syy) ** 0.5, _ROUND)


def render_text(report: EvalReport) -> str:
    """The report as a readable table."""
    out = [f"persona eval: {report.workspace} ({report.mentions} mentions, {report.themes} themes)"]
    c = report.coding
    if c is not None:
        located = c.exact + c.fuzzy
        out += [
            f"coding: {c.file}",
            f"  passages: {c.passages} from {c.units} {c.unit}s, {c.codes} codes; located {located} "
            f"({c.exact} verbatim, {c.fuzzy} fuzzy >= {c.fuzzy_min:.0%} of words); "
            f"not located {c.not_located}"
            + (f"; {c.unknown_id} rows with an unknown id" if c.unknown_id else ""),
            f"  coverage: {_pct(c.coverage)} ({c.covered} of {located} located passages overlap "
            f"a mention quote from the same {c.unit}; by chance: {_pct(c.chance_coverage)})",
            f"  precision: {_pct(c.precision)} ({c.quotes_on_passages} of {c.quotes_in_coded} "
            f"mention quotes in coded documents overlap a coded passage; by chance: "
            f"{_pct(c.chance_precision)})",
            f"  shared codes ({MIN_SHARED}+ {c.unit}s): {c.shared_codes}; one theme with count "
            f"+-1: {c.recovered} ({_pct(c.recovery)})",
        ]
        if c.recovered_with_groups is not None:
            out.append(
                f"  one theme or theme group with count +-1: {c.recovered_with_groups} "
                f"({_pct(c.recovery_with_groups)})"
            )
        if c.per_code:
            out.append(
                f"    {'code':<36} {'n':>3}  {'best theme':<36} {'holds':>5} {'count':>5} {'themes':>6}  ok"
            )
            for row in c.per_code:
                label = (row.best_theme_label or "-")[:36]
                out.append(
                    f"    {row.code[:36]:<36} {row.n:>3}  {label:<36} {row.holds:>5} "
                    f"{row.theme_count:>5} {row.themes:>6}  {'yes' if row.recovered else 'no'}"
                )
                if row.recovered_by_group is not None and row.best_group_id != row.best_theme_id:
                    group = (row.best_group_label or "-")[:36]
                    out.append(
                        f"    {'  group:':<36} {'':>3}  {group:<36} {row.group_holds:>5} "
                        f"{row.group_count:>5} {'':>6}  {'yes' if row.recovered_by_group else 'no'}"
                    )
    lab = report.labels
    if lab is not None:
        out += [
            f"labels: {lab.file} (column {lab.label_column})",
            f"  tickets: {lab.tickets} labelled and in the run ({lab.labels} labels, "
            f"{lab.clusters} clusters); {lab.not_found} labelled but not in the run",
            f"  left without a theme: {lab.left_without_theme} ({_pct(lab.left_without_theme_share)}; "
            "each counted as its own cluster below)",
            f"  V-measure {_num(lab.v_measure)} (homogeneity {_num(lab.homogeneity)}, completeness "
            f"{_num(lab.completeness)}; every ticket alone: {_num(lab.singleton_v_measure)}); "
            f"ARI {_num(lab.ari)}",
            f"  matched-size correlation: {_num(lab.size_correlation)} (label size vs its best "
            f"theme's); the most labels in one theme: {lab.most_labels_in_one_theme}",
        ]
        if lab.per_label:
            out.append(
                f"    {'label':<36} {'size':>5}  {'best theme':<36} {'size':>5} {'shared':>6}"
            )
            for row in lab.per_label[:15]:
                label = (row.best_theme_label or "-")[:36]
                out.append(
                    f"    {row.label[:36]:<36} {row.size:>5}  {label:<36} "
                    f"{row.best_theme_size:>5} {row.overlap:>6}"
                )
            if len(lab.per_label) > 15:
                out.append(f"    ... {len(lab.per_label) - 15} more labels (see --json)")
    f = report.fidelity
    out.append(
        f"quote fidelity: {_pct(f.share)} ({f.verbatim} of {f.quotes} quotes verbatim in their chunk)"
    )
    s = report.stability
    if s is not None:
        out.append(
            f"stability against {s.other}: mention ARI {_num(s.mention_ari)} over "
            f"{s.mentions_common} shared mentions ({s.mentions_only_here} only here, "
            f"{s.mentions_only_other} only there); ticket ARI {_num(s.ticket_ari)} over "
            f"{s.tickets_common} tickets"
        )
    out += [f"note: {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
