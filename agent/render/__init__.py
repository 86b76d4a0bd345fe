"""Renderers: Markdown persona documents and journey maps, an HTML library, validated JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from ..lock import writes_workspace
from ..models import StepSummary
from ..workspace import Workspace, write_text_atomic
from .context import ReportData, load_report_data
from .html import render_html
from .jsonout import render_json
from .markdown import render_journey_md, render_persona_md
from .summary import build_summary, render_summary_md

FORMATS = ("md", "html", "json")

__all__ = ["FORMATS", "ReportData", "load_report_data", "render_files", "render_report"]


def render_files(data: ReportData, formats: Sequence[str] = FORMATS) -> dict[str, str]:
    """File name -> text for every requested format; nothing is written."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(
            f"unknown report format {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    summary = build_summary(data)
    files: dict[str, str] = {}
    if "md" in formats:
        files["summary.md"] = render_summary_md(data, summary)
        for persona in data.personas:
            slug = data.slugs[persona.id]
            files[f"persona-{slug}.md"] = render_persona_md(data, persona)
            journey = data.journey(persona)
            if journey:
                files[f"journey-{slug}.md"] = render_journey_md(data, persona, journey)
    if "html" in formats:
        files["index.html"] = render_html(data, summary)
    if "json" in formats:
        files["report.json"], _ = render_json(data, summary)
    return files


@writes_workspace("report")
def render_report(
    settings: Settings,
    workspace: Workspace,
    out_dir: Path | None = None,
    formats: Sequence[str] = FORMATS,
) -> StepSummary:
    """Render the workspace's personas into out_dir (default: the workspace's reports folder)."""
    started = time.perf_counter()
    data = load_report_data(workspace)
    target = Path(out_dir) if out_dir is not None else workspace.reports_dir
    files = render_files(data, formats)
    for name, text in sorted(files.items()):
        write_text_atomic(target / name, text)
    modes = {p.document_info.mode for p in data.personas}
    notes = []
    if data.stale:
        # Still rendered (a reader may want the old drafts), but never silently.
        notes.append("out of date: " + data.stale_note)
    if data.offline:
        notes.append("offline drafts: written without a language model, labelled as such")
    if not data.personas:
        notes.append("no personas in the workspace: the report is empty")
    outputs = {name: str(target / name) for name in sorted(files)}
    return StepSummary(
        step="report",
        mode=modes.pop() if len(modes) == 1 else None,
        counts={
            "personas": len(data.personas),
            "journeys": sum(1 for p in data.personas if data.journey(p)),
            "files": len(files),
            "reviewed": sum(1 for p in data.personas if p.document_info.status == "reviewed"),
            "stale_inputs": len(data.stale),
        },
        seconds=round(time.perf_counter() - started, 3),
        outputs=outputs,
        notes=notes,
    )
