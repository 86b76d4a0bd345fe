"""Who is the interviewer: named in config or the file, or found from how the study is shaped.

Roles are decided for the whole study at once, every ingest, from the documents alone: an
interviewer named anywhere (persona.toml, front matter, a roster column, "Sam (UXR):") is one
everywhere; otherwise the speaker who turns up in transcript after transcript while the
participants change is the interviewer, and in a transcript with no such speaker, the one who
asks most of the questions in short turns. `participant_names` overrides all of it.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import IngestSettings
from ..models import Document
from .base import (
    ANSWER_LABELS,
    INTERVIEWER_WORDS,
    PARTICIPANT_WORDS,
    QUESTION_LABELS,
    RawTurn,
    is_interviewer_name,
    is_interviewer_tag,
    label_of,
)

# Labels that name a kind of speaker, not a person: recurring in every transcript says nothing.
GENERIC_LABEL = re.compile(
    r"^(?:speaker|spk|person|voice|participant|respondent|interviewee|customer|user|guest|"
    r"unknown|caller|attendee|p|s)\s*[-_#]?\s*\d*$",
    re.IGNORECASE,
)
# Question marks in Latin, CJK (full-width) and Arabic script.
QUESTION_MARKS = ("?", "？", "؟")
# Question share: the interviewer asks in at least this share of their turns...
MIN_QUESTION_SHARE = 0.3
# ...and in clearly more of them than anyone else does.
MIN_QUESTION_LEAD = 0.2


def split_names(value: object) -> list[str]:
    """Interviewer names from metadata: a list, or one string with commas or semicolons."""
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]
    return []


# --------------------------------------------------------------------------- one transcript


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent swaps (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, start=1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _is_typo(rare: str, common: str) -> bool:
    """'Particpant' for 'Participant'; never 'Speaker 1' for 'Speaker 2', 'Dan' for 'Dana'."""
    if rare.lower() == common.lower():
        return True
    if re.sub(r"\D", "", rare) != re.sub(r"\D", "", common):
        return False
    shortest = min(len(rare), len(common))
    if shortest < 6:
        return False
    allowed = 2 if shortest >= 10 else 1
    return _distance(rare.lower(), common.lower()) <= allowed


@dataclass
class Fold:
    """A speaker label read as another one (a typo), for the ingest notes."""

    label: str
    into: str
    turns: int
    line: int | None


def fold_label_typos(raw: Sequence[RawTurn]) -> tuple[list[RawTurn], list[Fold]]:
    """Fold a rare label into a frequent one it is a misspelling of, within one transcript."""
    counts = Counter(t.speaker for t in raw if t.speaker != "Unknown")
    by_count = sorted(counts, key=lambda label: (-counts[label], label))
    into: dict[str, str] = {}
    for rare in reversed(by_count):
        for common in by_count:
            # A typo is a slip: a turn or two against a label used far more often.
            if (
                common != rare
                # "Interviewer" is a word, not a slip for "Interviewee".
                and rare.lower() not in INTERVIEWER_WORDS | PARTICIPANT_WORDS
                and common not in into
                and counts[rare] <= max(2, counts[common] // 5)
                and counts[common] >= 2 * counts[rare]
                and _is_typo(rare, common)
            ):
                into[rare] = common
                break
    if not into:
        return list(raw), []
    folds = [
        Fold(label, target, counts[label], next(t.line for t in raw if t.speaker == label))
        for label, target in sorted(into.items())
    ]
    out = [
        RawTurn(into.get(t.speaker, t.speaker), list(t.lines), t.line, t.time, t.tag) for t in raw
    ]
    return out, folds


TITLE_WORDS = 12


def strip_title(raw: Sequence[RawTurn]) -> tuple[list[RawTurn], str | None]:
    """Drop title lines before the first speaker ("Session 3 - Acme study"); return the title.

    Only short lines without sentence punctuation, and only when named speakers follow: a file
    of unlabelled prose is left as it is (and then refused for having no speakers).
    """
    if len(raw) < 2 or raw[0].speaker != "Unknown" or all(t.speaker == "Unknown" for t in raw):
        return list(raw), None
    lines = [line.strip() for line in raw[0].lines if line.strip()]
    lowered = [line.lower() for line in lines]
    if "attendees" in lowered and len(lines) - lowered.index("attendees") <= 2:
        # Google Meet's export lists who attended under the title; the title is what came before.
        lines = lines[: lowered.index("attendees")]
    if not lines or not all(
        len(line.split()) <= TITLE_WORDS and not line.endswith((".", "?", "!", ",", ";"))
        for line in lines
    ):
        return list(raw), None
    return list(raw[1:]), " - ".join(lines)


# --------------------------------------------------------------------------- the study


@dataclass
class _Speaker:
    turns: int = 0
    questions: int = 0
    words: list[int] = field(default_factory=list)


def _profile(doc: Document) -> dict[str, _Speaker]:
    """Per speaker (case-folded): turns, turns with a question, words per turn."""
    out: dict[str, _Speaker] = {}
    for turn in doc.turns:
        if turn.speaker == "Unknown":
            continue
        entry = out.setdefault(turn.speaker.lower(), _Speaker())
        entry.turns += 1
        entry.questions += any(mark in turn.text for mark in QUESTION_MARKS)
        entry.words.append(len(turn.text.split()))
    return out


def _asker(profile: dict[str, _Speaker]) -> tuple[str, _Speaker] | None:
    """The speaker who asks clearly more often than everyone else, in shorter turns."""
    talkers = {name: s for name, s in profile.items() if s.turns >= 2}
    if len(talkers) < 2:
        return None
    share = {name: s.questions / s.turns for name, s in talkers.items()}
    ranked = sorted(talkers, key=lambda n: (-share[n], n))
    top, rest = ranked[0], ranked[1:]
    lead = share[top] - max(share[n] for n in rest)
    words = statistics.median(talkers[top].words)
    others = statistics.median([w for n in rest for w in talkers[n].words])
    if share[top] >= MIN_QUESTION_SHARE and lead >= MIN_QUESTION_LEAD and words <= others:
        return top, talkers[top]
    return None


@dataclass
class RoleReport:
    """How each transcript's interviewer was decided, for one note per finding."""

    recurring: dict[str, list[str]]
    asked: dict[str, list[str]]
    none: list[str]
    studied: int


