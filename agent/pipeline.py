"""`persona run`: every stage in order, each one resumable, each one's summary kept.

Order: ingest -> extract -> segment -> themes (per-segment counts need the segments) ->
segment again with each segment's top complaints (they need the themes) -> draft -> keep human
review decisions -> report. An LLM stage waiting on host answers stops the run cleanly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from .config import Settings
from .errors import ConfigError, HostPending
from .models import PainPointMention, Persona, StepSummary, ThemeReport
from .workspace import Workspace, read_json, read_models, write_json

Progress = Callable[[str, int, int], None]


class RunSummary(BaseModel):
    """What `persona run` did: one summary per stage, in order."""

    ok: bool = True
    steps: list[StepSummary] = Field(default_factory=list)
    pending: str | None = None
    seconds: float = 0.0
    outputs: dict[str, str] = Field(default_factory=dict)


def complaints_by_user(workspace: Workspace) -> dict[str, list[str]]:
    """User id -> labels of the themes their mentions fell into (for segment top complaints)."""
    if not workspace.themes.exists():
        return {}
    report = ThemeReport.model_validate_json(workspace.themes.read_text(encoding="utf-8"))
    theme_of = {m: t.label for t in report.themes for m in t.mention_ids}
    out: dict[str, set[str]] = defaultdict(set)
    for mention in read_models(workspace.mentions, PainPointMention):
        if mention.user_id and mention.id in theme_of:
            out[mention.user_id].add(theme_of[mention.id])
    return {user: sorted(labels) for user, labels in sorted(out.items())}


def segment_step(
    settings: Settings, workspace: Workspace, users: Path, with_complaints: bool = False
) -> StepSummary:
    """Score the user table with the configured rules and write segments + assignments."""
    from .segment import score_users, write_segment_outputs
    from .segment_rules import load_segment_config

    began = time.perf_counter()
    config_path = Path(settings.segment.config) if settings.segment.config else None
    config = load_segment_config(config_path, settings.segment.preset)
    complaints = complaints_by_user(workspace) if with_complaints else None
    report, assignments = score_users(users, config, complaints)
    try:
        write_segment_outputs(report, assignments, workspace)
    finally:
        assignments.close()
    counts = {"users": report.total_users, "segments": len(report.segments)}
    counts.update({f"segment:{s.name}": s.size for s in report.segments})
    return StepSummary(
        step="segment",
        counts=counts,
        seconds=round(time.perf_counter() - began, 3),
        outputs={"segments": str(workspace.segments), "assignments": str(workspace.assignments)},
        notes=list(report.warnings),
    )


def draft_step(
    settings: Settings,
    workspace: Workspace,
    provider: str | None = None,
    anti_persona: bool | None = None,
) -> StepSummary:
    """Draft personas, keeping every field a human decided, and note what changed since last time."""
    from .draft import draft_personas
    from .review import apply_reviews, decision_marks, diff_personas, format_diff, load_decisions

    previous: list[Persona] = []
    if workspace.personas.exists():
        raw = read_json(workspace.personas)
        previous = [Persona.model_validate(p) for p in raw.get("personas", [])]  # type: ignore[union-attr]
    store = load_decisions(workspace)
    # The model sees human-decided values as fixed and its validators skip them.
    locked = {pid: sorted(marks) for pid, marks in decision_marks(previous, store).items()}
    step = draft_personas(
        settings, workspace, provider=provider, anti_persona=anti_persona, locked=locked
    )
    raw = read_json(workspace.personas)
    drafted = [Persona.model_validate(p) for p in raw.get("personas", [])]  # type: ignore[union-attr]
    merged = apply_reviews(drafted, store)
    write_json(workspace.personas, {**raw, "personas": [p.model_dump(mode="json") for p in merged]})  # type: ignore[dict-item]
    if previous:
        changes = diff_personas(previous, merged)
        step.counts["fields_changed"] = len(changes)
        if changes:
            step.notes.append("changes since the previous draft:\n" + format_diff(changes))
    step.counts["human_fields_kept"] = sum(len(v) for v in locked.values())
    return step


def run_pipeline(
    paths: Sequence[Path],
    settings: Settings,
    workspace: Workspace,
    *,
    users: Path | None = None,
    provider: str | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Run every stage; cached work is not redone, so running again after a stop resumes."""
    from .extract import extract_mentions
    from .ingest import ingest, user_tables
    from .render import render_report
    from .themes import run_themes

    began = time.perf_counter()
    summary = RunSummary()

    def add(step: StepSummary) -> None:
        summary.steps.append(step)
        summary.ok = summary.ok and step.ok

    try:
        if paths:
            add(ingest(paths, settings, workspace, progress=progress))
        if not workspace.chunks.exists():
            raise ConfigError(
                "nothing ingested yet: pass the folder of transcripts, e.g. `persona run transcripts/`"
            )
        add(
            extract_mentions(
                settings, workspace, provider=provider, progress=_simple(progress, "extract")
            )
        )
        tables = [users] if users else user_tables(workspace)
        if not tables:
            raise ConfigError(
                "no user table found among the inputs: pass one with --users users.csv "
                "(personas need the scorer's segments)"
            )
        add(segment_step(settings, workspace, tables[0]))
        add(run_themes(settings, workspace, provider=provider))
        add(segment_step(settings, workspace, tables[0], with_complaints=True))
        add(draft_step(settings, workspace, provider=provider))
        add(render_report(settings, workspace))
    except HostPending as pending:
        summary.pending = str(pending)
        summary.ok = False
    summary.seconds = round(time.perf_counter() - began, 3)
    summary.outputs = {k: v for step in summary.steps for k, v in step.outputs.items()}
    write_json(workspace.root / "last_run.json", summary)
    return summary


def _simple(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
