"""Interview transcripts: plain text, Markdown (with YAML front matter), WebVTT, SRT, .docx, JSON."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..models import SkippedInput
from ..yamlsafe import load_yaml
from .base import (
    INTERVIEWER_WORDS,
    QUESTION_LABELS,
    RawTurn,
    common_phrase,
    is_interviewer_name,
    label_of,
    merge_same_speaker,
    name_like,
    parse_speaker_lines,
)
from .roles import QUESTION_MARKS

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
# Front matter is a few lines of metadata; a longer one is not front matter anyone wrote by hand.
MAX_FRONT_MATTER = 64 * 1024
TIMING = re.compile(r"^\s*(\d[\d:.,]*)\s*-->\s*(\d[\d:.,]*)")
VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*?)(?:</v>)?$")
TAG = re.compile(r"</?[a-z][^>]*>", re.IGNORECASE)
# A cue's speaker prefix as caption tools write it: any display name up to 40 characters.
CUE_LABEL = re.compile(r"^(?P<speaker>[^\s:<>\[\]][^:<>]{0,39}?):\s+(?P<text>\S.*)$")


def split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    """(metadata, body, line number where the body starts)."""
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text, 1
    if len(match.group(1)) > MAX_FRONT_MATTER:
        raise InputError(
            str(path),
            f"front matter is over {MAX_FRONT_MATTER // 1024} KB; metadata only, please",
            1,
        )
    try:
        meta = load_yaml(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(str(path), f"front matter is not valid YAML: {problem}", line) from exc
    if not isinstance(meta, dict):
        raise InputError(str(path), "front matter must be a YAML mapping", 2)
    return meta, text[match.end() :], text[: match.end()].count("\n") + 1


# A GitHub pipe table's delimiter row ("|---|:--:|", "--- | ---"), a row's unescaped pipes, and
# the `<br>` that Notion and Confluence exports put where a cell breaks a line.
PIPE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
PIPE = re.compile(r"(?<!\\)\|")
CELL_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _pipe_cells(line: str) -> list[str]:
    """A pipe table row's cells: outer pipes dropped, `\\|` a pipe, `<br>` a newline."""
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [CELL_BREAK.sub("\n", cell.replace("\\|", "|")).strip() for cell in PIPE.split(row)]


