"""Ingest throughput on the sample corpus scaled to 10,000 tickets, next to the bare model.

Run: python bench/ingest.py [--tickets 10000]
Prints chunks/s and tokens/s for a cold `ingest` (read, chunk, embed, write to Chroma), the
same numbers for the embedding model alone on the very same chunk texts, and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import load_settings  # noqa: E402
from agent.embeddings import MiniLMEmbedder  # noqa: E402
from agent.ingest import ingest  # noqa: E402
from agent.models import Chunk  # noqa: E402
from agent.workspace import Workspace, read_models  # noqa: E402

CORPUS = ROOT / "transcripts"
OUT = ROOT / "bench" / "out" / "ingest"


def build_corpus(tickets: int) -> Path:
    """Interviews as they are, plus tickets.csv repeated (with fresh ids) up to `tickets` rows."""
    folder = OUT / "corpus"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(CORPUS / "interviews", folder / "interviews")
    with (CORPUS / "tickets.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = reader.fieldnames or []
    with (folder / "tickets.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for i in range(tickets):
            row = dict(rows[i % len(rows)])
            row["id"] = str(900000 + i)
            writer.writerow(row)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=10_000)
    args = parser.parse_args()
    corpus = build_corpus(args.tickets)
    workspace = OUT / "ws"
    shutil.rmtree(workspace, ignore_errors=True)
    settings = load_settings(None, {"workspace": workspace})
    MiniLMEmbedder()  # load once so neither timing pays the model load

    began = time.perf_counter()
    summary = ingest([corpus], settings, Workspace(workspace))
    ingest_s = time.perf_counter() - began
    chunks = read_models(Workspace(workspace).chunks, Chunk)
    tokens = sum(c.token_count for c in chunks)

    model = MiniLMEmbedder()
    texts = [c.text for c in chunks]
    began = time.perf_counter()
    model.embed(texts)
    model_s = time.perf_counter() - began

    began = time.perf_counter()
    again = ingest([corpus], settings, Workspace(workspace))
    rerun_s = time.perf_counter() - began

    result = {
        "documents": summary.counts["documents"],
        "chunks": len(chunks),
        "tokens": tokens,
        "ingest_seconds": round(ingest_s, 2),
        "ingest_chunks_per_s": round(len(chunks) / ingest_s, 1),
        "ingest_tokens_per_s": round(tokens / ingest_s, 1),
        "model_seconds": round(model_s, 2),
        "model_chunks_per_s": round(len(chunks) / model_s, 1),
        "model_tokens_per_s": round(tokens / model_s, 1),
        "ratio_ingest_vs_model": round(model_s / ingest_s, 3),
        "reingest_unchanged_seconds": round(rerun_s, 2),
        "reingest_chunks_embedded": again.counts["chunks_embedded"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
