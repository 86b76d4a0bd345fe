"""Which paths under the inputs get read, and why each other one does not.

Every path below a folder given on the command line ends up in exactly one place: the files to
read, the skipped list (with a reason: a broken link, a pipe, an unreadable folder, a type we do
not read), or the notes (hidden files and READMEs that are about the inputs, not from them).
Links are followed only while they stay inside the folders given, so a link to /etc/passwd
dropped into a shared research folder is named, not read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..models import SkippedInput

TRANSCRIPT_SUFFIXES = {".txt", ".md", ".markdown", ".vtt", ".srt", ".docx", ".pdf"}
TABLE_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl"}
# Columnar user tables: handed to the scorer as they are, never parsed by ingest.
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED = TRANSCRIPT_SUFFIXES | TABLE_SUFFIXES | PARQUET_SUFFIXES
# Files that sit beside transcripts but are about them, not from them.
IGNORED_NAMES = {"readme", "license", "changelog", "ground_truth"}
# Files the operating system leaves in folders.
SYSTEM_FILES = {"thumbs.db", "desktop.ini"}
# Files that mark a folder as a persona workspace (its own outputs, never inputs).
WORKSPACE_MARKERS = ("ingest_index.json", "chunks.jsonl")

# What to do with a file type we do not read, by suffix.
_SPREADSHEET = "a spreadsheet: save it as CSV (UTF-8) to read it"
_WORD = "save it as .docx or .txt to read it"
_IMAGE = "an image; images are not read"
_RECORDING = "a recording; export its transcript (.vtt, .srt or .txt) to read it"
_ARCHIVE = "an archive; unpack it to read its files"
UNSUPPORTED_HINTS: dict[str, str] = {
    **dict.fromkeys((".xlsx", ".xlsm", ".xls", ".ods", ".numbers"), _SPREADSHEET),
    **dict.fromkeys((".doc", ".rtf", ".odt", ".pages"), _WORD),
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".gif", ".webp", ".heic", ".tif", ".tiff", ".bmp", ".svg"),
        _IMAGE,
    ),
    **dict.fromkeys(
        (".mp3", ".m4a", ".wav", ".aac", ".flac", ".ogg", ".mp4", ".mov", ".webm", ".mkv"),
        _RECORDING,
    ),
    **dict.fromkeys((".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"), _ARCHIVE),
}


def supported_suffixes() -> str:
    """The suffixes ingest reads, as one line for messages."""
    return " ".join(sorted(SUPPORTED))


def unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    hint = UNSUPPORTED_HINTS.get(suffix)
    kind = f"unsupported file type {suffix or '(no suffix)'}"
    return f"{kind}: {hint}" if hint else f"{kind} (read: {supported_suffixes()})"


def display_path(path: Path | str) -> str:
    """A path as text that can be written anywhere: undecodable bytes become \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass
class Discovery:
    """Files to read, paths skipped with a reason, and paths deliberately left alone."""

    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)
    # The workspace (or another one) inside a folder given: named once, not an input problem.
    not_inputs: list[SkippedInput] = field(default_factory=list)
    # (path, why) for hidden files, READMEs and the like: listed in one note, never read.
    ignored: list[tuple[str, str]] = field(default_factory=list)
    # (link, file it leads to) for links to a file that is read anyway under its own name.
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append(SkippedInput(path=display_path(path), reason=reason))


def is_workspace_dir(path: Path) -> bool:
    """A folder persona wrote: it holds the ingest index and the chunks."""
    return all(os.path.isfile(path / name) for name in WORKSPACE_MARKERS)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def refuse_workspace_inputs(paths: Sequence[Path], workspace: Path | None) -> None:
    """A path given that is the workspace, inside it, or another persona workspace is an error.

    Its files are persona's own outputs: read as inputs, chunks.jsonl became 1,314 "tickets".
    """
    ws = os.path.realpath(workspace) if workspace is not None else None
    for path in paths:
        if not os.path.lexists(path):
            continue
        real = os.path.realpath(path)
        folder = Path(real) if os.path.isdir(real) else Path(real).parent
        if ws is not None and _inside(real, ws):
            what = "the workspace" if real == ws else "inside the workspace"
            raise InputError(
                display_path(path),
                f"is {what} ({display_path(ws)}), persona's own outputs, not an input; give the "
                "folder of transcripts and exports, e.g. persona run transcripts/",
            )
        if is_workspace_dir(folder):
            raise InputError(
                display_path(path),
                "is a persona workspace (it holds ingest_index.json and chunks.jsonl), not an "
                "input; give the folder of transcripts and exports instead",
            )


