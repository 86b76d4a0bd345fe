"""Grounding validators: a drafted persona or journey may say only what its evidence pack holds.

The validators read `info.context`, the evidence pack as a JSON-able dict (see agent/evidence.py),
so the same check runs when Instructor validates an API answer (a failure is re-asked with the
message), when host mode reads an answer file (`model_validate_json(text, context=pack)`) and
when tests validate an offline draft. Without a context nothing is checked: personas.json loads
as plain data, and human edits made in review are never judged by these rules.

The rules, each failure naming the field, the offending id/quote/number and what is allowed:
- Evidence ids are 'theme:<id>', 'chunk:<id>' or 'stat:<key>' and exist in the pack.
- A claim without evidence must say `assumption: true`; nothing unsupported passes as fact.
  A recommendation must cite at least one id.
- A quote (a PersonaQuote, or a double-quoted passage of 4+ words inside a claim) is verbatim in
  the chunk it cites, by the one rule in agent/verbatim.py (whitespace, case, quote marks, dashes
  and the ellipsis character folded; marks and end punctuation around the quote ignored).
- Every number written in digits equals a value of the evidence the claim cites: a stat value,
  a theme's counts/shares/severity/score/rank, a number in a cited stat's key (a categorical
  value such as 'company_size.51_200.share'), or a number that appears in a cited chunk or
  theme text. A percentage may match a share (0-1) times 100 and any number may be rounded to
  the precision it is shown with (38% matches 0.3846; 4.2 matches 4.17). A text without an
  evidence list (a name, a title, a metric) may use any value in the pack. Numbers in the
  segment's own name, rule and age range are always allowed; the corpus counts are not (they
  are in every persona's document information, and small integers would slip through). Also
  allowed: the number of distinct people among the chunks a claim cites ("named by 3
  participants" citing their 3 chunks), a tool observation's `people` count when its chunk is
  cited, and the numbers of a cohort trait when one of the trait's ids is cited.
- A passage in double quotes must come from the persona's own people (in_segment, or an
  observation) unless the claim says it comes from outside this persona.
- A journey has exactly the pack's `journey.stages`, in order (the funnel when none is given).
  Assumptions may not contain numbers: invented numbers are the most misleading invention.
- Structural numbers allowed anywhere: 1-5 right after 'top' ('top 3 pains'), and the scales
  '1-5' / 'out of 5' / '/5' (severity) and '-2 to +2' (emotion). Nothing else: no years, no
  targets like 'reduce by 20%'. Numbers written as words ('three') are not parsed.
- Ages are ranges ('30-44', '55+'), never one exact age, anywhere in the draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationInfo, model_validator

from .host import register_response_model
from .models import (
    Claim,
    JourneyDraft,
    JourneyStageEntry,
    PersonaDraft,
    PersonaPainPoint,
    PersonaQuote,
    Recommendation,
)
from .stages import FUNNEL
from .verbatim import normalise, quote_core

EVIDENCE_KINDS = ("theme", "chunk", "stat")
MAX_PROBLEMS = 25
# Words a double-quoted passage needs before it counts as a quote (shorter ones are scare quotes).
QUOTE_MIN_WORDS = 4

# For reading numbers and ages (and finding "quoted passages"), not for comparing quotes.
_FOLD = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)

NUMBER = re.compile(
    r"(?<![\w.,$€£])[$€£]?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<pct>\s?(?:%|percent\b|per cent\b))?(?P<suffix>[A-Za-z]+)?"
)
# Suffixes read as part of the number; any other letters glued to digits make an identifier
# (2FA, Q3, 4G, v2) that is not checked.
_SUFFIX_SCALE = {"x": 1.0, "k": 1000.0, "st": 1.0, "nd": 1.0, "rd": 1.0, "th": 1.0}
_ALLOWED_STRUCTURE = [
    re.compile(r"\btop[\s-]+[1-5]\b", re.I),
    re.compile(r"\(?\b1\s*(?:-|to)\s*5\)?(?=\s*(?:-?\s*point\s+)?scale)", re.I),
    re.compile(r"\bout\s+of\s+5\b", re.I),
    re.compile(r"(?<=\d)\s*/\s*5\b"),
    re.compile(r"-\s?2\s*(?:\.\.|to)\s*\+\s?2\b", re.I),
]
# A claim may quote someone outside the persona's people only when it says so.
OUTSIDE = re.compile(
    r"\b(?:outside (?:this|the) (?:persona|segment|cohort|group)|from (?:another|other) "
    r"(?:segments?|cohorts?|personas?|groups?))\b",
    re.I,
)
_EVIDENCE_TOKEN = re.compile(r"\b(?:theme|chunk|stat):[\w.\-/%]+")
_DQUOTED = re.compile(r'"([^"]+)"')
_AGE_RANGE = re.compile(
    r"(?P<lo>\d{1,3})s?\s*(?:-|to|and)\s*(?P<hi>\d{1,3})s?\b|(?P<plus>\d{1,3})\s*\+"
    r"|(?:under|over|below|above)\s+(?P<bound>\d{1,3})|\b(?P<decade>[1-9]0)s\b",
    re.I,
)
_EXACT_AGE = [
    re.compile(
        r"\bage[ds]?\s*(?:of|:|is|=)?\s*(?P<n>\d{1,3})\b(?!\s*(?:-|to)\s*\d)(?!\s*\+)", re.I
    ),
    re.compile(r"\b(?P<n>\d{1,3})[\s-]?(?:years?|yrs?)[\s-]?old\b", re.I),
]
_RANGE_BEFORE = re.compile(r"\d\s*(?:-|to)\s*$", re.I)


# Quotes are compared by agent/verbatim.py's one rule (the same as extraction's).
fold = normalise
fold_quote = quote_core


@dataclass(frozen=True)
class Number:
    """One number as written: its value, shown precision and whether it is a percentage."""

    text: str
    value: float
    decimals: int
    percent: bool


def numbers_in(text: str) -> list[Number]:
    """The numbers written in digits in `text`, minus evidence ids and allowed structural ones."""
    text = _EVIDENCE_TOKEN.sub(" ", text.translate(_FOLD))
    for pattern in _ALLOWED_STRUCTURE:
        text = pattern.sub(" ", text)
    found = []
    for match in NUMBER.finditer(text):
        suffix = (match.group("suffix") or "").lower()
        if suffix and suffix not in _SUFFIX_SCALE:
            continue
        raw = match.group("num").replace(",", "")
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        value = float(raw) * _SUFFIX_SCALE.get(suffix, 1.0)
        if suffix == "k":
            decimals -= 3
        found.append(Number(match.group(0).strip(), value, decimals, bool(match.group("pct"))))
    return found


def number_matches(number: Number, value: float) -> bool:
    """Does the written number show `value`, rounded to the precision it is written with?"""
    tolerance = 0.5 * 10.0 ** (-number.decimals) + 1e-9
    if number.percent:
        if abs(value - number.value) <= tolerance:
            return True
        return 0.0 <= value <= 1.0 and abs(value * 100.0 - number.value) <= tolerance
    if number.decimals <= 0 and 0 < abs(value) < 1:
        return False  # '1' must not pass for a share of 0.7
    return abs(value - number.value) <= tolerance


def exact_ages(text: str) -> list[str]:
    """Phrases that state one exact age ('aged 32', '32 years old')."""
    hits = []
    folded = text.translate(_FOLD)
    for pattern in _EXACT_AGE:
        for match in pattern.finditer(folded):
            if _RANGE_BEFORE.search(folded[: match.start("n")]):
                continue  # '30 to 44 years old' is a range
            hits.append(match.group(0))
    return hits


def age_range_problem(text: str) -> str | None:
    """Why an age-range text is not a range, or None when it is one (or states no age)."""
    if not re.search(r"\d", text):
        return None
    rest = text.translate(_FOLD)
    for match in _AGE_RANGE.finditer(rest):
        if match.group("lo") and int(match.group("lo")) >= int(match.group("hi")):
            return f"'{match.group(0)}' is not a range (the low end must be below the high end)"
    rest = _AGE_RANGE.sub(" ", rest)
    if re.search(r"\d", rest):
        return "it states an exact age; write a range like '30-44' or '55+'"
    return None


# --------------------------------------------------------------------------- the pack index


@dataclass
class PackIndex:
    """Lookups over an evidence pack dict: citable ids, their values and their texts."""

    stats: dict[str, float] = field(default_factory=dict)
    themes: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # chunk id -> verbatim texts known for it (the full chunk, or theme quotes taken from it)
    chunk_texts: dict[str, list[str]] = field(default_factory=dict)
    # chunk id -> other texts about it (extracted workarounds): numbers only, never quotes
    chunk_notes: dict[str, list[str]] = field(default_factory=dict)
    always: list[float] = field(default_factory=list)
    locked: tuple[str, ...] = ()
    # Chunks spoken by the persona's own people (in_segment): its quotes come from these.
    own: set[str] = field(default_factory=set)
    # chunk id -> counts code made about it (how many of the cohort's people name a tool)
    chunk_counts: dict[str, list[float]] = field(default_factory=dict)
    # theme id -> texts the pack says about it besides its own (the cohort's traits citing it)
    theme_notes: dict[str, list[str]] = field(default_factory=dict)
    # The journey's columns, in order (the funnel when the pack names none).
    stages: tuple[str, ...] = FUNNEL
    # chunk id -> who spoke it (participant, ticket, else the chunk): a claim may count the
    # distinct people among the chunks it cites ("named by 3 participants", citing 3 chunks).
    speakers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_pack(cls, pack: Mapping[str, Any]) -> PackIndex:
        index = cls(locked=tuple(pack.get("locked") or ()))
        for key, value in (pack.get("stats") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                index.stats[str(key)] = float(value)

        def speaker(cid: str, row: Mapping[str, Any]) -> None:
            index.speakers.setdefault(
                cid, str(row.get("participant_id") or row.get("ticket_id") or cid)
            )

        for chunk in pack.get("chunks") or ():
            speaker(chunk["id"], chunk)
            index.chunk_texts.setdefault(chunk["id"], []).append(chunk.get("text") or "")
            if chunk.get("in_segment"):
                index.own.add(chunk["id"])
        for note in pack.get("observations") or ():
            speaker(note["chunk_id"], note)
            index.chunk_texts.setdefault(note["chunk_id"], []).append(note.get("quote") or "")
            index.chunk_notes.setdefault(note["chunk_id"], []).append(note.get("text") or "")
            index.own.add(note["chunk_id"])
            if note.get("kind") == "tool":
                people = float(note.get("people") or 1)
                index.chunk_counts.setdefault(note["chunk_id"], []).append(people)
        for theme in pack.get("themes") or ():
            index.themes[theme["id"]] = theme
            for quote in theme.get("quotes") or ():
                speaker(quote["chunk_id"], quote)
                index.chunk_texts.setdefault(quote["chunk_id"], []).append(quote.get("text") or "")
                if quote.get("in_segment"):
                    index.own.add(quote["chunk_id"])
            for note in theme.get("workarounds") or ():
                index.chunk_notes.setdefault(note["chunk_id"], []).append(note.get("text") or "")
        segment = pack.get("segment") or {}
        for part in (segment.get("name"), segment.get("rule"), segment.get("age_range")):
            index.always.extend(n.value for n in numbers_in(str(part or "")))
        # A cohort's traits are evidence too: their ids may be cited (a chunk the pack does not
        # otherwise hold included), and citing one licenses the trait's numbers, which code
        # counted ("3 of 4 raise it").
        for trait in segment.get("traits") or ():
            for ref in trait.get("evidence") or ():
                kind, _, key = str(ref).partition(":")
                if kind == "chunk":
                    index.chunk_notes.setdefault(key, []).append(trait.get("text") or "")
                elif kind == "theme" and key in index.themes:
                    index.theme_notes.setdefault(key, []).append(trait.get("text") or "")
        journey = pack.get("journey") or {}
        if journey.get("stages"):
            index.stages = tuple(str(s) for s in journey["stages"])
        return index

    def exists(self, ref: str) -> bool:
        kind, _, key = ref.partition(":")
        if kind == "stat":
            return key in self.stats
        if kind == "theme":
            return key in self.themes
        if kind == "chunk":
            return key in self.chunk_texts or key in self.chunk_notes
        return False

    def theme_values(self, theme_id: str) -> list[float]:
        theme = self.themes.get(theme_id) or {}
        freq, sev = theme.get("frequency") or {}, theme.get("severity") or {}
        values = [
            *(
                freq.get(k)
                for k in ("participants", "tickets", "participant_share", "ticket_share")
            ),
            sev.get("mean"),
            sev.get("max"),
            *(theme.get(k) for k in ("score", "rank", "product_rank", "mentions", "segment_count")),
            *(theme.get("journey_stages") or {}).values(),
            *(theme.get("segment_journey_stages") or {}).values(),
            # What a per-product theme's shares divide by ("12 of 30 FitTrack tickets").
            *(theme.get("product_totals") or {}).values(),
        ]
        texts = [theme.get("label", ""), theme.get("description", "")]
        texts += [q.get("text", "") for q in theme.get("quotes") or ()]
        texts += [w.get("text", "") for w in theme.get("workarounds") or ()]
        texts += self.theme_notes.get(theme_id, [])
        values += [n.value for t in texts for n in numbers_in(t)]
        return [float(v) for v in values if isinstance(v, int | float)]

    def values_of(self, ref: str) -> list[float]:
        """The numbers a citation of `ref` licenses."""
        kind, _, key = ref.partition(":")
        if kind == "stat" and key in self.stats:
            # A categorical key names its value ('company_size.51_200.share'): citing it
            # licenses that label's numbers too ('51-200 employees').
            label = re.sub(r"[._]", " ", key)
            return [self.stats[key], *(n.value for n in numbers_in(label))]
        if kind == "theme":
            return self.theme_values(key)
        if kind == "chunk":
            texts = self.chunk_texts.get(key, []) + self.chunk_notes.get(key, [])
            return [n.value for t in texts for n in numbers_in(t)] + self.chunk_counts.get(key, [])
        return []

    def sourced_texts(self, ref: str) -> list[tuple[str, bool]]:
        """Verbatim texts for `ref`, each with whether the persona's own people said it (a
        theme's label and description count as its own: nobody is quoted by them)."""
        kind, _, key = ref.partition(":")
        if kind == "chunk":
            return [(t, key in self.own) for t in self.chunk_texts.get(key, [])]
        if kind == "theme" and key in self.themes:
            theme = self.themes[key]
            out = [(theme.get("label", ""), True), (theme.get("description", ""), True)]
            for q in theme.get("quotes") or ():
                own = bool(q.get("in_segment")) or q.get("chunk_id") in self.own
                out.append((q.get("text", ""), own))
            return out
        return []

    def texts_of(self, ref: str) -> list[str]:
        """Verbatim texts a quote inside a claim citing `ref` may be copied from."""
        kind, _, key = ref.partition(":")
        if kind == "chunk":
            return self.chunk_texts.get(key, [])
        if kind == "theme" and key in self.themes:
            theme = self.themes[key]
            return [theme.get("label", ""), theme.get("description", "")] + [
                q.get("text", "") for q in theme.get("quotes") or ()
            ]
        return []

    def all_refs(self) -> list[str]:
        return (
            [f"theme:{t}" for t in self.themes]
            + [f"stat:{k}" for k in self.stats]
            + [f"chunk:{c}" for c in {**self.chunk_texts, **self.chunk_notes}]
        )

    def holders(self, number: Number) -> list[str]:
        """Pack ids whose values show this number (to tell the model what to cite)."""
        return [
            ref
            for ref in self.all_refs()
            if any(number_matches(number, v) for v in self.values_of(ref))
        ]


