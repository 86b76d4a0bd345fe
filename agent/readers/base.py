"""Shared pieces of the readers: decoding, speaker lines, turn assembly."""

from __future__ import annotations

import codecs
import datetime
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..ids import content_hash
from ..models import TURN_SEPARATOR, Document, DocumentKind, SpeakerRole, Turn

# "Dana: text", "**Dana:** text", "Dana (P01): text", "[00:01:02] Dana: text", "Dr. Li: text",
# "Sam [Interviewer]: text", "Sam - Moderator: text" (the tag or role after the name is kept apart),
# "J. Smith, CFO: text", "Interviewer #2: text", "田中：text". The pattern is deliberately loose (any letters, lowercase words, a comma):
# whether a match is a speaker or a sentence with a colon is decided by _accepted, which sees the
# whole document.
_WORD = r"[^\W\d_][\w.'’-]*"
_LABEL = (
    rf"(?P<speaker>{_WORD}(?:[ ](?:{_WORD}|#?\d+)){{0,4}}(?:,[ ]{_WORD}(?:[ ]{_WORD}){{0,2}})?)"
    r"(?:\s*\((?P<tag>[^)]{1,40})\)|\s*\[(?P<btag>[^\W\d_][^\]]{0,39})\]|\s+[-–—]\s+(?P<dtag>(?i:"
    r"interviewer|moderator|researcher|facilitator|uxr|ux researcher|research|host)))?"
    r"\s*(?:\*\*|__)?[:：](?:\*\*|__)?"
)
# A Markdown bullet or quote may carry a bold label ("- **Dana:** text"); a plain "- Dana:" is a list.
_LEAD = r"^\s*(?:\[(?P<time>[\d:.,]+)\]\s*)?(?:(?:[-*+>][ \t]+)?(?=\*\*|__))?(?:\*\*|__)?"
# Japanese and Chinese write no space after a full-width colon ("田中：経費精算の…").
SPEAKER_LINE = re.compile(_LEAD + _LABEL + r"(?:\s+|(?<=：)|(?<=：\*\*)|(?<=：__))(?P<text>\S.*)$")
# A label alone on its line, the words on the lines below ("Dan:" then "Okay. So now ..."), as
# PDF and Word transcripts often lay turns out; a format only when it recurs (see _label_lines).
LABEL_LINE = re.compile(r"^\s*(?:\*\*|__)?" + _LABEL + r"\s*$")
# A label's role marker: "Sam (UXR)", "Sam [Interviewer]", "Sam - Moderator".
LABEL_TAG = re.compile(
    r"^(?P<name>.*?\S)\s*"
    r"(?:\((?P<tag>[^)]{1,40})\)|\[(?P<btag>[^\]]{1,40})\]|\s[-–—]\s+(?P<dtag>.{1,40}))$"
)
# Words in a label's tag that make the speaker the interviewer, unless a participant word is there.
INTERVIEWER_WORDS = {
    "interviewer",
    "moderator",
    "researcher",
    "facilitator",
    "uxr",
    "research",
    "host",
    "int",
    "mod",
}
PARTICIPANT_WORDS = {"participant", "customer", "user", "respondent", "interviewee", "guest"}
QUESTION_LABELS = {"q", "question"}
ANSWER_LABELS = {"a", "answer"}


@dataclass
class RawTurn:
    """A turn before offsets are assigned: speaker, text lines, where it started."""

    speaker: str
    lines: list[str] = field(default_factory=list)
    line: int | None = None
    time: str | None = None
    # What the label said beside the name: "UXR" in "Sam (UXR):".
    tag: str | None = None

    @property
    def text(self) -> str:
        return " ".join(part.strip() for part in self.lines if part.strip())


# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def decode(path: Path, data: bytes) -> str:
    """Text from UTF-8 (with or without BOM), or UTF-16/UTF-32 marked by their BOM.

    The whole file is checked: a NUL anywhere (not only in the first block) means binary data,
    which must not reach chunks or the store.
    """
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise InputError(
                    str(path), f"not valid {name} text (its byte-order mark says {name})"
                ) from exc
            break
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise InputError(str(path), _binary_reason(data), data.count(b"\n", 0, nul) + 1)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(
                str(path),
                f"not UTF-8 text (byte 0x{data[exc.start]:02x}); re-save it as UTF-8",
                line,
            ) from exc
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            str(path), "binary file, not text (a NUL character)", text.count("\n", 0, nul) + 1
        )
    return text


