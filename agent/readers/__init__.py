"""Readers: turn input files into Documents, skipping (with a reason) whatever cannot be read."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import IngestSettings
from ..errors import InputError
from ..models import Document, SkippedInput, Turn
from .base import (
    RawTurn,
    build_turns,
    decode,
    make_document,
    participant_from_filename,
    set_aside_annotations,
)
from .discover import (
    PARQUET_SUFFIXES,
    SUPPORTED,
    Discovery,
    discover,
    display_path,
    refuse_workspace_inputs,
    supported_suffixes,
)
from .exports import normalise
from .pdf import read_pdf
from .roles import assign_roles, fold_label_typos, marked_by_tags, split_names, strip_title
from .tables import (
    TableResult,
    classify,
    detect_delimiter,
    is_ticket_records,
    read_csv_table,
    read_ticket_records,
)
from .transcripts import (
    load_json_records,
    read_docx,
    read_json_transcript,
    read_plain,
    read_srt,
    read_vtt,
)

__all__ = [
    "PARQUET_SUFFIXES",
    "SUPPORTED",
    "Discovery",
    "FileResult",
    "apply_roster",
    "assign_roles",
    "discover",
    "display_path",
    "path_digest",
    "read_file",
    "refuse_workspace_inputs",
    "roster_note",
    "supported_suffixes",
]

# First records of a JSON file looked at to tell a user table from tickets or transcripts.
USER_SAMPLE = 50


@dataclass
class FileResult:
    """What one input file produced."""

    path: Path
    digest: str
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)
    roster: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_table: bool = False
    notes: list[str] = field(default_factory=list)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def path_digest(path: Path) -> str:
    """file_digest of a file's bytes, read in blocks (user tables can be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _interviewers(settings: IngestSettings, meta: dict[str, Any]) -> list[str]:
    extra = [*split_names(meta.get("interviewer")), *split_names(meta.get("interviewers"))]
    return [*settings.interviewer_names, *extra]


def _turns(
    path: Path, raw: list[RawTurn], meta: dict[str, Any], settings: IngestSettings
) -> tuple[list[Turn], list[str]]:
    """Turns with the file's own role marks, titles dropped and label typos folded (with notes)."""
    raw, aside = set_aside_annotations(raw)
    if aside and not any(t.text for t in raw):
        raise InputError(
            str(path),
            f"holds only researcher annotations (labelled {_labels(aside)}) and no speaker turns",
        )
    raw, title = strip_title(raw)
    if title:
        meta.setdefault("title", title)
    notes = [_annotation_note(path, aside)] if aside else []
    if settings.fold_label_typos:
        raw, folds = fold_label_typos(raw)
        notes += [
            f"{path}:{f.line}: speaker label {f.label!r} ({f.turns} turn{'s' * (f.turns != 1)}) "
            f"read as {f.into!r}, a misspelling of it; [ingest] fold_label_typos = false keeps "
            "them apart"
            for f in folds
        ]
    names = _interviewers(settings, meta)
    # Marks such as "Sam (UXR):" go into the metadata, where the study-wide role pass
    # (roles.assign_roles, run on every ingest) finds them again without re-reading the file.
    listed = [*split_names(meta.get("interviewer")), *split_names(meta.get("interviewers"))]
    marked = listed + [n for n in marked_by_tags(raw, names) if n not in listed]
    if marked:
        meta.pop("interviewers", None)
        meta["interviewer"] = ", ".join(marked)
    return build_turns(raw, names), notes


def _labels(aside: list[RawTurn]) -> str:
    """ "'Note', 'Observer note'": the annotation labels, as written, without their colon."""
    return ", ".join(f"'{label}'" for label in dict.fromkeys(t.speaker for t in aside))


def _annotation_note(path: Path, aside: list[RawTurn]) -> str:
    """One note for the lines a file's annotation labels ("Note:", "Observer note:") held."""
    where = f"{path}:{aside[0].line}" if aside[0].line is not None else str(path)
    count = len(aside)
    lines = sum(len(t.lines) for t in aside)
    # An unlabelled line below a note belongs to it, as it would to a speaker: say so, since it
    # may have been someone's words.
    below = (
        f" and {lines - count} unlabelled line{'s' * (lines - count != 1)} below them"
        if lines > count
        else ""
    )
    return (
        f"{where}: {count} annotation{'s' * (count != 1)} labelled {_labels(aside)}{below} left "
        "out of the turns (the researcher's notes, not anyone's words; give a line its "
        "speaker's label to keep it)"
    )


