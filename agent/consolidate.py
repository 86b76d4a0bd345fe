"""Theme consolidation: the model does what a researcher does after a first sort of the notes.

Clustering proposes candidate themes by wording, and wording both splits one pain across several
candidates ("the feed drops" / "sync misses transactions") and lumps different pains together.
The model reads the candidates of one product (label, most typical statements, a quote,
counts) and returns the final themes: each named, defined in one sentence, holding candidate
ids whole or, for a mixed candidate, its statement ids. Validators make the answer a partition:
every candidate exactly once, whole or through every statement shown of it, no unknown id,
names of 2-9 words. Counts, severity and rank are then computed by code from the assignment.

Scale: candidates are packed into requests by a token budget, in dendrogram leaf order so that
similar candidates share a request. When one request cannot hold them all, the themes of the
first level become the candidates of a second, which only merges the same theme found in
several batches (prompts/merge_themes.md.j2: no splits, nothing broader), until one request
holds them or a level merges nothing. Every call is cached like any other (a re-run makes
none) and works in host mode. A call that fails leaves its candidates as they were, reported.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .host import register_response_model
from .model_calls import ModelCalls
from .naming import Naming

STEP = "consolidate_themes"
PROMPT = "consolidate_themes"
# Levels 2+ join the themes of batches consolidated apart: they merge the same theme found in
# several batches and build nothing broader (theme groups do that), so a study read in five
# batches keeps the distinctions each batch made. With the first prompt at every level, 19
# interviews went 69 -> 29 -> 14 themes of 13-17 people each, "the checker cannot run real
# programs" and "debuggers are weak" inside one "tools miss bugs" theme.
MERGE_PROMPT = "merge_themes"
# Data tokens per request: room for ~60-80 candidates with their statements, inside a
# 16k-context local model with the prompt and the answer.
BATCH_TOKENS = 8000
# Statements shown per candidate: more for bigger candidates, since a model can only split what
# it sees (4 + the square root of its size, at most 12).
MAX_STATEMENTS_SHOWN = 12
HIGHER_STATEMENTS = 2
MAX_LEVELS = 4
NAME_WORDS = (2, 9)


# --------------------------------------------------------------------------- response model


class NamedAndDefined(BaseModel):
    """An answer item a model names (2-9 words) and defines (one sentence): a final theme, a
    finding. Subclasses declare `name` and `definition` with their own descriptions."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value)

    @field_validator("definition", check_fields=False)
    @classmethod
    def _definition(cls, value: str) -> str:
        return clean_definition(value)


class FinalTheme(NamedAndDefined):
    """One final theme: a named problem and the candidates (or statements) it holds."""

    name: str = Field(
        description="2-9 plain words naming the problem itself, e.g. 'Bank feed drops "
        "transactions'; not a feeling ('Frustration') or a fix ('Improve sync')"
    )
    definition: str = Field(
        description="One sentence: what goes wrong and what it costs the customer, using only "
        "what the statements say"
    )
    candidates: list[str] = Field(
        default_factory=list, description="Ids of the candidates this theme holds whole: 'k1'"
    )
    statements: list[str] = Field(
        default_factory=list,
        description="Ids of statements of SPLIT candidates this theme holds: 'k3.2'. Empty unless "
        "you split a candidate",
    )


def material_of(people: int, tickets: int) -> str:
    """What a request's evidence mostly is, which sets the level the prompt asks for."""
    return "tickets" if tickets > people else "interviews"


def clean_name(value: str) -> str:
    """A model's theme (or finding) name, whitespace folded; 2-9 words or a validation error."""
    value = " ".join(value.split()).strip(" .")
    words = len(value.split())
    if not NAME_WORDS[0] <= words <= NAME_WORDS[1]:
        raise ValueError(
            f"name {value!r} has {words} word(s); write {NAME_WORDS[0]}-{NAME_WORDS[1]} words"
        )
    return value


def clean_definition(value: str) -> str:
    """A one-sentence definition, whitespace folded; empty or long is a validation error."""
    value = " ".join(value.split())
    if not value:
        raise ValueError("definition must not be empty")
    if len(value) > 400:
        raise ValueError("definition must be one sentence (at most 400 characters)")
    return value