def _binary_reason(data: bytes) -> str:
    """Why bytes with a NUL are refused; UTF-16 saved without its byte-order mark gets a hint."""
    head = data[:4096]
    odd, even = head[1::2], head[0::2]
    if len(head) >= 4 and (odd.count(0) > len(odd) * 0.4 or even.count(0) > len(even) * 0.4):
        return "binary file, not text (looks like UTF-16 without a byte-order mark: re-save it as UTF-8)"
    return "binary file, not text (a NUL byte)"


# A numbered or lettered role label: "Interviewer 2", "Moderator B", "Interviewer #1".
ROLE_NUMBER = re.compile(r"^(?P<role>.*?[^\s_#-])(?:[ _#-]*\d{1,3}|[ _#-]+[^\W\d_])$")


def is_interviewer_name(speaker: str, interviewers: Iterable[str]) -> bool:
    """'Interviewer', and 'Interviewer 2' or 'Moderator B' when a study has two of them."""
    names = {n.strip().lower() for n in interviewers}
    label = speaker.strip().lower()
    numbered = ROLE_NUMBER.match(label)
    return label in names or bool(numbered and numbered["role"] in names)


def role_for(speaker: str, interviewers: Iterable[str]) -> SpeakerRole:
    return "interviewer" if is_interviewer_name(speaker, interviewers) else "participant"


def is_interviewer_tag(tag: str | None, interviewers: Iterable[str] = ()) -> bool:
    """'(UXR)', '[Interviewer]', '- Lead moderator' mark the interviewer; '(P01)' does not."""
    if not tag:
        return False
    text = tag.strip().lower()
    words = set(re.findall(r"[^\W_]+", text))
    names = {n.strip().lower() for n in interviewers}
    if words & PARTICIPANT_WORDS:
        return False
    return text in names or bool(words & (INTERVIEWER_WORDS | names))


def split_label(label: str) -> tuple[str, str | None]:
    """('Sam', 'UXR') from 'Sam (UXR)'; a label without a role marker comes back whole."""
    match = LABEL_TAG.match(label.strip())
    if not match:
        return label, None
    tag = match["tag"] or match["btag"] or match["dtag"]
    if not is_interviewer_tag(tag):
        return label, None
    return match["name"], tag


# Lines that title a transcript or mark its end; never anyone's words, never a speaker.
HEADER_LINE = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*|__)?\s*(?:interview|transcript|interview transcript|transcription|"
    r"transcript of (?:the )?interview|end of (?:the )?(?:transcript|interview|recording)|"
    r"\[end\]|\(end\)|transcribed by https?://\S+)\s*:?\s*(?:\*\*|__)?\s*$",
    re.IGNORECASE,
)
# What the meeting tool writes about the recording, never anyone's words: Google Meet's
# "Meeting ended after 00:15:32", Teams' "Dan Okafor started transcription".
TOOL_LINE = re.compile(
    r"^\s*(?:meeting ended after [\d:]+\W*|"
    r"[^\W\d_][\w.'’ -]{0,60} (?:started|stopped) (?:transcription|recording)\.?)\s*$",
    re.IGNORECASE,
)
# A timestamp alone on its line (Google Meet, some Zoom and Word exports): it times the next turn;
# so does a YouTube SBV cue's start and end ("0:00:04.500,0:00:09.000").
_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?"
# A researcher's "Timestamp: 00:12:03" line times the next turn the same way.
TIME_LINE = re.compile(
    r"^\s*(?:(?:\*\*|__)?(?i:time ?stamp|time ?code|time)\s*[:：](?:\*\*|__)?\s*)?"
    rf"[\[(]?(?P<time>{_CLOCK})(?:\s*(?:,|-->|[-–])\s*{_CLOCK})?[\])]?\s*$"
)
# Otter.ai ("Speaker 1  0:03") and Rev ("Dana Li (00:03):") put the speaker and time on a line of
# their own and the words on the lines below.
# One space before the time only after capitalised words ("Dana Li 0:03"), so a sentence such
# as "we met at 10:30" on a line of its own stays a sentence.
HEADING_TURN = re.compile(
    r"^\s*(?:(?P<speaker>[^\W\d_][\w.'’-]*(?:[ ][\w.'’-]+){0,4}?)"
    r"(?:\s{2,}(?P<time>\d{1,2}(?::\d{2}){1,2})|\s*\((?P<ptime>\d{1,2}(?::\d{2}){1,2})\):?)"
    r"|(?P<cspeaker>[A-Z][\w.'’-]*(?:[ ](?:[A-Z][\w.'’-]*|\d+)){0,3})[ ](?P<ctime>\d{1,2}(?::\d{2}){1,2}))"
    r"\s*$"
)


