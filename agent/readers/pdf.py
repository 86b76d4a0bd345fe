"""PDF transcripts: the text layer (pypdf), with the page furniture taken off before turns are read.

Typeset transcripts carry running headers ("Acme study - Session 3"), footers ("Page 2 of 9",
"Confidential"), page numbers and a column of line numbers. Text extraction hands all of it over
as if it were speech: line-number runs ("84 85 86 ... 111") ended up inside quotes, and redaction
took them for card numbers. Here they are removed first; printed line numbers, when the layout
lets us pair them with lines, become the turns' line numbers, so a citation points at the page
a reader has in front of them.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import SPEAKER_LINE, RawTurn, name_like, parse_speaker_lines

# Lines at the top or bottom of a page looked at for headers, footers and page numbers.
EDGE = 3
# A line at the page edge on at least this share of pages (and on two or more) is furniture.
REPEATED_SHARE = 0.5
# A run of this many consecutive integers is line numbering, not something anyone said.
MIN_RUN = 3
PAGE_NUMBER = re.compile(
    r"^\s*(?:page|p\.|pg\.?)?\s*[-–—]?\s*\d{1,4}\s*[-–—]?\s*(?:(?:of|/)\s*\d{1,4})?\s*$",
    re.IGNORECASE,
)
NUMBER = re.compile(r"^\d{1,5}$")
LEADING_NUMBER = re.compile(r"^\s*(\d{1,5})(?:\s+|$)(.*)$")
INTEGERS = re.compile(r"(?<![\w.,:/-])\d{1,5}(?:\s+\d{1,5}){2,}(?![\w.,:/-])")


@dataclass
class Line:
    """One line of extracted text and the printed line number beside it, if any."""

    text: str
    number: int | None = None


def _furniture_key(text: str) -> str:
    """'Page 3 of 12' and 'Page 4 of 12' are one footer; compare lines with digits masked."""
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _consecutive(values: list[int]) -> bool:
    return len(values) >= MIN_RUN and all(b == a + 1 for a, b in itertools.pairwise(values))


def _drop_runs_inside(text: str) -> str:
    """Remove runs like '84 85 86 87' from a line; other numbers ('3 4 5 stars'?) stay."""

    def keep(match: re.Match[str]) -> str:
        values = [int(v) for v in match.group().split()]
        return " " if _consecutive(values) else match.group()

    return " ".join(INTEGERS.sub(keep, text).split())


def _page_lines(text: str) -> tuple[list[Line], list[int]]:
    """Lines of one page without number columns, and the margin column's numbers if any."""
    raw = [line.rstrip() for line in text.splitlines()]
    raw = [line for line in raw if line.strip()]
    lines: list[Line] = []
    column: list[int] = []
    i = 0
    while i < len(raw):
        # A margin column extracted as its own block: one integer per line, counting up.
        j = i
        while j < len(raw) and NUMBER.match(raw[j].strip()):
            j += 1
        run = [int(raw[k].strip()) for k in range(i, j)]
        if _consecutive(run):
            column.extend(run)
            i = j
            continue
        lines.extend(Line(raw[k].strip()) for k in range(i, max(j, i + 1)))
        i = max(j, i + 1)
    # Numbers printed at the start of each line ("84  Interviewer: ..."), counting up.
    leading = [LEADING_NUMBER.match(line.text) for line in lines]
    numbered = [int(m.group(1)) for m in leading if m]
    if len(numbered) >= max(MIN_RUN, len(lines) * 0.6) and _mostly_increasing(numbered):
        lines = [
            Line(m.group(2).strip(), int(m.group(1))) if m else line
            for line, m in zip(lines, leading, strict=True)
        ]
    lines = [Line(_drop_runs_inside(line.text), line.number) for line in lines]
    return [line for line in lines if line.text], column


def _mostly_increasing(values: list[int]) -> bool:
    steps = [b - a for a, b in itertools.pairwise(values)]
    return bool(steps) and sum(1 for s in steps if s == 1) >= len(steps) * 0.8