def _list(items: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(items[:limit])
    return (
        shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
        if items
        else "none"
    )


# --------------------------------------------------------------------------- the checker


class Checker:
    """Walks a draft and collects every grounding problem, each as one actionable line."""

    def __init__(self, index: PackIndex) -> None:
        self.index = index
        self.problems: list[str] = []

    def locked(self, path: str) -> bool:
        # Fields a human confirmed or corrected are theirs: never judged, never re-asked.
        return any(path == p or path.startswith((p + ".", p + "[")) for p in self.index.locked)

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path or 'draft'}: {message}")

    # ------------------------------------------------------------------ walking
    def walk(self, value: Any, path: str, cited: tuple[str, ...] = ()) -> None:
        if path and self.locked(path):
            return
        if isinstance(value, Claim):
            self.claim(value, path, cited)
        elif isinstance(value, PersonaQuote):
            self.quote(value.text, value.chunk_id, path)
        elif isinstance(value, Recommendation):
            self.recommendation(value, path)
        elif isinstance(value, BaseModel):
            extra: tuple[str, ...] = cited
            if isinstance(value, PersonaPainPoint):
                self.theme_ref(value.theme_id, f"{path}.theme_id")
                # A pain point's theme is cited by its theme_id: its numbers need no second citation.
                extra = (*cited, f"theme:{value.theme_id}")
            for name in type(value).model_fields:
                sub = f"{path}.{name}" if path else name
                item = getattr(value, name)
                if isinstance(value, PersonaPainPoint) and name == "theme_id":
                    continue
                if isinstance(value, JourneyStageEntry) and name == "pain_points":
                    for i, ref in enumerate(item):
                        self.theme_ref(ref, f"{sub}[{i}]")
                    continue
                self.walk(item, sub, extra)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                self.walk(item, f"{path}[{i}]", cited)
        elif isinstance(value, str):
            self.free_text(value, path)

    # ------------------------------------------------------------------ rules
    def ids(self, evidence: Iterable[str], path: str) -> list[str]:
        good = []
        for ref in evidence:
            kind = ref.partition(":")[0]
            if kind not in EVIDENCE_KINDS:
                self.add(
                    f"{path}.evidence",
                    f"'{ref}' is not an evidence id; write 'theme:<id>', 'chunk:<id>' or 'stat:<key>'",
                )
            elif not self.index.exists(ref):
                known = [r for r in self.index.all_refs() if r.startswith(kind + ":")]
                self.add(
                    f"{path}.evidence",
                    f"unknown evidence id '{ref}'; the pack's {kind} ids are: {_list(known)}",
                )
            else:
                good.append(ref)
        return good

    def numbers(self, text: str, path: str, cited: Sequence[str] | None) -> None:
        """Every number must show a value of the cited evidence (or of the pack, if cited is None)."""
        chunks = [r[len("chunk:") :] for r in cited or () if r.startswith("chunk:")]
        people = len({self.index.speakers.get(c, c) for c in chunks})
        for number in numbers_in(text):
            if any(number_matches(number, v) for v in self.index.always):
                continue
            if people > 1 and number_matches(number, float(people)):
                continue  # how many people the claim's own citations quote
            refs = self.index.all_refs() if cited is None else list(cited)
            if any(number_matches(number, v) for ref in refs for v in self.index.values_of(ref)):
                continue
            holders = self.index.holders(number) if cited is not None else []
            if cited is not None and not cited:
                self.add(
                    path,
                    f"number '{number.text}' has no evidence: an assumption may not contain numbers; "
                    "cite the stat or theme that holds it"
                    + (f" ({_list(holders, 5)})" if holders else "")
                    + ", or remove the number",
                )
            elif holders:
                self.add(
                    path,
                    f"number '{number.text}' is not a value of the evidence this claim cites "
                    f"({_list(list(cited or ()), 8)}); it equals {_list(holders, 5)}: add that id to "
                    "the evidence, or remove the number",
                )
            else:
                self.add(
                    path,
                    f"number '{number.text}' does not appear in the evidence pack (no stat, theme "
                    "count/share/severity or quoted text holds it); use only numbers from the pack, "
                    "written as given or rounded, or remove it",
                )

    def ages(self, text: str, path: str) -> None:
        for phrase in exact_ages(text):
            self.add(
                path, f"'{phrase}' states an exact age; describe age only as a range like '30-44'"
            )

    def free_text(self, text: str, path: str) -> None:
        self.numbers(text, path, None)
        self.ages(text, path)

    def claim(self, claim: Claim, path: str, implied: Sequence[str] = ()) -> None:
        cited = self.ids(claim.evidence, path)
        if not claim.evidence and not claim.assumption:
            self.add(
                path,
                "claim cites no evidence; add ids from the pack that support it, or set "
                "assumption to true if the pack has none",
            )
        licensed = [*cited, *implied]
        self.numbers(claim.text, f"{path}.text", licensed)
        self.ages(claim.text, f"{path}.text")
        if path.endswith("demographics.age_range"):
            problem = age_range_problem(claim.text)
            if problem:
                self.add(f"{path}.text", f"age must be a range: {problem}")
        for passage in _DQUOTED.findall(claim.text.translate(_FOLD)):
            if len(passage.split()) < QUOTE_MIN_WORDS:
                continue
            core = fold_quote(passage)
            found = [
                own
                for ref in licensed
                for text, own in self.index.sourced_texts(ref)
                if core in fold(text)
            ]
            if not found:
                self.add(
                    f"{path}.text",
                    f'quoted passage "{passage}" is not verbatim in any chunk or theme this claim '
                    "cites; copy the exact words and cite their chunk, or drop the quote marks",
                )
            elif self.index.own and not any(found) and not OUTSIDE.search(claim.text):
                self.add(
                    f"{path}.text",
                    f'quoted passage "{passage}" is not from this persona\'s own people '
                    "(in_segment is false): quote their own words, or say that the quote comes "
                    "from outside this persona",
                )

    def quote(self, text: str, chunk_id: str, path: str) -> None:
        ref = chunk_id if chunk_id.startswith("chunk:") else f"chunk:{chunk_id}"
        key = ref[len("chunk:") :]
        texts = self.index.chunk_texts.get(key)
        if texts is None:
            known = sorted(self.index.chunk_texts)
            self.add(
                f"{path}.chunk_id",
                f"unknown chunk id '{chunk_id}'; quote only chunks in the pack: {_list(known)}",
            )
            return
        if path.startswith("quotes") and self.index.own and key not in self.index.own:
            self.add(
                f"{path}.chunk_id",
                f"chunk '{key}' is not one of this persona's own people (in_segment is false): "
                "quote the people the persona stands for",
            )
            return
        core = fold_quote(text)
        if not core:
            self.add(f"{path}.text", "the quote is empty")
        elif not any(core in fold(t) for t in texts):
            sample = " ".join(texts[0].split())[:200]
            self.add(
                f"{path}.text",
                f"quote \"{text.strip()}\" is not verbatim in chunk '{key}'. Copy the exact words "
                f'(the chunk begins: "{sample}"); never paraphrase, shorten with "..." or join passages',
            )

    def distinct_pains(self, pains: Sequence[PersonaPainPoint]) -> None:
        """One pain point per theme: a second title on the same theme_id shows another
        theme's name over this one's numbers and quotes (seen in a model's answer)."""
        first: dict[str, int] = {}
        for i, pain in enumerate(pains):
            key = pain.theme_id.removeprefix("theme:")
            if key in first:
                self.add(
                    f"pain_points[{i}].theme_id",
                    f"theme '{key}' is already pain_points[{first[key]}]; each pain point is one "
                    "theme: cite the theme this pain point is about, or drop it",
                )
            else:
                first[key] = i

    def theme_ref(self, ref: str, path: str) -> None:
        key = ref[len("theme:") :] if ref.startswith("theme:") else ref
        if key not in self.index.themes:
            self.add(
                path,
                f"unknown theme id '{ref}'; the pack's themes are: {_list(list(self.index.themes))}",
            )

    def recommendation(self, rec: Recommendation, path: str) -> None:
        cited = self.ids(rec.evidence, path)
        if not rec.evidence:
            self.add(path, "recommendation cites no evidence; add the theme or stat ids it answers")
        for name in ("action", "goal", "metric"):
            self.numbers(getattr(rec, name), f"{path}.{name}", cited)
            self.ages(getattr(rec, name), f"{path}.{name}")

    def journey_stages(self, stages: Sequence[JourneyStageEntry]) -> None:
        """The map has exactly the configured columns, in order (the pack's journey.stages)."""
        if self.locked("stages"):
            return
        got = [s.stage for s in stages]
        want = list(self.index.stages)
        if got != want:
            stray = [s for s in got if s not in want]
            detail = f"; {_list(stray, 5)} is not one of them" if stray else ""
            self.add(
                "stages",
                f"the journey's stages are {', '.join(want)} (in this order); the answer has "
                f"{', '.join(got) or 'none'}{detail}. Write one entry per stage id, in order",
            )


