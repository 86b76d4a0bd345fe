"""Ingest: read inputs, chunk them, embed what is new, and keep the workspace in step.

Unchanged files (same bytes) are not even parsed again; a changed file's new chunks are
embedded and its old ones deleted; chunk ids are content hashes, so nothing is embedded twice.
A file that is gone (a participant withdrew) is forgotten the next time its folder is ingested:
its documents and chunks leave the workspace and the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import rerun
from .chunking import Chunker
from .config import Settings, is_loopback_url
from .errors import InputError
from .ids import content_hash
from .lock import writes_workspace
from .models import Chunk, Document, SkippedInput, StepSummary
from .purge import begin_withdrawal, end_withdrawal, purge_chunks
from .readers import (
    Discovery,
    FileResult,
    apply_roster,
    assign_roles,
    discover,
    display_path,
    read_file,
    refuse_workspace_inputs,
    roster_note,
    supported_suffixes,
)
from .store import open_store
from .workspace import Workspace, read_json, read_models, write_json, write_models

Progress = Callable[[str, int, int], None]
CHUNKS = "chunks"
# The theme step's embedding cache (agent/themes.py), vectors only since it keeps no text.
MENTIONS = "mentions"
EMBED_BLOCK = 1024


def _load_index(workspace: Workspace) -> dict[str, Any]:
    if workspace.ingest_index.exists():
        data = read_json(workspace.ingest_index)
        if isinstance(data, dict) and data.get("version") == 1:
            # Keys added after version 1 was written: older indexes simply lack them.
            data.setdefault("tables", {})
            return data
    return {"version": 1, "files": {}, "rosters": {}, "user_tables": [], "tables": {}}


def _key(path: Path | str) -> str:
    """Index key: the absolute, normalised path, so one file typed two ways is one file."""
    return os.path.normpath(Path(path).absolute())


def _under(key: str, roots: Sequence[str]) -> bool:
    return any(key == r or key.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _reader_fingerprint(settings: Settings) -> str:
    """Settings that change what a file reads or chunks into; a change means read everything again."""
    ing = settings.ingest
    return content_hash(
        {
            "ticket_columns": dict(sorted(ing.ticket_columns.items())),
            "interviewers": ing.interviewer_names,
            # Readers that changed what a file reads into: files read before are read again.
            "readers": 2,
            "fold_label_typos": ing.fold_label_typos,
            "encoding": ing.encoding,
            "max_tokens": ing.max_tokens,
            "overlap": ing.overlap_tokens,
        }
    )


def _forget_missing(index: dict[str, Any], given: Sequence[Path]) -> list[str]:
    """Drop index entries for files that no longer exist; return their keys.

    Evidence files are forgotten only under the folders (or at the paths) given now, so a folder
    that is simply not part of this run is left alone. Rosters and user tables that are gone are
    forgotten wherever they were: there is nothing left to read from them.
    """
    roots = [_key(p) for p in given if p.is_dir() or not p.exists()]
    removed = [k for k in index["files"] if _under(k, roots) and not Path(k).exists()]
    for key in removed:
        del index["files"][key]
    for key in [k for k in index["rosters"] if not Path(k).exists()]:
        del index["rosters"][key]
        removed.append(key)
    for key in [k for k in index["user_tables"] if not Path(k).exists()]:
        index["user_tables"].remove(key)
        removed.append(key)
    for key in [k for k in index["tables"] if not Path(k).exists()]:
        del index["tables"][key]
    return sorted(set(removed))


# Distinct texts per embedding call inside a block: small enough that progress moves every few
# seconds on 2 cores, while each block still embeds a repeated text once.
PROGRESS_STEP = 128


def _embed_reporting(embedder: Any, texts: list[str], report: Callable[[int], None]) -> np.ndarray:
    """The block's vectors, its distinct texts embedded PROGRESS_STEP at a time, reporting how
    many of `texts` are done after each (a text's vector does not depend on its batch)."""
    distinct = list(dict.fromkeys(texts))
    row = {text: i for i, text in enumerate(distinct)}
    parts = []
    for begin in range(0, len(distinct), PROGRESS_STEP):
        parts.append(embedder.embed(distinct[begin : begin + PROGRESS_STEP]))
        # Repeats are embedded with their first copy: the share of distinct texts done.
        end = min(begin + PROGRESS_STEP, len(distinct))
        report(round(len(texts) * end / len(distinct)))
    vectors = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
    return vectors[[row[t] for t in texts]]


def _chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "document_id": chunk.document_id,
        "kind": chunk.kind,
        "role": chunk.role,
        "speaker": chunk.speaker,
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
        "line": chunk.line,
        "time": chunk.time,
        "participant_id": chunk.participant_id,
        "ticket_id": chunk.ticket_id,
        "user_id": chunk.user_id,
    }
    for key, value in chunk.metadata.items():
        meta.setdefault(f"meta_{key}", value)
    return meta


