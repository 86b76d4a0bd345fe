"""`persona run`: every stage in order, each one resumable, each one's summary kept.

Order: ingest -> extract -> segment -> themes (per-segment counts need the segments) ->
each segment's top complaints, added to the scored table still in memory (they need the themes)
-> draft -> keep human review decisions -> report. An LLM stage waiting on host answers stops the run cleanly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from .config import Settings
from .errors import ConfigError, HostPending, InputError
from .evidence import themed_mentions
from .lock import writes_workspace
from .models import StepSummary, ThemeReport
from .workspace import Workspace, write_json

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
    label = {t.id: t.label for t in report.themes}
    out: dict[str, set[str]] = defaultdict(set)
    # Raw JSON rows, not models (78,000 mentions: 2.2-2.8 s -> 0.8-1.0 s).
    for theme, row in themed_mentions(report, workspace.mentions):
        if row.get("user_id"):
            out[str(row["user_id"])].add(label[theme])
    return {user: sorted(labels) for user, labels in sorted(out.items())}


class ScoredSegments:
    """A scored user table, kept open so a run can add top complaints once themes exist.

    `persona run` needs segments before themes (per-segment theme counts) and themes before
    each segment's top complaints; holding the scored table avoids scoring it twice.
    """

    def __init__(
        self, settings: Settings, workspace: Workspace, users: Path, with_complaints: bool = True
    ) -> None:
        from .segment import score_users, write_segment_outputs
        from .segment_rules import load_segment_config

        began = time.perf_counter()
        config_path = Path(settings.segment.config) if settings.segment.config else None
        self.config = load_segment_config(
            config_path, settings.segment.preset, settings.segment.id_column
        )
        self.workspace = workspace
        complaints = complaints_by_user(workspace) if with_complaints else None
        self.report, self.assignments = score_users(users, self.config, complaints)
        try:
            write_segment_outputs(self.report, self.assignments, workspace)
        except BaseException:
            self.close()
            raise
        self.summary = self._summary(time.perf_counter() - began)

    def add_complaints(self) -> StepSummary:
        """Rewrite segments.json with the themes' complaints (assignments do not change)."""
        from .segment import add_complaints, write_segment_report

        began = time.perf_counter()
        complaints = complaints_by_user(self.workspace)
        if complaints:
            self.report = add_complaints(self.report, self.assignments, self.config, complaints)
            write_segment_report(self.report, self.workspace)
        step = self._summary(self.summary.seconds + time.perf_counter() - began)
        step.notes.append("top complaints from the themes added")
        return step

    def _summary(self, seconds: float) -> StepSummary:
        report, ws = self.report, self.workspace
        counts = {"users": report.total_users, "segments": len(report.segments)}
        counts.update({f"segment:{s.name}": s.size for s in report.segments})
        return StepSummary(
            step="segment",
            counts=counts,
            seconds=round(seconds, 3),
            outputs={"segments": str(ws.segments), "assignments": str(ws.assignments)},
            notes=list(report.warnings),
        )

    def close(self) -> None:
        self.assignments.close()


@writes_workspace("segment", create=True)
def segment_step(settings: Settings, workspace: Workspace, users: Path) -> StepSummary:
    """Score the user table with the configured rules and write segments + assignments.

    Segments get their top complaints when the workspace already has themes.
    """
    scored = ScoredSegments(settings, workspace, users)
    scored.close()
    return scored.summary


def draft_step(
    settings: Settings,
    workspace: Workspace,
    provider: str | None = None,
    anti_persona: bool | None = None,
) -> StepSummary:
    """Draft personas; the library keeps every field a human decided and lists what changed."""
    from .draft import draft_personas

    return draft_personas(settings, workspace, provider=provider, anti_persona=anti_persona)


class RunArgs(BaseModel):
    """What `persona run` was asked to do, so `persona resume` continues the same run.

    Never holds secrets: only paths, the provider and the setting overrides given as flags.
    """

    paths: list[str] = Field(default_factory=list)
    users: str | None = None
    provider: str | None = None
    overrides: dict[str, str | int | float | bool] = Field(default_factory=dict)


def run_args_path(workspace: Workspace) -> Path:
    return workspace.root / "run_args.json"


def load_run_args(workspace: Workspace) -> RunArgs:
    """The arguments of the last `persona run` in this workspace (empty when there was none)."""
    path = run_args_path(workspace)
    if not path.exists():
        return RunArgs()
    return RunArgs.model_validate_json(path.read_text(encoding="utf-8"))


def pick_user_table(workspace: Workspace, paths: Sequence[Path], users: Path | None) -> Path | None:
    """The user table for segments: --users, else the one among this run's inputs."""
    from .ingest import user_tables

    if users is not None:
        if not users.exists():
            raise ConfigError(f"{users}: user table not found")
        return users
    tables = user_tables(workspace, under=list(paths) or None)
    if len(tables) > 1:
        listed = ", ".join(str(t) for t in tables)
        raise ConfigError(
            f"several user tables among the inputs ({listed}): choose one with --users"
        )
    return tables[0] if tables else None


@writes_workspace("run", create=True)
def run_pipeline(
    paths: Sequence[Path],
    settings: Settings,
    workspace: Workspace,
    *,
    users: Path | None = None,
    provider: str | None = None,
    progress: Progress | None = None,
    overrides: dict[str, str | int | float | bool] | None = None,
    record_args: bool = True,
) -> RunSummary:
    """Run every stage; cached work is not redone, so running again after a stop resumes."""
    from .extract import extract_mentions
    from .ingest import ingest, nothing_read
    from .render import render_report
    from .themes import run_themes

    began = time.perf_counter()
    summary = RunSummary()
    workspace.ensure()
    args = RunArgs(
        paths=[str(Path(p).absolute()) for p in paths],
        users=str(users.absolute()) if users else None,
        provider=provider,
        overrides=dict(overrides or {}),
    )
    if record_args:
        write_json(run_args_path(workspace), args)

    def add(step: StepSummary) -> None:
        summary.steps.append(step)
        summary.ok = summary.ok and step.ok

    scored: ScoredSegments | None = None
    try:
        if paths:
            ingested = ingest(paths, settings, workspace, progress=progress)
            if users is not None:
                # The table named with --users goes to the scorer, whatever ingest made of it.
                given = users.absolute()
                kept = [s for s in ingested.skipped if Path(s.path).absolute() != given]
                if len(kept) < len(ingested.skipped):
                    ingested.skipped = kept
                    ingested.counts["skipped"] = len(kept)
                    ingested.ok = not kept
            add(ingested)
            unread = nothing_read([Path(p) for p in paths], ingested)
            if unread is not None:
                raise unread
        if not workspace.chunks.exists():
            raise ConfigError(
                "nothing ingested yet: pass the folder of transcripts, e.g. `persona run transcripts/`"
            )
        add(
            extract_mentions(
                settings, workspace, provider=provider, progress=_simple(progress, "extract")
            )
        )
        note = (
            "no user table among the inputs: personas come from transcript metadata, "
            "without scorer numbers; pass one with --users users.csv"
        )
        scoring_failed = False
        try:
            table = pick_user_table(workspace, paths, users)
            if table is not None:
                # Complaints wait for this run's themes (an earlier run's may be stale).
                scored = ScoredSegments(settings, workspace, table, with_complaints=False)
                add(scored.summary)
        except (InputError, ConfigError) as exc:
            # A bad user table or rules file costs the numbers, not the rest of the run.
            scoring_failed = True
            note = (
                f"user table not scored: {exc}. Personas come from transcript metadata, "
                "without scorer numbers, until it is fixed (`persona segment` checks it alone)"
            )
        if scored is None:
            # Drafting still works without scorer stats (segments from transcript metadata).
            workspace.segments.unlink(missing_ok=True)
            workspace.assignments.unlink(missing_ok=True)
            counts = {} if scoring_failed else {"users": 0}
            add(StepSummary(step="segment", ok=not scoring_failed, counts=counts, notes=[note]))
        add(run_themes(settings, workspace, provider=provider, progress=progress))
        if scored is not None:
            refreshed = scored.add_complaints()
            summary.steps[
                summary.steps.index(next(s for s in summary.steps if s.step == "segment"))
            ] = refreshed
            scored.close()
            scored = None
        add(draft_step(settings, workspace, provider=provider))
        add(render_report(settings, workspace))
    except HostPending as pending:
        summary.pending = str(pending)
        summary.ok = False
    finally:
        if scored is not None:
            scored.close()
    summary.seconds = round(time.perf_counter() - began, 3)
    summary.outputs = {k: v for step in summary.steps for k, v in step.outputs.items()}
    write_json(workspace.root / "last_run.json", summary)
    return summary


class ResumeSummary(BaseModel):
    """`persona resume`: the host answers checked, and the run continued if they all passed."""

    ok: bool = True
    nothing_pending: bool = False
    resume: dict = Field(default_factory=dict)
    run: RunSummary | None = None


@writes_workspace("resume")
def resume_pipeline(settings: Settings, workspace: Workspace) -> ResumeSummary:
    """Validate host answers; when all pass, continue the last run with its own arguments."""
    from .host import pending_dir, resume_host

    folder = pending_dir(workspace)
    if not folder.exists() or not any(
        p for p in folder.glob("*.json") if not p.name.endswith(".errors.json")
    ):
        return ResumeSummary(nothing_pending=True)
    checked = resume_host(settings, workspace)
    result = ResumeSummary(resume=checked.model_dump(mode="json"))
    if checked.rejected:
        result.ok = False
        return result
    args = load_run_args(workspace)
    result.run = run_pipeline(
        [],
        settings,
        workspace,
        users=Path(args.users)
        if args.users
        else pick_user_table(workspace, [Path(p) for p in args.paths], None),
        provider="host",
        overrides=args.overrides,
        record_args=False,
    )
    result.ok = result.run.ok
    return result


def _simple(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