def _edge_positions(size: int) -> list[tuple[int, str]]:
    """(index, place) of the lines at a page's top and bottom, each place named once."""
    top = [(i, f"top{i}") for i in range(min(EDGE, size))]
    bottom = [(size - 1 - j, f"bottom{j}") for j in range(min(EDGE, size)) if size - 1 - j >= EDGE]
    return top + bottom


def _repeated(per_page: list[list[Line]]) -> set[tuple[int, int]]:
    """(page, line) of headers and footers: the same line in the same place on most pages.

    Lines that differ only in their numbers ("Page 3 of 9") count as one when the number moves
    with the page; "Interviewer: Question 19?" on one page and "... 39?" on the next does not.
    """
    if len(per_page) < 2:
        return set()
    places: dict[tuple[str, str], list[tuple[int, int, list[int], str]]] = {}
    for page, lines in enumerate(per_page):
        for index, place in _edge_positions(len(lines)):
            text = lines[index].text
            numbers = [int(n) for n in re.findall(r"\d+", text)]
            places.setdefault((place, _furniture_key(text)), []).append(
                (page, index, numbers, text)
            )
    found: set[tuple[int, int]] = set()
    for (_, key), hits in places.items():
        # A speaker's line at the foot of two pages is a coincidence more often than a footer.
        speaker = SPEAKER_LINE.match(hits[0][3])
        least = 3 if speaker and name_like(speaker["speaker"]) else 2
        if len(hits) < max(least, REPEATED_SHARE * len(per_page)):
            continue
        if "#" in key and not _moves_with_page(hits):
            continue
        found.update((page, index) for page, index, _, _ in hits)
    return found


def _moves_with_page(hits: list[tuple[int, int, list[int], str]]) -> bool:
    """Some number in the line goes up by one from page to page (a page number), or none change."""
    if all(numbers == hits[0][2] for _, _, numbers, _ in hits):
        return True
    width = min(len(numbers) for _, _, numbers, _ in hits)
    return any(
        all(b[2][slot] - a[2][slot] == b[0] - a[0] for a, b in itertools.pairwise(hits))
        for slot in range(width)
    )


def clean_pages(pages: list[str]) -> list[Line]:
    """Every page's lines, without repeated headers and footers, page numbers or line numbers."""
    split = [_page_lines(text) for text in pages]
    furniture = _repeated([lines for lines, _ in split])
    out: list[Line] = []
    for page, (lines, column) in enumerate(split):
        size = len(lines)
        body = [
            line
            for index, line in enumerate(lines)
            if (page, index) not in furniture
            and not (PAGE_NUMBER.match(line.text) and (index < 2 or index >= size - 2))
        ]
        if column and len(column) == len(body) and all(line.number is None for line in body):
            # The margin column lines up with the text lines: keep each line's printed number.
            body = [Line(line.text, n) for line, n in zip(body, column, strict=True)]
        out.extend(body)
    return out


def read_pdf(path: Path, data: bytes) -> tuple[list[RawTurn], dict[str, Any]]:
    """Speaker turns from a PDF's text layer; a scan without text is refused with what to do."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf reports recoverable oddities of real-world files as log warnings; ours is the
    # skipped list, so only errors it cannot recover from matter.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(str(path), "encrypted PDF: save a copy without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(str(path), f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not any(text.strip() for text in pages):
        raise InputError(
            str(path),
            "no text in this PDF (a scan?): run OCR on it, or export the transcript as text",
        )
    lines = clean_pages(pages)
    turns = parse_speaker_lines([line.text for line in lines])
    for turn in turns:
        # parse_speaker_lines numbers lines from 1; put the printed number there when known.
        if turn.line is not None:
            printed = lines[turn.line - 1].number
            turn.line = printed if printed is not None else turn.line
    meta: dict[str, Any] = {"pages": len(pages)}
    if isinstance(title, str) and title.strip():
        meta["title"] = title.strip()
    return turns, meta
