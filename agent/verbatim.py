"""Verbatim quote matching: normalise whitespace, case and curly quotes, nothing else."""

from __future__ import annotations

from functools import lru_cache

QUOTE_CHARS = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"'}
)


@lru_cache(maxsize=4096)
def _normalise_with_map(text: str) -> tuple[str, tuple[int, ...]]:
    """Normalised text plus, for each of its characters, the index it came from in `text`.

    Cached: a chunk's text is normalised once however many quotes are checked against it."""
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
        for piece in char.translate(QUOTE_CHARS).lower():
            out.append(piece)
            where.append(i)
    return "".join(out), tuple(where)


def normalise(text: str) -> str:
    """Lowercase, straight quotes, single spaces, no outer whitespace."""
    return _normalise_with_map(text)[0]


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
