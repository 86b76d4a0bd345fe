"""The report folder holds reports only: files of a persona that is gone are removed (only ours,
only unedited), an interrupted write leaves nothing a user mistakes for a report, and `--out`
onto a file is one clear error."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.render import MANIFEST
from agent.workspace import Workspace, remove_stale_temps

from ._render_helpers import journey, make_workspace, personas, write_personas

REPO = Path(__file__).resolve().parent.parent


def _report(ws: Workspace, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["report", "-w", str(ws.root), *args])
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws")


def _visible(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def test_files_of_a_persona_that_is_gone_are_removed(ws: Workspace) -> None:
    assert _report(ws).exit_code == 0
    reports = ws.reports_dir
    assert {"persona-sam.md", "journey-sam.md"} <= _visible(reports)
    # Files the tool did not write stay, whatever their names.
    (reports / "notes.md").write_text("my notes")
    (reports / "persona-mine.md").write_text("a persona I wrote by hand")
    dana = personas()[0]
    write_personas(ws, [dana], [journey("p-dana")])

    result = _report(ws, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert _visible(reports) == {
        "index.html",
        "report.json",
        "summary.md",
        "persona-dana.md",
        "journey-dana.md",
        "notes.md",
        "persona-mine.md",
    }
    assert any(
        "removed 2 report file(s)" in n and "journey-sam.md, persona-sam.md" in n
        for n in summary["notes"]
    )
    manifest = json.loads((reports / MANIFEST).read_text())
    assert set(manifest["files"]) == set(summary["outputs"])


def test_an_edited_report_file_is_kept_and_named(ws: Workspace) -> None:
    assert _report(ws).exit_code == 0
    edited = ws.reports_dir / "persona-sam.md"
    edited.write_text(edited.read_text() + "\nReviewer's note: keep this.\n")
    write_personas(ws, [personas()[0]], [journey("p-dana")])
    result = _report(ws)
    assert result.exit_code == 0
    assert edited.exists() and "keep this" in edited.read_text()
    assert not (ws.reports_dir / "journey-sam.md").exists()  # unedited: removed
    assert "kept persona-sam.md: no longer produced, but edited" in result.stdout
    # No longer ours: a later render leaves it alone without saying so again.
    assert "kept" not in _report(ws).stdout


def test_rendering_one_format_leaves_the_others(ws: Workspace) -> None:
    assert _report(ws).exit_code == 0
    write_personas(ws, [personas()[0]], [journey("p-dana")])
    assert _report(ws, "--format", "html").exit_code == 0
    # The Markdown of the earlier full render is not touched by an HTML-only render...
    assert (ws.reports_dir / "persona-sam.md").exists()
    # ...and is removed by the next Markdown render, which no longer produces it.
    assert _report(ws, "--format", "md").exit_code == 0
    assert not (ws.reports_dir / "persona-sam.md").exists()


def test_a_tampered_manifest_never_deletes_anything_outside_the_reports(
    ws: Workspace, tmp_path: Path
) -> None:
    ws.reports_dir.mkdir(parents=True)
    outside = tmp_path / "precious.md"
    outside.write_text("x")
    inside = ws.reports_dir / "persona-x.md"
    inside.write_text("x")
    digest = hashlib.sha256(b"x").hexdigest()
    (ws.reports_dir / MANIFEST).write_text(
        json.dumps({"files": {"../../precious.md": digest, "persona-x.md/../x": digest}})
    )
    assert _report(ws).exit_code == 0
    assert outside.exists() and inside.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_our_own_pattern_are_cleared_at_the_start_of_a_render(
    ws: Workspace,
) -> None:
    reports = ws.reports_dir
    reports.mkdir(parents=True)
    dead = reports / f".summary.md.{_dead_pid()}.ab12cd34.tmp"
    dead.write_text("")  # what a kill between creating and writing it leaves
    old = reports / f".index.html.{os.getpid()}.zz99yy88.tmp"
    old.write_text("half")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    # In progress in a live process, and files that only look similar: all left alone.
    live = reports / f".report.json.{os.getpid()}.qq11ww22.tmp"
    live.write_text("{")
    mine = [reports / ".notes.tmp", reports / "draft.tmp", reports / ".summary.md.tmp"]
    for path in mine:
        path.write_text("mine")
    result = _report(ws)
    assert result.exit_code == 0
    assert not dead.exists() and not old.exists()
    assert live.exists() and all(p.exists() for p in mine)
    assert "removed 2 temp file(s) an interrupted write left" in result.stdout


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from agent import workspace

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

# SIGKILL at the worst moment: {moment}.
{patch} = killed
workspace.write_text_atomic(Path(sys.argv[1]), "the new report\\n")
"""


@pytest.mark.parametrize(
    ("moment", "patch"),
    [
        ("the temp file exists, nothing written yet", "os.chmod"),
        ("the text is written, not yet renamed", "os.replace"),
    ],
)
def test_a_kill_mid_write_leaves_the_old_report_and_only_a_hidden_temp(
    tmp_path: Path, moment: str, patch: str
) -> None:
    target = tmp_path / "reports" / "summary.md"
    target.parent.mkdir()
    target.write_text("the old report\n")
    script = KILLED_WRITER.format(moment=moment, patch=patch)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(target)], cwd=REPO, capture_output=True, timeout=60
    )
    assert proc.returncode == -9, proc.stderr
    # Never a 0-byte or half report: the old one is intact.
    assert target.read_text() == "the old report\n"
    left = [p.name for p in target.parent.iterdir() if p != target]
    assert len(left) == 1 and left[0].startswith(".summary.md.") and left[0].endswith(".tmp")
    assert remove_stale_temps(target.parent) == left
    assert [p.name for p in target.parent.iterdir()] == ["summary.md"]


@pytest.mark.parametrize("json_out", [False, True])
def test_out_onto_a_file_is_one_clear_error(ws: Workspace, tmp_path: Path, json_out: bool) -> None:
    existing = tmp_path / "report.html"
    existing.write_text("not a folder")
    args = ["--out", str(existing), *(["--json"] if json_out else [])]
    result = _report(ws, *args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {existing}: is a file; the report needs a folder there (give --out a folder)"
    ]
    assert existing.read_text() == "not a folder"
    if json_out:
        error = json.loads(result.stdout)
        assert error == {
            "ok": False,
            "error": lines[0].removeprefix("error: "),
            "kind": "OutputError",
            "exit_code": 1,
        }
    else:
        assert result.stdout == ""


def test_out_into_a_folder_that_cannot_be_created(ws: Workspace, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = _report(ws, "--out", str(blocker / "site"), "--json")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {blocker / 'site'}: cannot create the report folder (Not a directory)"
    )
    assert json.loads(result.stdout)["kind"] == "OutputError"
