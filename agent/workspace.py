"""The workspace folder: every artefact a run produces, each under one stable name.

Everything here can be rebuilt from the inputs except `review/` (human decisions) and
`redaction_map.json` (the only way back from a redacted token to the original text).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .errors import InputError

M = TypeVar("M", bound=BaseModel)


class Workspace:
    """Paths and atomic JSON/JSONL I/O inside one workspace directory."""

    def __init__(self, root: Path | str) -> None:
        # Absolute, so paths written into the workspace (host answer paths) hold from any cwd.
        self.root = Path(root).absolute()

    def ensure(self) -> Workspace:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    # Paths are properties so every module names a file the same way.
    @property
    def chroma_dir(self) -> Path:
        return self.root / "chroma"

    @property
    def documents(self) -> Path:
        return self.root / "documents.jsonl"

    @property
    def chunks(self) -> Path:
        return self.root / "chunks.jsonl"

    @property
    def ingest_index(self) -> Path:
        return self.root / "ingest_index.json"

    @property
    def mentions(self) -> Path:
        return self.root / "mentions.jsonl"

    @property
    def observations(self) -> Path:
        return self.root / "observations.jsonl"

    @property
    def extract_state(self) -> Path:
        return self.root / "extract_state.json"

    @property
    def themes(self) -> Path:
        return self.root / "themes.json"

    @property
    def segments(self) -> Path:
        return self.root / "segments.json"

    @property
    def cohorts(self) -> Path:
        return self.root / "cohorts.json"

    @property
    def assignments(self) -> Path:
        return self.root / "segment_assignments.csv"

    @property
    def personas(self) -> Path:
        return self.root / "personas.json"

    @property
    def llm_cache(self) -> Path:
        return self.root / "llm_cache.sqlite"

    @property
    def calls_log(self) -> Path:
        return self.root / "calls.jsonl"

    @property
    def host_dir(self) -> Path:
        return self.root / "host"

    @property
    def review_dir(self) -> Path:
        return self.root / "review"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def redaction_map(self) -> Path:
        return self.root / "redaction_map.json"


@cache
def _umask() -> int:
    # os.umask can only be read by setting it; done once, before any worker threads write.
    current = os.umask(0o022)
    os.umask(current)
    return current


def file_mode(private: bool = False) -> int:
    """The mode a plain open() would give a new file (0600 for private ones, e.g. PII maps).

    mkstemp creates 0600 files; reports and workspace files written through it would otherwise
    be unreadable to the rest of a team sharing the folder.
    """
    return 0o600 if private else 0o666 & ~_umask()


# `.NAME.PID.XXXXXXXX.tmp`: hidden, so nobody mistakes it for an output, and carrying the writer's
# pid, so a later run can tell a temp file whose writer was killed from one still being written.
TEMP_FILE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp$")
# A temp file this old is stale whoever wrote it (a pid can be reused, or belong to another host).
STALE_TEMP_SECONDS = 3600.0


def write_text_atomic(path: Path, text: str, private: bool = False) -> None:
    """Write via a temp file and rename, so a crash never leaves half a file behind."""
    # The rename comes only after the whole text is written: a kill leaves the old file (or none)
    # and at most a hidden temp file, which `remove_stale_temps` clears on a later run.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        os.chmod(tmp, file_mode(private))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":
        # Ours is alive; on Windows, os.kill(pid, 0) would terminate the process, so only age counts.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def remove_stale_temps(folder: Path) -> list[str]:
    """Delete the temp files `write_text_atomic` left in `folder` when its writer died."""
    # Only names of exactly that pattern, and only when the writing process is gone or the file
    # is over an hour old: a write in progress elsewhere is left alone.
    removed: list[str] = []
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return removed
    now = time.time()
    for entry in entries:
        match = TEMP_FILE.match(entry.name)
        if not match:
            continue
        try:
            info = entry.lstat()
        except FileNotFoundError:
            continue  # its writer just renamed it
        if not stat.S_ISREG(info.st_mode):
            continue  # never follow a link or touch a folder
        if _pid_alive(int(match["pid"])) and now - info.st_mtime < STALE_TEMP_SECONDS:
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def dump_json(data: object) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, data: object) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    write_text_atomic(path, dump_json(data))


def read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def write_models(path: Path, items: Iterable[BaseModel]) -> int:
    """Write models as JSON lines (atomically); returns how many were written."""
    lines = [
        json.dumps(m.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) for m in items
    ]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_models(path: Path, model: type[M]) -> list[M]:
    return list(iter_models(path, model))


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    """JSONL rows as dicts, none when the file is missing (no model validation: a ticket corpus
    can be millions of lines); a broken line is an InputError naming file and line."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(str(path), f"not valid JSON: {exc.msg}", line=n) from exc


def iter_models(path: Path, model: type[M]) -> Iterator[M]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield model.model_validate_json(line)