def grounding_problems(draft: BaseModel, pack: Mapping[str, Any]) -> list[str]:
    """Every grounding problem in a persona or journey draft against its evidence pack."""
    checker = Checker(PackIndex.from_pack(pack))
    if isinstance(draft, JourneyDraft):
        checker.journey_stages(draft.stages)
    if isinstance(draft, PersonaDraft):
        checker.distinct_pains(draft.pain_points)
    checker.walk(draft, "")
    return checker.problems


def check_grounding(draft: BaseModel, pack: Mapping[str, Any]) -> None:
    """Raise ValueError listing the problems (the text Instructor re-asks with)."""
    problems = grounding_problems(draft, pack)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        lines = "\n".join(f"- {p}" for p in shown)
        tail = f"\n- ... and {more} more of the same kinds" if more > 0 else ""
        raise ValueError(
            f"the draft is not grounded in the evidence pack ({len(problems)} problems). "
            f"Fix each one and return the whole answer again:\n{lines}{tail}"
        )


def normalise_refs(draft: BaseModel) -> None:
    """Accept 'chunk:'/'theme:' prefixes where a bare id is stored (quotes, theme references)."""
    if isinstance(draft, PersonaDraft):
        for quote in draft.quotes:
            quote.chunk_id = quote.chunk_id.removeprefix("chunk:")
        for pain in draft.pain_points:
            pain.theme_id = pain.theme_id.removeprefix("theme:")
    if isinstance(draft, JourneyDraft):
        for stage in draft.stages:
            stage.pain_points = [ref.removeprefix("theme:") for ref in stage.pain_points]


def _context_pack(info: ValidationInfo) -> Mapping[str, Any] | None:
    context = info.context
    if isinstance(context, Mapping) and "themes" in context and "stats" in context:
        return context
    return None


@register_response_model(name="draft_persona")
class GroundedPersonaDraft(PersonaDraft):
    """A PersonaDraft checked against the evidence pack passed as validation context."""

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> GroundedPersonaDraft:
        normalise_refs(self)
        pack = _context_pack(info)
        if pack is not None:
            check_grounding(self, pack)
        return self


@register_response_model(name="draft_journey")
class GroundedJourneyDraft(JourneyDraft):
    """A JourneyDraft checked against the evidence pack passed as validation context."""

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> GroundedJourneyDraft:
        normalise_refs(self)
        pack = _context_pack(info)
        if pack is not None:
            check_grounding(self, pack)
        return self