def _explicit(doc: Document, configured: set[str]) -> set[str]:
    """Names this document itself marks as the interviewer (config words, metadata, Q/A)."""
    names = {
        n.lower()
        for key in ("interviewer", "interviewers")
        for n in split_names(doc.metadata.get(key))
    }
    spoken = {t.speaker.lower() for t in doc.turns}
    marked = {s for s in spoken if is_interviewer_name(s, configured | names)}
    if spoken & QUESTION_LABELS and spoken & ANSWER_LABELS:
        marked |= spoken & QUESTION_LABELS
    return marked


def assign_roles(
    documents: Iterable[Document], settings: IngestSettings
) -> tuple[list[Document], list[str]]:
    """Every interview's roles decided again for the study as a whole; notes say how."""
    docs = list(documents)
    interviews = [d for d in docs if d.kind == "interview"]
    configured = {n.strip().lower() for n in settings.interviewer_names}
    participants = {n.strip().lower() for n in settings.participant_names}
    explicit = {d.id: _explicit(d, configured) - participants for d in interviews}
    # A person named as the interviewer in one transcript (front matter, roster, "Dan (UXR)")
    # is the interviewer in every transcript of the study.
    named = (
        {
            n.lower()
            for d in interviews
            for key in ("interviewer", "interviewers")
            for n in split_names(d.metadata.get(key))
        }
        - participants
        - configured
    )
    profiles = {d.id: _profile(d) for d in interviews}
    conversations = [d for d in interviews if len(profiles[d.id]) >= 2]
    talks = {d.id for d in conversations}
    appearances: Counter[str] = Counter(n for d in conversations for n in profiles[d.id])
    display = _display_names(interviews)
    report = RoleReport(defaultdict(list), defaultdict(list), [], len(conversations))
    chosen: dict[str, set[str]] = {}
    for doc in interviews:
        profile = profiles[doc.id]
        marks = explicit[doc.id] | (named & set(profile))
        if not marks and doc.id in talks:
            marks = _by_structure(doc, profile, appearances, participants, report, display)
        chosen[doc.id] = marks
    out = []
    for doc in docs:
        if doc.kind != "interview":
            out.append(doc)
            continue
        marks = chosen[doc.id]
        turns = [
            t
            if t.role == ("interviewer" if t.speaker.lower() in marks else "participant")
            else t.model_copy(
                update={"role": "interviewer" if t.speaker.lower() in marks else "participant"}
            )
            for t in doc.turns
        ]
        out.append(doc if turns == doc.turns else doc.model_copy(update={"turns": turns}))
    return out, _notes(report, display)


