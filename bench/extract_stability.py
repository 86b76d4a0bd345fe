"""Benchmark how much of `persona extract` is re-sent when one ticket is added or removed.

Extracts transcripts/ once through a local OpenAI-compatible server, then, each trial starting
from that run's cache, removes (or adds) one ticket and extracts again: the calls of that second
run are the requests whose text changed. Also does the same on synthetic ticket sets (copies of
the corpus tickets under new ids), where a single corpus's luck matters less.

Usage:
  python bench/extract_stability.py                 # transcripts/ + 2000 synthetic tickets
  python bench/extract_stability.py --trials 20 --synthetic 3000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.extract import extract_mentions  # noqa: E402
from agent.ingest import ingest  # noqa: E402
from agent.models import Chunk  # noqa: E402
from agent.workspace import Workspace, read_models, write_models  # noqa: E402
from tests._llm_helpers import make_settings, quoting_responder  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402


def by_document(chunks: list[Chunk]) -> dict[str, list[Chunk]]:
    docs: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        docs.setdefault(chunk.document_id, []).append(chunk)
    return docs


def renamed(doc: list[Chunk], new_id: str) -> list[Chunk]:
    """A copy of one document under a new id (new chunk ids too)."""
    return [
        c.model_copy(update={"document_id": new_id, "id": f"{c.id[:8]}{new_id}"[-16:]}) for c in doc
    ]


def copy_cache(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite cache (recent answers may still sit in its WAL file)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def measure(
    chunks: list[Chunk], server: OpenAIServer, tmp: Path, trials: int, seed: int
) -> dict[str, Any]:
    """Calls of the full run, and calls re-made after removing / adding one ticket."""
    settings = make_settings(tmp / "base", server.base_url, max_output_tokens=4096, concurrency=8)
    workspace = Workspace(settings.workspace).ensure()
    write_models(workspace.chunks, chunks)
    server.reset_log()
    full = extract_mentions(settings, workspace).counts["calls"]
    docs = by_document(chunks)
    tickets = [d for d, cs in docs.items() if cs[0].kind == "ticket"]
    rng = random.Random(seed)

    def rerun(changed: list[Chunk], name: str) -> int:
        trial = make_settings(tmp / name, server.base_url, max_output_tokens=4096, concurrency=8)
        space = Workspace(trial.workspace).ensure()
        copy_cache(workspace.llm_cache, space.llm_cache)
        write_models(space.chunks, changed)
        summary = extract_mentions(trial, space)
        shutil.rmtree(space.root)
        return summary.counts["calls"]

    def without(doc_id: str) -> list[Chunk]:
        return [c for c in chunks if c.document_id != doc_id]

    def with_new(after: str, n: int) -> list[Chunk]:
        out = []
        for doc_id, doc in docs.items():
            out.extend(doc)
            if doc_id == after:
                out.extend(renamed(docs[rng.choice(tickets)], f"new{n:06d}"))
        return out

    removed = [rerun(without(d), f"rm{i}") for i, d in enumerate(rng.sample(tickets, trials))]
    added = [rerun(with_new(rng.choice(tickets), i), f"add{i}") for i in range(trials)]
    return {
        "tickets": len(tickets),
        "requests": full,
        "resent_remove_first_ticket": rerun(without(tickets[0]), "first"),
        "resent_remove_one_ticket_mean": round(sum(removed) / trials, 2),
        "resent_remove_one_ticket_max": max(removed),
        "resent_add_one_ticket_mean": round(sum(added) / trials, 2),
        "resent_add_one_ticket_max": max(added),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--synthetic", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=ROOT / "transcripts")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(responder=quoting_responder) as server:
        settings = make_settings(Path(tmp) / "ingest", server.base_url)
        settings.embeddings.provider = "hash"
        settings.ingest.redact = False
        workspace = Workspace(settings.workspace).ensure()
        ingest([args.corpus], settings, workspace)
        chunks = read_models(workspace.chunks, Chunk)
        report["corpus"] = measure(chunks, server, Path(tmp) / "c", args.trials, args.seed)
        tickets = [d for d in by_document(chunks).values() if d[0].kind == "ticket"]
        rng = random.Random(args.seed)
        synthetic = [
            c for i in range(args.synthetic) for c in renamed(rng.choice(tickets), f"s{i:06d}")
        ]
        report["synthetic"] = measure(synthetic, server, Path(tmp) / "s", args.trials, args.seed)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
