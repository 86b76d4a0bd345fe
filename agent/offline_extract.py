"""Offline extraction: deterministic pain cues instead of a language model.

A sentence said by a participant or customer becomes a mention when it carries pain cues
(failure, frustration, effort, wish, cost, or a negation next to one of them). Its quote is the
sentence itself; severity rises with intensity cues; category comes from a keyword table, else the
sentence's most salient word; the journey stage from stage words, else `unknown`. Questions end
a sentence's claim in interviews (they are usually asked back), but count in tickets, where a
question is often the need itself. Same input, same output, always; every mention says
origin="offline". The vocabulary lives in agent/data/offline_cues.yaml; it was tuned on the
transcripts/ sample corpus, so the recall measured there is in-sample.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .ids import content_hash
from .models import QUOTABLE_ROLES, Chunk, PainPointMention, Quote

# A "." followed by a digit is a decimal point ("$538.81"), not the end of a sentence.
SENTENCE = re.compile(r"(?:[^.!?…\n]|\.(?=\d))+(?:[.!?…]+[\"'”’)]*|$)", re.MULTILINE)
CUES_FILE = Path(__file__).parent / "data" / "offline_cues.yaml"
THRESHOLD = 2.0


def _words(items: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(items) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Cue:
    name: str
    weight: float
    base_severity: int
    label: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Vocabulary:
    """The compiled contents of offline_cues.yaml."""

    cues: tuple[Cue, ...]
    intensity: re.Pattern[str]
    positive: re.Pattern[str]
    categories: tuple[tuple[str, re.Pattern[str]], ...]
    stages: tuple[tuple[str, re.Pattern[str]], ...]
    stopwords: frozenset[str]


@cache
def vocabulary() -> Vocabulary:
    data = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))
    return Vocabulary(
        cues=tuple(
            Cue(
                name, float(c["weight"]), int(c["base_severity"]), c["label"], _words(c["patterns"])
            )
            for name, c in data["cues"].items()
        ),
        intensity=_words(data["intensity"]),
        positive=_words(data["positive"]),
        categories=tuple((name, _words(items)) for name, items in data["categories"].items()),
        stages=tuple((name, _words(items)) for name, items in data["stages"].items()),
        stopwords=frozenset(data["stopwords"].split()),
    )


def _sentences(text: str) -> Iterable[tuple[int, int]]:
    for match in SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start >= 12:
            yield start, end


_BUT = re.compile(r"\b(?:but|however|except|although|though)\b", re.IGNORECASE)


def _pain_after_but(sentence: str, praise_end: int) -> bool:
    """'The scanner is great but the app crashes': the praise is conceded, the pain stands."""
    turn = _BUT.search(sentence, praise_end)
    if turn is None:
        return False
    rest = sentence[turn.end() :]
    return any(c.weight > 0 and c.pattern.search(rest) for c in vocabulary().cues)


def _cues(sentence: str, question_penalty: bool = True) -> tuple[float, list[str]]:
    found, score = [], 0.0
    for cue in vocabulary().cues:
        hits = {m.group().lower() for m in cue.pattern.finditer(sentence)}
        if hits:
            found.append(cue.name)
            score += cue.weight * min(2, len(hits))
    praise = vocabulary().positive.search(sentence)
    if praise and "frustration" not in found and not _pain_after_but(sentence, praise.end()):
        score -= THRESHOLD
    # A question back to the interviewer is rarely a pain statement on its own; a question in
    # a ticket is a need, so tickets keep theirs.
    if question_penalty and sentence.rstrip().endswith("?") and score < 3.5:
        score = 0.0
    return score, found


def _category(sentence: str) -> str:
    vocab = vocabulary()
    for name, pattern in vocab.categories:
        if pattern.search(sentence):
            return name
    # Possessives keep their noun ("client's" -> "client"); other contractions ("i've") are
    # never what a sentence is about.
    found = (w.removesuffix("'s") for w in re.findall(r"[a-z][a-z'-]{3,}", sentence.lower()))
    words = [w for w in found if "'" not in w and len(w) >= 4 and w not in vocab.stopwords]
    cue_free = [w for w in words if not any(c.pattern.search(w) for c in vocab.cues)]
    # Adverbs ("honestly") and past-tense verbs ("happened") are never what a pain is about.
    nounish = [w for w in cue_free if not w.endswith(("ly", "ed"))]
    pool = nounish or cue_free or words
    # Longest content word, earliest on ties: a crude but stable stand-in for the head noun.
    return max(pool, key=len) if pool else "general"


def _stage(text: str) -> str:
    for name, pattern in vocabulary().stages:
        if pattern.search(text):
            return name
    return "unknown"


def _severity(sentence: str, kinds: list[str]) -> tuple[int, str]:
    severities = {c.name: c.base_severity for c in vocabulary().cues}
    base = max((severities[k] for k in kinds), default=2)
    boosts = sorted({m.group().lower() for m in vocabulary().intensity.finditer(sentence)})
    bangs = sentence.count("!")
    level = min(5, base + min(2, len(boosts) + (1 if bangs else 0)))
    cues = ", ".join(kinds)
    extra = f"; intensity: {', '.join(boosts[:4])}" if boosts else ""
    return level, f"offline estimate from cues ({cues}){extra}"


def _mention(chunk: Chunk, spans: list[tuple[int, int]], kinds: list[str]) -> PainPointMention:
    text = " ".join(chunk.text[a:b] for a, b in spans)
    category = _category(text)
    severity, rationale = _severity(text, kinds)
    first = chunk.text[spans[0][0] : spans[0][1]]
    label = next(c.label for c in vocabulary().cues if c.name == kinds[0])
    statement = f"{label} ({category}): {' '.join(first.split())}"
    quotes = [
        Quote(
            text=chunk.text[a:b],
            chunk_id=chunk.id,
            start=a,
            end=b,
            participant_id=chunk.participant_id,
            ticket_id=chunk.ticket_id,
            source=chunk.source,
        )
        for a, b in spans
    ]
    product = chunk.metadata.get("product") or chunk.metadata.get("app")
    return PainPointMention(
        id=content_hash({"offline": [chunk.id, spans], "statement": statement}),
        statement=statement,
        category=category,
        severity=severity,
        severity_rationale=rationale,
        journey_stage=_stage(text),  # type: ignore[arg-type]
        quotes=quotes,
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        kind=chunk.kind,
        participant_id=chunk.participant_id,
        ticket_id=chunk.ticket_id,
        user_id=chunk.user_id,
        product=str(product) if product not in (None, "") else None,
        origin="offline",
        context=chunk.text,
    )


def extract_chunk(chunk: Chunk) -> list[PainPointMention]:
    """Mentions from one quotable chunk; adjacent cue sentences on one topic share a mention."""
    if chunk.role not in QUOTABLE_ROLES:
        return []
    groups: list[tuple[list[tuple[int, int]], list[str], str]] = []
    last_end = -1
    for start, end in _sentences(chunk.text):
        sentence = chunk.text[start:end]
        score, kinds = _cues(sentence, question_penalty=chunk.kind == "interview")
        if score < THRESHOLD:
            last_end = -1
            continue
        category = _category(sentence)
        if groups and last_end >= 0 and groups[-1][2] == category and len(groups[-1][0]) < 3:
            groups[-1][0].append((start, end))
            groups[-1][1].extend(k for k in kinds if k not in groups[-1][1])
        else:
            groups.append(([(start, end)], list(kinds), category))
        last_end = end
    return [_mention(chunk, spans, kinds) for spans, kinds, _ in groups]


def extract_offline(chunks: Iterable[Chunk]) -> list[PainPointMention]:
    """Mentions for every quotable chunk, in chunk order."""
    out: list[PainPointMention] = []
    for chunk in chunks:
        out.extend(extract_chunk(chunk))
    return out
