"""segments.json must not depend on how the user table's path was typed (review finding 11)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.segment import score_users, write_segment_outputs
from agent.segment_rules import load_segment_config
from agent.workspace import Workspace


def test_segments_json_is_the_same_however_the_path_is_typed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(corpus / "users.csv", project / "data" / "users.csv")
    monkeypatch.chdir(project)
    config = load_segment_config(None, "weekly")
    typed = [
        Path("data/users.csv"),
        Path("./data/../data/users.csv"),
        (project / "data" / "users.csv").absolute(),
    ]
    outputs = []
    for i, path in enumerate(typed):
        report, assignments = score_users(path, config)
        ws = Workspace(tmp_path / f"ws{i}")
        try:
            write_segment_outputs(report, assignments, ws)
        finally:
            assignments.close()
        outputs.append(ws.segments.read_bytes())
        # The file name is stored: it says which table, and nothing about where it was run.
        assert report.source == "users.csv"
    assert outputs[0] == outputs[1] == outputs[2]
