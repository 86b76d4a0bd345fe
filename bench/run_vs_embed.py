"""Offline `persona run transcripts/` next to the bare embedding model on the same chunk texts.

Run:  python bench/run_vs_embed.py [--repeat 5] [--corpus transcripts] [--code DIR]

Measured side by side, alternating, each in a fresh process:
  bare  `MiniLMEmbedder().embed(texts)` on the corpus's chunk texts (the texts of chunks.jsonl
        after one run), timed around the embed call alone (model load and imports apart);
  run   `python -m agent run CORPUS --llm offline --json` in a fresh workspace, timed from
        process start to exit (wall), with the summary's seconds per step.
Prints the medians, the ratio run wall / bare embed (the issue's measure) and run in-process /
bare embed, the per-step breakdown and the load average around each pair (the machine is
shared; compare ratios, not seconds, between machines). `--code DIR` runs another checkout of
the package (e.g. a `git archive` of an earlier commit) through PYTHONPATH, for before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

BARE = """
import json, sys, time
began = time.perf_counter()
from agent.embeddings import MiniLMEmbedder
texts = json.load(open(sys.argv[1], encoding="utf-8"))
model = MiniLMEmbedder()
loaded = time.perf_counter()
model.embed(texts)
done = time.perf_counter()
print(json.dumps({"load": loaded - began, "embed": done - loaded}))
"""


def _env(code: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PERSONA_EMBEDDER", None)
    env["PYTHONPATH"] = str(code or ROOT)
    return env


def run_once(corpus: Path, folder: Path, code: Path | None) -> dict[str, Any]:
    """A fresh `persona run` in a fresh workspace: wall seconds and the run summary."""
    workspace = folder / ".persona"
    shutil.rmtree(workspace, ignore_errors=True)
    command = [sys.executable, "-m", "agent", "run", str(corpus), "--llm", "offline", "--json"]
    began = time.perf_counter()
    proc = subprocess.run(
        [*command, "-w", str(workspace)],
        capture_output=True,
        text=True,
        env=_env(code),
        cwd=folder,
        check=False,
    )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"persona run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout)
    themes = next(s for s in summary["steps"] if s["step"] == "themes")["counts"]
    return {
        "wall": wall,
        "in_process": summary["seconds"],
        "steps": {s["step"]: s["seconds"] for s in summary["steps"]},
        "themes_texts_embedded": themes.get("texts_embedded"),
        "themes_chunk_vectors_reused": themes.get("chunk_vectors_reused"),
    }


def bare_once(texts_file: Path, code: Path | None) -> dict[str, float]:
    """The model alone on the chunk texts, in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", BARE, str(texts_file)],
        capture_output=True,
        text=True,
        env=_env(code),
        # Not the checkout: `python -c` puts its folder first on sys.path, before PYTHONPATH.
        cwd=texts_file.parent,
        check=True,
    )
    return json.loads(proc.stdout)


def chunk_texts(workspace: Path) -> list[str]:
    with (workspace / "chunks.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT / "transcripts")
    parser.add_argument("--code", type=Path, help="run this checkout of the package instead")
    args = parser.parse_args()
    corpus = args.corpus.absolute()
    with tempfile.TemporaryDirectory(prefix="persona-bench-") as tmp:
        folder = Path(tmp)
        # A first run warms the file cache and gives the chunk texts; it is not counted.
        warm = run_once(corpus, folder, args.code)
        texts = chunk_texts(folder / ".persona")
        texts_file = folder / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        pairs = []
        for i in range(args.repeat):
            load = os.getloadavg()[0]
            # Alternate which goes first, so a change in machine load hits both alike.
            if i % 2:
                run, bare = run_once(corpus, folder, args.code), bare_once(texts_file, args.code)
            else:
                bare, run = bare_once(texts_file, args.code), run_once(corpus, folder, args.code)
            pair = {"bare": bare, "run": run, "load": [round(load, 2), os.getloadavg()[0]]}
            pairs.append(pair)
            print(
                f"pair {i + 1}: bare embed {bare['embed']:.2f}s (load {bare['load']:.2f}s), "
                f"run {run['wall']:.2f}s wall / {run['in_process']:.2f}s in process, "
                f"ratio {run['wall'] / bare['embed']:.2f}, load average {load:.2f}",
                file=sys.stderr,
            )
    steps = sorted({s for p in pairs for s in p["run"]["steps"]}, key=list(warm["steps"]).index)
    result = {
        "corpus": str(corpus),
        "code": str(args.code or ROOT),
        "chunks": len(texts),
        "repeat": args.repeat,
        "bare_embed_seconds": _median([p["bare"]["embed"] for p in pairs]),
        "bare_model_load_seconds": _median([p["bare"]["load"] for p in pairs]),
        "run_wall_seconds": _median([p["run"]["wall"] for p in pairs]),
        "run_in_process_seconds": _median([p["run"]["in_process"] for p in pairs]),
        # Per pair, then the median: each ratio compares two runs made at the same load.
        "ratio_run_wall_to_bare_embed": _median(
            [p["run"]["wall"] / p["bare"]["embed"] for p in pairs]
        ),
        "ratio_run_in_process_to_bare_embed": _median(
            [p["run"]["in_process"] / p["bare"]["embed"] for p in pairs]
        ),
        "run_step_seconds": {s: _median([p["run"]["steps"][s] for p in pairs]) for s in steps},
        "themes_texts_embedded": warm["themes_texts_embedded"],
        "themes_chunk_vectors_reused": warm["themes_chunk_vectors_reused"],
        "load_average": [p["load"] for p in pairs],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