def _headings(lines: Sequence[str]) -> int:
    """How many lines look like Otter/Rev turn headings; one alone may just be a short sentence."""
    return sum(1 for line in lines if HEADING_TURN.match(line))


def _words_follow(lines: Sequence[str], index: int) -> bool:
    """A heading is one only when words (not another heading) come on the next non-blank line."""
    for line in lines[index + 1 :]:
        if line.strip():
            match = SPEAKER_LINE.match(line)
            return not HEADING_TURN.match(line) and not (match and name_like(match["speaker"]))
    return False


# Lowercase words that belong inside a name: "Maria de Souza", "Jan van der Berg".
NAME_PARTICLES = {
    "al", "bin", "da", "das", "de", "del", "della", "dem", "den", "der", "des", "di", "dos",
    "du", "ibn", "la", "le", "st.", "ten", "ter", "van", "vom", "von", "zu",
}  # fmt: skip


def name_like(label: str) -> bool:
    """'Åsa Lind', 'Maria de Souza', 'Participant 3', 'J. Smith, CFO': capitalised words."""
    words = label.replace(",", " ").split()
    if not words or len(words) > 6 or not words[0][0].isupper():
        return False
    return words[-1].lower() not in NAME_PARTICLES and all(
        w[0].isupper() or w.lstrip("#").isdigit() or w.lower() in NAME_PARTICLES for w in words[1:]
    )


# Words a one-off "Word: ..." line uses to structure what someone says ("Scenario: ...",
# "Step 1: ...", "Honestly: ..."): function words, discourse adverbs and the nouns of notes and
# instructions. Words that are also first names (Will, Mark, Grace) and words that label a
# speaker's role (Interviewer, Customer, Q, Agent) are left out on purpose.
_COMMON_WORDS = """
    a about action actions actually additionally after again agenda also an and anyway anyways as
    aside at background basically before bonus bottom but by caution case clearly comment comments
    con cons context conclusion crosstalk day definition did do does e.g edit essentially eta
    example examples final finally first fortunately frankly follow followup fyi generally goal
    goals hint honestly how however i.e idea ideas if importantly in inaudible insight insights
    instead interestingly is issue issues it item items just lastly line literally luckily
    meanwhile month morning my n.b nb next no note notes now observation observations obviously of
    ok okay on one option options or otherwise our outcome overall p.s part personally phase plus
    point points pro problem prompt pros ps quote reason reasons recap reminder result results
    round scenario second seriously similarly so sometimes specifically stage step steps sum
    summary sure surprisingly takeaway takeaways task tasks that the then third this time
    timestamp tip tl;dr tldr to today topic truly two ultimately unfortunately unintelligible up
    update usually warning we week well what when where why with yeah yes yesterday you your
"""
# The same kinds of words in the other languages whose labels the parser reads (French, German,
# Spanish, Portuguese, Italian); names among them (Nota is not one) are left out as above.
_COMMON_WORDS_OTHER = """
    ação acción action aktion anmerkung anmerkungen ausblick beispiel beobachtung contesto
    contexte contexto conclusión conclusão conclusione ejemplo ergebnis escenario esempio
    exemple exemplo fazit hinweis kontext nota notas note notiz notizen observação
    observación osservazione passo paso remarque resultado résultat risultato resumen resumo
    riassunto résumé scénario schritt szenario zusammenfassung étape
"""
COMMON_LABEL_WORDS = frozenset(_COMMON_WORDS.split() + _COMMON_WORDS_OTHER.split())


def common_phrase(label: str) -> bool:
    """'Scenario', 'Follow-up', 'Step 1', 'How do I': everyday words, not anyone's name."""
    words = [w.strip(".'’").lower() for w in re.split(r"[\s-]+", label) if w.strip(".'’")]
    if not words or words[0] not in COMMON_LABEL_WORDS:
        return False
    # "Step 1", "Option B", "How do I": a number or a letter may follow the words.
    return all(w in COMMON_LABEL_WORDS or w.isdigit() or len(w) == 1 for w in words[1:])