@writes_workspace("ingest", create=True)
def ingest(
    paths: Sequence[Path | str],
    settings: Settings,
    workspace: Workspace,
    progress: Progress | None = None,
) -> StepSummary:
    """Ingest files and folders into the workspace and the evidence store.

    Files ingested before from a folder given now (or a path given now) that no longer exist are
    forgotten: their documents and chunks leave documents.jsonl, chunks.jsonl and Chroma.
    """
    began = time.perf_counter()
    given = [Path(p) for p in paths]
    # Before the workspace is touched: reading persona's own outputs back in corrupts it for good.
    refuse_workspace_inputs(given, workspace.root)
    workspace.ensure()
    found = discover(given, workspace.root)
    files, skipped = found.files, list(found.skipped)
    index = _load_index(workspace)
    fingerprint = _reader_fingerprint(settings)
    # Same bytes but other column mappings or chunk sizes: nothing from before can be reused.
    reread_all = index.get("settings", fingerprint) != fingerprint
    index["settings"] = fingerprint
    removed = _forget_missing(index, given)
    # A path given now that is gone and was ingested before is a withdrawal, not a mistake.
    withdrawn = {_key(p) for p in given if not p.exists() and _under_any(_key(p), removed)}
    skipped = [s for s in skipped if _key(s.path) not in withdrawn]
    if not files and not removed:
        raise _nothing_to_read(given, skipped)
    digests = {_key(p): _quick_digest(p) for p in files}
    inputs = ""
    if not reread_all and not removed and not withdrawn:
        inputs = _inputs(settings, workspace, given, found, digests, fingerprint)
        unchanged = rerun.kept(workspace, STEP, inputs)
        if unchanged is not None and _store_holds(settings, workspace, unchanged):
            if progress:
                progress("read", len(files), len(files))
            unchanged.seconds = round(time.perf_counter() - began, 3)
            return unchanged
    rerun.forget(workspace, STEP)
    previous = {d.id: d for d in read_models(workspace.documents, Document)}

    results: list[FileResult] = []
    file_notes: list[str] = []
    unchanged = 0
    for n, path in enumerate(files, start=1):
        key = _key(path)
        old = index["files"].get(key)
        table = index["tables"].get(key)
        is_table = key in index["rosters"] or key in index["user_tables"]
        if (
            not reread_all
            and old
            and old.get("digest")
            and "raw" in old  # indexes written before rosters were re-applied: read once more
            and old["digest"] == digests[key]
            and all(d in previous for d in old["documents"])
        ):
            unchanged += 1
            # Rows skipped last time are still skipped: report them again (and the notes).
            skipped.extend(SkippedInput.model_validate(s) for s in old.get("skipped", []))
            file_notes.extend(old.get("notes", []))
        elif not reread_all and table and is_table and table["digest"] == digests[key]:
            unchanged += 1
            skipped.extend(SkippedInput.model_validate(s) for s in table.get("skipped", []))
        else:
            result = read_file(path, settings.ingest)
            results.append(result)
            skipped.extend(result.skipped)
            file_notes.extend(result.notes)
            _record(index, key, result)
        if progress:
            progress("read", n, len(files))

    # Rebuild the document set: untouched files keep their documents, re-read files replace theirs.
    reread = {_key(r.path) for r in results}
    documents: dict[str, Document] = {}
    for key, entry in index["files"].items():
        if key not in reread:
            # documents.jsonl holds interviews with roster data merged in; start from what the
            # file itself said, so a changed or deleted roster row takes effect.
            raw = entry.get("raw", {})
            documents.update(
                {
                    d: previous[d].model_copy(update=raw.get(d, {}))
                    for d in entry["documents"]
                    if d in previous
                }
            )
    for result in results:
        documents.update({d.id: d for d in result.documents})
    roster: dict[str, dict[str, Any]] = {}
    for _, part in sorted(index["rosters"].items()):
        roster.update(part)
    ordered = apply_roster(
        sorted(documents.values(), key=lambda d: (d.source, d.ticket_id or "", d.id)), roster
    )
    unmatched = roster_note(ordered, roster)
    # Who interviews is a property of the study, so it is decided again over every transcript.
    ordered, role_notes = assign_roles(ordered, settings.ingest)

    chunker = Chunker(settings.ingest)
    old_chunks = {c.id: c for c in read_models(workspace.chunks, Chunk)}
    fresh = {d.id for r in results for d in r.documents}
    old_by_doc: dict[str, list[Chunk]] = {}
    for c in old_chunks.values():
        old_by_doc.setdefault(c.document_id, []).append(c)
    chunks: list[Chunk] = []
    for doc in ordered:
        roster_fields = {
            "participant_id": doc.participant_id,
            "user_id": doc.user_id,
            "metadata": doc.metadata,
        }
        same = doc.id in previous and doc.id not in fresh and previous[doc.id].turns == doc.turns
        # A document whose roles changed (an interviewer found) is cut again; same ids, no embedding.
        kept = old_by_doc.get(doc.id, []) if same else []
        if kept and not reread_all:
            # Unchanged document: reuse its chunks, refreshing roster-derived fields.
            chunks.extend(
                c.model_copy(update=roster_fields) for c in sorted(kept, key=lambda c: c.start)
            )
        else:
            chunks.extend(c.model_copy(update=roster_fields) for c in chunker.chunk(doc))

    chunks = _unique_ids(chunks)
    redactor = _redactor(settings, workspace)
    if redactor is not None:
        # One map write at the end, not one per new value (quadratic on large ticket sets).
        with redactor.deferred():
            chunks = [c.model_copy(update={"text": redactor.redact(c.text)}) for c in chunks]

    store = open_store(settings, workspace)
    current_ids = [c.id for c in chunks]
    present = store.existing_ids(CHUNKS, current_ids)
    # Ids hash the original words, so a chunk whose stored text differs (redaction switched on or
    # off, or a store we have no record of) is embedded and stored again, never left as it was.
    new = [
        c
        for c in chunks
        if c.id not in present or c.id not in old_chunks or old_chunks[c.id].text != c.text
    ]
    new_ids = {c.id for c in new}
    # Same words, new place or new roster data: refresh metadata without re-embedding.
    moved = [c for c in chunks if c.id not in new_ids and old_chunks.get(c.id) != c]
    store.update_metadata(CHUNKS, [c.id for c in moved], [_chunk_metadata(c) for c in moved])
    embedded_tokens = 0
    # Length-sorted blocks keep padding (wasted model work) small, as in the bare model's own loop.
    new_sorted = sorted(new, key=lambda c: len(c.text))
    for begin in range(0, len(new_sorted), EMBED_BLOCK):
        batch = new_sorted[begin : begin + EMBED_BLOCK]
        done = begin

        def report(k: int, done: int = done) -> None:
            if progress:
                progress("embed", done + k, len(new))

        vectors = _embed_reporting(store.embedder, [c.text for c in batch], report)
        store.upsert(
            CHUNKS,
            [c.id for c in batch],
            [c.text for c in batch],
            vectors,
            [_chunk_metadata(c) for c in batch],
        )
        embedded_tokens += sum(c.token_count for c in batch)
    # Safe: the collection belongs to this workspace alone (see store.collection_name).
    stale = sorted(store.existing_ids(CHUNKS) - set(current_ids))
    gone = set(old_chunks) - set(current_ids)
    if stale or gone:
        # Journalled first: a crash from here on is finished by the next command (lock.py).
        begin_withdrawal(workspace, sorted(gone | set(stale)), store=bool(stale))
    store.delete(CHUNKS, stale)
    scrubbed = False
    if stale:
        # Deleted records keep their words in Chroma's log and free pages until rewritten.
        scrubbed = store.scrub(CHUNKS, drop=stale) and store.scrub(
            MENTIONS, keep_texts=False, drop=stale
        )

    write_models(workspace.documents, ordered)
    write_models(workspace.chunks, chunks)
    write_json(workspace.ingest_index, index)
    # Words that left the corpus (a withdrawn participant, a struck passage) also leave the
    # LLM cache, host files, logged errors and the redaction map.
    purged = purge_chunks(workspace, gone)
    unscrubbed = bool(stale) and store.local_db is not None and not scrubbed
    if not unscrubbed:
        end_withdrawal(workspace)

    kinds = {"interview": 0, "ticket": 0, "survey": 0}
    for doc in ordered:
        kinds[doc.kind] += 1
    tables = sorted(index["user_tables"])
    notes = [f"user table for `persona segment`: {p}" for p in tables] + file_notes
    notes.extend(role_notes)
    if unmatched:
        notes.append(unmatched)
    notes.extend(_discovery_notes(found))
    # What an unchanged re-run would say again (the notes below are about this run's changes).
    lasting = list(notes)
    if removed:
        notes.append(
            f"forgot {len(removed)} file(s) that no longer exist (their chunks were deleted): "
            + ", ".join(removed)
        )
    if stale and scrubbed:
        notes.append(
            f"rewrote the local evidence store after removing {len(stale)} chunk(s), so their "
            "text is gone from its files too"
        )
    elif unscrubbed:
        # The journal stays: the next command that writes this workspace tries again.
        notes.append(
            f"removed {len(stale)} chunk(s), but the local evidence store could not be rewritten "
            "(its file stayed busy), so their text may remain in its files; the next persona "
            "command that writes this workspace tries again"
        )
    elif stale and settings.chroma.url:
        notes.append(
            f"removed {len(stale)} chunk(s) from the Chroma server; it keeps deleted records in "
            "its own log until its operator compacts it"
        )
    if purged.total():
        notes.append(
            f"removed the text of {len(gone)} chunk(s) that left "
            f"the corpus from {purged.describe()}; mentions, themes, drafts and reports lose it "
            "when their steps run again (`persona run` runs them all)"
        )
    ok = not skipped
    # The workspace inside a folder given is named once; it is not an input that went unread.
    skipped = skipped + found.not_inputs
    summary = StepSummary(
        step=STEP,
        ok=ok,
        counts={
            "files": len(files),
            "files_unchanged": unchanged,
            "files_removed": len(removed),
            "documents": len(ordered),
            "interviews": kinds["interview"],
            "tickets": kinds["ticket"],
            "chunks": len(chunks),
            "chunks_embedded": len(new),
            "chunks_deleted": len(stale),
            "participants": len({d.participant_id for d in ordered if d.kind == "interview"}),
            "user_tables": len(tables),
            "skipped": len(skipped),
        },
        tokens={"chunks": sum(c.token_count for c in chunks), "embedded": embedded_tokens},
        seconds=round(time.perf_counter() - began, 3),
        skipped=skipped,
        outputs={"documents": str(workspace.documents), "chunks": str(workspace.chunks)},
        notes=notes,
    )
    if inputs:
        # Recorded as the next run with nothing changed would report it: every file unchanged.
        again = summary.model_copy(deep=True)
        again.counts.update(
            files_unchanged=len(files), files_removed=0, chunks_embedded=0, chunks_deleted=0
        )
        again.tokens["embedded"] = 0
        again.notes = lasting
        outputs = [workspace.documents, workspace.chunks, workspace.ingest_index]
        if workspace.redaction_map.exists():
            outputs.append(workspace.redaction_map)
        rerun.record(workspace, STEP, inputs, outputs, again)
    return summary


