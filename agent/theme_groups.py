"""Findings above the themes: the model groups related final themes under one heading.

A researcher's report names a few broad findings ("Month-end close depends on manual
workarounds") and, under each, the themes that make it up (exports to spreadsheets, re-keyed
invoices, sync gaps fixed by hand). Consolidation keeps themes at the level where each calls for one response; this step adds
the level above, so a finding raised by six of seven participants is counted as six, not spread
over three themes of two. The model reads the final themes of one product (name, definition,
counts, a quote) and returns groups of theme ids, each named and defined; validators make the
answer a partition of the themes shown. Counts, severity, score and rank of a group are computed
by code from the union of its themes' mentions. One call per product, cached like every call,
host mode included; a failure leaves the themes ungrouped, reported. Offline there are no groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from .consolidate import NamedAndDefined, material_of
from .host import register_response_model
from .model_calls import ModelCalls
from .models import Theme
from .naming import Naming

STEP = "group_themes"
PROMPT = "group_themes"
# Below this many themes in a product there is nothing to group: each theme is a finding.
MIN_THEMES = 4
# Themes shown per request (most important first); the rest of a larger product stay ungrouped
# (and the step says so), since a findings layer over hundreds of themes is not something a
# reader takes in. Joined batches give big studies more themes than one batch would (19
# interviews: 50), so up to 60 are shown, with one quote each past QUOTES_FOR_ALL (about 7k input
# tokens), and past 40 no more than an answer in which every theme stood alone would fit in
# llm.max_output_tokens (57 at the default 4,096).
MAX_THEMES = 60
# Output tokens per theme shown: a standalone theme comes back as a named, defined group.
ANSWER_TOKENS_PER_THEME = 70
ANSWER_BASE_TOKENS = 60
QUOTES_SHOWN = 2
QUOTES_FOR_ALL = 40


def quotes_shown(themes: int) -> int:
    """Quotes shown per theme in a request of this many themes."""
    return QUOTES_SHOWN if themes <= QUOTES_FOR_ALL else 1


class FindingGroup(NamedAndDefined):
    """One finding: a heading over related themes."""

    name: str = Field(
        description="2-9 plain words naming the finding, e.g. 'Month-end close depends on workarounds'"
    )
    definition: str = Field(
        description="One sentence: the pattern these themes share, using only what they say"
    )
    themes: list[str] = Field(min_length=1, description="Ids of the themes it holds: 't1'")


@register_response_model(name="group_themes")
class ThemeGrouping(BaseModel):
    """The findings: together they hold every theme shown exactly once."""

    model_config = ConfigDict(extra="forbid")

    groups: list[FindingGroup] = Field(min_length=1, description="The findings")

    @model_validator(mode="after")
    def _partition(self, info: ValidationInfo) -> ThemeGrouping:
        shown: list[str] | None = (info.context or {}).get("themes")
        if shown is None:
            return self
        problems = grouping_problems(self, shown)
        if problems:
            raise ValueError("; ".join(problems[:6]))
        return self


def grouping_problems(answer: ThemeGrouping, shown: list[str]) -> list[str]:
    """Why an answer is not a partition of the themes shown (empty when it is)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for g, group in enumerate(answer.groups, start=1):
        for tid in group.themes:
            if tid not in shown:
                problems.append(f"group {g} lists unknown theme id {tid!r}")
            elif tid in seen:
                problems.append(f"theme {tid} is in group {seen[tid]} and group {g}")
            else:
                seen[tid] = g
    missing = [t for t in shown if t not in seen]
    if missing:
        problems.append(f"themes in no group: {', '.join(missing)} (a theme may stand alone)")
    return problems


@dataclass(frozen=True)
class Grouped:
    """One finding of two or more themes, as the model named it."""

    theme_ids: list[str]
    naming: Naming


@dataclass
class LLMGrouper(ModelCalls):
    """Groups each product's final themes into findings with the model."""

    # Product -> themes beyond `bound()` that no request showed (they stand alone).
    left_out: dict[str, int] = field(default_factory=dict)

    def bound(self) -> int:
        """Themes one request shows: QUOTES_FOR_ALL, and up to MAX_THEMES as far as the output
        cap could hold an answer in which every theme stood alone."""
        room = (self.settings.llm.max_output_tokens - ANSWER_BASE_TOKENS) // ANSWER_TOKENS_PER_THEME
        return max(QUOTES_FOR_ALL, min(MAX_THEMES, room))

    def group(self, themes: list[Theme]) -> list[Grouped]:
        """Findings of 2+ themes, per product; themes a finding does not hold stand alone."""
        batches = []
        for product in sorted({t.product or "" for t in themes}):
            mine = sorted((t for t in themes if (t.product or "") == product), key=lambda t: t.rank)
            if len(mine) >= MIN_THEMES:
                bound = self.bound()
                batches.append((product, mine[:bound]))
                if len(mine) > bound:
                    self.left_out[product] = len(mine) - bound
        if not batches:
            return []
        answers = self.ask([self._request(p, mine) for p, mine in batches], ThemeGrouping)
        if answers is None:
            return []  # waiting on the host, or the endpoint failed: recorded by `ask`
        out: list[Grouped] = []
        for (_, mine), answer in zip(batches, answers, strict=True):
            if not isinstance(answer, ThemeGrouping):
                continue
            alias = {f"t{i}": t.id for i, t in enumerate(mine, start=1)}
            for group in answer.groups:
                if len(group.themes) < 2:
                    continue
                ids = sorted(group.themes, key=lambda a: int(a[1:]))
                naming = Naming(group.name, group.definition, named_by=self.mode)
                out.append(Grouped([alias[a] for a in ids], naming))
        return out

    def _request(self, product: str, themes: list[Theme]) -> Any:
        from .llm import LLMRequest

        shown = [f"t{i}" for i in range(1, len(themes) + 1)]
        quotes = quotes_shown(len(themes))
        views = [_view(alias, theme, quotes) for alias, theme in zip(shown, themes, strict=True)]
        people = sum(t.frequency.participants for t in themes)
        tickets = sum(t.frequency.tickets for t in themes)
        return LLMRequest(
            step=STEP,
            prompt=PROMPT,
            variables={
                "themes": views,
                "product": product,
                "material": material_of(people, tickets),
            },
            response_model=ThemeGrouping,
            context={"themes": shown},
            expected_output_tokens=ANSWER_BASE_TOKENS + ANSWER_TOKENS_PER_THEME * len(themes),
            sources=tuple(
                sorted({q.chunk_id for t in themes for q in t.representative_quotes[:quotes]})
            ),
        )


def _view(alias: str, theme: Theme, quotes_per_theme: int = QUOTES_SHOWN) -> dict[str, Any]:
    data: dict[str, Any] = {"id": alias, "name": theme.label, "definition": theme.description}
    data["mentions"] = len(theme.mention_ids)
    if theme.frequency.participants:
        data["people"] = theme.frequency.participants
    if theme.frequency.tickets:
        data["tickets"] = theme.frequency.tickets
    quotes = [q.text for q in theme.representative_quotes[:quotes_per_theme]]
    if quotes:
        data["quotes"] = quotes
    return data


__all__ = ["MIN_THEMES", "FindingGroup", "Grouped", "LLMGrouper", "ThemeGrouping"]
