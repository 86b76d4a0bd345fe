"""Offline theme names: what a theme is about, in words a researcher would write, without a model.

A label is the theme's most representative sentence, shortened at a clause boundary: the one
central statement (or ticket subject) that carries most of the theme's distinctive terms
(class-based TF-IDF, as BERTopic computes it). When that sentence does not name the theme's
topic, the topic leads ("Bank sync: the feed drops every Monday"). Keyword strings such as
"Days / took weeks / mapping" are the last resort, for themes whose sentences are all too short
or too long to quote. The description is the most central statement, whole.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .models import LLMMode
from .offline_extract import states_a_pain

# Words that say "this is a complaint" rather than what it is about.
_FILLER_WORDS = (
    "really just like get gets got thing things lot also even still ve ll don doesn didn isn won "
    "can t s re m d bit kind sort way actually basically literally pretty quite "
    "i've i'd i'm i'll it's that's there's we're we've they're you're don't doesn't didn't "
    "can't won't isn't wasn't aren't couldn't wouldn't let's"
)
_FILLER = frozenset(_FILLER_WORDS.split())
_SENTENCE_BREAK = re.compile(r"[.!?;:\n]+")
STOP_WORDS_FILE = Path(__file__).parent / "data" / "english_stop_words.txt"
# Discourse markers that open a spoken sentence without adding meaning.
_OPENER_WORDS = (
    r"so|and|but|well|yeah|yes|no|oh|um+|uh+|like|okay|ok|honestly|basically|actually|"
    r"i mean|you know|to be honest|i guess|i think"
)
_OPENERS = re.compile(
    rf"^(?:(?:{_OPENER_WORDS}|the thing is|the problem is|the issue is)\b[\s,:-]*)+",
    re.IGNORECASE,
)
# Spoken-language debris a label leaves out (the quote keeps it): hesitations, transcribers'
# notes, and a word said twice as the speaker restarts ("the the", "maybe, maybe").
_HESITATION = re.compile(
    r"(?:,\s*)?\b(?:uh+|um+|erm|hmm+)\b[,.]?|,\s*you know\s*(?=,)|^you know,\s*"
    r"|\s*[(\[]\s*(?:unintelligible|inaudible|crosstalk|laughs?|laughter|unknown word|unclear)"
    r"\s*[)\]]",
    re.IGNORECASE,
)
# A word said again after a comma is a restart ("I, I", "maybe, maybe"); a small word said twice
# in a row is a stutter ("the the", "in in", "I'll i'll"); other doubles can be English ("had
# had", "that that", "C plus plus") and stay.
_STUTTERED = "the|a|an|in|i|i'll|i'm|it's|to|of|and|it|we|my|on|for|with|at|but|or"
_RESTART = re.compile(
    rf"\b([\w']+)\s*,\s*\1\b(?!')(?:\s*,\s*\1\b(?!'))*|\b({_STUTTERED})\s+\2\b(?!')",
    re.IGNORECASE,
)
# More openers, which spoken answers start with and a name never does ("Instead, you'd get").
# Words that also begin real clauses ("Instead of X", "Then the sync", "See the chart") count
# only with the comma that marks them as openers.
_SPOKEN_OPENERS = re.compile(
    r"^(?:(?:(?:instead|because)(?!\s+of\b)|again|also|maybe|just|anyway|for example|"
    r"for instance|of course)\b[\s,:-]*|(?:then|now|right|see|man)\s*,[\s,:-]*)+",
    re.IGNORECASE,
)
# "The pain point is we ...", "the biggest problem was that ...": an opener only when a clause
# follows, not a predicate ("the problem was solved by the update", "the problem is not the
# export", "the issue was there because" keep their words). Labels that prompts carry keep
# _OPENERS' older rule.
_PROBLEM_OPENER = re.compile(
    r"^(?:the (?:main |biggest |big |only |other |real )?(?:pain point|problem|issue|challenge|"
    r"frustration|thing) (?:is|was)(?: (?:actually|really|basically|just|mostly|probably))?,?"
    r"(?! (?:not|never|no|there|here|also|still|gone|mine|ours|\w+ed)\b)(?: that\b)?)"
    r"(?=[\s,]+\w)[\s,:-]*",
    re.IGNORECASE,
)
# _OPENERS without its "the problem is" kind, which _PROBLEM_OPENER reads more strictly.
_SPOKEN_BASE = re.compile(rf"^(?:(?:{_OPENER_WORDS})\b[\s,:-]*)+", re.IGNORECASE)
# Words a cut may not end on: what follows them was cut off ("a pain, especially", "aware
# of"); a pronoun or a verb may ("how viable they are"). A whole sentence may also end on a
# preposition or "like" ("what it's for", "the thing I don't like"), so it loses only the
# _OPEN_END words a speaker trails off on ("because even the, my").
_OPEN_END_WORDS = (
    "the a an my our your their his her its and or but because so if when which especially "
    "even very than"
)
_OPEN_END = frozenset(_OPEN_END_WORDS.split())
# A cut inside a clause's predicate hangs too ("anything obvious that wasn't | because of ...");
# a plain "are" may end one ("how viable they are").
_HANGING_WORDS = (
    "of to in on at for with by from about like just really that be been isn't wasn't aren't "
    "weren't"
)
_HANGING = _OPEN_END | frozenset(_HANGING_WORDS.split())
# Where a long sentence may be cut without leaving half a clause.
_CLAUSE = re.compile(r"\s*(?:[,;:()]|\s-\s|\s(?:and|but|because|so|which|when|while)\s)\s*")
LABEL_WORDS = (3, 10)
SPOKEN_SLACK = 2
# What stating a pain adds to a central sentence's claim to name its theme, and what a hedge
# takes away (measured: two blind judges preferred the labels these give, README).
PAIN_BONUS = 0.4
HEDGE_PENALTY = 0.4
# How a spoken sentence hedges before it says anything ("I don't know if there could be a sense
# of like", "If it's not intuitive"): as a name it reads as half a thought.
_HEDGED = re.compile(
    r"^(?:if|whether|i don't know|i'm not sure if|i'm not saying|i'm trying to think|"
    r"i'm guessing)\b",
    re.IGNORECASE,
)
_REPLY = re.compile(r"^\s*(?:(?:re|fwd?|aw|tr)\s*:\s*)+", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"^(?:i|i'm|i've|i'd|i'll|we|we're|we've|my|our|me)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Naming:
    label: str
    description: str
    named_by: LLMMode = "offline"


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
    # The category a clear share of the members have, when it names a topic.
    lead: str = ""
    # Ticket subjects of the central members, most central first (a subject often is the name
    # a support agent already gave the problem).
    subjects: list[str] = field(default_factory=list)


class ThemeNamer(Protocol):
    """Names themes; must return one Naming per candidate, in order."""

    def name(self, candidates: Sequence[ThemeCandidate]) -> list[Naming]: ...


def _stem(word: str) -> str:
    """Crude suffix strip, only to see that 'feed' and 'feeds' say the same thing."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower())}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_KEEP_CASE = re.compile(r"^(?:I|I'[a-z]+|[A-Z][A-Z0-9]+[a-z]*)\b")


def _after_colon(text: str) -> str:
    """A sentence continuing a 'Topic: ...' label: its first letter lower-cased, unless the word
    is the pronoun I ("I'm", "I've") or an acronym ("RDF", "NOx"), which keep their case."""
    return text if _KEEP_CASE.match(text) else text[:1].lower() + text[1:]


def tidy(sentence: str) -> str:
    """A spoken sentence without its hesitations and restarts, as a researcher would cite it."""
    text = _HESITATION.sub("", sentence)
    text = _RESTART.sub(lambda m: m.group(1) or m.group(2), text)
    return " ".join(text.split()).strip(" ,")


def without_hanging(text: str, hanging: frozenset[str] = _HANGING) -> str:
    """`text` with the words that leave its clause open taken off its end."""
    words = text.rstrip(" ,;:-").split()
    while len(words) > LABEL_WORDS[0] and words[-1].strip(",;:-").lower() in hanging:
        words.pop()
    return " ".join(words).rstrip(" ,;:-")


def shorten(sentence: str, limit: int = LABEL_WORDS[1], spoken: bool = False) -> str:
    """A sentence as a label: no opener, no end punctuation, cut at a clause within `limit`.

    `spoken`: also leave out hesitations, restarts and spoken openers, and never end on a word
    that leaves the clause open (off for labels that model prompts carry, whose cached
    answers must keep matching).
    """
    text = " ".join(sentence.split()).strip(" \"'“”‘’")
    if spoken:
        text = tidy(text)
        for _ in range(3):  # openers stack ("So honestly, the problem is that ...")
            text = _SPOKEN_BASE.sub("", text).strip(" ,")
            text = _PROBLEM_OPENER.sub("", _SPOKEN_OPENERS.sub("", text)).strip(" ,")
    else:
        text = _OPENERS.sub("", text).strip(" ,")
    text = text.rstrip(".!?…").strip()
    words = text.split()
    if len(words) > limit:
        cut = ""
        for match in _CLAUSE.finditer(text):
            head = text[: match.start()].strip()
            if spoken:
                head = without_hanging(head)
            if LABEL_WORDS[0] <= len(head.split()) <= limit:
                cut = head
        if cut:
            text = cut
        else:
            head = " ".join(words[:limit])
            text = (without_hanging(head) if spoken else head) + " ..."
    elif spoken:
        text = without_hanging(text, _OPEN_END)
    return _capital(text)


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
    return _capital(" / ".join(chosen))


def _representative(candidate: ThemeCandidate, spoken: bool = False) -> str:
    """The central sentence (or subject) that carries most of the theme's distinctive terms."""
    weights = {}
    for rank, term in enumerate(candidate.terms):
        for stem in _stems(term):
            weights.setdefault(stem, 1.0 / (1 + rank))
    options: list[tuple[float, int, str, str]] = []
    subjects = [_REPLY.sub("", s) for s in candidate.subjects[:3]]
    # Without subjects (interviews), a name states a pain: a central sentence that carries a
    # pain cue beats one that only shares the theme's words ("I didn't find anything very
    # obvious"), and a hedge reads as half a thought.
    stating = spoken and not subjects
    pool = [(True, s) for s in subjects] + [(False, s) for s in candidate.statements[:6]]
    for order, (is_subject, text) in enumerate(pool):
        for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
            label = shorten(sentence, spoken=spoken)
            n = len(label.split())
            if n < LABEL_WORDS[0]:
                continue
            covered = sum(weights.get(s, 0.0) for s in _stems(label))
            # A subject line is already a name someone gave the problem; a first-person
            # sentence ("I've been at this for 2 days") reads as a quote, not a name; earlier
            # (more central) texts win ties; a cut-off label ("...") loses.
            score = (
                covered
                + (0.3 if is_subject else 0.0)
                - (0.15 if _FIRST_PERSON.match(label) else 0.0)
                - (0.3 if label.endswith("...") else 0.0)
                - 0.05 * order
            )
            if stating:
                score += (PAIN_BONUS if states_a_pain(label) else 0.0) - (
                    HEDGE_PENALTY if _HEDGED.match(label) else 0.0
                )
            options.append((round(score, 6), -order, label, sentence))
    if not options:
        return ""
    _, _, label, sentence = max(options)
    if spoken and label.endswith("..."):
        # A sentence a word or two over the limit reads better whole than cut off.
        whole = shorten(sentence, LABEL_WORDS[1] + SPOKEN_SLACK, spoken=True)
        return label if whole.endswith("...") else whole
    return label


def _names_topic(term: str, statements: Sequence[str]) -> bool:
    """Whether `term` says what the theme is about: half its statements (two or more) say it,
    or speakers write it capitalised inside a sentence, as a name ("Shapley", "Miri"; not a
    redaction such as "Xxxxxx")."""
    stems = _stems(term)
    if not stems:
        return False
    saying = sum(1 for text in statements if stems <= _stems(text))
    if saying >= 2 and 2 * saying >= len(statements):
        return True
    # After a word, not a comma: spoken transcripts often capitalise after one ("So, Yeah").
    name = re.compile(rf"(?<=\w )({re.escape(term)})\b", re.IGNORECASE)
    return any(
        word[:1].isupper() and len(set(word.lower())) > 1
        for text in statements
        for word in (m.group(1) for m in name.finditer(text))
    )


def offline_naming(candidate: ThemeCandidate, *, prompt_case: bool = False) -> Naming:
    """A readable label from the representative sentence; the topic leads when it is missing.

    `prompt_case`: the label as consolidation prompts carry it (every word after the topic
    lower-cased first), unchanged since answers were cached against it: a model's earlier
    answers still match, so an upgrade neither re-asks nor changes finished themes.
    """
    description = candidate.statements[0] if candidate.statements else ""
    sentence = _representative(candidate, spoken=not prompt_case)
    terms = candidate.terms
    if not prompt_case:
        # A hesitation can be a transcript's most distinctive "term"; it is never a topic.
        terms = [t for t in dict.fromkeys(tidy(t) for t in terms) if t]
    topic = candidate.lead or (terms[0] if terms else "")
    if not prompt_case and not candidate.lead and not _names_topic(topic, candidate.statements):
        # The most distinctive word of a small spoken theme ("Obvious", "Wearing") is often
        # said once and names nothing.
        topic = ""
    after = (lambda text: text[:1].lower() + text[1:]) if prompt_case else _after_colon
    if sentence:
        if topic and not _stems(topic) & _stems(sentence):
            return Naming(f"{_capital(topic)}: {after(sentence)}", description)
        return Naming(sentence, description)
    if candidate.lead:
        rest = [t for t in terms if not _stems(t) & _stems(candidate.lead)]
        detail = _label_from_terms(rest, limit=2)
        label = _capital(candidate.lead)
        return Naming(f"{label}: {_after_colon(detail)}" if detail else label, description)
    label = _label_from_terms(terms) or shorten(description or "Unnamed theme", 8)
    return Naming(label, description)


class OfflineNamer:
    """Deterministic names from each theme's own sentences and terms: no model, no network."""

    def name(self, candidates: Sequence[ThemeCandidate]) -> list[Naming]:
        return [offline_naming(c) for c in candidates]


def distinctive_terms(groups: Sequence[Sequence[str]], top: int = 8) -> list[list[str]]:
    """Per group of texts (one group per theme), its top terms by class-based TF-IDF.

    BERTopic's c-TF-IDF: a term's frequency in the group, times log(1 + average group size /
    the term's frequency over all groups). Bigrams are counted within a sentence only.
    """
    # Counted by hand as scikit-learn's CountVectorizer counts (lowercase, token pattern, stop
    # words dropped before bigrams are formed): importing it cost 1.1-1.5 s of every run.
    # tests/test_naming_terms.py checks the terms against CountVectorizer's.
    stop = _stop_words()
    per_group: list[Counter[str]] = []
    for texts in groups:
        counts: Counter[str] = Counter()
        for text in texts:
            for part in _SENTENCE_BREAK.split(text):
                words = [w for w in _TERM_TOKEN.findall(part.lower()) if w not in stop]
                counts.update(words)
                counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        per_group.append(counts)
    totals: Counter[str] = Counter()
    for counts in per_group:
        totals.update(counts)
    if not totals:
        return [[] for _ in groups]
    avg_words = np.float64(sum(totals.values())) / max(len(groups), 1)
    out: list[list[str]] = []
    for counts in per_group:
        terms = sorted(counts)
        vals = np.array([counts[t] for t in terms], dtype=np.float64)
        term_totals = np.array([totals[t] for t in terms], dtype=np.float64)
        idf = np.log1p(avg_words / np.maximum(term_totals, 1.0))
        scores = np.round(vals / max(vals.sum(), 1.0) * idf, 9)
        ranked = sorted(zip(scores.tolist(), terms, strict=True), key=lambda sv: (-sv[0], sv[1]))
        out.append([term for _, term in ranked[:top]])
    return out


# CountVectorizer's token pattern as the themes use it: words of 2+ characters that start with a
# letter; apostrophes and hyphens only inside.
_TERM_TOKEN = re.compile(r"(?u)\b[a-zA-Z][a-zA-Z0-9'-]*[a-zA-Z0-9]\b")


@cache
def _stop_words() -> frozenset[str]:
    lines = STOP_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    words = {w for line in lines if not line.startswith("#") for w in line.split()}
    return frozenset(words) | _FILLER