STEP = "ingest"


def _inputs(
    settings: Settings,
    workspace: Workspace,
    given: Sequence[Path],
    found: Discovery,
    digests: dict[str, str],
    reader: str,
) -> str:
    """Fingerprint of an ingest: the paths given, what discovery made of them, every file's
    bytes, and the settings that change reading, chunking, redaction, embedding and storage."""
    return rerun.fingerprint(
        workspace,
        [],
        {
            "given": sorted(_key(p) for p in given),
            "files": digests,
            "skipped": [s.model_dump(mode="json") for s in found.skipped + found.not_inputs],
            "ignored": found.ignored,
            "duplicates": found.duplicates,
            "reader": reader,
            # Participant and interviewer names, label folding: who may be quoted.
            "ingest": settings.ingest.model_dump(mode="json"),
            "redact": redaction_on(settings),
            "chroma": settings.chroma.model_dump(mode="json"),
            "embeddings": settings.embeddings.model_dump(mode="json"),
        },
    )


def _store_holds(settings: Settings, workspace: Workspace, summary: StepSummary) -> bool:
    """The evidence store still holds every chunk the kept chunks.jsonl lists (a deleted or
    emptied store means embedding again)."""
    if not settings.chroma.url and not (workspace.chroma_dir / "chroma.sqlite3").is_file():
        return False  # the local store's folder is gone (a client may still hold it in memory)
    try:
        return open_store(settings, workspace).count(CHUNKS) == summary.counts.get("chunks", -1)
    except Exception:  # an unreadable store: ingest properly, which says what is wrong
        return False


def _under_any(root: str, keys: Sequence[str]) -> bool:
    return any(_under(k, [root]) for k in keys)


def _record(index: dict[str, Any], key: str, result: FileResult) -> None:
    """Note what a freshly read file is now (evidence, roster or user table), forgetting what it was."""
    index["rosters"].pop(key, None)
    index["tables"].pop(key, None)
    if key in index["user_tables"]:
        index["user_tables"].remove(key)
    if result.roster:
        index["rosters"][key] = result.roster
    if result.user_table:
        index["user_tables"].append(key)
    skipped = [s.model_dump() for s in result.skipped]
    if result.digest and (result.roster or result.user_table):
        index["tables"][key] = {"digest": result.digest, "skipped": skipped}
        index["files"].pop(key, None)
    elif result.digest:
        index["files"][key] = {
            "digest": result.digest,
            "documents": [d.id for d in result.documents],
            "skipped": skipped,
            "notes": list(result.notes),
            # Only interviews take roster data; tickets (possibly millions) need no copy.
            "raw": {
                d.id: {
                    "participant_id": d.participant_id,
                    "user_id": d.user_id,
                    "metadata": d.metadata,
                }
                for d in result.documents
                if d.kind == "interview"
            },
        }
    else:
        index["files"].pop(key, None)


