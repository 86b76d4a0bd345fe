"""Benchmark `persona extract` against a local OpenAI-compatible server with a fixed latency.

Prints two numbers and their targets:
  wall time / ideal, where ideal = calls x latency / concurrency      (target <= 1.2)
  tokens sent per source token (prompt + schema, counted with tiktoken) (target <= 1.5)

Usage:
  python bench/extract.py                     # transcripts/ corpus + 100 synthetic requests
  python bench/extract.py --latency 0.2 --concurrency 4 --requests 200 --mode tools
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import LLMSettings, Settings  # noqa: E402
from agent.extract import extract_mentions  # noqa: E402
from agent.ingest import ingest  # noqa: E402
from agent.llm import build_client  # noqa: E402
from agent.models import Chunk  # noqa: E402
from agent.tokens import count_tokens  # noqa: E402
from agent.workspace import Workspace, read_models, write_models  # noqa: E402
from tests._llm_helpers import make_chunk, make_settings, quoting_responder  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402

FILLER = (
    "The bank feed dropped again on Monday and I spent the morning re-entering transactions. "
    "Our approvers are on the road and the mobile app logs them out, so reports wait a week. "
    "Exports to the ledger put meals under office supplies and I fix them one by one. "
)


def sent_tokens(body: dict[str, Any]) -> int:
    """Tokens of what the client sent: every message plus the tool schema, if any."""
    total = 0
    for message in body.get("messages", []):
        content = message.get("content")
        total += 4 + count_tokens(content if isinstance(content, str) else json.dumps(content))
    if body.get("tools"):
        total += count_tokens(json.dumps(body["tools"]))
    return total


def synthetic_chunks(requests: int) -> list[Chunk]:
    """Interviews of about one request each: a question, then answers filling one batch."""
    chunks = []
    for doc in range(requests):
        question = make_chunk(
            "What slows you down at month end?",
            doc=f"s{doc}",
            role="interviewer",
            participant=f"S{doc}",
        )
        chunks.append(question.model_copy(update={"token_count": count_tokens(question.text)}))
        for part in range(7):
            chunk = make_chunk(
                f"Answer {doc}.{part}. " + FILLER * 6,
                doc=f"s{doc}",
                start=400 * (part + 1),
                participant=f"S{doc}",
            )
            chunks.append(chunk.model_copy(update={"token_count": count_tokens(chunk.text)}))
    return chunks


def run(settings: Settings, workspace: Workspace, server: OpenAIServer) -> dict[str, Any]:
    server.reset_log()
    began = time.perf_counter()
    summary = extract_mentions(settings, workspace)
    wall = time.perf_counter() - began
    calls = len(server.chat_requests())
    chunks = read_models(workspace.chunks, Chunk)
    quotable = sum(c.token_count for c in chunks if c.role in ("participant", "customer"))
    everything = sum(c.token_count for c in chunks)
    sent = sum(sent_tokens(r.body) for r in server.chat_requests())
    ideal = calls * server.latency / settings.llm.concurrency
    return {
        "calls": calls,
        "mentions": summary.counts.get("mentions", 0),
        "failed": summary.counts.get("failed", 0),
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "wall_over_ideal": round(wall / ideal, 3) if ideal else None,
        "tokens_sent": sent,
        "source_tokens_quotable": quotable,
        "source_tokens_all": everything,
        "sent_per_quotable_source_token": round(sent / max(1, quotable), 3),
        "sent_per_source_token": round(sent / max(1, everything), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--mode", choices=["tools", "json", "md_json"], default="tools")
    parser.add_argument("--corpus", type=Path, default=ROOT / "transcripts")
    parser.add_argument(
        "--max-output-tokens",
        type=int,
        default=LLMSettings().max_output_tokens,
        help="llm.max_output_tokens (sizes batches) [default: the config default]",
    )
    args = parser.parse_args()

    report: dict[str, Any] = {
        "max_output_tokens": args.max_output_tokens,
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "mode": args.mode,
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        OpenAIServer(responder=quoting_responder, latency=args.latency) as server,
    ):

        def settings_for(name: str) -> Settings:
            settings = make_settings(
                Path(tmp) / name,
                server.base_url,
                mode=args.mode,
                concurrency=args.concurrency,
                timeout=30.0,
                max_output_tokens=args.max_output_tokens,
            )
            settings.embeddings.provider = "hash"
            return settings

        # openai + instructor take seconds to import on a cold disk: a one-off start-up cost,
        # paid here so the timings measure the calls.
        build_client(settings_for("warmup").llm)

        if (args.corpus / "GROUND_TRUTH.json").exists():
            settings = settings_for("corpus")
            workspace = Workspace(settings.workspace).ensure()
            ingest([args.corpus], settings, workspace)
            report["corpus"] = run(settings, workspace, server)

        settings = settings_for("synthetic")
        workspace = Workspace(settings.workspace).ensure()
        write_models(workspace.chunks, synthetic_chunks(args.requests))
        report["synthetic"] = run(settings, workspace, server)

    print(json.dumps(report, indent=2))
    for name in ("corpus", "synthetic"):
        if name in report:
            r = report[name]
            print(
                f"{name}: {r['calls']} calls, wall {r['wall_s']}s vs ideal {r['ideal_s']}s "
                f"= {r['wall_over_ideal']}x (target <= 1.2); tokens sent per source token "
                f"{r['sent_per_source_token']} (quotable only: "
                f"{r['sent_per_quotable_source_token']}; target <= 1.5)",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main()