@register_response_model(name="consolidate_themes")
class ThemeConsolidation(BaseModel):
    """The final themes: together they hold every candidate exactly once."""

    model_config = ConfigDict(extra="forbid")

    themes: list[FinalTheme] = Field(min_length=1, description="The final themes")

    @model_validator(mode="after")
    def _partition(self, info: ValidationInfo) -> ThemeConsolidation:
        context = info.context or {}
        shown: dict[str, list[str]] | None = context.get("candidates")
        if shown is None:
            return self
        problems = partition_problems(self, shown, bool(context.get("splittable", True)))
        if problems:
            raise ValueError("; ".join(problems[:6]))
        return self


def partition_problems(
    answer: ThemeConsolidation, shown: dict[str, list[str]], splittable: bool
) -> list[str]:
    """Why an answer is not a partition of the candidates (empty when it is)."""
    owner = {s: c for c, statements in shown.items() for s in statements}
    whole: Counter[str] = Counter()
    split: Counter[str] = Counter()
    problems: list[str] = []
    for n, theme in enumerate(answer.themes, start=1):
        if not theme.candidates and not theme.statements:
            problems.append(f"theme {n} ({theme.name!r}) holds no candidate or statement")
        for cid in theme.candidates:
            if cid not in shown:
                problems.append(f"theme {n}: unknown candidate id {cid!r}")
            whole[cid] += 1
        for sid in theme.statements:
            if sid not in owner:
                problems.append(f"theme {n}: unknown statement id {sid!r}")
            split[sid] += 1
    if split and not splittable:
        problems.append("these candidates cannot be split: list candidate ids only, no statements")
    for cid, times in sorted(whole.items()):
        if times > 1 and cid in shown:
            problems.append(f"candidate {cid} is listed {times} times; list it once")
    split_owners = {owner[s] for s in split if s in owner}
    for cid in sorted(split_owners):
        if whole[cid]:
            problems.append(f"candidate {cid} is listed whole and split; do one or the other")
        missing = [s for s in shown[cid] if not split[s]]
        if missing:
            problems.append(
                f"candidate {cid} is split, so every statement of it must be placed: "
                f"missing {', '.join(missing)}"
            )
    for sid, times in sorted(split.items()):
        if times > 1 and sid in owner:
            problems.append(f"statement {sid} is listed {times} times; list it once")
    absent = [c for c in shown if not whole[c] and c not in split_owners]
    if absent:
        problems.append(
            "every candidate must be in exactly one theme (a candidate that fits no other is a "
            f"theme of its own); missing: {', '.join(absent)}"
        )
    return problems


# --------------------------------------------------------------------------- units


@dataclass
class UnitView:
    """What the model sees of one candidate: typical statements first, with counts."""

    statements: list[tuple[int, str]]
    quote: str
    mentions: int
    people: int
    tickets: int
    sources: tuple[str, ...] = ()


@dataclass
class Unit:
    """A candidate theme during consolidation: member rows, and a model's naming once named."""

    members: list[int]
    product: str | None
    label: str = ""
    naming: Naming | None = None
    splittable: bool = True


Describe = Callable[[Sequence[int]], UnitView]


@dataclass
class _Request:
    units: list[Unit]
    views: list[UnitView]


def statements_shown(members: int) -> int:
    """How many of a candidate's most typical statements the model sees."""
    return min(MAX_STATEMENTS_SHOWN, 4 + math.isqrt(max(members, 0)))


def leaf_order(centroids: np.ndarray) -> list[int]:
    """An order in which similar candidates sit together (dendrogram leaves), deterministic."""
    n = len(centroids)
    if n <= 2:
        return list(range(n))
    from scipy.cluster.hierarchy import leaves_list, linkage

    from .cluster import EXACT_LIMIT, condensed_cosine, normalise

    if n > EXACT_LIMIT:
        # Too many for a full dendrogram: order along the main axis of variation instead.
        centred = centroids - centroids.mean(axis=0, keepdims=True)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        axis = axis if axis[np.flatnonzero(axis)[0]] > 0 else -axis
        score = np.round(centred @ axis, 6)
        return sorted(range(n), key=lambda i: (score[i], i))
    tree = linkage(condensed_cosine(normalise(centroids)), method="average")
    return [int(i) for i in leaves_list(tree)]