def _unique_ids(chunks: list[Chunk]) -> list[Chunk]:
    """Two files with one name, one participant and one identical sentence would share an id."""
    seen: set[str] = set()
    out = []
    for chunk in chunks:
        if chunk.id in seen:
            chunk = chunk.model_copy(
                update={
                    "id": content_hash(
                        {"id": chunk.id, "doc": chunk.document_id, "at": chunk.start}
                    )
                }
            )
        seen.add(chunk.id)
        out.append(chunk)
    return out


def _near(path: Path) -> str:
    """'; did you mean transcripts?' for a typo of a name beside it, else what to give."""
    import difflib

    parent = path.parent if str(path.parent) else Path(".")
    try:
        names = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
    except OSError:
        names = []
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.75)
    if close:
        return f"; did you mean {display_path(parent / close[0])}?"
    return "; give a folder of transcripts or a tickets/users .csv"


def nothing_read(paths: Sequence[Path], summary: StepSummary) -> InputError | None:
    """The error for a run whose every input was skipped, each file named with its reason.

    Without it the run goes on to extraction and blames the empty workspace instead.
    """
    if summary.counts.get("documents") or not summary.skipped:
        return None
    reasons = "; ".join(
        f"{s.path}{f':{s.line}' if s.line is not None else ''} ({s.reason})"
        for s in summary.skipped
    )
    where = display_path(Path(paths[0])) if paths else "."
    return InputError(where, f"no input could be read: {reasons}")


