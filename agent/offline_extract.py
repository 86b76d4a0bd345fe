"""Offline extraction: deterministic cues instead of a language model.

A sentence said by a participant or customer becomes a mention when it carries pain cues
(failure, frustration, effort, wish, cost, or a negation next to one of them; in interviews and
surveys also confusion, "I'm not sure what this is for", and suggestions, "maybe you could add
a legend"). Its quote is the sentence itself; severity rises with intensity cues; category comes
from a keyword table, else the sentence's most salient word; the journey stage from stage words,
else `unknown`. Questions end a sentence's claim in interviews (they are usually asked back)
unless they say the speaker is lost ("Where is the export?"), but count in tickets, where a
question is often the need itself. Denials ("without any problems", "I don't think I got
stuck") and talk about the session ("I don't know if you can see my screen") count for nothing,
nor does an interviewer's line inside a participant's paragraph ("MODERATOR: ...").

The ticket is the unit of evidence: a ticket (or review) with no pain cue that asks for
something or asks how to do something still yields one mention, of nature "request" or
"question" (low severity); only tickets that do neither (thanks, praise, a notice) yield none.

Observations (goals, workarounds, tools, positive moments) are noticed the same way, one per
kind per sentence; a tool is a name from the tools list or a capitalised word after "use".

Same input, same output, always; everything says origin="offline". The vocabulary lives in
agent/data/offline_cues.yaml; it was first tuned on the transcripts/ sample corpus, so recall
measured there is in-sample, and its interview cues on one public think-aloud study (README:
out-of-sample numbers from `persona eval` on another).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import yaml

from .ids import content_hash
from .models import QUOTABLE_ROLES, Chunk, Observation, PainPointMention, Quote

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
    # Document kinds the cue applies to (empty: every kind).
    kinds: frozenset[str] = frozenset()

    def applies(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class Vocabulary:
    """The compiled contents of offline_cues.yaml."""

    cues: tuple[Cue, ...]
    intensity: re.Pattern[str]
    positive: re.Pattern[str]
    opinions: re.Pattern[str]
    denials: re.Pattern[str]
    categories: tuple[tuple[str, re.Pattern[str]], ...]
    stages: tuple[tuple[str, re.Pattern[str]], ...]
    stopwords: frozenset[str]
    requests: re.Pattern[str]
    questions: re.Pattern[str]
    observations: tuple[tuple[str, re.Pattern[str]], ...]
    tools: tuple[re.Pattern[str], ...]


@cache
def vocabulary() -> Vocabulary:
    data = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))
    return Vocabulary(
        cues=tuple(
            Cue(
                name,
                float(c["weight"]),
                int(c["base_severity"]),
                c["label"],
                _words(c["patterns"]),
                frozenset(c.get("kinds", [])),
            )
            for name, c in data["cues"].items()
        ),
        intensity=_words(data["intensity"]),
        positive=_words(data["positive"]),
        opinions=_words(data["opinions"]),
        denials=_words(data["denials"]),
        categories=tuple((name, _words(items)) for name, items in data["categories"].items()),
        stages=tuple((name, _words(items)) for name, items in data["stages"].items()),
        stopwords=frozenset(data["stopwords"].split()),
        requests=_words(data["requests"]),
        questions=_words(data["questions"]),
        observations=tuple((name, _words(items)) for name, items in data["observations"].items()),
        tools=_tool_patterns(data["tools"]),
    )


def _tool_patterns(names: list[str]) -> tuple[re.Pattern[str], ...]:
    """Capitalised names match as written ("Sage", "Ramp", "R" are also ordinary words);
    lower-case entries ("email", "spreadsheets?") match in any case."""
    proper = [n for n in names if n != n.lower()]
    common = [n for n in names if n == n.lower()]
    out = []
    if proper:
        out.append(re.compile(r"(?<![\w.])(?:" + "|".join(proper) + r")(?![\w])"))
    if common:
        out.append(_words(common))
    return tuple(out)


def _sentences(text: str) -> Iterable[tuple[int, int]]:
    for match in SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start >= 12:
            yield start, end


# Words that set one clause against another ("great, but it crashes").
_CONTRAST = r"\b(?:but|however|except|although|though|until|whereas)\b"
_BUT = re.compile(_CONTRAST, re.IGNORECASE)
# Where a clause ends: punctuation inside a sentence, or a contrast word.
_CLAUSE_BREAK = re.compile(rf"[,;:]|{_CONTRAST}", re.IGNORECASE)


def _blank(pattern: re.Pattern[str], text: str) -> str:
    """`text` with each match of `pattern` blanked, not deleted: the words around it keep their
    boundaries and every offset stays put."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _pain_across_but(sentence: str, praise: re.Match[str], kind: str) -> bool:
    """'The scanner is great but the app crashes', 'the blue is hard to see until I hover, but
    the hovering is good': a pain on the other side of a contrast from the praise stands."""

    def pained(text: str) -> bool:
        return any(
            c.weight > 0 and c.applies(kind) and c.pattern.search(text) for c in vocabulary().cues
        )

    after = _BUT.search(sentence, praise.end())
    if after is not None and pained(sentence[after.end() :]):
        return True
    # "There were bugs, but overall it is intuitive"; "Even though it was slow, overall ...".
    return _BUT.search(sentence, 0, praise.start()) is not None and pained(
        sentence[: praise.start()]
    )