# Labels researchers put on their own annotations ("Note: participant shares screen",
# "Observer note: ...", "Timestamp: 00:12:03", "Crosstalk: ..."): the head word, and the words
# that may qualify it ("Observer note", "Researcher's comment", "Field notes"). Never "Participant"
# or "User": "Participant comment:" introduces the participant's own words.
_ANNOTATION_HEADS = """
    action actions aside comment comments context crosstalk inaudible n.b nb note notes
    observation observations summary timestamp unintelligible
    remarque contexte résumé anmerkung anmerkungen notiz notizen hinweis beobachtung kontext
    zusammenfassung nota notas observación observação contexto resumen resumo osservazione
    contesto riassunto メモ 備考 補足 注 注記 备注 注释 笔记 观察
"""
_ANNOTATION_QUALIFIERS = """
    observer observer's observers research researcher researcher's interviewer interviewer's
    moderator moderator's facilitator facilitator's note-taker notetaker field side editor
    editor's transcriber transcriber's session general internal quick
"""
ANNOTATION_HEADS = frozenset(_ANNOTATION_HEADS.split())
ANNOTATION_QUALIFIERS = frozenset(_ANNOTATION_QUALIFIERS.split())


def annotation_label(label: str) -> bool:
    """'Note', 'Observer note', 'Timestamp': a label for the researcher's annotations."""
    words = [w.strip(".'").lower() for w in label.replace("’", "'").split() if w.strip(".'")]
    if " ".join(words) == "time stamp":
        return True
    return (
        0 < len(words) <= 3
        and words[-1] in ANNOTATION_HEADS
        and all(w in ANNOTATION_QUALIFIERS for w in words[:-1])
    )


def _accepted(name: str, tag: str | None, counts: Counter[str], recurring: set[str]) -> bool:
    """Whether a label is a speaker, judged against every label of the document.

    A one-off label made of everyday words ("Scenario:", "Step 1:", "Honestly:") while the real
    speakers each speak more than once is part of the turn it sits in; a label that is not
    capitalised like a name ("dan.okafor:", "anna (she/her):") is a speaker only when it recurs
    or carries a tag, as sentences with a colon ("so basically: ...") do neither.
    """
    # A researcher's annotation label is taken as a label (and its lines set aside by
    # set_aside_annotations) once it recurs or is qualified ("Observer note"), and it is not a
    # speaker whose turns make another one-off label look like a sentence.
    if annotation_label(name) and (counts[name] >= 2 or " " in name.strip()):
        return True
    # "Participant comment:", "User quote:" that recur bring in the participant's own words.
    words = name.lower().split()
    if words and words[0] in PARTICIPANT_WORDS and counts[name] >= 2:
        return True
    others = bool(recurring - {name})
    if common_phrase(name) and ((counts[name] == 1 and others) or not name_like(name)):
        return False
    if name_like(name):
        return True
    return " " not in name and (counts[name] >= 2 or tag is not None)


def _label_counts(lines: Sequence[str], alone: bool) -> Counter[str]:
    """How often each candidate label opens a line (with words, or alone when that is the format)."""
    counts: Counter[str] = Counter()
    for line in lines:
        match = SPEAKER_LINE.match(line) or (LABEL_LINE.match(line) if alone else None)
        if match:
            counts[match["speaker"].strip()] += 1
    return counts


def parse_speaker_lines(lines: Sequence[str], first_line: int = 1) -> list[RawTurn]:
    """Group `Name: text` lines (or Otter/Rev heading lines) and their continuations into turns."""
    turns: list[RawTurn] = []
    headings = _headings(lines) >= 2
    labels = sum(1 for line in lines if LABEL_LINE.match(line)) >= 2
    counts = _label_counts(lines, labels)
    # Labels that recur, bar annotations: the speakers against whom a one-off label is judged.
    recurring = {n for n, c in counts.items() if c >= 2 and not annotation_label(n)}
    pending_time: str | None = None
    for offset, raw in enumerate(lines):
        line = raw.rstrip()
        if (
            not line.strip()
            or line.lstrip().startswith("#")
            or HEADER_LINE.match(line)
            or TOOL_LINE.match(line)
        ):
            continue
        clock = TIME_LINE.match(line)
        if clock:
            pending_time = clock["time"]
            continue
        heading = HEADING_TURN.match(line) if headings else None
        if heading and _words_follow(lines, offset):
            speaker = heading["speaker"] or heading["cspeaker"]
            time = heading["time"] or heading["ptime"] or heading["ctime"]
            turns.append(RawTurn(speaker.strip(), [], first_line + offset, time))
            pending_time = None
            continue
        alone = LABEL_LINE.match(line) if labels else None
        tag = alone and (alone["tag"] or alone["btag"] or alone["dtag"])
        if alone and _accepted(alone["speaker"].strip(), tag, counts, recurring):
            # Its words are the lines below; a label with none is dropped with its empty turn.
            turns.append(
                RawTurn(alone["speaker"].strip(), [], first_line + offset, pending_time, tag)
            )
            pending_time = None
            continue
        match = SPEAKER_LINE.match(line)
        tag = match and (match["tag"] or match["btag"] or match["dtag"])
        if match and _accepted(match["speaker"].strip(), tag, counts, recurring):
            turns.append(
                RawTurn(
                    match["speaker"].strip(),
                    [match["text"]],
                    first_line + offset,
                    match["time"] or pending_time,
                    tag,
                )
            )
            pending_time = None
        elif turns:
            turns[-1].lines.append(line)
        else:
            # Text before any speaker label: keep it, attributed to nobody in particular.
            turns.append(RawTurn("Unknown", [line], first_line + offset))
    return [t for t in turns if t.lines]