def _nothing_to_read(paths: list[Path], skipped: list[SkippedInput]) -> InputError:
    missing = [p for p in paths if not p.exists()]
    if missing:
        return InputError(display_path(missing[0]), f"no such file or directory{_near(missing[0])}")
    where = display_path(paths[0]) if paths else "."
    why = ""
    if skipped:
        first = skipped[0]
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        why = f"; not read: {first.path} ({first.reason}){more}"
    return InputError(where, f"no readable inputs (supported: {supported_suffixes()}){why}")


# How many paths one discovery note names before it only counts the rest.
NOTE_NAMES = 8


def _discovery_notes(found: Discovery) -> list[str]:
    """One line for the paths deliberately left alone, one for links to files read anyway."""
    notes = []
    if found.ignored:
        named = [f"{path} ({why})" for path, why in found.ignored[:NOTE_NAMES]]
        rest = len(found.ignored) - NOTE_NAMES
        notes.append(
            f"not read, not inputs: {', '.join(named)}" + (f" and {rest} more" if rest > 0 else "")
        )
    if found.duplicates:
        named = [f"{link} (= {target})" for link, target in found.duplicates[:NOTE_NAMES]]
        rest = len(found.duplicates) - NOTE_NAMES
        notes.append(
            "read once, under their own names: "
            + ", ".join(named)
            + (f" and {rest} more" if rest > 0 else "")
        )
    return notes


def _quick_digest(path: Path) -> str:
    from .readers import path_digest

    try:
        return path_digest(path)
    except OSError:
        return ""


def redaction_on(settings: Settings) -> bool:
    """`ingest.redact`: forced on or off, or "auto": on when chunk text leaves this machine.

    It leaves when the embedder is OpenAI's (or any non-local OpenAI-compatible server) or the
    Chroma server is not on the loopback interface; redacted text is what gets embedded and stored.
    """
    mode = settings.ingest.redact
    if mode != "auto":
        return bool(mode)
    remote_embedder = (
        settings.embeddings.provider == "openai" and not settings.llm.is_local_endpoint()
    )
    remote_store = bool(settings.chroma.url) and not is_loopback_url(settings.chroma.url)
    return remote_embedder or remote_store


def _redactor(settings: Settings, workspace: Workspace) -> Any:
    if not redaction_on(settings):
        return None
    from .redact import Redactor

    return Redactor(workspace.redaction_map, names=settings.ingest.redact_names)


def user_tables(workspace: Workspace, under: Sequence[Path | str] | None = None) -> list[Path]:
    """User tables seen by ingest that still exist; with `under`, only those at or below them."""
    tables = sorted(Path(p) for p in _load_index(workspace)["user_tables"] if Path(p).is_file())
    if under is None:
        return tables
    roots = [_key(p) for p in under]
    return [t for t in tables if _under(_key(t), roots)]
