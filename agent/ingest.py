"""Ingest: read inputs, chunk them, embed what is new, and keep the workspace in step.

Unchanged files (same bytes) are not even parsed again; a changed file's new chunks are
embedded and its old ones deleted; chunk ids are content hashes, so nothing is embedded twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .chunking import Chunker
from .config import Settings
from .errors import InputError
from .ids import content_hash
from .models import Chunk, Document, SkippedInput, StepSummary
from .readers import FileResult, apply_roster, discover, read_file
from .store import open_store
from .workspace import Workspace, read_json, read_models, write_json, write_models

Progress = Callable[[str, int, int], None]
CHUNKS = "chunks"
EMBED_BLOCK = 1024


def _load_index(workspace: Workspace) -> dict[str, Any]:
    if workspace.ingest_index.exists():
        data = read_json(workspace.ingest_index)
        if isinstance(data, dict) and data.get("version") == 1:
            return data
    return {"version": 1, "files": {}, "rosters": {}, "user_tables": []}


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


def ingest(
    paths: Sequence[Path | str],
    settings: Settings,
    workspace: Workspace,
    progress: Progress | None = None,
) -> StepSummary:
    """Ingest files and folders into the workspace and the evidence store."""
    began = time.perf_counter()
    workspace.ensure()
    files, skipped = discover([Path(p) for p in paths])
    if not files:
        raise _nothing_to_read([Path(p) for p in paths])
    index = _load_index(workspace)
    previous = {d.id: d for d in read_models(workspace.documents, Document)}
    docs_by_file: dict[str, list[str]] = {k: v["documents"] for k, v in index["files"].items()}

    results: list[FileResult] = []
    unchanged = 0
    for n, path in enumerate(files, start=1):
        # Keyed by absolute path: the same file typed two ways is one file.
        key = str(path.absolute())
        old = index["files"].get(key)
        if (
            old
            and old.get("digest")
            and old["digest"] == _quick_digest(path)
            and all(d in previous for d in old["documents"])
        ):
            unchanged += 1
            # Rows skipped last time are still skipped: report them again.
            skipped.extend(SkippedInput.model_validate(s) for s in old.get("skipped", []))
        else:
            result = read_file(path, settings.ingest)
            results.append(result)
            skipped.extend(result.skipped)
            if result.roster:
                index["rosters"][key] = result.roster
            if result.user_table and key not in index["user_tables"]:
                index["user_tables"].append(key)
            if result.digest and not result.user_table and not result.roster:
                index["files"][key] = {
                    "digest": result.digest,
                    "documents": [d.id for d in result.documents],
                    "skipped": [s.model_dump() for s in result.skipped],
                }
            elif key in index["files"] and not result.documents:
                del index["files"][key]
        if progress:
            progress("read", n, len(files))

    # Rebuild the document set: untouched files keep their documents, re-read files replace theirs.
    reread = {str(r.path.absolute()) for r in results}
    documents: dict[str, Document] = {}
    for key, doc_ids in docs_by_file.items():
        if key not in reread:
            documents.update({d: previous[d] for d in doc_ids if d in previous})
    for result in results:
        documents.update({d.id: d for d in result.documents})
    roster: dict[str, dict[str, Any]] = {}
    for part in index["rosters"].values():
        roster.update(part)
    ordered = apply_roster(
        sorted(documents.values(), key=lambda d: (d.source, d.ticket_id or "", d.id)), roster
    )

    chunker = Chunker(settings.ingest)
    old_chunks = {c.id: c for c in read_models(workspace.chunks, Chunk)}
    fresh = {d.id for r in results for d in r.documents}
    old_by_doc: dict[str, list[Chunk]] = {}
    for c in old_chunks.values():
        old_by_doc.setdefault(c.document_id, []).append(c)
    chunks: list[Chunk] = []
    for doc in ordered:
        if doc.id in previous and doc.id not in fresh:
            # Unchanged document: reuse its chunks, refreshing roster-derived fields.
            kept = old_by_doc.get(doc.id, [])
            if kept:
                chunks.extend(
                    c.model_copy(
                        update={
                            "participant_id": doc.participant_id,
                            "user_id": doc.user_id,
                            "metadata": doc.metadata,
                        }
                    )
                    for c in sorted(kept, key=lambda c: c.start)
                )
                continue
        chunks.extend(
            c.model_copy(
                update={
                    "participant_id": doc.participant_id,
                    "user_id": doc.user_id,
                    "metadata": doc.metadata,
                }
            )
            for c in chunker.chunk(doc)
        )

    chunks = _unique_ids(chunks)
    redactor = _redactor(settings, workspace)
    if redactor is not None:
        # One map write at the end, not one per new value (quadratic on large ticket sets).
        with redactor.deferred():
            chunks = [c.model_copy(update={"text": redactor.redact(c.text)}) for c in chunks]

    store = open_store(settings, workspace)
    current_ids = [c.id for c in chunks]
    present = store.existing_ids(CHUNKS, current_ids)
    new = [c for c in chunks if c.id not in present]
    # Same words, new place or new roster data: refresh metadata without re-embedding.
    moved = [c for c in chunks if c.id in present and old_chunks.get(c.id) != c]
    store.update_metadata(CHUNKS, [c.id for c in moved], [_chunk_metadata(c) for c in moved])
    embedded_tokens = 0
    # Length-sorted blocks keep padding (wasted model work) small, as in the bare model's own loop.
    new_sorted = sorted(new, key=lambda c: len(c.text))
    for begin in range(0, len(new_sorted), EMBED_BLOCK):
        batch = new_sorted[begin : begin + EMBED_BLOCK]
        vectors = store.embedder.embed([c.text for c in batch])
        store.upsert(
            CHUNKS,
            [c.id for c in batch],
            [c.text for c in batch],
            vectors,
            [_chunk_metadata(c) for c in batch],
        )
        embedded_tokens += sum(c.token_count for c in batch)
        if progress:
            progress("embed", min(begin + EMBED_BLOCK, len(new)), len(new))
    stale = sorted(store.existing_ids(CHUNKS) - set(current_ids))
    store.delete(CHUNKS, stale)

    write_models(workspace.documents, ordered)
    write_models(workspace.chunks, chunks)
    write_json(workspace.ingest_index, index)

    kinds = {"interview": 0, "ticket": 0, "survey": 0}
    for doc in ordered:
        kinds[doc.kind] += 1
    return StepSummary(
        step="ingest",
        ok=not skipped,
        counts={
            "files": len(files),
            "files_unchanged": unchanged,
            "documents": len(ordered),
            "interviews": kinds["interview"],
            "tickets": kinds["ticket"],
            "chunks": len(chunks),
            "chunks_embedded": len(new),
            "chunks_deleted": len(stale),
            "participants": len({d.participant_id for d in ordered if d.kind == "interview"}),
            "user_tables": len(index["user_tables"]),
            "skipped": len(skipped),
        },
        tokens={"chunks": sum(c.token_count for c in chunks), "embedded": embedded_tokens},
        seconds=round(time.perf_counter() - began, 3),
        skipped=skipped,
        outputs={"documents": str(workspace.documents), "chunks": str(workspace.chunks)},
        notes=[f"user table for `persona segment`: {p}" for p in index["user_tables"]],
    )


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


def _nothing_to_read(paths: list[Path]) -> InputError:
    supported = ".txt .md .vtt .srt .docx .json .jsonl .csv"
    missing = [p for p in paths if not p.exists()]
    if missing:
        return InputError(
            str(missing[0]),
            "no such file or directory; give a folder of transcripts or a tickets/users .csv, "
            "e.g. persona ingest transcripts/",
        )
    where = str(paths[0]) if paths else "."
    return InputError(where, f"no readable inputs (supported: {supported})")


def _quick_digest(path: Path) -> str:
    from .readers import file_digest

    try:
        return file_digest(path.read_bytes())
    except OSError:
        return ""


def _redactor(settings: Settings, workspace: Workspace) -> Any:
    if not settings.ingest.redact:
        return None
    from .redact import Redactor

    return Redactor(workspace.redaction_map, names=settings.ingest.redact_names)


def user_tables(workspace: Workspace) -> list[Path]:
    """User tables seen by ingest, for `persona segment` and `persona run`."""
    return [Path(p) for p in _load_index(workspace)["user_tables"]]
