"""Withdrawal: when evidence leaves the corpus, its words leave the workspace's side stores too.

Ingest forgets the documents and chunks of a file that was deleted (a participant withdrew) or
edited. What the LLM stages kept of those chunks lives elsewhere, and `purge_chunks` clears it:
- cached answers built from them (they hold verbatim quotes);
- host-mode request, answer and error files (messages and quotes);
- the text of logged errors (a validation error can quote the text; the lines stay for
  token and cost accounting);
- redaction-map entries whose token and original value no longer occur in any remaining
  document or chunk (the map is the one place an email or name is kept in clear);
- review decisions that quote or cite them, and review files' text (decisions.forget_sources),
  so a confirmed quote from a withdrawn interview never comes back in the next draft.
Anything recorded before sources were tracked counts as touching every chunk: when in doubt,
the text goes and the next run asks again. Mentions, themes, drafts and reports lose the text
when their stages run again (`persona run` does all of them).

A withdrawal is journalled (`withdrawal.json`, ids only) before anything is deleted and the
journal is removed only when every store is clean, so a crash half-way (a kill during the Chroma
rebuild) is finished by the next command that writes the workspace (agent/lock.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from .decisions import forget_sources
from .host import answers_dir
from .llm_cache import CallsLog, ResponseCache
from .workspace import Workspace, dump_json, write_text_atomic

if TYPE_CHECKING:
    from .config import Settings

HOST_FOLDERS = ("pending", "done", "stale")
JOURNAL = "withdrawal.json"
# The store's collections that can hold a withdrawn chunk's words or vectors (agent/ingest.py).
COLLECTIONS = ("chunks", "mentions")


class PurgeResult(BaseModel):
    """How much of the withdrawn text was found, and removed, per store."""

    cached_answers: int = 0
    logged_errors: int = 0
    host_files: int = 0
    redaction_entries: int = 0
    review_decisions: int = 0

    def total(self) -> int:
        return (
            self.cached_answers
            + self.logged_errors
            + self.host_files
            + self.redaction_entries
            + self.review_decisions
        )

    def describe(self) -> str:
        return (
            f"{self.cached_answers} cached LLM answer(s), {self.logged_errors} logged error "
            f"text(s), {self.host_files} host file(s), {self.redaction_entries} redaction-map "
            f"entr(y/ies), {self.review_decisions} review decision(s) or file(s)"
        )


def purge_chunks(workspace: Workspace, gone: Collection[str]) -> PurgeResult:
    """Remove what the workspace kept of the chunks in `gone`; call after ingest rewrote them."""
    gone = frozenset(gone)
    result = PurgeResult()
    if not gone:
        return result
    cache = ResponseCache(workspace.llm_cache)
    try:
        result.cached_answers = cache.forget_sources(gone)
    finally:
        cache.close()
    result.logged_errors = CallsLog(workspace.calls_log).forget_sources(gone)
    result.host_files = _purge_host(workspace, gone)
    result.redaction_entries = _prune_redaction_map(workspace)
    result.review_decisions = forget_sources(workspace, gone)
    return result


def _purge_host(workspace: Workspace, gone: frozenset[str]) -> int:
    removed = 0
    for folder in (workspace.host_dir / name for name in HOST_FOLDERS):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            if path.name.endswith(".errors.json"):
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not ours to judge; resume reports unreadable files
            sources = record.get("sources") if isinstance(record, dict) else None
            if sources is not None and gone.isdisjoint(sources):
                continue
            for victim in (
                path,
                folder / f"{path.stem}.errors.json",
                answers_dir(workspace) / f"{path.stem}.json",
            ):
                if victim.exists():
                    victim.unlink()
                    removed += 1
    return removed


def _prune_redaction_map(workspace: Workspace) -> int:
    path = workspace.redaction_map
    if not path.exists():
        return 0
    data = json.loads(path.read_text(encoding="utf-8"))
    tokens: dict[str, str] = data.get("tokens", {})
    remaining = "\n".join(
        p.read_text(encoding="utf-8") for p in (workspace.documents, workspace.chunks) if p.exists()
    )
    # Stored text holds tokens where ingest redacted and clear values where only LLM requests
    # were redacted; JSON escapes non-ASCII, so compare against the escaped form too.
    haystack = remaining.lower()
    keep = {
        token: value
        for token, value in tokens.items()
        if token in remaining
        or value.lower() in haystack
        or json.dumps(value)[1:-1].lower() in haystack
    }
    if len(keep) == len(tokens):
        return 0
    write_text_atomic(path, dump_json({**data, "tokens": keep}), private=True)
    return len(tokens) - len(keep)


# --------------------------------------------------------------------------- the journal


def journal_path(workspace: Workspace) -> Path:
    return workspace.root / JOURNAL


def begin_withdrawal(workspace: Workspace, chunk_ids: Collection[str], store: bool) -> None:
    """Record what is about to be removed (ids only), before any store is touched.

    `store`: the evidence store also holds some of them and must be rewritten.
    """
    path = journal_path(workspace)
    pending: set[str] = set(chunk_ids)
    needs_store = store
    if path.exists():
        # An earlier withdrawal not finished yet: this one adds to it.
        earlier = json.loads(path.read_text(encoding="utf-8"))
        pending |= set(earlier.get("chunks", []))
        needs_store = needs_store or bool(earlier.get("store"))
    write_text_atomic(path, dump_json({"chunks": sorted(pending), "store": needs_store}))


def end_withdrawal(workspace: Workspace) -> None:
    journal_path(workspace).unlink(missing_ok=True)


def finish_withdrawal(workspace: Workspace, settings: Settings | None) -> PurgeResult | None:
    """Complete a withdrawal a crash interrupted; None when there was none.

    Without settings (a command that never opens the store) the side files are cleaned and the
    journal stays until a command that can open the store finishes it.
    """
    path = journal_path(workspace)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    gone = [str(c) for c in data.get("chunks", [])]
    store_pending = bool(data.get("store"))
    if store_pending and settings is not None:
        from .store import open_store

        store = open_store(settings, workspace)
        store.delete(COLLECTIONS[0], gone)
        # Deleting is not enough: the words stay in Chroma's log and free pages. The theme
        # cache is keyed by text hashes, not chunk ids; rewriting it drops any text it held.
        scrubbed = store.scrub(COLLECTIONS[0], drop=gone) and store.scrub(
            COLLECTIONS[1], keep_texts=False, drop=gone
        )
        # A local file that stayed busy keeps the journal: the next command tries again.
        store_pending = store.local_db is not None and not scrubbed
    result = purge_chunks(workspace, gone)
    if store_pending:
        write_text_atomic(path, dump_json({"chunks": gone, "store": True}))
    else:
        end_withdrawal(workspace)
    return result