def _view_data(unit: Unit, view: UnitView, alias: str) -> dict[str, Any]:
    data: dict[str, Any] = {"id": alias}
    if unit.splittable:
        data["label"] = unit.label
        data["statements"] = {
            f"{alias}.{j}": text for j, (_, text) in enumerate(view.statements, 1)
        }
    else:
        # A candidate whose first-level call failed has no model name: its clustering label
        # stands in, with more of its statements since nothing defines it.
        data["name"] = unit.naming.label if unit.naming else unit.label
        if unit.naming:
            data["definition"] = unit.naming.description
        shown = HIGHER_STATEMENTS if unit.naming else MAX_STATEMENTS_SHOWN // 3
        data["statements"] = [text for _, text in view.statements[:shown]]
    more = view.mentions - len(data["statements"])
    if more > 0:
        data["more"] = more
    if view.quote and all(view.quote != text for _, text in view.statements):
        data["quote"] = view.quote
    data["mentions"] = view.mentions
    if view.people:
        data["people"] = view.people
    if view.tickets:
        data["tickets"] = view.tickets
    return data


@dataclass
class LLMConsolidator(ModelCalls):
    """Consolidates candidate themes with the model; any failure leaves candidates as they were."""

    batch_tokens: int = BATCH_TOKENS
    # Embeds the model's names at higher levels: two batches that both found "Bank feed drops
    # transactions" then meet in one request even when their statements were worded apart.
    embed: Callable[[list[str]], np.ndarray] | None = None
    levels: int = 0

    def consolidate(self, units: list[Unit], describe: Describe, vectors: np.ndarray) -> list[Unit]:
        """Final themes per product (units of one product are consolidated together)."""
        out: list[Unit] = []
        products = sorted({u.product or "" for u in units})
        for product in products:
            mine = [u for u in units if (u.product or "") == product]
            out.extend(self._product(mine, describe, vectors, product))
        return out

    # ------------------------------------------------------------------ levels

    def _product(
        self, units: list[Unit], describe: Describe, vectors: np.ndarray, product: str
    ) -> list[Unit]:
        level = 1
        while True:
            if self.pending is not None:
                return units
            requests = self._pack(units, describe, vectors)
            merged = self._level(requests, describe, vectors, product, level)
            self.levels = max(self.levels, level)
            # Level 1 may split as well as merge, so only a later level that merges nothing
            # says another would not help.
            stuck = level > 1 and len(merged) >= len(units)
            if len(requests) <= 1 or stuck or level >= MAX_LEVELS:
                return merged
            units = [
                Unit(u.members, u.product, u.label, u.naming, splittable=False) for u in merged
            ]
            level += 1

    def _pack(self, units: list[Unit], describe: Describe, vectors: np.ndarray) -> list[_Request]:
        from .tokens import get_encoding

        encoding = get_encoding(self.settings.ingest.encoding)
        views = [describe(u.members) for u in units]
        centroids = np.stack([vectors[u.members].mean(axis=0) for u in units])
        named = [u.naming for u in units]
        if self.embed is not None and all(n is not None for n in named):
            texts = [f"{n.label}. {n.description}" for n in named if n is not None]
            centroids = np.asarray(self.embed(texts), dtype=np.float32)
        order = leaf_order(centroids)
        costs = {
            i: len(encoding.encode(json.dumps(_view_data(units[i], views[i], "k00"))))
            for i in order
        }
        # As many requests as the budget needs, filled evenly: 42 candidates go 21 + 21, not
        # 39 + 3 (a request of three cannot merge much).
        parts = max(1, math.ceil(sum(costs.values()) / self.batch_tokens))
        target = sum(costs.values()) / parts
        requests: list[_Request] = []
        current = _Request([], [])
        used = 0
        for i in order:
            cost = costs[i]
            full = used + cost > self.batch_tokens or (
                len(requests) < parts - 1 and used + cost / 2 > target
            )
            if current.units and full:
                requests.append(current)
                current, used = _Request([], []), 0
            current.units.append(units[i])
            current.views.append(views[i])
            used += cost
        if current.units:
            requests.append(current)
        return requests

    def _level(
        self,
        requests: list[_Request],
        describe: Describe,
        vectors: np.ndarray,
        product: str,
        level: int,
    ) -> list[Unit]:
        answers = self.ask([self._request(r, product, level) for r in requests], ThemeConsolidation)
        if answers is None:
            # Waiting on the host, or the endpoint failed: the candidates stand (recorded).
            return [u for r in requests for u in r.units]
        out: list[Unit] = []
        for request, answer in zip(requests, answers, strict=True):
            if isinstance(answer, ThemeConsolidation):
                out.extend(self._apply(request, answer, vectors))
            else:
                out.extend(request.units)  # this call failed: its candidates stand
        return _same_names_together(out) if len(requests) > 1 else out

    def _request(self, request: _Request, product: str, level: int) -> Any:
        from .llm import LLMRequest

        aliases = [f"k{i}" for i in range(1, len(request.units) + 1)]
        candidates = [
            _view_data(u, v, a)
            for u, v, a in zip(request.units, request.views, aliases, strict=True)
        ]
        splittable = all(u.splittable for u in request.units)
        people = sum(v.people for v in request.views)
        tickets = sum(v.tickets for v in request.views)
        shown = {
            a: ([f"{a}.{j}" for j in range(1, len(v.statements) + 1)] if splittable else [])
            for a, v in zip(aliases, request.views, strict=True)
        }
        material = material_of(people, tickets)
        return LLMRequest(
            step=STEP,
            prompt=PROMPT if splittable else MERGE_PROMPT,
            variables={"candidates": candidates, "product": product, "material": material},
            response_model=ThemeConsolidation,
            context={"candidates": shown, "splittable": splittable},
            expected_output_tokens=40 + 30 * len(request.units),
            sources=tuple(sorted({c for v in request.views for c in v.sources})),
        )

    def _apply(
        self, request: _Request, answer: ThemeConsolidation, vectors: np.ndarray
    ) -> list[Unit]:
        """The answer's themes as units; a split candidate's unshown members follow the shown
        statement group nearest to them."""
        aliases = {f"k{i}": i - 1 for i in range(1, len(request.units) + 1)}
        members: list[list[int]] = [[] for _ in answer.themes]
        split: dict[int, dict[int, int]] = {}  # unit -> shown member row -> theme
        for t, theme in enumerate(answer.themes):
            for cid in theme.candidates:
                members[t].extend(request.units[aliases[cid]].members)
            for sid in theme.statements:
                cid, j = sid.split(".")
                u = aliases[cid]
                row = request.views[u].statements[int(j) - 1][0]
                split.setdefault(u, {})[row] = t
        for u, placed in split.items():
            for row, t in placed.items():
                members[t].append(row)
            rest = [m for m in request.units[u].members if m not in placed]
            if not rest:
                continue
            targets = sorted(set(placed.values()))
            centres = np.stack(
                [vectors[[r for r, tt in placed.items() if tt == t]].mean(axis=0) for t in targets]
            )
            centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
            sims = np.round(vectors[rest] @ centres.T, 6)
            for row, scores in zip(rest, sims, strict=True):
                best = min(range(len(targets)), key=lambda k: (-scores[k], targets[k]))
                members[targets[best]].append(row)
        product = request.units[0].product
        out = []
        for theme, rows in zip(answer.themes, members, strict=True):
            if rows:
                naming = Naming(theme.name, theme.definition, named_by=self.mode)
                out.append(Unit(sorted(rows), product, theme.name, naming, splittable=False))
        return out


def _same_names_together(units: list[Unit]) -> list[Unit]:
    """Themes that separate requests gave the same name are one theme: the model named the same
    problem twice because the batching kept its halves apart."""
    out: list[Unit] = []
    by_name: dict[str, Unit] = {}
    for unit in units:
        key = " ".join(unit.naming.label.lower().split()) if unit.naming else ""
        if key and key in by_name:
            first = by_name[key]
            first.members = sorted(first.members + unit.members)
            continue
        if key:
            by_name[key] = unit
        out.append(unit)
    return out
