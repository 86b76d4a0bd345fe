"""One writer per workspace: a second writing command waits or is refused, never interleaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.lock import LOCK_FILE, holder, workspace_lock

INTERVIEW = """---
participant_id: P{n:02d}
---
Interviewer: What went wrong last month?
Dana: The bank feed broke again and I lost a whole day fixing it. It is so frustrating.
"""


def _corpus(folder: Path, n: int, start: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / f"p{i:02d}.md").write_text(INTERVIEW.format(n=i), encoding="utf-8")
    return folder


def _hold(ws: Path, command: str, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the workspace lock, as a running `persona` command would."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from agent.lock import workspace_lock
        with workspace_lock({str(ws)!r}, {command!r}):
            print("held", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _env(**extra: str) -> dict[str, str]:
    return {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline", **extra}


def test_a_busy_workspace_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = _hold(ws, "persona run", 30)
    try:
        result = CliRunner().invoke(
            app,
            ["ingest", str(_corpus(tmp_path / "in", 1)), "-w", str(ws), "--json"],
            env=_env(PERSONA_LOCK_WAIT="0"),
        )
        assert result.exit_code == 1
        error = json.loads(result.stdout)
        assert error["kind"] == "WorkspaceBusy"
        assert f"`persona run` (pid {proc.pid}) since" in error["error"]
        # Nothing was written by the refused command.
        assert not (ws / "chunks.jsonl").exists()
    finally:
        proc.kill()
        proc.wait()


def test_a_writer_waits_for_a_short_holder_then_runs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = _hold(ws, "persona review set", 1.0)
    began = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["ingest", str(_corpus(tmp_path / "in", 2)), "-w", str(ws)],
        env=_env(PERSONA_LOCK_WAIT="30"),
    )
    proc.wait()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began >= 0.5
    assert "waiting: `persona review set`" in result.stderr
    assert "2 interviews" in result.stdout


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = _hold(ws, "persona run", 60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The file still names the dead holder; the kernel released its lock with it.
    assert holder(ws)["pid"] == proc.pid
    result = CliRunner().invoke(
        app,
        ["ingest", str(_corpus(tmp_path / "in", 1)), "-w", str(ws)],
        env=_env(PERSONA_LOCK_WAIT="0"),
    )
    assert result.exit_code == 0, result.output
    assert holder(ws)["command"] == "persona ingest"
    assert (ws / LOCK_FILE).exists()


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with workspace_lock(ws, "outer"), workspace_lock(ws, "inner"):
        assert holder(ws)["command"] == "outer"
        code = (
            "from agent.lock import workspace_lock\n"
            f"with workspace_lock({str(ws)!r}, 'other', wait=0): pass\n"
        )
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert other.returncode != 0 and "workspace busy: `outer`" in other.stderr
    # Released on the way out: another process gets it at once.
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr


def test_a_command_needing_a_workspace_creates_none(tmp_path: Path) -> None:
    ws = tmp_path / "nowhere"
    result = CliRunner().invoke(app, ["extract", "-w", str(ws)], env=_env())
    assert result.exit_code == 1
    assert not ws.exists()


@pytest.mark.slow
def test_ingest_during_a_run_waits_and_loses_nothing(tmp_path: Path) -> None:
    """The probe's case: `persona ingest extra/` during `persona run` kept its chunks."""
    ws = tmp_path / "ws"
    main = _corpus(tmp_path / "main", 6)
    extra = _corpus(tmp_path / "extra", 3, start=50)
    env = {**os.environ, **_env(PERSONA_LOCK_WAIT="300")}
    run = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", str(main), "-w", str(ws)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (ws / LOCK_FILE).exists() or not holder(ws):
        assert time.monotonic() < deadline, "the run never took the lock"
        time.sleep(0.02)
    ingest = subprocess.run(
        [sys.executable, "-m", "agent", "ingest", str(extra), "-w", str(ws), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert ingest.returncode == 0, ingest.stderr
    rows = [json.loads(line) for line in (ws / "chunks.jsonl").read_text().splitlines()]
    sources = {Path(r["source"]).parent.name for r in rows}
    # The extra interviews are still there after the run finished: nothing was deleted.
    assert sources == {"main", "extra"}
    assert len({r["participant_id"] for r in rows}) == 9
