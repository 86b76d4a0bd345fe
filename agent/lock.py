"""One writer per workspace: an advisory lock held for the length of every command that writes.

Two commands writing one workspace at once lose data silently (an `ingest` during a `run` had
its chunks deleted by the run's own rewrite), so every library entry point that writes takes
`<workspace>/.lock` exclusively for its whole length. Read-only commands (search, status,
doctor, eval) take no lock: every file is replaced atomically, so they see one version or the
other of each file and never wait behind a long run.

The lock is `flock(2)`: the kernel drops it when its holder dies, so a lock left by a killed
process is simply free and is taken over by the next command; the holder's description in the
file is only there to name it in the "busy" message. Nested entry points in one process (a run
calling ingest) share the one acquisition.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from .errors import PersonaError

LOCK_FILE = ".lock"
# Seconds a command waits for a busy workspace before giving up (PERSONA_LOCK_WAIT overrides):
# long enough for a short command (a review edit) to finish, short enough not to hang a script
# behind a long run.
DEFAULT_WAIT = 10.0
POLL = 0.1

F = TypeVar("F", bound=Callable[..., Any])


class WorkspaceBusy(PersonaError):
    """Another command is writing this workspace."""


# Process-wide: path -> (open lock file, depth). The lock belongs to the process, so nested
# entry points (and the threads of one command) count as the same holder.
_held: dict[str, tuple[Any, int]] = {}
_guard = threading.RLock()


def lock_wait() -> float:
    """Seconds to wait for a busy workspace: PERSONA_LOCK_WAIT, else DEFAULT_WAIT."""
    raw = os.environ.get("PERSONA_LOCK_WAIT")
    if raw is None or not raw.strip():
        return DEFAULT_WAIT
    try:
        return max(0.0, float(raw))
    except ValueError as exc:
        raise PersonaError(f"PERSONA_LOCK_WAIT must be a number of seconds, got {raw!r}") from exc


def holder(root: Path) -> dict[str, Any]:
    """What the lock file says about its last holder ({} when unreadable)."""
    try:
        data = json.loads((root / LOCK_FILE).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _busy_message(root: Path) -> str:
    info = holder(root)
    command = info.get("command") or "another command"
    pid = info.get("pid")
    since = info.get("since")
    who = f"`{command}`" + (f" (pid {pid})" if pid else "") + (f" since {since}" if since else "")
    return (
        f"workspace busy: {who} is writing {root}; wait for it to finish, or use another "
        "--workspace (PERSONA_LOCK_WAIT sets how many seconds to wait)"
    )


def _try_lock(handle: Any) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _describe(handle: Any, command: str) -> None:
    """Write who holds the lock into the file (it is ours now; a dead holder's text goes)."""
    since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    text = json.dumps({"command": command, "pid": os.getpid(), "since": since})
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


@contextmanager
def workspace_lock(
    root: Path | str,
    command: str,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    create: bool = True,
) -> Iterator[None]:
    """Hold the workspace's write lock; raise WorkspaceBusy after `wait` seconds (default
    `lock_wait()`). Re-entrant within a process. `on_wait` hears once that we are waiting.
    `create=False`: a missing workspace folder is not created (and there is nothing to lock)."""
    root = Path(root).absolute()
    key = str(root)
    with _guard:
        if key in _held:
            handle, depth = _held[key]
            _held[key] = (handle, depth + 1)
            acquired_here = False
        else:
            acquired_here = True
    if acquired_here and not root.is_dir() and not create:
        # Nothing to protect: the command finds no workspace and says so itself.
        with _guard:
            _held.pop(key, None)
        yield
        return
    created = False
    if acquired_here:
        created = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        handle = (root / LOCK_FILE).open("a+", encoding="utf-8")
        deadline = time.monotonic() + (lock_wait() if wait is None else wait)
        told = False
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                handle.close()
                raise WorkspaceBusy(_busy_message(root))
            if on_wait is not None and not told:
                on_wait(_busy_message(root).replace("workspace busy", "waiting", 1))
                told = True
            time.sleep(POLL)
        _describe(handle, command)
        with _guard:
            _held[key] = (handle, 1)
    try:
        yield
    finally:
        with _guard:
            handle, depth = _held[key]
            if depth > 1:
                _held[key] = (handle, depth - 1)
            else:
                del _held[key]
                # Closing the descriptor releases flock; the text stays for nobody to read.
                handle.close()
                if created and [p.name for p in root.iterdir()] == [LOCK_FILE]:
                    # The command made the folder only to lock it and then wrote nothing (it
                    # refused its inputs): leave no empty workspace behind.
                    (root / LOCK_FILE).unlink(missing_ok=True)
                    root.rmdir()


def is_held(root: Path | str) -> bool:
    """True when this process holds the workspace's lock."""
    with _guard:
        return str(Path(root).absolute()) in _held


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def writes_workspace(command: str, create: bool = False) -> Callable[[F], F]:
    """Decorator for library entry points that write: hold the lock of their `workspace`
    argument for the whole call, and finish any withdrawal a crash left half done.

    `create`: the command may start a workspace (ingest, run); the others need one to exist.
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        if "workspace" not in signature.parameters:
            raise TypeError(f"{func.__qualname__} has no `workspace` parameter to lock")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind_partial(*args, **kwargs)
            workspace = bound.arguments["workspace"]
            settings = bound.arguments.get("settings")
            first = not is_held(workspace.root)
            with workspace_lock(workspace.root, f"persona {command}", on_wait=_note, create=create):
                if first and workspace.root.is_dir():
                    from .purge import finish_withdrawal, journal_path

                    finished = finish_withdrawal(workspace, settings)
                    # Without settings the store was never opened, so nothing was tried yet.
                    still = finished is not None and journal_path(workspace).exists()
                    if still and settings is not None:
                        # Said every time, or a user would believe the words were gone.
                        _note(
                            "an earlier withdrawal's chunks are gone from the workspace, but the "
                            "local evidence store still could not be rewritten (its file stayed "
                            "busy), so their text may remain in its files; the next persona "
                            "command that writes this workspace tries again"
                        )
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