def _transcript(path: Path, data: bytes, settings: IngestSettings) -> tuple[Document, list[str]]:
    suffix = path.suffix.lower()
    read_notes: list[str] = []
    if suffix == ".docx":
        raw, meta = read_docx(path, data, read_notes)
    elif suffix == ".pdf":
        raw, meta = read_pdf(path, data)
    else:
        text = decode(path, data)
        if not text.strip():
            raise InputError(str(path), "file is empty")
        if suffix in {".vtt", ".srt"}:
            raw, meta = {".vtt": read_vtt, ".srt": read_srt}[suffix](path, text)
        else:
            raw, meta = read_plain(path, text, read_notes)
    turns, notes = _turns(path, raw, meta, settings)
    notes = read_notes + notes
    if not turns:
        raise InputError(str(path), "no text found")
    if all(t.speaker == "Unknown" for t in turns):
        raise InputError(str(path), "no speaker turns found (expected lines like 'Name: text')")
    participant = (
        meta.get("participant_id") or meta.get("participant") or participant_from_filename(path)
    )
    user = meta.get("user_id") or meta.get("customer_id")
    document = make_document(
        str(path),
        "interview",
        turns,
        participant_id=str(participant) if participant else path.stem,
        user_id=str(user) if user else None,
        metadata=meta,
    )
    return document, notes


def read_file(path: Path, settings: IngestSettings) -> FileResult:
    """Read one file; an unreadable file becomes a skipped entry, never an exception."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError(str(path), "file is empty")
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return _parquet_user_table(path)
        if size > settings.max_file_mb * 1024 * 1024:
            if _head_is_user_table(path, settings):
                # Too big to read as evidence, and no need: the scorer reads it with DuckDB.
                return FileResult(path=path, digest=path_digest(path), user_table=True)
            raise InputError(
                str(path),
                f"file is {size / 1e6:.0f} MB, over the {settings.max_file_mb:g} MB limit (ingest.max_file_mb)",
            )
        data = path.read_bytes()
        result = FileResult(path=path, digest=file_digest(data))
        suffix = path.suffix.lower()
        if suffix in {".csv", ".tsv"}:
            # A .csv may be a European Excel export (semicolons): its header line decides.
            delimiter = "\t" if suffix == ".tsv" else None
            table = read_csv_table(path, decode(path, data), settings.ticket_columns, delimiter)
            _merge_table(result, table)
        elif suffix in {".json", ".jsonl"}:
            bad_lines: list[SkippedInput] = []
            records = load_json_records(path, decode(path, data), bad_lines)
            if not records and bad_lines:
                return FileResult(path=path, digest="", skipped=bad_lines)
            if not records:
                raise InputError(str(path), "no records")
            result.skipped.extend(bad_lines)
            records, export = normalise(records)
            if export is not None:
                table = read_ticket_records(path, records, settings.ticket_columns)
                _merge_table(result, table)
                result.notes.append(_export_note(path, export, table.documents))
            elif is_ticket_records(records, settings.ticket_columns):
                _merge_table(result, read_ticket_records(path, records, settings.ticket_columns))
            elif _is_user_records(records, settings):
                result.user_table = True
            else:
                for line, record in records:
                    try:
                        raw, meta = read_json_transcript(path, record, line)
                    except InputError as exc:
                        if line is None:
                            raise
                        # One bad record of a .jsonl costs that line only.
                        result.skipped.append(
                            SkippedInput(path=exc.path, reason=exc.reason, line=line)
                        )
                        continue
                    turns, notes = _turns(path, raw, meta, settings)
                    result.notes.extend(notes)
                    pid = meta.get("participant_id") or meta.get("participant") or path.stem
                    user = meta.get("user_id") or meta.get("customer_id")
                    result.documents.append(
                        make_document(
                            str(path),
                            "interview",
                            turns,
                            participant_id=str(pid),
                            user_id=None if user in (None, "") else str(user),
                            metadata=meta,
                        )
                    )
        else:
            document, notes = _transcript(path, data, settings)
            result.documents.append(document)
            result.notes.extend(notes)
        return result
    except InputError as exc:
        return FileResult(
            path=path,
            digest="",
            skipped=[SkippedInput(path=exc.path, reason=exc.reason, line=exc.line)],
        )
    except OSError as exc:
        return FileResult(
            path=path,
            digest="",
            skipped=[SkippedInput(path=str(path), reason=f"cannot read: {exc.strerror}")],
        )
    except Exception as exc:  # one odd file must not stop the ingest of the others
        return FileResult(
            path=path,
            digest="",
            skipped=[SkippedInput(path=str(path), reason=f"cannot read: {_describe(exc)}")],
        )


EXPORT_NAMES = {
    "zendesk": "a Zendesk export",
    "intercom": "an Intercom conversations export",
    "freshdesk": "a Freshdesk export",
    "jira": "a Jira Service Management export",
    "app_store": "App Store Connect reviews",
}


def _export_note(path: Path, export: str, documents: list[Document]) -> str:
    """What was kept of a help-desk export's threads, so nobody wonders where replies went."""
    replies = Counter(t.role for d in documents for t in d.turns[1:])
    return (
        f"{path}: read as {EXPORT_NAMES[export]}: {len(documents)} record(s); "
        f"{replies['agent']} agent repl{'y' if replies['agent'] == 1 else 'ies'} kept as context "
        "(never quoted), internal notes left out"
    )