# Words that turn the praise after them around ("not clear", "never easy").
_NEGATED = re.compile(r"(?:\b(?:not|no|never|hardly|barely)|n't)\W+(?:\w+\W+){0,2}$", re.IGNORECASE)
# An interviewer's words inside a participant's paragraph ("MODERATOR: ...") are not theirs.
_INTERVIEWER_LINE = re.compile(
    r"^\W*(?:interviewer|moderator|facilitator|researcher)\s*:", re.IGNORECASE
)


# "I don't know how it is helpful", "I'd have to think about if I actually think this is a good
# idea": praise inside an embedded question (up to 6 words on, within the clause) is not asserted.
_ASKED = re.compile(
    r"\b(?:how|if|whether|what)\b(?:[^\w,;:.!?]+[\w']+){0,6}[^\w,;:.!?]+$", re.IGNORECASE
)


def _without_opinions(sentence: str) -> str:
    """The sentence with each clause that states an opinion ("I thought it was good") blanked,
    unless a negation turns it around or a question word puts it in doubt."""
    out = sentence
    for match in vocabulary().opinions.finditer(sentence):
        before = sentence[: match.start()]
        if _NEGATED.search(before) or _ASKED.search(before):
            continue
        starts = [m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, match.start())]
        start = starts[-1] if starts else 0
        end_at = _CLAUSE_BREAK.search(sentence, match.end())
        end = end_at.start() if end_at else len(sentence)
        out = out[:start] + " " * (end - start) + out[end:]
    return out


def _praise(sentence: str) -> re.Match[str] | None:
    """The first praise (or over-and-done pain) in a sentence that no negation turns around
    and no question word puts in doubt."""
    for match in vocabulary().positive.finditer(sentence):
        before = sentence[: match.start()]
        if not _NEGATED.search(before) and not _ASKED.search(before):
            return match
    return None


def _cues(sentence: str, kind: str = "interview") -> tuple[float, list[str]]:
    """Pain score of one sentence from a document of this kind, and the cue kinds it carries."""
    score, found = _scored(sentence, kind)
    return score, list(found)


def states_a_pain(sentence: str, kind: str = "interview") -> bool:
    """Whether a sentence from a document of this kind carries a pain cue on its own."""
    return _scored(sentence, kind)[0] >= THRESHOLD


# Pains and observations both score every sentence; the cue patterns are most of the time spent.
@lru_cache(maxsize=1 << 14)
def _scored(sentence: str, kind: str) -> tuple[float, tuple[str, ...]]:
    if _INTERVIEWER_LINE.match(sentence):
        return 0.0, ()
    # Curly apostrophes read as straight ones (same length: offsets stay put).
    sentence = sentence.replace("\u2019", "'")
    sentence = _blank(vocabulary().denials, sentence)
    sentence = _without_opinions(sentence)
    found: list[str] = []
    score = 0.0
    for cue in vocabulary().cues:
        if not cue.applies(kind):
            continue
        hits = {m.group().lower() for m in cue.pattern.finditer(sentence)}
        if hits:
            found.append(cue.name)
            score += cue.weight * min(2, len(hits))
    praise = _praise(sentence)
    # Frustration outweighs praise, and a suggestion after praise ("the tooltips are nice, maybe
    # you could add one for lag") still asks for a change.
    exempt = "frustration" in found or "suggestion" in found
    if praise and not exempt and not _pain_across_but(sentence, praise, kind):
        score -= THRESHOLD
    # A question back to the interviewer is rarely a pain statement on its own, unless it says
    # the speaker is lost ("Where is the export?"); a question in a ticket is a need, so
    # tickets keep theirs.
    asked_back = kind == "interview" and sentence.rstrip().endswith("?")
    if asked_back and score < 3.5 and "confusion" not in found:
        score = 0.0
    return score, tuple(found)


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


def quote_at(chunk: Chunk, span: tuple[int, int]) -> Quote:
    """The chunk's words at `span` as a stored quote (who said them, and where)."""
    return Quote(
        text=chunk.text[span[0] : span[1]],
        chunk_id=chunk.id,
        start=span[0],
        end=span[1],
        participant_id=chunk.participant_id,
        ticket_id=chunk.ticket_id,
        source=chunk.source,
    )


def _mention(chunk: Chunk, spans: list[tuple[int, int]], kinds: list[str]) -> PainPointMention:
    text = " ".join(chunk.text[a:b] for a, b in spans)
    category = _category(text)
    severity, rationale = _severity(text, kinds)
    first = chunk.text[spans[0][0] : spans[0][1]]
    label = next(c.label for c in vocabulary().cues if c.name == kinds[0])
    statement = f"{label} ({category}): {' '.join(first.split())}"
    quotes = [quote_at(chunk, (a, b)) for a, b in spans]
    return PainPointMention(
        id=content_hash({"offline": [chunk.id, spans], "statement": statement}),
        statement=statement,
        category=category,
        severity=severity,
        severity_rationale=rationale,
        journey_stage=_stage(text),  # type: ignore[arg-type]
        quotes=quotes,
        kind=chunk.kind,
        **chunk.origin(),
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
        score, kinds = _cues(sentence, chunk.kind)
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


NATURE_LABELS = {"request": "Asks for a change", "question": "Asks how to do something"}


def need_of(sentence: str) -> str | None:
    """'request' or 'question' when a sentence asks for something; None otherwise."""
    vocab = vocabulary()
    if vocab.requests.search(sentence):
        return "request"
    if sentence.rstrip().rstrip("\"'”’)").endswith("?") or vocab.questions.search(sentence):
        return "question"
    return None


_TROUBLE = re.compile(
    r"\b(?:not|no|never|none|without|cannot|can't|cant|won't|wont|isn't|didn't|didint|doesn't|"
    r"hasn't|haven't|wasn't|weren't|still|pending|wrong|extra|trouble|mistake|stole|stolen|"
    r"swallowed|lost|weird|strange|unknown|unauthori[sz]ed|fraud\w*|declined|rejected|"
    r"charged|refund\w*|help)\b",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"\b(?:thanks?|thank you|kudos|appreciate\w*|just (?:a note|wanted to (?:say|let you know))|"
    r"fyi|for your information)\b",
    re.IGNORECASE,
)


def ticket_need(chunks: list[Chunk]) -> PainPointMention | None:
    """What a ticket with no pain cue needs: its first request or question sentence (body
    first, then the subject line, a title rather than the customer's words); else, unless the
    ticket only thanks, praises or informs, its opening sentence as a problem (a sign of
    trouble in it) or a request: a support ticket is itself a need."""
    found = _asked(chunks)
    if found is not None:
        return found
    sentences = [
        (chunk, start, end)
        for chunk in sorted(chunks, key=lambda c: c.start)
        if chunk.role in QUOTABLE_ROLES
        for start, end in _sentences(chunk.text)
    ]
    if not sentences:
        return None
    whole = " ".join(chunk.text[a:b] for chunk, a, b in sentences)
    trouble = _TROUBLE.search(whole)
    if not trouble and (_THANKS.search(whole) or vocabulary().positive.search(whole)):
        return None
    body = [s for s in sentences if not _in_title(*s)] or sentences
    chunk, start, end = max(
        body[:3],
        key=lambda s: (_TROUBLE.search(s[0].text[s[1] : s[2]]) is not None, -body.index(s)),
    )
    return _need(chunk, (start, end), "problem" if trouble else "request")


def _in_title(chunk: Chunk, start: int, end: int) -> bool:
    """Is this sentence the subject line ("subject\n\nbody", the first chunk of a ticket)?"""
    title_end = chunk.text.find("\n\n") if chunk.start == 0 else -1
    return start < title_end


def _asked(chunks: list[Chunk]) -> PainPointMention | None:
    """A ticket's first request or question sentence: the body's, else the subject line's."""
    body: list[tuple[Chunk, int, int]] = []
    subject: list[tuple[Chunk, int, int]] = []
    for chunk in sorted(chunks, key=lambda c: c.start):
        if chunk.role not in QUOTABLE_ROLES:
            continue
        # Ticket text is "subject\n\nbody" when the export has a subject column.
        for start, end in _sentences(chunk.text):
            (subject if _in_title(chunk, start, end) else body).append((chunk, start, end))
    for chunk, start, end in [*body, *subject]:
        nature = need_of(chunk.text[start:end])
        if nature is not None:
            return _need(chunk, (start, end), nature)
    return None


def _need(chunk: Chunk, span: tuple[int, int], nature: str) -> PainPointMention:
    text = chunk.text[span[0] : span[1]]
    category = _category(text)
    statement = (
        f"{NATURE_LABELS.get(nature, 'Reports a problem')} ({category}): {' '.join(text.split())}"
    )
    return PainPointMention(
        id=content_hash({"offline": [chunk.id, [span]], "statement": statement}),
        statement=statement,
        category=category,
        severity={"question": 1, "request": 2}.get(nature, 2),
        severity_rationale=f"offline estimate: a ticket's {nature}, no stronger pain cue",
        journey_stage=_stage(text),  # type: ignore[arg-type]
        quotes=[quote_at(chunk, span)],
        kind=chunk.kind,
        **chunk.origin(),
        origin="offline",
        context=chunk.text,
        nature=nature,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- observations

_USE = re.compile(
    r"\b(?:use|uses|used|using|in|via|through|with)\s+(?:a\s+|an\s+|the\s+|our\s+|my\s+)?"
    r"([A-Z][\w.+-]*(?:\s[A-Z][\w.+-]*)?)"
)


# A mail client's signature ("Sent from my iPhone") says nothing about the tools anyone uses.
_SIGNATURE = re.compile(r"\bsent from my\s+\S+(?:\s+\S+)?", re.IGNORECASE)


def tools_in(sentence: str) -> list[str]:
    """Tool and channel names a sentence mentions, in order of appearance, each once."""
    vocab = vocabulary()
    sentence = _blank(_SIGNATURE, sentence)
    found: list[tuple[int, str]] = []
    for pattern in vocab.tools:
        found.extend((m.start(), m.group()) for m in pattern.finditer(sentence))
    for m in _USE.finditer(sentence):
        name = m.group(1).rstrip(".")
        # A capitalised word at a sentence start, a pronoun or a month says nothing.
        if name.split()[0].lower() not in vocab.stopwords and name not in ("I", "I'm"):
            found.append((m.start(1), name))
    names: list[str] = []
    for _, name in sorted(found):
        canonical = name if name != name.lower() else name.lower()
        if canonical.lower() not in {n.lower() for n in names}:
            names.append(canonical)
    return names


def _observation(chunk: Chunk, span: tuple[int, int], kind: str, text: str) -> Observation:
    quote = chunk.text[span[0] : span[1]]
    return Observation(
        id=content_hash({"offline": [chunk.id, [span]], "kind": kind, "text": text}),
        kind=kind,  # type: ignore[arg-type]
        text=text,
        journey_stage=_stage(quote),  # type: ignore[arg-type]
        quotes=[quote_at(chunk, span)],
        source_kind=chunk.kind,
        **chunk.origin(),
        origin="offline",
    )


def observe_chunk(chunk: Chunk) -> list[Observation]:
    """Goals, workarounds, positive moments and tools one quotable chunk states."""
    if chunk.role not in QUOTABLE_ROLES:
        return []
    vocab = vocabulary()
    out: list[Observation] = []
    seen_tools: set[str] = set()
    for start, end in _sentences(chunk.text):
        sentence = chunk.text[start:end]
        said = " ".join(sentence.split())
        pain, _ = _cues(sentence, chunk.kind)
        for kind, pattern in vocab.observations:
            if not pattern.search(sentence):
                continue
            # Praise inside a complaint ("great, but it crashes") is not a good moment.
            if kind == "positive" and pain >= THRESHOLD:
                continue
            out.append(_observation(chunk, (start, end), kind, said))
        for name in tools_in(sentence):
            if name.lower() in seen_tools:
                continue
            seen_tools.add(name.lower())
            out.append(_observation(chunk, (start, end), "tool", f"{name}: {said}"))
    return out


def extract_offline(chunks: Iterable[Chunk]) -> tuple[list[PainPointMention], list[Observation]]:
    """Mentions and observations for every quotable chunk, in chunk order; a ticket with no
    pain but a request or a question gets one mention for it."""
    mentions: list[PainPointMention] = []
    observations: list[Observation] = []
    tickets: dict[str, list[Chunk]] = {}
    with_pain: set[str] = set()
    for chunk in chunks:
        found = extract_chunk(chunk)
        mentions.extend(found)
        observations.extend(observe_chunk(chunk))
        if chunk.kind == "ticket":
            tickets.setdefault(chunk.document_id, []).append(chunk)
            if found:
                with_pain.add(chunk.document_id)
    for document_id, parts in tickets.items():
        if document_id not in with_pain and (need := ticket_need(parts)) is not None:
            mentions.append(need)
    return mentions, observations
