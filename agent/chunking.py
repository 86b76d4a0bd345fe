"""Token-aware chunking by speaker turn.

A chunk never spans two speakers. Consecutive turns by one speaker share a chunk while they fit
the budget; a longer turn is cut at sentence boundaries into windows that overlap by a few
sentences, so a quote near a cut is still whole in one of the two chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .config import IngestSettings
from .ids import content_hash
from .models import Chunk, Document, Turn
from .tokens import get_encoding

SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")


def _sentences(text: str, base: int) -> list[tuple[int, int]]:
    """Absolute (start, end) spans of the sentences in `text`, which starts at `base`."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        spans.append((base + start, base + match.start()))
        start = match.end()
    if start < len(text):
        spans.append((base + start, base + len(text)))
    return [s for s in spans if s[1] > s[0]]


def _words(doc_text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", doc_text[start:end])]


class Chunker:
    """Splits documents into chunks of at most `max_tokens` tokens."""

    def __init__(self, settings: IngestSettings) -> None:
        self.max_tokens = settings.max_tokens
        self.overlap = settings.overlap_tokens
        self.encoding = get_encoding(settings.encoding)

    def tokens(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=()))

    def chunk(self, doc: Document) -> list[Chunk]:
        text = doc.text
        chunks = []
        seen: dict[tuple[str, str], int] = {}
        for group in self._speaker_groups(doc.turns):
            start, end = group[0].start, group[-1].start + len(group[-1].text)
            for a, b in self._windows(text, start, end):
                # The id depends on who said what, not where: an edit elsewhere in the file
                # leaves this chunk's id (and its embedding) as it was.
                key = (group[0].speaker, text[a:b])
                seen[key] = seen.get(key, 0) + 1
                chunks.append(self._make(doc, group[0], a, b, text[a:b], seen[key]))
        return chunks

    @staticmethod
    def _speaker_groups(turns: list[Turn]) -> Iterator[list[Turn]]:
        group: list[Turn] = []
        for turn in turns:
            if group and (turn.speaker != group[-1].speaker or turn.role != group[-1].role):
                yield group
                group = []
            group.append(turn)
        if group:
            yield group

    def _windows(self, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
        if self.tokens(text[start:end]) <= self.max_tokens:
            yield start, end
            return
        units = self._units(text, start, end)
        costs = [self.tokens(text[a:b]) for a, b in units]
        i = 0
        while i < len(units):
            j, used = i, 0
            while j < len(units) and (used + costs[j] + 1 <= self.max_tokens or j == i):
                used += costs[j] + 1
                j += 1
            yield units[i][0], units[j - 1][1]
            if j >= len(units):
                return
            # Step back over whole units worth about `overlap` tokens, always moving forward.
            back, k = 0, j
            while k - 1 > i and back + costs[k - 1] <= self.overlap:
                k -= 1
                back += costs[k]
            i = k

    def _units(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Sentences, with any sentence over budget cut into word runs that fit."""
        units: list[tuple[int, int]] = []
        for a, b in _sentences(text[start:end], start):
            if self.tokens(text[a:b]) + 1 <= self.max_tokens:
                units.append((a, b))
                continue
            run: list[tuple[int, int]] = []
            for w in _words(text, a, b):
                candidate = (run[0][0] if run else w[0], w[1])
                if run and self.tokens(text[candidate[0] : candidate[1]]) + 1 > self.max_tokens:
                    units.append((run[0][0], run[-1][1]))
                    run = []
                run.append(w)
            if run:
                units.append((run[0][0], run[-1][1]))
        return units

    def _make(
        self, doc: Document, turn: Turn, start: int, end: int, text: str, occurrence: int
    ) -> Chunk:
        ident = {
            # The file name, not the path as typed: `transcripts/x.txt` and `/abs/transcripts/x.txt`
            # are the same evidence and keep the same ids (and embeddings).
            "file": Path(doc.source).name,
            "participant": doc.participant_id,
            "ticket": doc.ticket_id,
            "speaker": turn.speaker,
            "text": text,
            "n": occurrence,
        }
        return Chunk(
            id=content_hash(ident),
            document_id=doc.id,
            text=text,
            token_count=self.tokens(text),
            speaker=turn.speaker,
            role=turn.role,
            start=start,
            end=end,
            kind=doc.kind,
            source=doc.source,
            line=turn.line,
            time=turn.time,
            participant_id=doc.participant_id,
            ticket_id=doc.ticket_id,
            user_id=doc.user_id,
            metadata=doc.metadata,
        )
