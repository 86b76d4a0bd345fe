"""The `persona` command: parse, make one library call, render. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from .config import Settings, load_settings
from .errors import PersonaError
from .models import StepSummary
from .workspace import Workspace

app = typer.Typer(
    help="Draft personas and journey maps from interviews, tickets and usage data, "
    "grounded in verbatim quotes and scorer numbers.\n\n"
    "Quick start (offline, no API key): persona run transcripts/",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
review_app = typer.Typer(help="Confirm, correct or extend drafted personas (human review).", no_args_is_help=True)
skill_app = typer.Typer(help="The Claude Code / Codex skill.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(skill_app, name="skill")

WorkspaceOpt = Annotated[
    Path | None, typer.Option("--workspace", "-w", help="Workspace folder [default: ./.persona or $PERSONA_WORKSPACE]")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config file [default: ./persona.toml]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout")]
LLMOpt = Annotated[
    str | None, typer.Option("--llm", help="openai | offline | host [default: openai if a key or base URL is set]")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name [default: $PERSONA_MODEL or gpt-4o-mini]")]

EXIT_PARTIAL = 2


def _settings(
    workspace: Path | None, config: Path | None, **overrides: Any
) -> tuple[Settings, Workspace]:
    settings = load_settings(config, {"workspace": workspace, **overrides})
    return settings, Workspace(settings.workspace)


def _err(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Expected errors become one line on stderr and a non-zero exit, never a traceback."""
    try:
        yield
    except PersonaError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _err("interrupted: finished work is saved; run the same command again to resume")
        raise typer.Exit(130) from None


class _Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def simple(self, stage: str) -> Callable[[int, int], None]:
        return lambda done, total: self(stage, done, total)


def _emit(summary: StepSummary, json_out: bool, human: Callable[[StepSummary], None] | None = None) -> None:
    if json_out:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        (human or _print_summary)(summary)
    if not summary.ok:
        raise typer.Exit(EXIT_PARTIAL)


def _print_summary(summary: StepSummary) -> None:
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.counts.items())
    mode = f" [{summary.mode} mode]" if summary.mode else ""
    typer.echo(f"{summary.step}{mode}: {counts} in {summary.seconds:.1f}s")
    for note in summary.notes:
        typer.echo(f"  note: {note}")
    for name, path in summary.outputs.items():
        typer.echo(f"  {name}: {path}")
    if summary.skipped:
        typer.echo(f"  skipped {len(summary.skipped)}:")
        for item in summary.skipped[:20]:
            where = f"{item.path}:{item.line}" if item.line else item.path
            typer.echo(f"    {where}: {item.reason}")
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
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: .txt .md .vtt .srt .docx .json .jsonl .csv")],
    chroma_url: Annotated[str | None, typer.Option("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000")] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="minilm | openai | hash")] = None,
    redact: Annotated[bool | None, typer.Option("--redact/--no-redact", help="Redact emails, phones and card numbers before embedding")] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Read transcripts and ticket exports, chunk them by speaker turn and embed them into Chroma.

    Example: persona ingest transcripts/ --json
    """
    with _errors():
        settings, ws = _settings(
            workspace, config, **{"chroma.url": chroma_url, "embeddings.provider": embedder, "ingest.redact": redact}
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
    participant: Annotated[str | None, typer.Option("--participant", help="Participant or user id")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Only users in this scorer segment")] = None,
    role: Annotated[str | None, typer.Option("--role", help="participant | interviewer | customer")] = None,
    meta: Annotated[list[str] | None, typer.Option("--meta", help="Metadata filter KEY=VALUE (repeatable)")] = None,
    chroma_url: Annotated[str | None, typer.Option("--chroma-url", help="Chroma server URL")] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Semantic search over the ingested evidence.

    Example: persona search "bank feed keeps disconnecting" --kind interview -n 5
    """
    with _errors():
        settings, ws = _settings(workspace, config, **{"chroma.url": chroma_url})
        from .search import search as run_search

        filters = {}
        for item in meta or []:
            if "=" not in item:
                raise PersonaError(f"--meta expects KEY=VALUE, got {item!r}")
            key, value = item.split("=", 1)
            filters[key] = value
        hits = run_search(
            query, settings, ws, n=n, kind=kind, participant=participant, segment=segment,  # type: ignore[arg-type]
            role=role, metadata=filters,
        )
        if json_out:
            _dump([h.model_dump() for h in hits])
            return
        if not hits:
            typer.echo("no results (has anything been ingested? try: persona ingest transcripts/)")
        for rank, hit in enumerate(hits, start=1):
            where = hit.source + (f":{hit.line}" if hit.line else "") + (f" @{hit.time}" if hit.time else "")
            who = hit.participant_id or hit.ticket_id or ""
            typer.echo(f"{rank:>2}. [{hit.score:.2f}] {where}  {hit.speaker} ({hit.role}{', ' + who if who else ''})")
            text = " ".join(hit.text.split())
            typer.echo("    " + (text if len(text) < 400 else text[:400] + "..."))


@app.command()
def schemas(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the JSON Schemas into")] = Path("schemas"),
) -> None:
    """Write the JSON Schemas of every output contract (generated from the pydantic models).

    Example: persona schemas --out schemas/
    """
    with _errors():
        from .schemas import export_schemas

        for path in export_schemas(out):
            typer.echo(str(path))


def main() -> None:
    """Console entry point."""
    app()