def set_aside_annotations(raw: Sequence[RawTurn]) -> tuple[list[RawTurn], list[RawTurn]]:
    """(turns, annotations): lines under a researcher's label ("Note:") are nobody's words."""
    kept: list[RawTurn] = []
    aside: list[RawTurn] = []
    for item in raw:
        (aside if annotation_label(label_of(item)[0]) else kept).append(item)
    return kept, aside


def merge_same_speaker(turns: list[RawTurn]) -> list[RawTurn]:
    """Consecutive turns by one speaker (split subtitle cues) become one turn."""
    merged: list[RawTurn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1].lines.extend(turn.lines)
            merged[-1].tag = merged[-1].tag or turn.tag
        else:
            merged.append(RawTurn(turn.speaker, list(turn.lines), turn.line, turn.time, turn.tag))
    return merged


def build_turns(raw: Sequence[RawTurn], interviewers: Iterable[str]) -> list[Turn]:
    """Assign roles and offsets so that `Document.text[t.start:...]` is the turn's text."""
    names = list(interviewers)
    labelled = [(item, *label_of(item)) for item in raw]
    # A speaker marked as the interviewer once ("Sam (UXR):") is the interviewer throughout.
    marked = {name for _, name, tag in labelled if is_interviewer_tag(tag, names)}
    spoken = {name.strip().lower() for _, name, _ in labelled}
    if spoken & QUESTION_LABELS and spoken & ANSWER_LABELS:
        # A Q:/A: transcript: the questions are the interviewer's.
        marked |= {name for _, name, _ in labelled if name.strip().lower() in QUESTION_LABELS}
    turns: list[Turn] = []
    position = 0
    for item, speaker, _ in labelled:
        text = item.text
        if not text:
            continue
        turns.append(
            Turn(
                speaker=speaker,
                role="interviewer" if speaker in marked else role_for(speaker, names),
                text=text,
                start=position,
                line=item.line,
                time=item.time,
            )
        )
        position += len(text) + len(TURN_SEPARATOR)
    return turns


def label_of(item: RawTurn) -> tuple[str, str | None]:
    """(speaker, tag): a voice tag or JSON speaker like 'Sam (UXR)' is split here."""
    if item.tag is not None:
        return item.speaker, item.tag
    return split_label(item.speaker)


SCALARS = (str, int, float, bool)


def _scalar(value: object) -> str | None:
    # YAML reads `interview_date: 2026-02-10` as a date; keep it as the ISO text it was written as.
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return None


def make_document(
    source: str,
    kind: DocumentKind,
    turns: list[Turn],
    *,
    participant_id: str | None = None,
    ticket_id: str | None = None,
    user_id: str | None = None,
    metadata: dict | None = None,
) -> Document:
    """A Document whose id is the hash of what it says and who it is about."""
    meta = {}
    for key, value in (metadata or {}).items():
        kept = value if isinstance(value, SCALARS) else _scalar(value)
        if kept is not None:
            meta[str(key)] = kept
    ident = content_hash(
        {
            "kind": kind,
            "participant": participant_id,
            "ticket": ticket_id,
            "turns": [(t.speaker, t.text) for t in turns],
        }
    )
    return Document(
        id=ident,
        source=source,
        kind=kind,
        participant_id=participant_id,
        ticket_id=ticket_id,
        user_id=user_id,
        metadata=meta,
        turns=turns,
    )


PARTICIPANT_IN_NAME = re.compile(r"(?:^|[^A-Za-z0-9])(P\d{1,4})(?:[^A-Za-z0-9]|$)")


def participant_from_filename(path: Path) -> str | None:
    match = PARTICIPANT_IN_NAME.search(path.stem)
    return match.group(1) if match else None
