"""The errors a newcomer hits first: one clear line on stderr and a non-zero exit, fast."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app

TRANSCRIPT = "Interviewer: What is hard?\n\nDana: The bank feed keeps disconnecting and I have to reconnect it.\n"


@pytest.fixture
def ingested(tmp_path: Path) -> Path:
    data = tmp_path / "in"
    data.mkdir()
    (data / "P01-dana.txt").write_text(TRANSCRIPT)
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["ingest", str(data), "-w", str(ws), "--embedder", "hash"])
    assert result.exit_code == 0, result.output
    return ws


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.stderr
    # An informational `note:` may precede it; the failure itself is exactly one line.
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith("note:")
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_wrong_path_says_what_to_give(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope"), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "no such file or directory" in line and "give a folder of transcripts" in line
    # A typo of a name beside it is named.
    (tmp_path / "transcripts").mkdir()
    result = CliRunner().invoke(
        app, ["run", str(tmp_path / "transcrpts"), "-w", str(tmp_path / "ws")]
    )
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert line.endswith(f"no such file or directory; did you mean {tmp_path / 'transcripts'}?")


def test_folder_without_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["run", str(tmp_path / "empty"), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1
    assert "no readable inputs" in _one_error_line(result)


def test_openai_without_a_key_is_one_line(ingested: Path) -> None:
    result = CliRunner().invoke(app, ["extract", "--llm", "openai", "-w", str(ingested)])
    assert result.exit_code == 1
    assert "no API key" in _one_error_line(result)


def test_endpoint_down_fails_fast_with_a_fix(ingested: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    began = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["extract", "-w", str(ingested)],
        env={"OPENAI_BASE_URL": base, "PERSONA_LLM": "openai"},
    )
    assert time.monotonic() - began < 10, "a refused connection is not retried for a minute"
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "connection refused" in line and "OPENAI_BASE_URL" in line


def test_a_mistyped_command_line_exits_1_not_2(tmp_path: Path) -> None:
    """Exit 2 means partial results, so usage errors must not use it (click's default)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--bogus"], cwd=repo, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stderr.strip().startswith("error: No such option: --bogus")
    version = subprocess.run(
        [sys.executable, "-m", "agent", "--version"], cwd=repo, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("persona-agent ")


def test_resume_with_nothing_pending_changes_nothing(ingested: Path) -> None:
    result = CliRunner().invoke(app, ["resume", "-w", str(ingested)])
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.stdout
    assert not (ingested / "host").exists() and not (ingested / "last_run.json").exists()


def test_json_errors_also_answer_on_stdout(tmp_path: Path) -> None:
    import json

    missing = tmp_path / "nope.csv"
    result = CliRunner().invoke(
        app, ["segment", str(missing), "-w", str(tmp_path / "ws"), "--json"]
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["exit_code"] == 1
    assert payload["kind"] == "InputError" and "nope.csv" in payload["error"]
    assert "nope.csv" in _one_error_line(result)  # stderr still has the one line
    # Without --json, stdout stays empty.
    plain = CliRunner().invoke(app, ["segment", str(missing), "-w", str(tmp_path / "ws")])
    assert plain.exit_code == 1 and plain.stdout == ""


def test_a_mistyped_command_line_with_json_also_answers_on_stdout(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "agent", "themes", "--threshold", "abc", "--json"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    payload = json.loads(done.stdout)
    assert payload["ok"] is False and payload["kind"] == "UsageError"
    assert "--threshold" in payload["error"] and "--threshold" in done.stderr
