"""A drafted workspace reviewed through the CLI, shared by the review-workflow tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.workspace import Workspace

from ._render_helpers import make_workspace


def reviewed_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reviewer: str) -> Workspace:
    """The render fixtures' workspace, with a fixed clock and a default reviewer's name."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    monkeypatch.setenv("PERSONA_REVIEWER", reviewer)
    return make_workspace(tmp_path / "ws")


def cli(ws: Workspace, *args: str | Path, code: int = 0) -> Any:
    """`persona ARGS -w WS`, asserting its exit code."""
    result = CliRunner().invoke(app, [*(str(a) for a in args), "-w", str(ws.root)])
    assert result.exit_code == code, result.output
    return result


def edit(path: Path, block: str, **keys: object) -> None:
    """Change (or add) keys of one block the way a person would in an editor."""
    lines = path.read_text().splitlines()
    start = lines.index(f"  {block}:")
    for key, value in keys.items():
        end = next(
            (i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")),
            len(lines),
        )
        found = [i for i in range(start + 1, end) if lines[i].startswith(f"    {key}:")]
        if found:
            lines[found[0]] = f"    {key}: {json.dumps(value)}"
            # The key's old nested lines (a claim's `text:`) go with it.
            while found[0] + 1 < len(lines) and lines[found[0] + 1].startswith("      "):
                del lines[found[0] + 1]
        else:
            lines.insert(start + 1, f"    {key}: {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