# A Markdown code fence: its opening run of backticks or tildes closes it again.
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def _pipe_tables(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line indexes of each pipe table: a header row, a delimiter row, the rows.

    The delimiter row must hold a pipe and as many cells as the header (GitHub's rule), so a
    `---` rule under a sentence is not one; the table ends at a blank line or one with no pipe.
    Inside a fenced code block (``` or ~~~) a table is shown as text, as Markdown shows it.
    """
    spans: list[tuple[int, int]] = []
    fence = ""
    i = 0
    while i + 1 < len(lines):
        head, rule = lines[i], lines[i + 1]
        opened = _FENCE.match(head)
        if opened and (not fence or opened[1].startswith(fence)):
            fence = "" if fence else opened[1]
            i += 1
        elif fence:
            i += 1
        elif (
            PIPE.search(head)
            and "|" in rule
            and PIPE_DELIMITER.match(rule)
            and len(_pipe_cells(rule)) == len(_pipe_cells(head))
        ):
            end = i + 2
            while end < len(lines) and lines[end].strip() and PIPE.search(lines[end]):
                end += 1
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


def read_plain(
    path: Path, text: str, notes: list[str] | None = None
) -> tuple[list[RawTurn], dict[str, Any]]:
    """Speaker lines, and pipe tables read as Word tables are (a table with no turns noted)."""
    meta, body, first = split_front_matter(path, text)
    lines = body.splitlines()
    spans = _pipe_tables(lines)
    if not spans:
        return parse_speaker_lines(lines, first), meta
    tables = _Tables(lined=True)
    # The lines the speaker-line reader sees, and the file line each came from.
    seen: list[str] = []
    numbers: list[int] = []
    done = 0
    for begin, end in spans:
        seen += lines[done:begin]
        numbers += range(first + done, first + begin)
        kept = [begin, *range(begin + 2, end)]
        rows = [_pipe_cells(lines[k]) for k in kept]
        at = [first + k for k in kept]
        if tables.read(rows, at) is None:
            # The rows are blank to the speaker-line reader: never glued into a turn above.
            seen += [""] * (end - begin)
            numbers += range(first + begin, first + end)
        else:
            for row, number in zip(rows, at, strict=True):
                parts = row[0].split("\n") if row else [""]
                seen += parts
                numbers += [number] * len(parts)
        done = end
    seen += lines[done:]
    numbers += range(first + done, first + len(lines))
    spoken = parse_speaker_lines(seen, 0)
    for turn in spoken:
        turn.line = numbers[turn.line or 0]
    return tables.merge(path, spoken, notes), meta


def _cue_blocks(text: str) -> Iterable[tuple[int, str | None, list[str]]]:
    """(line number, start time, text lines) for each subtitle cue."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = TIMING.match(lines[i])
        if not match:
            i += 1
            continue
        start_line, start = i + 1, match.group(1)
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        yield start_line + 1, start, body


def _cue_speakers(blocks: list[tuple[int, str | None, list[str]]]) -> set[str]:
    """Display names that open two or more cues ("dan.smith: ...", "Kim Lee (she/her): ...").

    Zoom and Meet captions prefix every cue with the name as the person typed it, which need not
    look like a name; a prefix seen once is more likely a sentence ("Note: ...") than a speaker.
    """
    seen: Counter[str] = Counter()
    for _, _, body in blocks:
        for line in body:
            match = CUE_LABEL.match(TAG.sub("", line))
            if match and "http" not in match["speaker"].lower():
                seen[match["speaker"].strip()] += 1
    return {name for name, count in seen.items() if count >= 2}


def _cue_turns(text: str) -> list[RawTurn]:
    turns: list[RawTurn] = []
    blocks = list(_cue_blocks(text))
    names = _cue_speakers(blocks)
    for line_no, start, body in blocks:
        for line in body:
            voice = VOICE.match(line)
            if voice:
                turns.append(
                    RawTurn(voice.group(1).strip(), [TAG.sub("", voice.group(2))], line_no, start)
                )
                continue
            parsed = parse_speaker_lines([TAG.sub("", line)], line_no)
            loose = CUE_LABEL.match(TAG.sub("", line))
            if (
                (not parsed or parsed[0].speaker == "Unknown")
                and loose
                and loose["speaker"].strip() in names
            ):
                turns.append(RawTurn(loose["speaker"].strip(), [loose["text"]], line_no, start))
            elif parsed and parsed[0].speaker != "Unknown":
                parsed[0].time = start
                turns.extend(parsed)
            elif turns:
                # A cue with no speaker continues the previous speaker's turn.
                turns[-1].lines.append(TAG.sub("", line))
            else:
                turns.append(RawTurn("Unknown", [TAG.sub("", line)], line_no, start))
    return merge_same_speaker(turns)


def read_vtt(path: Path, text: str) -> tuple[list[RawTurn], dict[str, Any]]:
    if not text.lstrip().startswith("WEBVTT"):
        raise InputError(str(path), "not a WebVTT file (missing the WEBVTT header)", 1)
    turns = _cue_turns(text)
    if not turns:
        raise InputError(str(path), "no subtitle cues found")
    return turns, {}


def read_srt(path: Path, text: str) -> tuple[list[RawTurn], dict[str, Any]]:
    turns = _cue_turns(text)
    if not turns:
        raise InputError(str(path), "no SubRip cues found (expected 'HH:MM:SS,mmm --> ...' lines)")
    return turns, {}


# Header cells of a transcript table: the column naming who speaks, what they said, and when.
SPEAKER_HEADERS = {
    "speaker", "speakers", "speaker name", "name", "who", "person", "role", "participant",
    "participants", "participant id", "respondent", "interviewee",
}  # fmt: skip
TEXT_HEADERS = {
    "text", "transcript", "transcription", "said", "what was said", "words", "utterance",
    "content", "dialogue", "dialog", "speech", "comment", "comments", "quote", "message",
    "response", "responses", "answer", "answers",
}  # fmt: skip
TIME_HEADERS = {"time", "timestamp", "time stamp", "start", "start time", "timecode", "time code"}
# Headers that say a table holds answers ("Participant | Response"), not a transcript of speech:
# only there does a question opening a cell read as the interviewer's. In "Speaker | Text" the
# speaker may open with a question of their own ("You know what drives me crazy?").
ANSWER_TABLE_HEADERS = {"response", "responses", "answer", "answers"}
RESPONDENT_HEADERS = {"participant", "participants", "participant id", "respondent", "interviewee"}
# "Question | Answer" (or "Q | A") headers: one exchange per row, the question the interviewer's.
EXCHANGE_HEADERS = ({"q", "question", "questions"}, {"a", "answer", "answers", "response"})
CELL_TIME = re.compile(r"^[\[(]?(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?[\])]?$")
# A speaker cell is a short label: a name, "Interviewer", "Q".
MAX_SPEAKER_CELL = 40


def _header(cell: str) -> str:
    return cell.strip().strip("*_:").strip().lower()


def _table_rows(table: Any) -> list[list[str]]:
    """Each row's cell texts, paragraphs apart by a newline; a merged cell counts once."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[Any] = []
        for cell in row.cells:
            if seen and cell._tc is seen[-1]:
                continue
            seen.append(cell._tc)
            cells.append(cell.text)
        rows.append(cells)
    return rows


def _flat(cell: str) -> str:
    """A cell's paragraphs (and soft breaks) as one turn's text."""
    return " ".join(part.strip() for part in cell.split("\n") if part.strip())


def _speaker_cell(value: str) -> bool:
    """'Olu', 'Interviewer', 'Q', 'dan.okafor': a label, not a sentence."""
    value = value.strip().rstrip(":：").strip()
    return (
        0 < len(value) <= MAX_SPEAKER_CELL
        and len(value.split()) <= 5
        and not value.endswith(("?", "!", ","))
        and (name_like(value) or (" " not in value and value[0].isalpha()))
    )


def _column(rows: list[list[str]], index: int) -> list[str]:
    return [row[index] for row in rows if index < len(row) and row[index].strip()]


# A transcript table's text column says more than a word or two a row ("Finance" beside a name
# is a roster); only a column the header calls the text is taken as it is.
MIN_TEXT_WORDS = 3


def _unheaded_speaker(rows: list[list[str]], time: int | None) -> int | None:
    """The column of short labels that recur and change hands row to row ("Q", "A", "Q"...).

    A table of metadata never repeats its keys, and one sorted by a category ("High", "High",
    "Low") seldom changes from row to row as the speakers of a conversation do.
    """
    width = max(len(row) for row in rows)
    for i in range(width):
        cells = _column(rows, i)
        if i == time or not cells or not all(_speaker_cell(c) for c in cells):
            continue
        labels = [c.strip() for c in cells]
        counts = Counter(labels)
        changes = sum(a != b for a, b in itertools.pairwise(labels))
        if (
            max(counts.values()) >= 2
            and len(counts) <= max(2, len(labels) // 2)
            # A first row whose label never comes back is a header this reader does not know.
            and counts[labels[0]] >= 2
            and changes * 2 >= len(labels) - 1
        ):
            return i
    return None


# Who asked a question found inside an answer's cell: the interviewer, marked as "(UXR)" would;
# and who answered, where no column or label names them.
ASKER = "Interviewer"
ANSWERER = "Participant"


def _asked(cell: str) -> tuple[str, str] | None:
    """(question, answer) of a cell whose first paragraph is a question and more text follows."""
    parts = [part.strip() for part in cell.split("\n") if part.strip()]
    if len(parts) >= 2 and parts[0].endswith(QUESTION_MARKS):
        return parts[0], " ".join(parts[1:])
    return None


def _asks(label: str) -> bool:
    """'Interviewer', 'Q', 'Sam (UXR)': a row label that is the interviewer's."""
    name, tag = label_of(RawTurn(label))
    lowered = name.strip().lower()
    return (
        lowered in QUESTION_LABELS or is_interviewer_name(lowered, INTERVIEWER_WORDS) or bool(tag)
    )


def _table_turns(
    rows: list[list[str]],
    lines: Sequence[int],
    doubts: list[int] | None = None,
    splits: list[int] | None = None,
) -> list[RawTurn] | None:
    """A table's rows as turns, or None when no column holds speakers beside one of text.

    A header names the columns ("Speaker | Time | Text", "Question | Answer"); without one, the
    speaker column is the one of short labels that recur ("Q", "A", "Q", ...) and the text
    column the longest of the others; a column of clock times times each turn. In a table with
    no row of the interviewer's whose header says it holds answers ("Participant | Response"),
    a cell that opens with a question and goes on below it holds both: the question is the
    interviewer's, the rest the row's speaker's; those rows go (by table row number) into
    `splits`. Rows of that shape the table does not settle go into `doubts`. Row i is on
    `lines[i]`.
    """
    width = max((len(row) for row in rows), default=0)
    if width < 2:
        return None
    cells = rows
    rows = [[_flat(cell) for cell in row] for row in rows]
    head = [_header(cell) for cell in rows[0]]
    asks, answers = EXCHANGE_HEADERS
    if len(head) == 2 and head[0] in asks and head[1] in answers:
        labels = [cell.strip().strip("*_:").strip() for cell in rows[0]]
        return [
            RawTurn(label, [text], lines[offset])
            for offset, row in enumerate(rows[1:], start=1)
            for label, text in zip(labels, row, strict=False)
            if text.strip()
        ]
    speaker = next((i for i, h in enumerate(head) if h in SPEAKER_HEADERS), None)
    answers_table = False
    if speaker is not None:
        body, first = rows[1:], lines[1:]
        time = next((i for i, h in enumerate(head) if h in TIME_HEADERS), None)
        text = next((i for i, h in enumerate(head) if h in TEXT_HEADERS), None)
        answers_table = head[speaker] in RESPONDENT_HEADERS or (
            text is not None and head[text] in ANSWER_TABLE_HEADERS
        )
    else:
        body, first, text = rows, lines, None
        time = next(
            (
                i
                for i in range(width)
                if (c := _column(rows, i)) and all(CELL_TIME.match(x.strip()) for x in c)
            ),
            None,
        )
        speaker = _unheaded_speaker(rows, time)
        if speaker is None:
            return None
    if text is None:
        others = [i for i in range(width) if i not in (speaker, time)]
        if not others:
            return None
        text = max(others, key=lambda i: (sum(len(c) for c in _column(body, i)), -i))
        words = [len(c.split()) for c in _column(body, text)]
        if not words or sum(words) < MIN_TEXT_WORDS * len(words):
            return None
    start = len(rows) - len(body)
    raw_text = [row[text] if text < len(row) else "" for row in cells[start:]]
    asked = {i: pair for i, cell in enumerate(raw_text) if (pair := _asked(cell))}
    said_rows = sum(1 for row in body if text < len(row) and row[text].strip())
    who_all = [row[speaker].strip() for row in body if speaker < len(row) and row[speaker].strip()]
    interviewed = any(_asks(w) for w in who_all)
    split = answers_table and bool(asked) and 2 * len(asked) >= said_rows and not interviewed
    if asked and not split and doubts is not None and not interviewed:
        doubts.extend(start + i + 1 for i in sorted(asked))
    if split and splits is not None:
        splits.extend(start + i + 1 for i in sorted(asked))
    turns: list[RawTurn] = []
    for offset, row in enumerate(body):
        said = row[text].strip() if text < len(row) else ""
        if not said:
            continue
        who = row[speaker].strip().rstrip(":：").strip("*_").strip() if speaker < len(row) else ""
        when = row[time].strip().strip("[]()") if time is not None and time < len(row) else ""
        if split and offset in asked:
            question, said = asked[offset]
            turns.append(RawTurn(ASKER, [question], first[offset], when or None, "interviewer"))
            who, when = who or ANSWERER, ""
        if not who and turns:
            # A row with no speaker goes on with the turn above (a long answer split in rows).
            turns[-1].lines.append(said)
            continue
        turns.append(RawTurn(who or "Unknown", [said], first[offset], when or None))
    return turns


def _bold_label(paragraph: Any) -> str | None:
    """The text of a paragraph that is only a short bold name ("**Tomás Ruiz**", no colon)."""
    text = paragraph.text.strip()
    style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
    if not text or ":" in text or "：" in text or style.startswith(("heading", "title")):
        return None
    runs = [run for run in paragraph.runs if run.text.strip()]
    bold = all(
        run.bold or (run.style is not None and run.style.font.bold and run.bold is not False)
        for run in runs
    )
    return text if runs and bold and _speaker_cell(text) else None


def _bold_labels(texts: list[str], bold: list[str | None]) -> list[str]:
    """Lines with a bold name above its words ("Tomás Ruiz" then the answer) given a colon.

    Only where bold names recur (a one-off bold "Background" is a heading) and only before
    words, and a name that appears once must look like a name, not everyday words.
    """
    counts = Counter(name for name in bold if name)
    if not counts or max(counts.values()) < 2:
        return texts
    out = list(texts)
    for index, name in enumerate(bold):
        if not name:
            continue
        following = next((i for i in range(index + 1, len(texts)) if texts[i].strip()), None)
        if following is None or bold[following]:
            continue
        if counts[name] >= 2 or (name_like(name) and not common_phrase(name)):
            out[index] = f"{name}:"
    return out


def _numbers(values: list[int]) -> str:
    """'2, 3': row or line numbers as a note lists them."""
    return ", ".join(str(v) for v in values)


def _unlabelled_questions(lines: list[str]) -> bool:
    """Lines with a question among them and no speaker label anywhere."""
    if not any(line.strip().endswith(QUESTION_MARKS) for line in lines):
        return False
    return all(t.speaker == "Unknown" for t in parse_speaker_lines(lines))


def _exchange_cells(cells: list[str], lines: Sequence[int]) -> list[RawTurn] | None:
    """Turns of a one-column table of bare questions and answers, or None if they do not pair.

    A cell is a question (one paragraph ending in a question mark), an answer, or both (a
    question, then the answer below it); read in order they must go question, answer,
    question, answer... and then the questions are the interviewer's.
    """
    units: list[tuple[bool, str, int]] = []
    for offset, cell in enumerate(cells):
        parts = [part.strip() for part in cell.split("\n") if part.strip()]
        if not parts:
            continue
        pair = _asked(cell)
        if pair:
            units += [(True, pair[0], lines[offset]), (False, pair[1], lines[offset])]
        else:
            asks = len(parts) == 1 and parts[0].endswith(QUESTION_MARKS)
            units.append((asks, " ".join(parts), lines[offset]))
    if len(units) < 2 or any(asks != (i % 2 == 0) for i, (asks, _, _) in enumerate(units)):
        return None
    return [
        RawTurn(ASKER, [text], at, None, "interviewer") if asks else RawTurn(ANSWERER, [text], at)
        for asks, text, at in units
    ]


@dataclass
class _Tables:
    """A file's tables read in document order: their turns, and what to say of the others.

    Word tables and Markdown pipe tables both come here as rows of cell texts (a cell's
    paragraphs or `<br>` breaks apart by a newline), each row with its line.
    """

    # Markdown rows have lines of their own in the file; a Word row only a place among the
    # paragraphs, so notes name it by its row number.
    lined: bool = False
    turns: list[RawTurn] = field(default_factory=list)
    answers: list[RawTurn] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)
    doubted: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    count: int = 0

    def read(self, rows: list[list[str]], lines: Sequence[int]) -> list[str] | None:
        """Take one table's turns; a one-column box around speaker lines returns those lines."""
        self.count += 1
        name = f"table {self.count}" + (f" on line {lines[0]}" if self.lined else "")
        doubts: list[int] = []
        splits: list[int] = []
        turns = _table_turns(rows, lines, doubts, splits)
        for found, into in ((doubts, self.doubted), (splits, self.split)):
            if not found:
                continue
            if self.lined:
                at = [lines[i - 1] for i in found]
                into.append(f"{name}, row{'s' * (len(at) > 1)} on line {_numbers(at)}")
            else:
                into.append(f"{name} row{'s' * (len(found) > 1)} {_numbers(found)}")
        width = max((len(row) for row in rows), default=0)
        if turns is None and width == 1:
            # A one-column table is a box around lines of text ("Name: text" in a frame)...
            cell_lines = [part for row in rows for cell in row for part in cell.split("\n")]
            if not _unlabelled_questions(cell_lines):
                if self.lined and not _labelled(cell_lines):
                    # A Markdown box with no label in it is nobody's words (a list of notes).
                    self.unread.append(f"{name} ({len(rows)} rows, 1 column)")
                    return None
                return cell_lines
            # ...or, with questions and no labels, the interview itself, cell by cell.
            turns = _exchange_cells([row[0] if row else "" for row in rows], lines)
            if turns is None:
                self.unpaired.append(f"{name} ({len(rows)} rows, 1 column)")
            else:
                self.answers.extend(t for t in turns if t.speaker == ANSWERER)
        if turns is None and width > 1:
            self.unread.append(f"{name} ({len(rows)} rows, {width} columns)")
        elif turns is not None:
            self.turns.extend(turns)
        return None

    def merge(self, path: Path, spoken: list[RawTurn], notes: list[str] | None) -> list[RawTurn]:
        """The paragraphs' turns and the tables' in file order; tables without turns named.

        A table that holds no turns is named in `notes` (or in the error, when nothing else in
        the file could be read), never dropped silently.
        """
        # Answers in a table of bare questions and answers are the transcript's one participant's.
        others = {t.speaker for t in spoken if t.speaker != "Unknown" and not _asks(t.speaker)}
        if len(others) == 1:
            for turn in self.answers:
                turn.speaker = next(iter(others))
        # Table rows took line numbers of their own: sorting by line keeps the file's order.
        turns = sorted([*spoken, *self.turns], key=lambda t: t.line or 0)
        why = (
            "no column of speaker names beside a column of text (a header row such as "
            "'Speaker | Time | Text' or 'Question | Answer' marks them)"
        )
        unlabelled = (
            "questions and answers with no speaker labels, not a question cell then an answer "
            "cell in turn, so who said what is unknown (label them 'Interviewer:' and 'Name:')"
        )
        problems = [
            (", ".join(tables), reason)
            for tables, reason in ((self.unread, why), (self.unpaired, unlabelled))
            if tables
        ]
        if problems:
            if not any(t.speaker != "Unknown" for t in turns):
                said = "; ".join(f"{tables}: {reason}" for tables, reason in problems)
                raise InputError(str(path), f"no speaker turns found; {said}")
            if notes is not None:
                notes.extend(
                    f"{path}: {tables} not read as turns: {reason}" for tables, reason in problems
                )
        if self.doubted and notes is not None:
            notes.append(
                f"{path}: {', '.join(self.doubted)}: a question opens the cell with more text "
                "below it, read as the row's speaker's words (only a table headed like "
                "'Participant | Response' with most rows laid out so calls such questions the "
                "interviewer's); give each question its own row or an 'Interviewer:' label if "
                "it is theirs"
            )
        if self.split and notes is not None:
            notes.append(
                f"{path}: {', '.join(self.split)}: the question opening each cell read as the "
                "interviewer's and the rest as the row's speaker's (the table holds responses)"
            )
        return turns


def _labelled(lines: list[str]) -> bool:
    """Lines with at least one speaker label among them."""
    return any(t.speaker != "Unknown" for t in parse_speaker_lines(lines))


def read_docx(
    path: Path, data: bytes, notes: list[str] | None = None
) -> tuple[list[RawTurn], dict[str, Any]]:
    """Turns from a Word file's paragraphs and tables, in document order.

    A table that holds no turns is named in `notes` (or in the error, when nothing else in the
    file could be read), never dropped silently.
    """
    import io
    import zipfile

    from docx import Document as DocxDocument
    from docx.table import Table

    try:
        doc = DocxDocument(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(str(path), f"not a readable .docx file ({exc})") from exc
    lines: list[str] = []
    bold: list[str | None] = []
    tables = _Tables()
    for block in doc.iter_inner_content():
        if not isinstance(block, Table):
            # A soft line break (Shift+Enter) comes through as "\n" inside one paragraph; Word
            # users put whole turns on such lines, so each is a line of its own.
            parts = block.text.split("\n")
            lines.extend(parts)
            bold.extend([_bold_label(block) if len(parts) == 1 else None] * len(parts))
            continue
        rows = _table_rows(block)
        boxed = tables.read(rows, range(len(lines) + 1, len(lines) + 1 + len(rows)))
        # A box's lines are read with the paragraphs; a table's rows are blank to that reader.
        filler = boxed if boxed is not None else [""] * len(rows)
        lines.extend(filler)
        bold.extend([None] * len(filler))
    turns = tables.merge(path, parse_speaker_lines(_bold_labels(lines, bold)), notes)
    props = doc.core_properties
    meta = {k: v for k, v in {"title": props.title, "author": props.author}.items() if v}
    return turns, meta


def read_json_transcript(
    path: Path, record: dict[str, Any], line: int | None = None
) -> tuple[list[RawTurn], dict[str, Any]]:
    """`{"participant_id": ..., "turns": [{"speaker": ..., "text": ...}, ...], ...metadata}`."""
    turns_in = record.get("turns")
    if not isinstance(turns_in, list):
        raise InputError(str(path), "a transcript record needs a 'turns' list", line)
    turns = []
    for i, item in enumerate(turns_in):
        if not isinstance(item, dict) or "text" not in item:
            raise InputError(str(path), f"turn {i} needs 'speaker' and 'text'", line)
        time = item.get("time")
        role = str(item.get("role") or "").strip().lower()
        turns.append(
            RawTurn(
                str(item.get("speaker") or "Unknown"),
                ["" if item["text"] is None else str(item["text"])],
                line,
                None if time in (None, "") else str(time),
                # `"role": "interviewer"` on a turn marks its speaker, as "Sam (UXR):" does.
                role if role in {"interviewer", "moderator", "researcher", "facilitator"} else None,
            )
        )
    meta = {k: v for k, v in record.items() if k != "turns"}
    return turns, meta


def load_json_records(
    path: Path, text: str, bad_lines: list[SkippedInput] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """Records of a .json (object or array) or .jsonl file, with their line numbers.

    Given `bad_lines`, a .jsonl line that is not a JSON object is noted there and the other
    lines are still read (one truncated line must not cost the whole export); without it, the
    first bad line is an error.
    """
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = InputError(str(path), f"invalid JSON: {exc.msg}", number)
            else:
                if isinstance(value, dict):
                    records.append((number, value))
                    continue
                problem = InputError(str(path), "each line must be a JSON object", number)
            if bad_lines is None:
                raise problem
            bad_lines.append(SkippedInput(path=problem.path, reason=problem.reason, line=number))
        return records
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON: {exc.msg}", exc.lineno) from exc
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, dict) for v in items):
        raise InputError(str(path), "expected a JSON object or an array of objects")
    return [(None, v) for v in items]  # type: ignore[misc]
