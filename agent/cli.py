"""The `persona` command: parse, make one library call, render. Nothing else lives here."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from .config import Settings, load_settings
from .errors import ConfigError, HostPending, PersonaError
from .models import StepSummary
from .workspace import Workspace

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"persona-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """Draft personas and journey maps from interviews, tickets and usage data, grounded in
    verbatim quotes and scorer numbers.

    Quick start (offline, no API key): persona run transcripts/
    """


review_app = typer.Typer(
    help="Confirm, correct or extend drafted personas (human review).", no_args_is_help=True
)
skill_app = typer.Typer(help="The Claude Code / Codex skill.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(skill_app, name="skill")

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default: ./.persona or $PERSONA_WORKSPACE)"
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file (default: ./persona.toml)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout")]
LLMOpt = Annotated[
    str | None,
    typer.Option(
        "--llm", help="openai | offline | host (default: openai if a key or base URL is set)"
    ),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model name (default: $PERSONA_MODEL or gpt-4o-mini)")
]

ChromaUrlOpt = Annotated[
    str | None,
    typer.Option("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000"),
]
AntiPersonaOpt = Annotated[
    bool | None,
    typer.Option("--anti-persona/--no-anti-persona", help="Also draft who the product is not for"),
]

EXIT_PARTIAL = 2


def _settings(
    workspace: Path | None, config: Path | None, **overrides: Any
) -> tuple[Settings, Workspace]:
    settings = load_settings(config, {"workspace": workspace, **overrides})
    return settings, Workspace(settings.workspace)


# Control characters (newlines, ESC sequences, C1 codes) and bidi overrides in file names or
# file contents must not reach a terminal raw: they can rewrite what the user sees.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _fit(text: str, width: int) -> str:
    """`text` within `width` characters, cut at a word with "…" rather than mid-word."""
    if len(text) <= width:
        return text
    from .naming import without_hanging

    head = text[: width - 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return without_hanging(cut) + "…"


def _printable(text: str) -> str:
    """Text with control characters shown as escapes (\\n, \\x1b, \\u202e)."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

    return _UNPRINTABLE.sub(escape, text)


# Files that only a persona workspace has; any of them means the folder is one.
_WORKSPACE_FILES = (
    "ingest_index.json",
    "chunks.jsonl",
    "run_args.json",
    "segments.json",
    "personas.json",
    "workspace.json",
)


def _existing(ws: Workspace) -> Workspace:
    """The workspace, if a run or an ingest made it; commands that read one never create one."""
    if not any((ws.root / name).exists() for name in _WORKSPACE_FILES):
        raise ConfigError(
            f"no workspace at {ws.root}: run `persona run FOLDER` (or `persona ingest FOLDER`) "
            "first, or point -w at the workspace"
        )
    return ws


def _err(message: str) -> None:
    typer.echo(_printable(message), err=True)


@contextmanager
def _errors(json_out: bool = False) -> Iterator[None]:
    """Expected errors become one line on stderr and a non-zero exit, never a traceback; with
    --json, stdout also gets {"ok": false, "error": ..., "exit_code": ...}."""
    try:
        yield
    except PersonaError as exc:
        _err(f"error: {exc}")
        if json_out:
            # A script reading stdout gets an answer it can parse, not an empty string.
            error = {"ok": False, "error": str(exc), "kind": type(exc).__name__}
            typer.echo(json.dumps({**error, "exit_code": exc.exit_code}, sort_keys=True))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _err("interrupted: finished work is saved; run the same command again to resume")
        raise typer.Exit(130) from None


# Seconds between plain progress lines of one stage when stderr is not a terminal.
PROGRESS_SECONDS = 3.0


def _progress_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("PERSONA_PROGRESS_SECONDS", PROGRESS_SECONDS)))
    except ValueError:
        return PROGRESS_SECONDS


@dataclass
class _Stage:
    started: float
    printed: float
    done: int = 0
    total: int = 0
    finished: bool = False


