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
from pathlib import Path
from typing import Any

from .ids import canonical_json, content_hash

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
    created REAL NOT NULL
)
"""


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
    ) -> None:
        with self._lock:
            db = self._db()
            db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
            db.commit()

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

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
