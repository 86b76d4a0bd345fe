"""Files the workspace writes get the permissions a plain open() would give them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.redact import Redactor
from agent.workspace import file_mode, write_json, write_text_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_follow_the_umask_and_the_redaction_map_stays_private(
    tmp_path: Path,
) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    assert file_mode() == expected and file_mode(private=True) == 0o600
    write_text_atomic(tmp_path / "report.md", "# hello\n")
    write_json(tmp_path / "data.json", {"a": 1})
    assert _mode(tmp_path / "report.md") == expected
    assert _mode(tmp_path / "data.json") == expected
    redactor = Redactor(tmp_path / "redaction_map.json")
    assert "[EMAIL_1]" in redactor.redact("write to dana@example.com")
    redactor.save()
    assert _mode(tmp_path / "redaction_map.json") == 0o600
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind
