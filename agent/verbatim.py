"""What "verbatim" means, in one place: the quote test shared by extraction and grounding.

A quote is verbatim in a text when both read the same after folding, and only these:
- whitespace: any run of spaces, tabs, newlines (non-breaking spaces too) is one space, and
  leading/trailing whitespace is ignored;
- letter case (Unicode case folding);
- quote marks: curly, low-9, prime and guillemet quotes read as straight ' and ";
- dashes: hyphen, non-breaking hyphen, figure, en and em dashes, horizontal bar and minus read as -;
- the ellipsis character reads as three dots.
Nothing else: a changed, dropped or reordered word, or "..." standing for omitted words, fails.
Models retype dashes and quote marks freely, and an extracted quote is always re-read from the
source text, so folding them loses nothing a reader sees.

Extraction (`find_span`) and grounding (`is_verbatim` via agent/grounding.py) both use
`normalise`. A persona quote is written by the model and kept as written, so grounding first
takes its `quote_core`: the quote without the quote marks, ellipsis or end punctuation around it
(a passage cut at either end is still a substring).
"""

from __future__ import annotations

from functools import lru_cache

FOLD_CHARS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    "\u2026": "...",
}
FOLD_TABLE = str.maketrans(FOLD_CHARS)
# Around a persona quote, not part of it: wrapping quote marks, ellipses, end punctuation.
QUOTE_EDGE = " \t\n\"'.,;:!?-"


def normalise(text: str) -> str:
    """`text` folded as described above: the form quotes are compared in."""
    return " ".join(text.translate(FOLD_TABLE).casefold().split())


def quote_core(text: str) -> str:
    """A quote's normalised core, without the marks and punctuation around it."""
    return normalise(text).strip(QUOTE_EDGE)


@lru_cache(maxsize=4096)
def _normalise_with_map(text: str) -> tuple[str, tuple[int, ...]]:
    """normalise(text) plus, for each of its characters, the index it came from in `text`.

    Char by char so spans map back to the source; equal to `normalise(text)` because every step
    (translate, casefold, whitespace split) works per character. Cached: a chunk's text is
    normalised once however many quotes are checked against it."""
    out: list[str] = []
    where: list[int] = []
    pending_space = False
    for i, char in enumerate(text):
        if char.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            where.append(i - 1)
            pending_space = False
        for piece in char.translate(FOLD_TABLE).casefold():
            out.append(piece)
            where.append(i)
    return "".join(out), tuple(where)


def is_verbatim(quote: str, text: str) -> bool:
    """True when `quote` (non-empty after folding) occurs in `text` after folding."""
    needle = normalise(quote)
    return bool(needle) and needle in normalise(text)


def find_span(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text` up to normalisation, or None; earliest match wins."""
    needle = normalise(quote)
    if not needle:
        return None
    hay, where = _normalise_with_map(text)
    pos = hay.find(needle)
    if pos < 0:
        return None
    return where[pos], where[pos + len(needle) - 1] + 1
