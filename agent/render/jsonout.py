"""report.json: personas, journeys, themes and segments, each validated against its JSON Schema.

Schemas come from schemas/*.json (matched by their `title`, which pydantic sets to the model
name); a model with no file there is checked against the schema pydantic generates, which the
schema drift test keeps identical to the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import ValidationFailed
from ..models import Claim, JourneyMap, Persona, Recommendation, SegmentReport, ThemeReport
from ..workspace import dump_json
from .context import OFFLINE_NOTICE, ReportData, focus_texts
from .summary import ExecutiveSummary

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
REPORT_FORMAT = "persona-agent/report"
REPORT_VERSION = 1


def load_schemas(schema_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Schema files by title; empty when the folder is absent (an installed package)."""
    return _load_schemas(schema_dir or SCHEMA_DIR)


def _load_schemas(schema_dir: Path) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    if schema_dir.is_dir():
        for path in sorted(schema_dir.glob("*.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(schema, dict) and isinstance(schema.get("title"), str):
                schemas.setdefault(schema["title"], schema)
    return schemas


def schema_for(
    model: type[BaseModel], schema_dir: Path | None = None
) -> tuple[dict[str, Any], str]:
    """The schema to validate a model's JSON against, and where it came from."""
    found = load_schemas(schema_dir).get(model.__name__)
    if found is not None:
        return found, f"{(schema_dir or SCHEMA_DIR).name}/{model.__name__}"
    return model.model_json_schema(), f"pydantic:{model.__name__}"


def validate_json(
    instance: Any, model: type[BaseModel], where: str, schema_dir: Path | None = None
) -> str:
    """Raise ValidationFailed naming the JSON path if `instance` breaks the model's schema."""
    schema, source = schema_for(model, schema_dir)
    try:
        from jsonschema import Draft202012Validator
        from jsonschema.validators import validator_for
    except ImportError:
        # jsonschema comes with chromadb; without it pydantic checks the same contract.
        try:
            model.model_validate(instance)
        except ValueError as exc:
            raise ValidationFailed(f"{where}: does not match {model.__name__}: {exc}") from exc
        return source
    validator = validator_for(schema, default=Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        raise ValidationFailed(f"{where}{path}: {err.message} (schema {source})")
    return source


def build_report_json(data: ReportData, summary: ExecutiveSummary) -> dict[str, Any]:
    """The whole report as one JSON object; resolved evidence included for machine readers."""
    interviews, tickets, users = data.corpus_basis()
    refs: set[str] = set()
    focus: dict[str, list[str]] = {}

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            text = value.get("text")
            # The citing text (a claim, a quote) tells which part of a chunk to excerpt.
            said = focus_texts(text) if isinstance(text, str) else []
            for key, item in value.items():
                if key == "evidence" and isinstance(item, list):
                    refs.update(r for r in item if isinstance(r, str))
                    for ref in item:
                        if isinstance(ref, str):
                            focus.setdefault(ref, []).extend(said)
                elif key in ("chunk_id", "theme_id") and isinstance(item, str) and item:
                    ref = f"{key.removesuffix('_id')}:{item}"
                    refs.add(ref)
                    focus.setdefault(ref, []).extend(said)
                else:
                    collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    personas = [p.model_dump(mode="json") for p in data.personas]
    journeys = [
        data.journeys[p.id].model_dump(mode="json") for p in data.personas if data.journey(p)
    ]
    collect(personas)
    collect(journeys)
    evidence = {}
    for ref in sorted(refs):
        ev = data.resolve(ref, focus.get(ref, ()))
        evidence[ref] = {
            "kind": ev.kind,
            "title": ev.title,
            "detail": ev.detail,
            "quote": ev.quote,
            "found": ev.found,
        }
    modes = sorted({p.document_info.mode for p in data.personas})
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "modes": modes,
        "offline": data.offline,
        "notice": OFFLINE_NOTICE if data.offline else None,
        "stale": {"inputs": data.stale, "note": data.stale_note} if data.stale else None,
        "basis": {"interviews": interviews, "tickets": tickets, "users": users},
        "personas": personas,
        "journeys": journeys,
        "themes": data.themes.model_dump(mode="json") if data.themes else None,
        "segments": data.segments.model_dump(mode="json") if data.segments else None,
        "review": {pid: dict(sorted(marks.items())) for pid, marks in data.decisions.items()},
        # Who wrote each decided field and list item ('pain_points.0.impact'): origin "human"
        # for a reviewer's words, "model" for drafted words a reviewer confirmed. A path not
        # listed is the draft's, not yet reviewed.
        "provenance": {
            pid: {
                path: {
                    "origin": "human" if mark.human else "model",
                    "decision": mark.kind,
                    "by": mark.by,
                    "at": mark.at,
                    "comment": mark.comment,
                    "address": mark.address,
                    # A colleague's confirmation of a reviewer's words, when there is one.
                    **(
                        {
                            "confirmed_by": mark.confirmed_by,
                            "confirmed_at": mark.confirmed_at,
                            "confirmed_comment": mark.confirmed_comment,
                        }
                        if mark.confirmed_by
                        else {}
                    ),
                    **({"extended_by": list(mark.extended_by)} if mark.extended_by else {}),
                }
                for path, mark in sorted(marks.items())
            }
            for pid, marks in sorted(data.marks.items())
        },
        # Pain points a reviewer removed that a persona's draft still holds, and the items
        # (positional paths, as in provenance) resting only on them until the next draft.
        "redraft": {
            pid: {
                "removed": [
                    {"theme_id": p.theme_id, "title": p.title, "by": p.by, "at": p.at}
                    for p in found.removed
                ],
                "note": found.note(marked=False),
                "journey_note": found.note(journey=True, marked=False),
                "resting": {path: found.item_note(path) for path in sorted(found.resting)},
            }
            for pid, found in sorted(data.redraft.items())
        },
        "summary": {
            "key_findings": [
                {"persona": who, **c.model_dump(mode="json")} for who, c in summary.findings
            ],
            "recommendations": [
                {"persona": who, **r.model_dump(mode="json")} for who, r in summary.recommendations
            ],
            "top_themes": [t.id for t in summary.themes],
            "warnings": summary.warnings,
        },
        "evidence": evidence,
    }


def validate_report(report: dict[str, Any], schema_dir: Path | None = None) -> list[str]:
    """Check every part of report.json against its schema; returns the schema sources used."""
    used = set()
    for i, persona in enumerate(report["personas"]):
        used.add(validate_json(persona, Persona, f"report.json: personas[{i}]", schema_dir))
    for i, journey in enumerate(report["journeys"]):
        used.add(validate_json(journey, JourneyMap, f"report.json: journeys[{i}]", schema_dir))
    if report["themes"] is not None:
        used.add(validate_json(report["themes"], ThemeReport, "report.json: themes", schema_dir))
    if report["segments"] is not None:
        used.add(
            validate_json(report["segments"], SegmentReport, "report.json: segments", schema_dir)
        )
    for i, item in enumerate(report["summary"]["key_findings"]):
        claim = {k: v for k, v in item.items() if k != "persona"}
        used.add(validate_json(claim, Claim, f"report.json: key_findings[{i}]", schema_dir))
    for i, item in enumerate(report["summary"]["recommendations"]):
        rec = {k: v for k, v in item.items() if k != "persona"}
        used.add(
            validate_json(rec, Recommendation, f"report.json: recommendations[{i}]", schema_dir)
        )
    return sorted(used)


def render_json(data: ReportData, summary: ExecutiveSummary) -> tuple[str, list[str]]:
    """report.json text (stable key order) and the schema sources it was validated against."""
    report = build_report_json(data, summary)
    sources = validate_report(report)
    return dump_json(report), sources
