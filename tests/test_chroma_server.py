"""Round trip through a real Chroma server on 127.0.0.1 (`chroma run`), via --chroma-url."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path):
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("chroma CLI not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path / "server-db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_ingest_and_search_through_a_chroma_server(tmp_path: Path, chroma_server: str) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "P01-kim.txt").write_text(
        "Interviewer: What is hardest?\n\nKim: The bank feed disconnects every week and I reconnect it by hand.\n"
        "\nInterviewer: Anything else?\n\nKim: Our QuickBooks export duplicates expenses.\n"
    )
    runner = CliRunner()
    common = ["--workspace", str(tmp_path / "ws"), "--chroma-url", chroma_server]
    result = runner.invoke(app, ["ingest", str(data), "--embedder", "hash", "--json", *common])
    assert result.exit_code == 0, result.output
    # stdout only: progress lines go to stderr, which CliRunner mixes into .output.
    assert json.loads(result.stdout)["counts"]["chunks_embedded"] == 4
    # Nothing was written to a local Chroma folder: the vectors live on the server.
    assert not (tmp_path / "ws" / "chroma").exists()
    env = {"PERSONA_EMBEDDER": "hash"}
    result = runner.invoke(
        app, ["search", "bank feed disconnects", "-n", "1", "--json", *common], env=env
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["speaker"] == "Kim" and "bank feed" in hits[0]["text"]


def test_two_workspaces_share_a_server_without_touching_each_other(
    tmp_path: Path, chroma_server: str
) -> None:
    from agent.config import load_settings
    from agent.ingest import ingest
    from agent.search import search
    from agent.workspace import Workspace

    projects = {
        "a": "Kim: The bank feed disconnects every week and I reconnect it by hand.\n",
        "b": "Lee: Our QuickBooks export duplicates every single expense line.\n",
    }
    spaces = {}
    for name, text in projects.items():
        data = tmp_path / f"in-{name}"
        data.mkdir()
        (data / f"P01-{name}.txt").write_text("Interviewer: What is hardest?\n\n" + text)
        settings = load_settings(
            None,
            {
                "workspace": tmp_path / f"ws-{name}",
                "embeddings.provider": "hash",
                "chroma.url": chroma_server,
            },
        )
        ws = Workspace(settings.workspace)
        summary = ingest([data], settings, ws)
        # B's ingest must not count A's chunks as stale, nor delete them.
        assert summary.counts["chunks_deleted"] == 0 and summary.counts["chunks_embedded"] == 2
        spaces[name] = (settings, ws)
    for name, (settings, ws) in spaces.items():
        hits = search("bank feed QuickBooks export", settings, ws, n=10)
        assert len(hits) == 2 and all(f"P01-{name}.txt" in h.source for h in hits), hits
    # Re-ingesting A leaves B's evidence where it was.
    settings_a, ws_a = spaces["a"]
    assert ingest([tmp_path / "in-a"], settings_a, ws_a).counts["chunks_deleted"] == 0
    settings_b, ws_b = spaces["b"]
    assert any("QuickBooks" in h.text for h in search("QuickBooks", settings_b, ws_b, n=2))
