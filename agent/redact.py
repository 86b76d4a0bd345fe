"""PII redaction: emails, phone numbers, card numbers and (optionally) person names.

Each distinct value becomes a stable token such as `[EMAIL_1]`: the same string always gets the
same token, within a run and across runs, because the map is kept in the workspace
(`redaction_map.json`) and nowhere else. `restore` turns tokens back into the original text.

Why quotes are checked against the *redacted* text and restored afterwards: the model only ever
sees tokens, so a faithful quote contains `[EMAIL_1]`, never the address; checking it against the
original text would reject every honest quote that touches PII. After validation the quote is
restored to the exact original substring, so stored mentions stay verbatim with the chunks (which
later grounding checks compare against) and the researcher reads real words. The originals never
leave the machine; only the workspace holds them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from .workspace import dump_json, write_text_atomic

TOKEN = re.compile(r"\[(EMAIL|PHONE|CARD|NAME)_(\d+)\]")
EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
# 13-19 digits, optionally grouped by spaces or dashes; kept only if the Luhn check passes.
# Never inside a word: a chunk id ("d41111111111111111e", hex) is not a card number, and a
# redacted id cites nothing (seen in host mode on a real study).
CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w])")
PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,5}(?![\d])")
PHONE_US = re.compile(
    r"(?<![\w+])(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d])"
)
# National formats with a trunk 0 (UK, much of Europe): 020 7946 0958, 0161 496 0735.
PHONE_NATIONAL = re.compile(r"(?<![\w+.-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\d])")
HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.?\s+[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?\b")
NAMES_FILE = Path(__file__).parent / "data" / "first_names.txt"


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """Apply `fn` to every string in a JSON-like structure, dict keys included (data is often
    keyed by who said it, e.g. a participant id taken from front matter)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {(fn(k) if isinstance(k, str) else k): map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [map_strings(v, fn) for v in value]
    return value


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@cache
def common_first_names() -> frozenset[str]:
    lines = NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class Redactor:
    """Replaces PII with stable tokens and restores it; the map lives only at `map_path`."""

    def __init__(
        self, map_path: Path, names: bool = False, known_names: Iterable[str] = ()
    ) -> None:
        self.map_path = Path(map_path)
        self.names = names
        self._lock = threading.RLock()
        self._deferred = 0
        self._dirty = False
        self.tokens: dict[str, str] = {}
        self._by_value: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        if self.map_path.exists():
            data = json.loads(self.map_path.read_text(encoding="utf-8"))
            for token, value in data.get("tokens", {}).items():
                self._remember(token, value)
        self._known: set[str] = set()
        self._name_pattern: re.Pattern[str] | None = None
        self.add_names(known_names)

    def _remember(self, token: str, value: str) -> None:
        self.tokens[token] = value
        self._by_value[value] = token
        match = TOKEN.fullmatch(token)
        if match:
            kind, number = match.group(1), int(match.group(2))
            self._counts[kind] = max(self._counts.get(kind, 0), number)

    def add_names(self, names: Iterable[str]) -> None:
        """Add person names (e.g. speaker names) to redact when `names` is on."""
        fresh = {n.strip() for n in names if n and len(n.strip()) > 1} - self._known
        if not fresh:
            return
        self._known |= fresh
        # Longest first so "Dana Kim" wins over "Dana".
        alternatives = "|".join(re.escape(n) for n in sorted(self._known, key=len, reverse=True))
        self._name_pattern = re.compile(rf"(?<![\w\[])(?:{alternatives})(?![\w\]])")

    def _token_for(self, kind: str, value: str) -> str:
        token = self._by_value.get(value)
        if token is None:
            number = self._counts.get(kind, 0) + 1
            token = f"[{kind}_{number}]"
            self._remember(token, value)
            self._dirty = True
        return token

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, kind) spans of PII, earlier detectors winning."""
        found: list[tuple[int, int, str]] = []

        def add(start: int, end: int, kind: str) -> None:
            if TOKEN.fullmatch(text[start:end]):
                return
            if all(end <= s or start >= e for s, e, _ in found):
                found.append((start, end, kind))

        for m in EMAIL.finditer(text):
            add(m.start(), m.end(), "EMAIL")
        for m in CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                add(m.start(), m.end(), "CARD")
        for pattern in (PHONE_INTL, PHONE_US, PHONE_NATIONAL):
            for m in pattern.finditer(text):
                digits = re.sub(r"\D", "", m.group())
                if 9 <= len(digits) <= 15:
                    add(m.start(), m.end(), "PHONE")
        if self.names:
            for m in HONORIFIC.finditer(text):
                add(m.start(), m.end(), "NAME")
            if self._name_pattern is not None:
                for m in self._name_pattern.finditer(text):
                    add(m.start(), m.end(), "NAME")
            first = common_first_names()
            for m in re.finditer(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?)?\b", text):
                if m.group().split()[0] in first:
                    add(m.start(), m.end(), "NAME")
        return sorted(found)

    def redact(self, text: str, emitted: set[str] | None = None) -> str:
        """`text` with every detected PII value replaced by its token (each added to `emitted`).

        Tokens already in `text` (redacted earlier, e.g. at ingest) are left alone and are not
        added to `emitted`: only what this call replaced may later be restored."""
        with self._lock:
            spans = self._spans(text)
            if not spans:
                return text
            out, last = [], 0
            for start, end, kind in spans:
                out.append(text[last:start])
                token = self._token_for(kind, text[start:end])
                out.append(token)
                if emitted is not None:
                    emitted.add(token)
                last = end
            out.append(text[last:])
            if self._dirty and not self._deferred:
                self.save()
            return "".join(out)

    def restore(self, text: str, only: Collection[str] | None = None) -> str:
        """`text` with known tokens (those in `only`, when given) replaced by the original values;
        other tokens are kept as they are."""

        def back(match: re.Match[str]) -> str:
            token = match.group()
            if only is not None and token not in only:
                return token
            return self.tokens.get(token, token)

        return TOKEN.sub(back, text)

    def retokenize(self, text: str, only: Collection[str]) -> str:
        """`text` with the original values of the tokens in `only` put back as tokens: for
        messages about restored text (validation errors quote it) that leave the machine."""
        values = [(self.tokens[t], t) for t in only if self.tokens.get(t)]
        for value, token in sorted(values, key=lambda pair: len(pair[0]), reverse=True):
            text = text.replace(value, token)
        return text

    def save(self) -> None:
        with self._lock:
            # The one file holding PII in clear: readable by its owner only.
            write_text_atomic(
                self.map_path, dump_json({"version": 1, "tokens": self.tokens}), private=True
            )
            self._dirty = False

    @contextmanager
    def deferred(self) -> Iterator[Redactor]:
        """Save the map once at the end instead of after every new value (bulk redaction)."""
        with self._lock:
            self._deferred += 1
        try:
            yield self
        finally:
            with self._lock:
                self._deferred -= 1
                if self._dirty and not self._deferred:
                    self.save()