def _by_structure(
    doc: Document,
    profile: dict[str, _Speaker],
    appearances: Counter[str],
    participants: set[str],
    report: RoleReport,
    display: dict[str, str],
) -> set[str]:
    """The recurring speaker of the study, else the one who asks the questions, else nobody."""
    name = Path(doc.source).name
    candidates = [n for n in profile if n not in participants and not GENERIC_LABEL.match(n)]
    recurring = [
        n
        for n in candidates
        if appearances[n] >= 2
        # "Participant" in every transcript is a label, not a person who keeps coming back.
        and all(
            appearances[n] > appearances[o]
            for o in profile
            if o != n and not GENERIC_LABEL.match(o)
        )
        and profile[n].questions / profile[n].turns
        >= max(p.questions / p.turns for o, p in profile.items() if o != n)
    ]
    if len(recurring) == 1:
        report.recurring[recurring[0]].append(name)
        return {recurring[0]}
    asker = _asker({n: s for n, s in profile.items() if n not in participants})
    if asker is not None:
        report.asked[asker[0]].append(name)
        return {asker[0]}
    report.none.append(name)
    return set()


def _display_names(documents: Sequence[Document]) -> dict[str, str]:
    """Case-folded speaker -> the spelling used most often."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in documents:
        for turn in doc.turns:
            spellings[turn.speaker.lower()][turn.speaker] += 1
    return {key: max(sorted(c), key=lambda s: c[s]) for key, c in spellings.items()}


# Files named in one note before it only counts the rest.
NAMED_FILES = 5


def _files(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:NAMED_FILES])
    return shown + (f" and {len(names) - NAMED_FILES} more" if len(names) > NAMED_FILES else "")


def _notes(report: RoleReport, display: dict[str, str]) -> list[str]:
    override = (
        "if that is wrong, name them in persona.toml: [ingest] participant_names = [...] "
        "(or interviewer_names)"
    )
    notes = []
    for key, files in sorted(report.recurring.items()):
        notes.append(
            f"interviewer: {display[key]}, in {len(files)} of {report.studied} transcripts "
            f"(the speaker who recurs while participants change); {override}"
        )
    for key, files in sorted(report.asked.items()):
        notes.append(
            f"interviewer: {display[key]} in {_files(files)} (asks most of the questions, in "
            f"short turns); {override}"
        )
    if report.none:
        notes.append(
            f"no interviewer found in {_files(report.none)} (nobody asks most of the "
            "questions): every speaker there is read as a participant; name the interviewer "
            "in persona.toml ([ingest] interviewer_names) or in front matter (interviewer: Name)"
        )
    return notes


def marked_by_tags(raw: Sequence[RawTurn], names: Iterable[str]) -> list[str]:
    """Speakers a label marks as the interviewer ("Sam (UXR):"), to keep in the metadata."""
    found = []
    for item in raw:
        speaker, tag = label_of(item)
        if is_interviewer_tag(tag, names) and speaker not in found:
            found.append(speaker)
    return found
