"""The workspace folder: every artefact a run produces, each under one stable name.

Everything here can be rebuilt from the inputs except `review/` (human decisions) and
`redaction_map.json` (the only way back from a redacted token to the original text).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

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


def write_text_atomic(path: Path, text: str, private: bool = False) -> None:
    """Write via a temp file and rename, so a crash never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, file_mode(private))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def iter_models(path: Path, model: type[M]) -> Iterator[M]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield model.model_validate_json(line)
