"""The LLM response cache (SQLite) and the calls log (JSONL), both in the workspace.

A response is stored the moment its call finishes, so a run that is killed half-way keeps every
finished answer and the next run asks only for the rest. The key covers everything that shapes
the answer: prompt name and version, model, the rendered messages and the response schema.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from .ids import canonical_json, content_hash
from .workspace import write_text_atomic

WITHDRAWN = "(text removed: a source of this request was withdrawn)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    prompt TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    model TEXT NOT NULL,
    response_model TEXT NOT NULL,
    value TEXT NOT NULL,
    usage TEXT NOT NULL,
    created REAL NOT NULL,
    sources TEXT NOT NULL DEFAULT ''
)
"""
# Chunk ids as a JSON list; '' = unknown (a row cached before sources were recorded).
UNKNOWN_SOURCES = ""


def cache_key(
    prompt: str,
    version: str,
    model: str,
    messages: list[dict[str, Any]],
    schema: dict[str, Any],
) -> str:
    """Hash of everything that determines the answer."""
    return content_hash(
        {
            "prompt": prompt,
            "version": version,
            "model": model,
            "messages": messages,
            "schema": schema,
        },
        length=32,
    )


class ResponseCache:
    """Validated responses by cache key; safe to share between worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL survives a killed process (what resume needs) without an fsync per
            # answer; only a power cut can lose the last few, which are then simply re-asked.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(responses)")}
            if "sources" not in columns:  # a cache written by an earlier version
                conn.execute("ALTER TABLE responses ADD COLUMN sources TEXT NOT NULL DEFAULT ''")
            conn.commit()
            self._conn = conn
        return self._conn

    def get(self, key: str) -> tuple[str, dict[str, int]] | None:
        """(value JSON, usage) for a key, or None."""
        if not self.path.exists() and self._conn is None:
            return None
        with self._lock:
            row = (
                self._db()
                .execute("SELECT value, usage FROM responses WHERE key = ?", (key,))
                .fetchone()
            )
        return (row[0], json.loads(row[1])) if row else None

    def put(
        self,
        key: str,
        *,
        step: str,
        prompt: str,
        prompt_version: str,
        model: str,
        response_model: str,
        value: str,
        usage: dict[str, int],
        sources: Iterable[str] = (),
    ) -> None:
        with self._lock:
            db = self._db()
            db.execute(
                "INSERT OR REPLACE INTO responses (key, step, prompt, prompt_version, model, "
                "response_model, value, usage, created, sources) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    step,
                    prompt,
                    prompt_version,
                    model,
                    response_model,
                    value,
                    canonical_json(usage),
                    time.time(),
                    json.dumps(sorted(set(sources))),
                ),
            )
            db.commit()

    def forget_sources(self, gone: Collection[str]) -> int:
        """Delete answers built from any chunk in `gone` (and those of unknown origin)."""
        if not self.path.exists() and self._conn is None:
            return 0
        with self._lock:
            db = self._db()
            doomed = [
                key
                for key, sources in db.execute("SELECT key, sources FROM responses")
                if sources == UNKNOWN_SOURCES or not gone.isdisjoint(json.loads(sources))
            ]
            db.executemany("DELETE FROM responses WHERE key = ?", [(k,) for k in doomed])
            db.commit()
            # Deleted rows keep their bytes in free pages and in the write-ahead log until the
            # file is rewritten and the log emptied.
            if doomed:
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return len(doomed)

    def delete(self, key: str) -> None:
        with self._lock:
            self._db().execute("DELETE FROM responses WHERE key = ?", (key,))
            self._db().commit()

    def count(self) -> int:
        with self._lock:
            return int(self._db().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class CallsLog:
    """Append-only JSONL record of every request the runner handled (cached ones too)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def forget_sources(self, gone: Collection[str]) -> int:
        """Blank the error text of calls built from a chunk in `gone` (it may quote it).

        The lines stay, so token and cost accounting does not change; a line without sources
        (written by an earlier version) counts as touching every chunk.
        """
        if not self.path.exists():
            return 0
        changed = 0
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            out = []
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                sources = record.get("sources")
                touched = sources is None or not gone.isdisjoint(sources)
                if touched and record.get("error"):
                    record["error"] = WITHDRAWN
                    changed += 1
                    line = json.dumps(record, sort_keys=True, ensure_ascii=False)
                out.append(line)
            if changed:
                write_text_atomic(self.path, "".join(f"{line}\n" for line in out))
        return changed

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
