"""JSON Schemas for the output contracts, generated from the pydantic models (the source of truth)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from .eval import EvalReport
from .models import (
    Chunk,
    CohortReport,
    Document,
    JourneyMap,
    PainPointMention,
    Persona,
    SegmentReport,
    StepSummary,
    ThemeReport,
)
from .workspace import dump_json, write_text_atomic

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "document": Document,
    "chunk": Chunk,
    "pain_point_mention": PainPointMention,
    "theme_report": ThemeReport,
    "segment_report": SegmentReport,
    "cohort_report": CohortReport,
    "persona": Persona,
    "journey_map": JourneyMap,
    "step_summary": StepSummary,
    "eval_report": EvalReport,
}


def schema_texts() -> dict[str, str]:
    """File name -> JSON Schema text, exactly as written to schemas/."""
    return {
        f"{name}.schema.json": dump_json(model.model_json_schema())
        for name, model in SCHEMA_MODELS.items()
    }


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory`; returns the paths written."""
    paths = []
    for name, text in schema_texts().items():
        path = directory / name
        write_text_atomic(path, text)
        paths.append(path)
    return paths