class _Progress:
    """Progress on stderr: a bar on a terminal, otherwise a plain line per stage every few seconds."""

    # Plain lines are for CI, an agent or a log file (`extract: 120/400 (30%) 12.3s`), with a
    # final line per stage; stdout, and so --json, never sees any of it. Any stage name works.

    def __init__(self, interval: float | None = None) -> None:
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.interval = _progress_seconds() if interval is None else interval
        self.stages: dict[str, _Stage] = {}
        # A stage reports after its first piece of work, so its clock starts at the previous
        # report (of any stage) or when the command began, not at its own first report.
        self.last = time.monotonic()
        # Stages may report from worker threads; lines must not interleave.
        self.lock = threading.Lock()

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description:>8}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(exc_type, *exc)
        elif exc_type is None:
            # A stage that stopped short of its total still gets its last line (a failed
            # command's error line stands alone instead).
            with self.lock:
                for name, stage in self.stages.items():
                    if not stage.finished:
                        self._line(name, stage, time.monotonic())

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is not None:
            if stage not in self.tasks:
                self.tasks[stage] = self.bar.add_task(stage, total=total)
            self.bar.update(self.tasks[stage], completed=done, total=total)
            return
        now = time.monotonic()
        with self.lock:
            state = self.stages.get(stage)
            began, self.last = self.last, now
            if state is None or (state.finished and done < total):
                # A report of 0 done announces the stage's start: its clock starts now.
                start = now if done == 0 else began
                state = self.stages[stage] = _Stage(started=start, printed=start)
            elif state.finished:
                return
            state.done, state.total = done, total
            if total and done >= total:
                state.finished = True
                self._line(stage, state, now)
            elif now - state.printed >= self.interval:
                state.printed = now
                self._line(stage, state, now)

    @staticmethod
    def _line(name: str, stage: _Stage, now: float) -> None:
        share = f" ({100 * stage.done // stage.total}%)" if stage.total else ""
        _err(f"{name}: {stage.done}/{stage.total}{share} {now - stage.started:.1f}s")

    def simple(self, stage: str) -> Callable[[int, int], None]:
        return lambda done, total: self(stage, done, total)


def _emit(
    summary: StepSummary, json_out: bool, human: Callable[[StepSummary], None] | None = None
) -> None:
    if json_out:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        (human or _print_summary)(summary)
    if not summary.ok:
        raise typer.Exit(EXIT_PARTIAL)


def _count(key: str, value: int) -> str:
    words = key.replace("_", " ").split(" ")
    if value == 1 and words[0].endswith("s") and not words[0].endswith("ss"):
        words[0] = words[0][:-1]
    return f"{value} {' '.join(words)}"


def _print_summary(summary: StepSummary) -> None:
    counts = ", ".join(_count(k, v) for k, v in summary.counts.items())
    counts = counts or ("done" if summary.ok else "not done")
    mode = f" [{summary.mode} mode]" if summary.mode else ""
    typer.echo(f"{summary.step}{mode}: {counts} in {summary.seconds:.1f}s")
    for note in summary.notes:
        typer.echo(f"  note: {_printable(note)}")
    for name, path in summary.outputs.items():
        typer.echo(f"  {name}: {_printable(path)}")
    if summary.skipped:
        typer.echo(f"  skipped {len(summary.skipped)}:")
        for item in summary.skipped[:20]:
            where = f"{item.path}:{item.line}" if item.line else item.path
            typer.echo(f"    {_printable(where)}: {_printable(item.reason)}")
        if len(summary.skipped) > 20:
            typer.echo(f"    ... {len(summary.skipped) - 20} more (see --json)")
    if summary.failures:
        typer.echo(f"  failed {len(summary.failures)} (the rest of the run went on):")
        for failure in summary.failures[:20]:
            typer.echo(f"    {failure.step} {failure.request_id}: {failure.error}")


def _dump(data: Any) -> None:
    if isinstance(data, BaseModel):
        typer.echo(data.model_dump_json(indent=2))
    else:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


# --------------------------------------------------------------------------- ingest / search


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files or folders: .txt .md .vtt .srt .docx .json .jsonl .csv"),
    ],
    chroma_url: ChromaUrlOpt = None,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help="minilm | openai | hash")
    ] = None,
    redact: Annotated[
        bool | None,
        typer.Option(
            "--redact/--no-redact",
            help="Redact emails, phones and card numbers before embedding "
            "(default: on when the embedder or Chroma server is off this machine)",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Read transcripts and ticket exports, chunk them by speaker turn and embed them into Chroma.

    Example: persona ingest transcripts/ --json
    """
    with _errors(json_out):
        settings, ws = _settings(
            workspace,
            config,
            **{"chroma.url": chroma_url, "embeddings.provider": embedder, "ingest.redact": redact},
        )
        from .ingest import ingest as run_ingest

        with _Progress() as bar:
            summary = run_ingest(paths, settings, ws, progress=bar)
        _emit(summary, json_out)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words")],
    n: Annotated[int, typer.Option("-n", "--limit", help="How many results")] = 10,
    kind: Annotated[str | None, typer.Option("--kind", help="interview | ticket")] = None,
    participant: Annotated[
        str | None, typer.Option("--participant", help="Participant or user id")
    ] = None,
    segment: Annotated[
        str | None, typer.Option("--segment", help="Only users in this scorer segment")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="participant | interviewer | customer")
    ] = None,
    include_interviewer: Annotated[
        bool,
        typer.Option(
            "--include-interviewer",
            help="With --participant, also show the interviewer's questions",
        ),
    ] = False,
    meta: Annotated[
        list[str] | None, typer.Option("--meta", help="Metadata filter KEY=VALUE (repeatable)")
    ] = None,
    chroma_url: ChromaUrlOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Semantic search over the ingested evidence.

    Example: persona search "bank feed keeps disconnecting" --kind interview -n 5
    """
    with _errors(json_out):
        settings, ws = _settings(workspace, config, **{"chroma.url": chroma_url})
        _existing(ws)
        from .search import search as run_search

        filters = {}
        for item in meta or []:
            if "=" not in item:
                raise PersonaError(f"--meta expects KEY=VALUE, got {item!r}")
            key, value = item.split("=", 1)
            filters[key] = value
        hits = run_search(
            query,
            settings,
            ws,
            n=n,
            kind=kind,
            participant=participant,
            segment=segment,
            role=role,
            metadata=filters,
            include_interviewer=include_interviewer,
        )
        if json_out:
            _dump([h.model_dump() for h in hits])
            return
        if not hits:
            typer.echo("no results (has anything been ingested? try: persona ingest transcripts/)")
        for rank, hit in enumerate(hits, start=1):
            where = (
                hit.source
                + (f":{hit.line}" if hit.line else "")
                + (f" @{hit.time}" if hit.time else "")
            )
            who = hit.participant_id or hit.ticket_id or ""
            typer.echo(
                f"{rank:>2}. [{hit.score:.2f}] {where}  {hit.speaker} ({hit.role}{', ' + who if who else ''})"
            )
            text = " ".join(hit.text.split())
            typer.echo("    " + (text if len(text) < 400 else text[:400] + "..."))


# --------------------------------------------------------------------------- pipeline stages


def _llm_overrides(llm: str | None, model: str | None) -> dict[str, Any]:
    return {"llm.provider": llm, "llm.model": model}


def _host_exit(exc: HostPending, json_out: bool) -> None:
    if json_out:
        _dump({"ok": False, "pending": str(exc)})
    else:
        _err(f"waiting for host answers: {exc}")
    raise typer.Exit(exc.exit_code)


@app.command()
def extract(
    llm: LLMOpt = None,
    model: ModelOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count calls, tokens and cost; call nothing")
    ] = False,
    budget: Annotated[
        int | None, typer.Option("--token-budget", help="Stop cleanly after this many tokens")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="Parallel LLM calls")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Extract pain points with verbatim, source-checked quotes from the ingested chunks.

    Example: persona extract --dry-run   (then: OPENAI_API_KEY=... persona extract)
    """
    with _errors(json_out):
        settings, ws = _settings(
            workspace,
            config,
            **_llm_overrides(llm, model),
            **{"llm.token_budget": budget, "llm.concurrency": concurrency},
        )
        _existing(ws)
        from .extract import extract_mentions

        try:
            with _Progress() as bar:
                summary = extract_mentions(
                    settings, ws, dry_run=dry_run, progress=bar.simple("extract")
                )
        except HostPending as exc:
            _host_exit(exc, json_out)
        _emit(summary, json_out)


@app.command()
def segment(
    users: Annotated[
        Path | None,
        typer.Argument(help="User table: CSV, Parquet or JSONL (default: the one ingest found)"),
    ] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="daily | weekly | monthly thresholds")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Segment rules file (TOML/YAML), see agent/presets/"),
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option("--compare", help="OLD NEW: who moved between two snapshots"),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Segment users with deterministic first-match rules and compute per-segment stats.

    Example: persona segment transcripts/users.csv --preset weekly --json
    """
    with _errors(json_out):
        settings, ws = _settings(
            workspace,
            config,
            **{"segment.preset": preset, "segment.config": str(rules) if rules else None},
        )
        from .pipeline import segment_step

        if compare:
            from .segment import compare_snapshots
            from .segment_rules import load_segment_config

            cfg = load_segment_config(
                Path(settings.segment.config) if settings.segment.config else None,
                settings.segment.preset,
                settings.segment.id_column,
            )
            migration = compare_snapshots(compare[0], compare[1], cfg)
            if json_out:
                _dump(migration)
            else:
                _print_migration(migration)
            return
        table = users or _default_users(_existing(ws))
        summary = segment_step(settings, ws, table)
        if json_out:
            _emit(summary, True)
            return
        _print_summary(summary)
        from .models import SegmentReport

        report = SegmentReport.model_validate_json(ws.segments.read_text(encoding="utf-8"))
        for seg in report.segments:
            warn = f"  ! {seg.warning}" if seg.warning else ""
            typer.echo(
                f"  {seg.name:<28} {seg.size:>7} users  {seg.share * 100:5.1f}%  {seg.rule}{warn}"
            )


def _default_users(ws: Workspace) -> Path:
    from .ingest import user_tables

    tables = user_tables(ws)
    if not tables:
        raise PersonaError(
            "no user table given and none found by ingest: persona segment USERS.csv"
        )
    return tables[0]


def _print_migration(migration: Any) -> None:
    typer.echo(
        f"{migration.moved} of {migration.in_both:,} users in both snapshots moved segment "
        f"({migration.old_total:,} old, {migration.new_total:,} new)"
    )
    moves = sorted(
        (c for c in migration.transitions if c.from_segment != c.to_segment),
        key=lambda c: (-c.count, c.from_segment, c.to_segment),
    )
    for cell in moves[:20]:
        sample = ", ".join(cell.sample_ids[:3])
        typer.echo(
            f"  {cell.from_segment} -> {cell.to_segment}: {cell.count} "
            f"({cell.share_of_from * 100:.1f}% of {cell.from_segment})"
            + (f"  e.g. {sample}" if sample else "")
        )
    if len(moves) > 20:
        typer.echo(f"  ... {len(moves) - 20} more transitions (see --json)")
    changed = {k: v for k, v in migration.net_change.items() if v}
    if changed:
        typer.echo("net change: " + ", ".join(f"{k} {v:+d}" for k, v in sorted(changed.items())))
    for label, part in (("old", migration.only_old), ("new", migration.only_new)):
        if part:
            where = ", ".join(f"{n} {name}" for name, n in sorted(part.items()))
            total = sum(part.values())
            typer.echo(f"only in the {label} snapshot: {total} user{'s' * (total != 1)} ({where})")
    for warning in migration.warnings:
        typer.echo(f"  note: {warning}")


@app.command()
def themes(
    llm: LLMOpt = None,
    model: ModelOpt = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Cosine distance for joining a theme (lower = tighter)"),
    ] = None,
    min_mentions: Annotated[
        int | None, typer.Option("--min-mentions", help="Flag themes with fewer mentions")
    ] = None,
    product: Annotated[
        str | None,
        typer.Option("--product", help="Show only this product's themes (ranked within it)"),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Consolidate pain-point mentions into ranked themes (frequency x severity).

    When the corpus has a product (or app) column, themes are clustered, counted, scored and
    ranked within each product; the table groups them by product.
    Example: persona themes --json;  persona themes --product "Acme Mobile"
    """
    with _errors(json_out):
        settings, ws = _settings(
            workspace,
            config,
            **_llm_overrides(llm, model),
            **{
                "themes.distance_threshold": threshold,
                "themes.context_distance_threshold": threshold,
                "themes.short_distance_threshold": threshold,
                "themes.proposal_distance_threshold": threshold,
                "themes.min_mentions": min_mentions,
            },
        )
        _existing(ws)
        from .themes import run_themes

        try:
            with _Progress() as bar:
                summary = run_themes(settings, ws, progress=bar)
        except HostPending as exc:
            _host_exit(exc, json_out)
        from .models import ThemeReport
        from .render import match_product

        report = ThemeReport.model_validate_json(ws.themes.read_text(encoding="utf-8"))
        if product is not None:
            # Checked before anything is printed: an unknown product prints only the error.
            product = match_product((t.product for t in report.themes), product)
        if json_out:
            _emit(summary, True)
            return
        _print_summary(summary)
        _print_themes(report, product, ws)
        if not summary.ok:
            # Failed calls left themes as clustered or ungrouped: a script must see it as --json does.
            raise typer.Exit(EXIT_PARTIAL)


def _print_themes(report: Any, product: str | None, ws: Workspace, limit: int = 25) -> None:
    """The ranked themes table, one block per product when the corpus has several."""
    products = sorted({t.product or "" for t in report.themes})
    if product is not None:
        products = [product]
    for name in products:
        themes = [t for t in report.themes if (t.product or "") == name]
        if name:
            totals = report.product_totals.get(name)
            size = (
                f" ({totals.participants} participants, {totals.tickets} tickets)" if totals else ""
            )
            typer.echo(f"  product: {_printable(name)}{size}")
        typer.echo(
            f"  {'#':>3}  {'theme':<44} {'people':>6} {'tickets':>7} {'sev':>4} {'score':>6}"
        )
        for theme in themes[:limit]:
            f = theme.frequency
            rank = theme.product_rank if theme.product_rank is not None else theme.rank
            typer.echo(
                f"  {rank:>3}  {_fit(_printable(theme.label), 44):<44} {f.participants:>6} "
                f"{f.tickets:>7} {theme.severity.mean:>4.1f} {theme.score:>6.3f}"
            )
        if len(themes) > limit:
            typer.echo(f"  ... {len(themes) - limit} more themes (see --json or {ws.themes})")
        groups = [g for g in report.groups if (g.product or "") == name]
        if groups:
            typer.echo("")
            rank_of = {t.id: t.product_rank or t.rank for t in themes}
            typer.echo(f"  {'#':>3}  {'theme group':<44} {'people':>6} {'tickets':>7}  themes")
            for n, group in enumerate(groups, start=1):
                f = group.frequency
                held = ", ".join(str(rank_of[t]) for t in group.theme_ids if t in rank_of)
                typer.echo(
                    f"  {n:>3}  {_fit(_printable(group.label), 44):<44} {f.participants:>6} "
                    f"{f.tickets:>7}  {held}"
                )


@app.command()
def draft(
    llm: LLMOpt = None,
    model: ModelOpt = None,
    personas: Annotated[
        int | None, typer.Option("--personas", help="How many primary personas")
    ] = None,
    anti_persona: AntiPersonaOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Draft personas and journey maps grounded in scorer stats, themes and quotes.

    Human review decisions are kept; what changed since the previous draft is listed.
    Example: persona draft --anti-persona
    """
    with _errors(json_out):
        settings, ws = _settings(
            workspace, config, **_llm_overrides(llm, model), **{"draft.personas": personas}
        )
        _existing(ws)
        from .pipeline import draft_step

        try:
            summary = draft_step(settings, ws, anti_persona=anti_persona)
        except HostPending as exc:
            _host_exit(exc, json_out)
        _emit(summary, json_out)


@app.command()
def report(
    fmt: Annotated[
        str, typer.Option("--format", help="Comma-separated: md,html,json")
    ] = "md,html,json",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: WORKSPACE/reports)")
    ] = None,
    product: Annotated[
        str | None,
        typer.Option(
            "--product", help="One product's themes only (default folder: reports/product-NAME)"
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Render personas, journey maps and the executive summary as Markdown, HTML and JSON.

    Example: persona report --format html --out site/
    """
    with _errors(json_out):
        settings, ws = _settings(workspace, config)
        _existing(ws)
        from .render import render_report

        summary = render_report(
            settings,
            ws,
            out_dir=out,
            formats=[f.strip() for f in fmt.split(",") if f.strip()],
            product=product,
        )
        _emit(summary, json_out)


@app.command()
def run(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Transcripts, ticket exports and the user table (files or folders)"),
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option("--users", help="User table for segments (default: found among the inputs)"),
    ] = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    chroma_url: ChromaUrlOpt = None,
    anti_persona: AntiPersonaOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the whole pipeline: ingest, extract, segment, themes, draft, report.

    Re-running with nothing changed does no LLM calls; after a stop it resumes.
    Example: persona run transcripts/
    """
    with _errors(json_out):
        settings, ws = _settings(
            workspace,
            config,
            **_llm_overrides(llm, model),
            **{"chroma.url": chroma_url, "draft.anti_persona": anti_persona},
        )
        from .pipeline import run_pipeline
        from .readers import refuse_workspace_inputs

        # Checked before any work: a typo'd --users or the workspace given as input stops here.
        if users is not None and not users.is_file():
            what = "is a folder, not a file" if users.is_dir() else "no such file"
            raise ConfigError(
                f"--users {users}: {what}; give the user table (CSV, TSV, JSONL or Parquet)"
            )
        refuse_workspace_inputs(paths or [], ws.root)
        if settings.llm.resolved_provider() == "offline" and not json_out:
            _err(
                "note: offline mode (no LLM endpoint): drafts come from the deterministic extractive "
                "pipeline and are labelled offline; set OPENAI_API_KEY, or "
                "OPENAI_BASE_URL=http://localhost:11434/v1 for Ollama, or use --llm host from Claude Code/Codex"
            )
        flags = {"llm.model": model, "chroma.url": chroma_url, "draft.anti_persona": anti_persona}
        with _Progress() as bar:
            result = run_pipeline(
                paths or [],
                settings,
                ws,
                users=users,
                progress=bar,
                overrides={k: v for k, v in flags.items() if v is not None},
            )
        if json_out:
            _dump(result)
        else:
            for step in result.steps:
                _print_summary(step)
            if result.pending:
                typer.echo(f"waiting for host answers: {result.pending}")
            index = ws.reports_dir / "index.html"
            if index.exists() and not result.pending:
                typer.echo(f"open {index}")
        if result.pending:
            raise typer.Exit(HostPending.exit_code)
        if not result.ok:
            raise typer.Exit(EXIT_PARTIAL)


@app.command()
def resume(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Host mode: validate the answers the calling agent wrote, then continue the same run.

    The run continues with the paths and flags `persona run` was given.
    Example: persona resume --json
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        _existing(ws)
        from .pipeline import load_run_args, resume_pipeline

        overrides = {**load_run_args(ws).overrides, "llm.provider": "host"}
        settings, ws = _settings(workspace, config, **overrides)
        result = resume_pipeline(settings, ws)
        if json_out:
            if result.nothing_pending:
                _dump({"ok": True, "nothing_pending": True})
            elif result.run is None:
                _dump(result.resume)
            else:
                _dump({"resume": result.resume, "run": result.run.model_dump(mode="json")})
        elif result.nothing_pending:
            typer.echo("nothing to resume: no host-mode requests are pending")
        elif not result.run:
            rejected = result.resume.get("rejected", [])
            missing = result.resume.get("missing", [])
            noun = "answer" if len(rejected) == 1 else "answers"
            parts = [f"{len(rejected)} {noun} failed validation"] if rejected else []
            parts += [f"{len(missing)} request(s) still unanswered"] if missing else []
            typer.echo(f"{'; '.join(parts)}; fix or answer them and run persona resume again:")
            for item in rejected:
                typer.echo(f"  {item['id']}: {'; '.join(item['errors'])[:500]}")
            for rid in missing:
                typer.echo(f"  {rid}: no answer yet")
        else:
            typer.echo(f"accepted {len(result.resume.get('accepted', []))} answers")
            for step in result.run.steps:
                _print_summary(step)
            if result.run.pending:
                typer.echo(f"waiting for host answers: {result.run.pending}")
        if result.nothing_pending:
            return
        if not result.run or result.run.pending:
            raise typer.Exit(HostPending.exit_code)
        if not result.ok:
            raise typer.Exit(EXIT_PARTIAL)


@app.command("eval")
def eval_cmd(
    coding: Annotated[
        Path | None,
        typer.Option(
            "--coding", help="CSV of coded passages: participant (or ticket), code, excerpt"
        ),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="CSV of tickets with a human label column")
    ] = None,
    label_column: Annotated[
        str | None,
        typer.Option("--label-column", help="The label column (default: label, intent, ...)"),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", help="Map columns: participant=Doc,code=Tag,excerpt=Text,label=L"
        ),
    ] = None,
    against: Annotated[
        Path | None, typer.Option("--against", help="Another run's workspace: theme stability")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure a finished run against a human coding, ticket labels or another run.

    Example: persona eval --coding codes.csv --labels tickets.csv --label-column intent
    """
    with _errors(json_out):
        settings, _ = _settings(workspace, config)
        from .eval import evaluate, parse_columns, render_text

        report = evaluate(
            settings.workspace,
            coding=coding,
            labels=labels,
            label_column=label_column,
            columns=parse_columns(columns),
            against=against,
        )
        if json_out:
            _dump(report)
        else:
            typer.echo(render_text(report), nl=False)


# --------------------------------------------------------------------------- review


@review_app.command("export")
def review_export(
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite edited, unapplied files (kept as .bak)")
    ] = False,
    pending: Annotated[
        bool,
        typer.Option(
            "--pending",
            help="Only the fields and journey parts nobody has decided yet (a shorter file; "
            "decided ones stay as they are)",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write one editable YAML review file per persona.

    Example: persona review export && $EDITOR .persona/review/*.yaml && persona review apply
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        _existing(ws)
        from .review_file import export_review

        paths = export_review(ws, force=force, pending_only=pending)
        if json_out:
            _dump([str(p) for p in paths])
        else:
            for path in paths:
                typer.echo(str(path))


ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Reviewer's name (default: $PERSONA_REVIEWER, else your login)"),
]
CommentOpt = Annotated[str, typer.Option("--comment", help="Why: kept with the decision")]


def _print_review(summary: Any, json_out: bool) -> None:
    if json_out:
        _dump(summary)
        return
    for state in summary.personas:
        counts = ", ".join(f"{v} {k}" for k, v in state.counts.items())
        items = f"; {state.items} list item(s) decided" if state.items else ""
        journey = f"; {state.journey} journey map part(s) decided" if state.journey else ""
        typer.echo(f"{state.name} [{state.status}]: {counts}{items}{journey}")
    for note in getattr(summary, "notes", []):
        typer.echo(f"  note: {note}")


@review_app.command("apply")
def review_apply(
    file: Annotated[
        Path | None, typer.Argument(help="Review file (default: every file in WORKSPACE/review)")
    ] = None,
    by: ByOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the decisions in an edited review file.

    Example: persona review apply .persona/review/dana.yaml --by Ana
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        _existing(ws)
        from .review_file import apply_review_file

        _print_review(apply_review_file(ws, file, by=by), json_out)


@review_app.command("set")
def review_set(
    persona: Annotated[str, typer.Argument(help="Persona id, name, first name or segment")],
    field: Annotated[
        str,
        typer.Argument(
            help="Field path (goals, role, needs.must) or one list item, numbered from 0 "
            "(goals.1, quotes.0, pain_points.0, pain_points.0.workaround); a part of the "
            "journey map starts with journey. (journey.key_findings.0, "
            "journey.stages.1.emotion, journey.stages.3.actions.0, "
            "journey.recommendations.0.metric)"
        ),
    ],
    confirm: Annotated[bool, typer.Option("--confirm", help="The draft is right")] = False,
    correct: Annotated[
        list[str] | None,
        typer.Option("--correct", help="Replace with this text (repeat for lists)"),
    ] = None,
    extend: Annotated[
        list[str] | None, typer.Option("--extend", help="Add this (repeat for lists)")
    ] = None,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove", help="Take this list item out (a pain point, goal, stage pain...)"
        ),
    ] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the decision")] = False,
    by: ByOpt = None,
    comment: CommentOpt = "",
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Confirm, correct or extend one persona field or journey map part, or one list item;
    or remove one list item.

    Example: persona review set Dana pain_points.0.workaround --correct "Exports to CSV" --by Ana
    Example: persona review set Dana journey.stages.0.actions.1 --confirm --by Ana
    Example: persona review set Dana pain_points.3 --remove --comment "not this segment"
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        _existing(ws)
        from .review import set_field

        summary = set_field(
            ws,
            persona,
            field,
            confirm=confirm,
            correct=correct,
            extend=extend,
            reset=reset,
            remove=remove,
            by=by,
            comment=comment,
        )
        _print_review(summary, json_out)


@review_app.command("mark")
def review_mark(
    persona: Annotated[str, typer.Argument(help="Persona id, name, first name or segment")],
    draft_status: Annotated[bool, typer.Option("--draft", help="Move back to Draft")] = False,
    by: ByOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark a persona Reviewed (or back to Draft).

    Example: persona review mark Dana
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        _existing(ws)
        from .review import mark_reviewed

        _print_review(mark_reviewed(ws, persona, reviewed=not draft_status, by=by), json_out)


@review_app.command("theme")
def review_theme(
    theme: Annotated[str, typer.Argument(help="Theme id, or its label (as shown in reports)")],
    rename: Annotated[str | None, typer.Option("--rename", help="New label")] = None,
    merge_into: Annotated[
        str | None, typer.Option("--merge-into", help="Theme (id or label) to merge it into")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the rename and merge")] = False,
    by: ByOpt = None,
    comment: CommentOpt = "",
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rename a theme or merge it into another; kept by theme id across re-runs.

    Example: persona review theme "Days / took weeks / mapping" --rename "Slow setup"
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        from .review import decide_theme

        result = decide_theme(
            ws, theme, rename=rename, merge_into=merge_into, reset=reset, by=by, comment=comment
        )
        if json_out:
            _dump(result)
            return
        for source, label in sorted(result.renames.items()):
            typer.echo(f"rename {source}: {label}")
        for source, target in sorted(result.merges.items()):
            typer.echo(f"merge {source} -> {target}")
        typer.echo(
            "recorded: `persona serve` shows it now, report files when next written (`persona "
            "report`); `persona run` applies it to themes.json and the drafts, on every re-run"
        )


@review_app.command("status")
def review_status_cmd(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """How many fields of each persona are confirmed, corrected, extended or pending.

    Example: persona review status --json
    """
    with _errors(json_out):
        _, ws = _settings(workspace, config)
        _existing(ws)
        from .review import review_status

        _print_review(review_status(ws), json_out)


# --------------------------------------------------------------------------- serve


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", "-p", help="Port (0: any free port)")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; keep it loopback")
    ] = "127.0.0.1",
    share: Annotated[
        bool,
        typer.Option("--share", help="Read-only, with participants' names replaced by their ids"),
    ] = False,
    by: ByOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A local web app over the persona library and its review (no model, no network needed).

    Example: persona serve --port 8765   (then open http://127.0.0.1:8765/)
    """
    with _errors():
        _, ws = _settings(workspace, config)
        from .serve import serve as run_server

        def ready(url: str) -> None:
            mode = " (share mode: read-only, names replaced by ids)" if share else ""
            typer.echo(f"serving {ws.root} at {url}{mode}; Ctrl-C to stop", err=True)

        try:
            run_server(ws, host=host, port=port, share=share, reviewer=by, ready=ready)
        except KeyboardInterrupt:
            _err("stopped")


# --------------------------------------------------------------------------- doctor / skill


@app.command()
def doctor(
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Skip the network checks (LLM endpoint, Chroma server)"),
    ] = False,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the setup: embedding model, tokenizer files, LLM endpoint, key and model, Chroma, workspace.

    Each problem comes with one line saying how to fix it; exits 1 if any check fails.

    Example: persona doctor --json
    """
    with _errors(json_out):
        settings, ws = _settings(workspace, config, **_llm_overrides(llm, model))
        from .doctor import format_report, run_doctor

        report = run_doctor(settings, ws, network=not offline)
        if json_out:
            _dump(report)
        else:
            typer.echo(format_report(report))
        if not report.ok:
            failed = report.counts.get("fail", 0)
            _err(f"error: {failed} doctor check(s) failed; each one says how to fix it")
            raise typer.Exit(1)


AGENTS = ("claude", "codex")


@skill_app.command("install")
def skill_install(
    agent: Annotated[
        list[str] | None,
        typer.Option("--agent", help="claude | codex (repeatable) (default: both)"),
    ] = None,
    project: Annotated[
        bool,
        typer.Option(
            "--project/--user",
            help="Install into this project (./.claude, ./.agents) or your home folder",
        ),
    ] = False,
    root: Annotated[
        Path | None, typer.Option("--root", help="Install under this folder instead of ~ or .")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace skill files you edited (kept as .bak)")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Install the persona-synthesis skill where Claude Code and Codex look for skills.

    Example: persona skill install --agent claude --project
    """
    with _errors(json_out):
        from .skill import SkillInstall, install_skill, skill_target

        scope = "project" if project else "user"
        installs = []
        for name in agent or AGENTS:
            if name not in AGENTS:
                raise PersonaError(f"--agent must be claude or codex, got {name!r}")
            paths = install_skill(name, scope, root=root, force=force)  # type: ignore[arg-type]
            target = skill_target(name, scope, root)  # type: ignore[arg-type]
            installs.append(
                SkillInstall(
                    agent=name, scope=scope, path=str(target), files=[str(p) for p in paths]
                )
            )
        if json_out:
            _dump([i.model_dump() for i in installs])
            return
        for item in installs:
            typer.echo(f"{item.agent} ({item.scope}): {item.path}")
        typer.echo("restart the agent to pick the skill up")


@skill_app.command("show")
def skill_show(
    all_pages: Annotated[
        bool, typer.Option("--all", help="Also print the reference pages")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the skill (SKILL.md) that `persona skill install` writes.

    Example: persona skill show --all
    """
    with _errors(json_out):
        from .skill import show_skill, skill_files

        if json_out:
            files = skill_files()
            _dump(files if all_pages else {"SKILL.md": files["SKILL.md"]})
            return
        typer.echo(show_skill(references=all_pages), nl=False)


@app.command()
def schemas(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the JSON Schemas into")
    ] = Path("schemas"),
    json_out: JsonOpt = False,
) -> None:
    """Write the JSON Schemas of every output contract (generated from the pydantic models).

    Example: persona schemas --out schemas/
    """
    with _errors(json_out):
        from .schemas import export_schemas

        paths = [str(p) for p in export_schemas(out)]
        if json_out:
            _dump(paths)
            return
        for path in paths:
            typer.echo(path)


def main() -> None:
    """Console entry point."""
    import logging

    # Instructor logs every retry on stderr; our own summary already says what failed, once.
    logging.getLogger("instructor").addHandler(logging.NullHandler())
    logging.getLogger("instructor").propagate = False
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        # Typer vendors click, so match click's exception classes by name.
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        ctx = getattr(exc, "ctx", None)
        if "NoArgsIsHelpError" in kinds:
            # Bare `persona` (or `persona review`): help is the answer, not an error.
            typer.echo(ctx.get_help() if ctx else "")
            code = 0
        elif "UsageError" in kinds:
            # Exit 2 means "partial results" here, so a mistyped command line exits 1.
            hint = f" (see: {ctx.command_path} --help)" if ctx else ""
            message = f"{exc.format_message()}{hint}"  # type: ignore[attr-defined]
            _err(f"error: {message}")
            if "--json" in sys.argv[1:]:
                # The command never ran, so only the raw command line can say --json was asked.
                error = {"ok": False, "error": message, "kind": "UsageError", "exit_code": 1}
                typer.echo(json.dumps(error, sort_keys=True))
            code = 1
        elif "Abort" in kinds:
            _err("aborted")
            code = 130
        else:
            raise
    raise SystemExit(code if isinstance(code, int) else 0)
