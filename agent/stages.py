"""Journey stages: the columns of a journey map, and which extracted stages feed each column.

Extraction tags every mention and observation with one stage of a purchase funnel
(models.JourneyStage: awareness, consideration, decision, onboarding, retention, advocacy or
unknown). A journey map shows a configured list of columns (`[draft] journey` / `journey_stages`
in persona.toml); `sources` says which extracted stages each column shows. The mapping is the
one rule every drafter and renderer uses to place a pain or an observation in a column.

Presets (documented in the README):
- `funnel` (the default, seed 002): awareness, consideration, decision, onboarding, advocacy.
  The onboarding column shows onboarding and retention ("Onboarding & Retention").
- `usage` (product use, e.g. usability studies): getting_started <- awareness, consideration,
  decision, onboarding (everything up to first real use); everyday_use <- retention;
  expanding <- advocacy. `learning` and `troubleshooting` have no extracted stage: the funnel
  cannot tell learning from setting up, nor a breakdown from routine use. A model places pains
  there from their quotes; offline drafts leave them empty (and say so as an open question)
  unless `[draft.stage_sources]` maps an extracted stage to them.
- A custom list: a column named like an extracted stage shows that stage; any other column shows
  what `[draft.stage_sources]` maps to it, else nothing offline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import DraftSettings
    from .models import ThemeReport

# The stages extraction can name, in journey order ('unknown' is no stage).
MENTION_STAGES = ("awareness", "consideration", "decision", "onboarding", "retention", "advocacy")
FUNNEL = ("awareness", "consideration", "decision", "onboarding", "advocacy")
USAGE = ("getting_started", "learning", "everyday_use", "troubleshooting", "expanding")
PRESETS: dict[str, tuple[str, ...]] = {"funnel": FUNNEL, "usage": USAGE}
PRESET_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "funnel": {
        "awareness": ("awareness",),
        "consideration": ("consideration",),
        "decision": ("decision",),
        "onboarding": ("onboarding", "retention"),
        "advocacy": ("advocacy",),
    },
    "usage": {
        "getting_started": ("awareness", "consideration", "decision", "onboarding"),
        "learning": (),
        "everyday_use": ("retention",),
        "troubleshooting": (),
        "expanding": ("advocacy",),
    },
}
MIN_STAGES = 2
MAX_STAGES = 8


class StageTitles(dict[str, str]):
    """Column titles: the presets' own, any other stage id made readable ('first_report' ->
    'First report'), so renderers never fail on a custom stage."""

    def __missing__(self, stage: str) -> str:
        words = " ".join(str(stage).replace("_", " ").replace("-", " ").split())
        return words[:1].upper() + words[1:] if words else "Stage"


STAGE_TITLES = StageTitles(
    {
        "awareness": "Awareness",
        "consideration": "Consideration",
        "decision": "Decision",
        "onboarding": "Onboarding & Retention",
        "advocacy": "Advocacy",
        "getting_started": "Getting started",
        "learning": "Learning",
        "everyday_use": "Everyday use",
        "troubleshooting": "Troubleshooting",
        "expanding": "Expanding",
    }
)


def title(stage: str) -> str:
    """The column title of a stage id."""
    return STAGE_TITLES[stage]


@dataclass(frozen=True)
class StagePlan:
    """The journey's columns, in order, and the extracted stages each one shows."""

    stages: tuple[str, ...] = FUNNEL
    sources: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(PRESET_SOURCES["funnel"])
    )
    preset: str = "funnel"

    def sources_of(self, stage: str) -> tuple[str, ...]:
        return tuple(self.sources.get(stage, ()))

    def column_of(self, mention_stage: str) -> str | None:
        """The column that shows an extracted stage (None: no column does)."""
        return next((s for s in self.stages if mention_stage in self.sources_of(s)), None)

    def as_dict(self) -> dict[str, object]:
        """The JSON form packs and journey maps carry."""
        return {
            "preset": self.preset,
            "stages": list(self.stages),
            "sources": {s: list(self.sources_of(s)) for s in self.stages},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> StagePlan:
        """The plan a pack or map recorded; the funnel when it recorded none."""
        if not data or not data.get("stages"):
            return cls()
        stages = tuple(str(s) for s in data["stages"])  # type: ignore[union-attr]
        raw = data.get("sources") or {}
        sources = {
            s: tuple(str(x) for x in (raw.get(s) or ()))  # type: ignore[union-attr]
            for s in stages
        }
        return cls(stages, sources, str(data.get("preset") or "custom"))


def build_plan(
    preset: str = "funnel",
    custom: Sequence[str] | None = None,
    extra_sources: Mapping[str, Sequence[str]] | None = None,
) -> StagePlan:
    """The columns for a preset or a custom list, with `extra_sources` overriding the mapping."""
    if custom:
        stages = tuple(custom)
        base = {s: ((s,) if s in MENTION_STAGES else ()) for s in stages}
        name = "custom"
    else:
        stages = PRESETS[preset]
        base = dict(PRESET_SOURCES[preset])
        name = preset
    for stage, mapped in (extra_sources or {}).items():
        base[stage] = tuple(mapped)
    return StagePlan(stages, {s: tuple(base.get(s, ())) for s in stages}, name)


def plan_for(settings: DraftSettings) -> StagePlan:
    """The journey columns persona.toml asks for (`[draft] journey`, `journey_stages`)."""
    return build_plan(settings.journey, settings.journey_stages, settings.stage_sources)


# The funnel fits a study of product use poorly: its first three columns are about buying.
FUNNEL_MISFIT_SHARE = 0.8
FUNNEL_MISFIT_MIN = 10


def funnel_hint(report: ThemeReport | None) -> str | None:
    """funnel_misfit over a theme report's staged mentions, for interviews alone (tickets are
    the funnel's own ground); None otherwise."""
    if report is None or report.total_tickets:
        return None
    counts: Counter[str] = Counter()
    for theme in report.themes:
        counts.update(theme.journey_stages)
    return funnel_misfit(counts)


def funnel_misfit(stage_counts: Mapping[str, int]) -> str | None:
    """A hint when nearly every staged mention falls in the funnel's Onboarding & Retention
    column (measured: 89-100% on three public interview studies), or None."""
    staged = sum(stage_counts.get(s, 0) for s in MENTION_STAGES)
    used = sum(stage_counts.get(s, 0) for s in PRESET_SOURCES["funnel"]["onboarding"])
    if staged < FUNNEL_MISFIT_MIN or used < FUNNEL_MISFIT_SHARE * staged:
        return None
    return (
        f"journey columns: {used} of the {staged} mentions that name a stage fall in the "
        "purchase funnel's Onboarding & Retention column, so its other columns stay nearly empty; "
        'for a study of product use, set journey = "usage" under [draft] in persona.toml '
        "(getting started, learning, everyday use, troubleshooting, expanding)"
    )
