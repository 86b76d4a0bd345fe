"""Chroma as the evidence store: embedded on disk by default, a Chroma server when `chroma.url` is set.

Collections are created with our own registered embedding function, never Chroma's default:
a collection that records the default function tries to download its model on the first
`query_texts=` call. Vectors are always computed by us and passed in explicitly.

On a server, collection names carry the workspace's id (workspace.json): several projects can
share one server, and each ingest deletes stale ids only from collections its workspace owns.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Collection, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .config import EmbeddingSettings, Settings, redact_url
from .embeddings import Embedder, get_embedder
from .errors import ConfigError
from .workspace import Workspace, read_json, write_json

# Withdrawn ids looked for in the vacuumed file, at most (see EvidenceStore._absent).
SCRUB_CHECK_IDS = 256

# Chroma names a segment's folder by the segment's UUID.
UUID_DIR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Metadata = Mapping[str, str | int | float | bool | None]
WORKSPACE_FILE = "workspace.json"
ID_PATTERN = re.compile(r"[a-z0-9]{6,32}")


def _embedding_function_class() -> type:
    from chromadb.api.types import EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class PersonaEmbeddingFunction(EmbeddingFunction):  # type: ignore[type-arg]
        """Chroma-side handle on our embedder, so reopened collections never fall back to the default."""

        def __init__(self, provider: str = "minilm", model: str = "") -> None:
            self.provider = provider
            self.model = model

        def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
            embedder = get_embedder(
                EmbeddingSettings(provider=self.provider, model=self.model or "x")
            )
            return list(embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "persona_agent"

        def get_config(self) -> dict[str, Any]:
            return {"provider": self.provider, "model": self.model}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> PersonaEmbeddingFunction:
            return PersonaEmbeddingFunction(
                config.get("provider", "minilm"), config.get("model", "")
            )

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

    return PersonaEmbeddingFunction


_EF_CLASS: type | None = None


def _ef(settings: EmbeddingSettings) -> Any:
    global _EF_CLASS
    if _EF_CLASS is None:
        _EF_CLASS = _embedding_function_class()
    model = settings.model if settings.provider == "openai" else ""
    return _EF_CLASS(settings.provider, model)


@dataclass(frozen=True)
class Hit:
    """One search result; distance is cosine distance (0 = identical)."""

    id: str
    text: str
    metadata: dict[str, Any]
    distance: float


def _clean_metadata(meta: Metadata) -> dict[str, str | int | float | bool]:
    # Chroma rejects None values and empty dicts; absent keys filter the same way.
    cleaned = {k: v for k, v in meta.items() if v is not None}
    return cleaned or {"_": True}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


class EvidenceStore:
    """Named collections of (id, text, vector, metadata), one per embedder so dimensions never clash."""

    def __init__(self, client: Any, settings: Settings, owner: str | None = None) -> None:
        self.client = client
        self.settings = settings
        # The workspace id on a shared server; None for the store inside the workspace folder.
        self.owner = owner
        self._collections: dict[str, Any] = {}
        self._embedder: Embedder | None = None
        # The SQLite file of a store inside the workspace (None on a server).
        self.local_db: Path | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings.embeddings, self.settings.llm)
        return self._embedder

    def collection_name(self, collection: str) -> str:
        emb = self.settings.embeddings
        tag = emb.provider if emb.provider != "openai" else f"openai-{_slug(emb.model)}"
        prefix = self.settings.chroma.collection_prefix
        if self.owner:
            # A server is shared: each workspace owns its own collections, so deleting the ids
            # it no longer has never touches another project's evidence.
            return f"{prefix}-{self.owner}-{collection}-{tag}"
        return f"{prefix}-{collection}-{tag}"

    def _collection(self, collection: str) -> Any:
        name = self.collection_name(collection)
        if name not in self._collections:
            self._collections[name] = self.client.get_or_create_collection(
                name=name,
                embedding_function=_ef(self.settings.embeddings),
                configuration={"hnsw": {"space": "cosine"}},
            )
        return self._collections[name]

    def _batch_size(self) -> int:
        try:
            return int(self.client.get_max_batch_size())
        except Exception:  # older servers do not expose it
            return 1000

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        texts: Sequence[str] | None,
        embeddings: np.ndarray,
        metadatas: Sequence[Metadata],
    ) -> None:
        """Add or replace records; `texts=None` keeps vectors only (a cache needs no words)."""
        col = self._collection(collection)
        step = self._batch_size()
        for begin in range(0, len(ids), step):
            end = begin + step
            col.upsert(
                ids=list(ids[begin:end]),
                documents=None if texts is None else list(texts[begin:end]),
                embeddings=np.asarray(embeddings[begin:end], dtype=np.float32),
                metadatas=[_clean_metadata(m) for m in metadatas[begin:end]],
            )

    def update_metadata(
        self, collection: str, ids: Sequence[str], metadatas: Sequence[Metadata]
    ) -> None:
        if not ids:
            return
        col = self._collection(collection)
        step = self._batch_size()
        for begin in range(0, len(ids), step):
            col.update(
                ids=list(ids[begin : begin + step]),
                metadatas=[_clean_metadata(m) for m in metadatas[begin : begin + step]],
            )

    def existing_ids(self, collection: str, ids: Sequence[str] | None = None) -> set[str]:
        col = self._collection(collection)
        if ids is None:
            return set(col.get(include=[])["ids"])
        found: set[str] = set()
        step = self._batch_size()
        for begin in range(0, len(ids), step):
            found.update(col.get(ids=list(ids[begin : begin + step]), include=[])["ids"])
        return found

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            col = self._collection(collection)
            step = self._batch_size()
            for begin in range(0, len(ids), step):
                col.delete(ids=list(ids[begin : begin + step]))

    def scrub(self, collection: str, keep_texts: bool = True, drop: Collection[str] = ()) -> bool:
        """Rewrite a local collection so deleted records leave no text on disk.

        Chroma keeps every record it was given in its write-ahead log (embeddings_queue) and
        freed pages keep bytes until a VACUUM; a withdrawn participant's words would survive
        their deletion there. The collection is rebuilt from what it holds now, less the ids in
        `drop` whatever Chroma still returns for them (vectors reused, nothing embedded again;
        `keep_texts=False` drops stored texts too), which drops its log, and the file is
        vacuumed. True only when the file was vacuumed and none of `drop` is left in it; a
        server's storage is its operator's to manage (False there).
        """
        if self.local_db is None:
            return False
        col = self._collection(collection)
        step = self._batch_size()
        kept = col.get(include=["embeddings", "documents", "metadatas"])
        gone = set(drop)
        rows = [i for i, id_ in enumerate(kept["ids"]) if id_ not in gone]
        ids = [kept["ids"][i] for i in rows]
        vectors = [kept["embeddings"][i] for i in rows]
        metadatas = [kept["metadatas"][i] for i in rows]
        texts = [kept["documents"][i] for i in rows] if keep_texts else None
        self.client.delete_collection(col.name)
        self._collections.pop(col.name, None)
        fresh = self._collection(collection)
        for begin in range(0, len(ids), step):
            end = begin + step
            fresh.upsert(
                ids=ids[begin:end],
                embeddings=vectors[begin:end],
                documents=None if texts is None else texts[begin:end],
                metadatas=metadatas[begin:end],
            )
        live = self._vacuum()
        if live is None or not self._absent(gone):
            return False
        # The dropped collection's vector-index folders stay behind: its vectors go too.
        for folder in self.local_db.parent.iterdir():
            if folder.is_dir() and UUID_DIR.fullmatch(folder.name) and folder.name not in live:
                shutil.rmtree(folder, ignore_errors=True)
        return True

    def _vacuum(self, attempts: int = 3) -> set[str] | None:
        """VACUUM the local file; the ids of its live segments, or None when it stayed busy."""
        assert self.local_db is not None
        for attempt in range(attempts):
            try:
                with closing(sqlite3.connect(self.local_db, timeout=30)) as db:
                    db.execute("VACUUM")
                    return {str(row[0]) for row in db.execute("SELECT id FROM segments")}
            except sqlite3.Error:
                time.sleep(0.2 * (attempt + 1))
        return None

    def _absent(self, ids: Collection[str]) -> bool:
        """None of these record ids is anywhere in the file's bytes (read back, not assumed)."""
        if not ids:
            return True
        assert self.local_db is not None
        # A sample bounds the cost on a large withdrawal: a scrub that failed leaves them all.
        wanted = [i.encode("utf-8") for i in sorted(ids)[:SCRUB_CHECK_IDS]]
        pattern = re.compile(b"|".join(re.escape(w) for w in wanted))
        tail = max(len(w) for w in wanted)
        previous = b""
        with self.local_db.open("rb") as fh:
            while block := fh.read(1 << 22):
                if pattern.search(previous + block):
                    return False
                previous = block[-tail:]
        return True

    def get_embeddings(self, collection: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Id -> stored vector for the ids present (an id asked twice is fetched once)."""
        col = self._collection(collection)
        out: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(ids))
        step = self._batch_size()
        for begin in range(0, len(unique), step):
            got = col.get(ids=unique[begin : begin + step], include=["embeddings"])
            for id_, vec in zip(got["ids"], got["embeddings"], strict=True):
                out[id_] = np.asarray(vec, dtype=np.float32)
        return out

    def vectors_of_texts(self, collection: str, wanted: Mapping[str, str]) -> dict[str, np.ndarray]:
        """Id -> stored vector, for the ids in `wanted` (id -> text) whose stored text is that text.

        A record embeds its own stored text, so its vector stands for that exact text and need
        not be computed again; a record whose text differs (or that is gone) is left out.
        """
        col = self._collection(collection)
        out: dict[str, np.ndarray] = {}
        ids = sorted(wanted)
        step = self._batch_size()
        for begin in range(0, len(ids), step):
            got = col.get(ids=ids[begin : begin + step], include=["embeddings", "documents"])
            for id_, vec, text in zip(got["ids"], got["embeddings"], got["documents"], strict=True):
                if text is not None and text == wanted[id_]:
                    out[id_] = np.asarray(vec, dtype=np.float32)
        return out

    def count(self, collection: str) -> int:
        return int(self._collection(collection).count())

    def query(
        self,
        collection: str,
        text: str | None = None,
        embedding: np.ndarray | None = None,
        n: int = 8,
        where: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """Nearest neighbours of a text (embedded by us) or of a given vector."""
        if embedding is None:
            if text is None:
                raise ValueError("query needs text or embedding")
            embedding = self.embedder.embed([text])[0]
        col = self._collection(collection)
        total = col.count()
        if total == 0:
            return []
        result = col.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=min(n, total),
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        hits = zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
        return [Hit(i, d or "", dict(m or {}), float(dist)) for i, d, m, dist in hits]


def _client(settings: Settings, workspace: Workspace) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    url = settings.chroma.url
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ConfigError(f"chroma url {redact_url(url)!r} has no host")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=port,
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the Chroma server at {redact_url(url)}: {exc}"
            ) from exc
    workspace.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(workspace.chroma_dir), settings=chroma_settings)


def workspace_id(workspace: Workspace) -> str:
    """A random id made once per workspace (workspace.json) that names its collections on a server.

    Random rather than derived from the path: two checkouts of one project, or one path reused
    on two machines, must not share (and so delete) each other's evidence. A copied workspace
    keeps the id, and with it the collections, like any copy of the files in it.
    """
    path = workspace.root / WORKSPACE_FILE
    if path.exists():
        try:
            data = read_json(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable ({exc}); delete it to start afresh") from exc
        ident = data.get("id") if isinstance(data, dict) else None
        if isinstance(ident, str) and ID_PATTERN.fullmatch(ident):
            return ident
        raise ConfigError(f"{path}: no valid workspace id; delete it to start afresh")
    workspace.ensure()
    ident = secrets.token_hex(6)
    write_json(path, {"id": ident})
    return ident


def open_store(settings: Settings, workspace: Workspace) -> EvidenceStore:
    """The evidence store for these settings: on-disk in the workspace, or the configured server."""
    client = _client(settings, workspace)
    owner = workspace_id(workspace) if settings.chroma.url else None
    store = EvidenceStore(client, settings, owner)
    if not settings.chroma.url:
        store.local_db = workspace.chroma_dir / "chroma.sqlite3"
    return store