def discover(paths: Sequence[Path], workspace: Path | None = None) -> Discovery:
    """Expand folders (recursively, sorted) into files to read; account for every other path."""
    found = Discovery()
    given = [p for p in paths if os.path.lexists(p)]
    # Links may lead anywhere inside what the user gave us, and nowhere else.
    roots = [os.path.realpath(p) for p in given]
    ws = os.path.realpath(workspace) if workspace is not None else None
    seen_files: dict[str, str] = {}
    seen_dirs: set[tuple[int, int]] = set()
    for path in paths:
        if not os.path.lexists(path):
            found.skip(path, "no such file or directory")
            continue
        if _undecodable(str(path)):
            found.skip(path, "file name is not valid UTF-8; rename it to read it")
            continue
        try:
            info = path.stat()
        except OSError as exc:
            found.skip(path, _link_problem(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(path, found, roots, ws, seen_files, seen_dirs)
        elif stat.S_ISREG(info.st_mode):
            # Named on the command line: read whatever its suffix, if we can read that type.
            if path.suffix.lower() not in SUPPORTED:
                found.skip(path, unsupported_reason(path))
            else:
                _add_file(path, found, seen_files)
        else:
            found.skip(path, _special(info.st_mode))
    return found


def _walk(
    folder: Path,
    found: Discovery,
    roots: list[str],
    ws: str | None,
    seen_files: dict[str, str],
    seen_dirs: set[tuple[int, int]],
    ancestors: frozenset[tuple[int, int]] = frozenset(),
) -> None:
    try:
        info = folder.stat()
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        found.skip(folder, f"cannot read folder: {exc.strerror or exc}")
        return
    here = (info.st_dev, info.st_ino)
    seen_dirs.add(here)
    ancestors = ancestors | {here}
    for entry in entries:
        path = Path(entry.path)
        name = entry.name
        real = os.path.realpath(path)
        if ws is not None and _inside(real, ws):
            what = "the workspace" if real == ws else f"inside the workspace {display_path(ws)}"
            found.not_inputs.append(
                SkippedInput(
                    path=display_path(path),
                    reason=f"{what} (persona's own outputs), not an input; not read",
                )
            )
            continue
        if name.startswith((".", "~$")):
            # Hidden files, editors' lock files, version control: never evidence.
            found.ignored.append((display_path(path), "hidden"))
            continue
        if _undecodable(name):
            found.skip(path, "file name is not valid UTF-8; rename it to read it")
            continue
        is_link = entry.is_symlink()
        try:
            info = path.stat()
        except OSError as exc:
            found.skip(path, _link_problem(path, exc))
            continue
        if is_link and not any(_inside(real, root) for root in roots):
            found.skip(
                path,
                f"symbolic link to {display_path(real)}, outside the folders given; not "
                "followed (give that path itself to read it)",
            )
            continue
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if is_workspace_dir(path):
                found.not_inputs.append(
                    SkippedInput(
                        path=display_path(path),
                        reason="a persona workspace (its own outputs), not an input; not read",
                    )
                )
            elif key in ancestors:
                found.skip(
                    path, f"symbolic link loop: leads back to {display_path(real)}, not followed"
                )
            elif key in seen_dirs:
                # Another way into a folder already read (a link to a sibling): read it once.
                found.duplicates.append((display_path(path), display_path(real)))
            else:
                _walk(path, found, roots, ws, seen_files, seen_dirs, ancestors)
        elif stat.S_ISREG(info.st_mode):
            if name.lower() in SYSTEM_FILES:
                found.ignored.append((display_path(path), "system file"))
            elif path.stem.lower() in IGNORED_NAMES:
                found.ignored.append((display_path(path), "about the inputs, by its name"))
            elif path.suffix.lower() not in SUPPORTED:
                found.skip(path, unsupported_reason(path))
            else:
                _add_file(path, found, seen_files)
        else:
            found.skip(path, _special(info.st_mode))


def _add_file(path: Path, found: Discovery, seen_files: dict[str, str]) -> None:
    """Add a file once: a link to a file already listed (or the same path twice) is not re-read."""
    real = os.path.realpath(path)
    first = seen_files.get(real)
    if first is None:
        seen_files[real] = str(path)
        found.files.append(path)
    elif os.path.normpath(os.path.abspath(first)) != os.path.normpath(os.path.abspath(path)):
        found.duplicates.append((display_path(path), display_path(first)))


def _undecodable(name: str) -> bool:
    """Names with bytes that are not UTF-8 cannot be written to the workspace's JSON files."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _link_problem(path: Path, exc: OSError) -> str:
    """Why stat() failed: a broken link, a loop, or no permission."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop, not followed"
    if os.path.islink(path) and exc.errno == errno.ENOENT:
        return f"broken symbolic link (to {display_path(os.readlink(path))})"
    return f"cannot read: {exc.strerror or exc}"


def _special(mode: int) -> str:
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return f"{kind}, not a file; not read"