def _parquet_user_table(path: Path) -> FileResult:
    """A Parquet file among the inputs is a user table for the scorer (which reads it itself)."""
    with path.open("rb") as fh:
        if fh.read(4) != b"PAR1":
            raise InputError(str(path), "not a Parquet file (no PAR1 header)")
    return FileResult(path=path, digest=path_digest(path), user_table=True)


def _head_is_user_table(path: Path, settings: IngestSettings) -> bool:
    """Whether a file too big to ingest starts like a user table (CSV/TSV/JSONL)."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".tsv", ".jsonl"}:
        return False
    with path.open("rb") as fh:
        head = fh.read(256 * 1024)
    text = head.decode("utf-8-sig", errors="replace").rsplit("\n", 1)[0]  # whole lines only
    if suffix == ".jsonl":
        try:
            records = load_json_records(path, text)
        except InputError:
            return False
        return bool(records) and _is_user_records(records, settings)
    delimiter = "\t" if suffix == ".tsv" else detect_delimiter(text)
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
    if len(rows) < 2:
        return False
    return classify(rows[0], settings.ticket_columns, rows[1 : USER_SAMPLE + 1]) == "users"


def _is_user_records(records: list[tuple[int, dict[str, Any]]], settings: IngestSettings) -> bool:
    """Flat JSON records with an id and numeric fields, no turns: rows of a user table."""
    sample = [record for _, record in records[:USER_SAMPLE]]
    if any("turns" in r or any(isinstance(v, dict | list) for v in r.values()) for r in sample):
        return False
    headers = list(dict.fromkeys(k for r in sample for k in r))
    rows = [["" if r.get(h) is None else str(r.get(h)) for h in headers] for r in sample]
    return classify(headers, settings.ticket_columns, rows) == "users"


def _describe(exc: Exception) -> str:
    """One line for an unexpected error; a pydantic error names the field and the problem."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"unexpected value for {where}: {first['msg']}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _merge_table(result: FileResult, table: TableResult) -> None:
    result.documents.extend(table.documents)
    result.skipped.extend(table.skipped)
    result.notes.extend(table.notes)
    result.roster.update(table.roster)
    result.user_table = table.kind == "users"


def _roster_key(
    doc: Document, roster: dict[str, dict[str, Any]], by_file: dict[str, str]
) -> str | None:
    """The roster row of an interview: by file column, then its participant id in any case
    ("p09" for P09), then an id standing alone in the file name ("otter_p03.txt" for P03)."""
    name = Path(doc.source).name
    if name in by_file:
        return by_file[name]
    pid = doc.participant_id or ""
    if pid in roster:
        return pid
    folded = {key.lower(): key for key in roster}
    if pid.lower() in folded:
        return folded[pid.lower()]
    stem = Path(doc.source).stem.lower()
    found = [
        key
        for low, key in sorted(folded.items())
        if re.search(rf"(?<![a-z0-9]){re.escape(low)}(?![a-z0-9])", stem)
    ]
    return found[0] if len(found) == 1 else None


def _by_file(roster: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {str(row.get("file", "")).strip(): pid for pid, row in roster.items() if row.get("file")}


def apply_roster(
    documents: Iterable[Document], roster: dict[str, dict[str, Any]]
) -> list[Document]:
    """Attach roster metadata (role, plan, user id...) to interviews by participant id or file name."""
    by_file = _by_file(roster)
    out = []
    for doc in documents:
        key = _roster_key(doc, roster, by_file) if doc.kind == "interview" else None
        if key is None:
            out.append(doc)
            continue
        row = roster[key]
        # The transcript's own spelling of its id stands ("P09" against a roster's "p09").
        same = (doc.participant_id or "").lower() == key.lower()
        pid = doc.participant_id if same and Path(doc.source).name not in by_file else key
        meta = {**{k: v for k, v in row.items() if k not in {"file", "name"}}, **doc.metadata}
        if "participant_id" in row:
            meta["participant_id"] = pid
        user = doc.user_id or row.get("user_id")
        out.append(
            doc.model_copy(update={"participant_id": pid, "user_id": user, "metadata": meta})
        )
    return out


def roster_note(documents: Iterable[Document], roster: dict[str, dict[str, Any]]) -> str | None:
    """One note naming roster rows no transcript matched and transcripts no row matched."""
    if not roster:
        return None
    by_file = _by_file(roster)
    interviews = [d for d in documents if d.kind == "interview"]
    matched = {d.source: _roster_key(d, roster, by_file) for d in interviews}
    rows = sorted(set(roster) - set(matched.values()))
    files = sorted(Path(source).name for source, key in matched.items() if key is None)
    if not rows and not files:
        return None
    parts = []
    if rows:
        parts.append(f"roster rows with no transcript: {', '.join(rows)}")
    if files:
        parts.append(f"transcripts with no roster row: {', '.join(files)}")
    return (
        "participant roster: "
        + "; ".join(parts)
        + " (ids are matched in any case, by the roster's file column or an id in the file name)"
    )
