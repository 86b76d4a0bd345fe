"""Steps whose inputs did not change are not redone.

A step that may skip itself records, after it wrote its outputs, a fingerprint of everything it
read (file contents by sha256, the settings it used, the package's own code) and the sha256 of
each output, in `<workspace>/step_state.json`. The next run computes the fingerprint again; when
it matches and every output still has the recorded digest, the step keeps its outputs and
replays the recorded summary. Any change upstream (a file, a setting, a new version of the
code) or any other writer touching an output (an LLM extraction, a withdrawal's purge, a hand
edit, a deleted file) makes the step run again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .ids import canonical_json
from .models import StepSummary
from .workspace import Workspace, read_json, write_json

STATE_FILE = "step_state.json"
# Bumped when the state's meaning changes, so an older file is never trusted.
STATE_VERSION = 1
PACKAGE = Path(__file__).resolve().parent
PROMPTS = PACKAGE.parent / "prompts"
_BLOCK = 1 << 20
# The note a skipped step's summary opens with.
UNCHANGED = "nothing changed since the last run"

# (path, inode, size, mtime, ctime) -> sha256: a file several steps read is hashed once.
_digests: dict[tuple[str, int, int, int, int], str] = {}


def state_path(workspace: Workspace) -> Path:
    return workspace.root / STATE_FILE


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes (None when it does not exist)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    known = _digests.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                digest.update(block)
    except OSError:
        return None
    _digests[key] = digest.hexdigest()
    return _digests[key]


@cache
def code_version() -> str:
    """A hash of the package's files (code, cue lists, presets, templates) and prompts.

    Any change to what computes an output, down to one cue word, means outputs computed by
    another version are not reused.
    """
    files = sorted(
        p
        for root in (PACKAGE, PROMPTS)
        if root.is_dir()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(PACKAGE.parent)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(workspace: Workspace, files: Sequence[Path], settings: Any = None) -> str:
    """What a step read: these files' contents, the given settings, the code."""
    text = canonical_json(
        {
            "version": STATE_VERSION,
            "code": code_version(),
            "files": {_name(workspace, p): file_digest(p) for p in files},
            "settings": settings,
        }
    )
    # A file name that is not valid UTF-8 arrives as lone surrogates: hashed, not refused.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _name(workspace: Workspace, path: Path) -> str:
    path = Path(path).absolute()
    try:
        return str(path.relative_to(workspace.root))
    except ValueError:
        return str(path)


def _load(workspace: Workspace) -> dict[str, Any]:
    try:
        data = read_json(state_path(workspace))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {}
    steps = data.get("steps")
    return steps if isinstance(steps, dict) else {}


def kept(workspace: Workspace, step: str, inputs: str) -> StepSummary | None:
    """The recorded summary when `step` ran on these very inputs and its outputs are untouched
    (its `seconds` are the caller's to set)."""
    entry = _load(workspace).get(step)
    if not isinstance(entry, dict) or entry.get("inputs") != inputs:
        return None
    outputs = entry.get("outputs")
    if not isinstance(outputs, Mapping) or not outputs:
        return None
    for name, digest in outputs.items():
        path = Path(name) if os.path.isabs(name) else workspace.root / name
        if file_digest(path) != digest:
            return None
    try:
        summary = StepSummary.model_validate(entry.get("summary"))
    except ValueError:
        return None
    # Hidden bookkeeping (the report's manifest) is not one of the files a reader counts.
    names = sorted(n for n in (Path(o).name for o in outputs) if not n.startswith("."))
    listed = ", ".join(names) if len(names) <= 3 else f"its {len(names)} files"
    summary.notes.insert(0, f"{UNCHANGED}: {listed} reused as written then")
    return summary


def record(
    workspace: Workspace, step: str, inputs: str, outputs: Sequence[Path], summary: StepSummary
) -> None:
    """Remember that `step` turned `inputs` into these outputs, with this summary."""
    steps = _load(workspace)
    steps[step] = {
        "inputs": inputs,
        "outputs": {_name(workspace, p): file_digest(Path(p)) for p in outputs},
        "summary": summary.model_dump(mode="json", exclude={"seconds"}),
    }
    write_json(state_path(workspace), {"version": STATE_VERSION, "steps": steps})


def forget(workspace: Workspace, step: str) -> None:
    """Drop what `step` recorded (it is about to rewrite its outputs)."""
    steps = _load(workspace)
    if step in steps:
        del steps[step]
        write_json(state_path(workspace), {"version": STATE_VERSION, "steps": steps})
