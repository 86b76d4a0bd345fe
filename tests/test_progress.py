"""Progress on stderr: a bar on a terminal, plain periodic lines for CI, agents and log files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import _Progress, app

REPO = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(?P<stage>[a-z]+): (?P<done>\d+)/(?P<total>\d+) \((?P<pct>\d+)%\) \d+\.\ds$")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    data = tmp_path / "in"
    data.mkdir()
    for i in range(5):
        (data / f"P0{i}.txt").write_text(
            f"Interviewer: What is hard?\n\nP{i}: The bank feed drops transactions, week {i}.\n"
        )
    return data


def _lines(stderr: str) -> list[re.Match[str]]:
    found = [LINE.match(line) for line in stderr.splitlines()]
    assert all(found), stderr  # nothing else on stderr in a successful run
    return [m for m in found if m]


def test_plain_lines_when_stderr_is_not_a_terminal(inputs: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["ingest", str(inputs), "-w", str(tmp_path / "ws"), "--embedder", "hash", "--json"],
        env={"PERSONA_PROGRESS_SECONDS": "0"},  # a line on every report, to see them all
    )
    assert result.exit_code == 0, result.stderr
    # stdout is the JSON summary and nothing else.
    assert json.loads(result.stdout)["counts"]["files"] == 5
    lines = _lines(result.stderr)
    read = [(int(m["done"]), int(m["total"])) for m in lines if m["stage"] == "read"]
    assert read == [(n, 5) for n in range(1, 6)]
    assert [m["pct"] for m in lines if m["stage"] == "read"] == ["20", "40", "60", "80", "100"]
    assert lines[-1]["stage"] == "embed" and lines[-1]["done"] == lines[-1]["total"]


def test_by_default_a_quick_stage_prints_only_its_final_line(inputs: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", str(inputs), "-w", str(tmp_path / "ws"), "--embedder", "hash"]
    )
    assert result.exit_code == 0, result.stderr
    lines = _lines(result.stderr)
    assert [(m["stage"], m["pct"]) for m in lines] == [("read", "100"), ("embed", "100")]


def test_any_stage_gets_periodic_lines_and_a_last_one(capsys: pytest.CaptureFixture[str]) -> None:
    # "themes" is reported by no library stage today: the CLI side takes any name.
    with _Progress(interval=0.2) as progress:
        progress("themes", 1, 4)  # too soon after the start for a line
        time.sleep(0.25)
        progress("themes", 2, 4)
        progress("themes", 3, 4)  # too soon after the last line
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [LINE.match(line) for line in captured.err.splitlines()]
    assert [(m["done"], m["pct"]) for m in lines if m] == [("2", "50"), ("3", "75")]
    assert len(lines) == 2
    # A command that fails says so in its error line; no progress line after it.
    with pytest.raises(RuntimeError), _Progress(interval=60) as progress:
        progress("themes", 1, 4)
        raise RuntimeError("boom")
    assert capsys.readouterr().err == ""


def test_a_bar_and_no_plain_lines_on_a_terminal(inputs: Path, tmp_path: Path) -> None:
    """Through a real pseudo-terminal: rich draws (and clears) its bar, no plain lines."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "PERSONA_PROGRESS_SECONDS": "0"}
    command = ["ingest", str(inputs), "-w", str(tmp_path / "ws"), "--embedder", "hash", "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", *command],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    stdout, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break  # EIO: the terminal's other end is closed
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, terminal
    assert json.loads(stdout)["counts"]["files"] == 5
    assert "\x1b[" in terminal and "5/5" in terminal  # rich drew its bar, with M/N
    plain = [line for line in terminal.splitlines() if LINE.match(line.strip())]
    assert plain == []


def test_a_stage_that_announces_its_start_is_timed_from_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A stage of a later step must not count the earlier steps' time as its own.
    with _Progress(interval=60) as progress:
        progress("extract", 1, 1)
        time.sleep(0.4)  # the rest of the earlier step, reporting nothing
        progress("themes embed", 0, 2)
        progress("themes embed", 2, 2)
        progress("themes count", 1, 1)  # no start announced: timed from the report before
    timed = re.compile(r"^(?P<stage>[a-z ]+): \d+/\d+ \(\d+%\) (?P<secs>\d+\.\d)s$")
    err = capsys.readouterr().err.splitlines()
    lines = {m["stage"]: float(m["secs"]) for m in map(timed.match, err) if m}
    assert set(lines) == {"extract", "themes embed", "themes count"}
    assert lines["themes embed"] < 0.2
    assert lines["themes count"] < 0.2


def test_embedding_reports_as_it_goes_well_below_a_block(tmp_path: Path) -> None:
    # 300 distinct tickets: one embedding block, yet progress moves every PROGRESS_STEP texts.
    data = tmp_path / "in"
    data.mkdir()
    rows = "\n".join(f"T{i},The export number {i} failed at step {i * 7}." for i in range(300))
    (data / "tickets.csv").write_text("id,description\n" + rows + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["ingest", str(data), "-w", str(tmp_path / "ws"), "--embedder", "hash", "--json"],
        env={"PERSONA_PROGRESS_SECONDS": "0"},
    )
    assert result.exit_code == 0, result.stderr
    embed = [
        (int(m["done"]), int(m["total"])) for m in _lines(result.stderr) if m["stage"] == "embed"
    ]
    assert embed == [(128, 300), (256, 300), (300, 300)]
