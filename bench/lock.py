"""What the workspace lock costs a command: acquiring and releasing it, against a normal run.

Run:  python bench/lock.py [--n 2000]

Times `workspace_lock` (open the lock file, flock, write who holds it, close) on a workspace
folder N times, and the nested acquisition a step inside `persona run` makes (re-entrant: a dict
lookup). A run takes the outer lock once and each of its 6 steps once nested, so its cost is one
outer plus six nested acquisitions; compare with the 10 s an offline run of the sample takes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from agent.lock import workspace_lock


def _time(n: int, nested: bool, root: Path) -> list[float]:
    out = []
    for _ in range(n):
        if nested:
            with workspace_lock(root, "run"):
                began = time.perf_counter()
                with workspace_lock(root, "themes"):
                    pass
                out.append(time.perf_counter() - began)
        else:
            began = time.perf_counter()
            with workspace_lock(root, "run"):
                pass
            out.append(time.perf_counter() - began)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        outer = _time(args.n, False, root)
        inner = _time(args.n, True, root)
    per_run = statistics.median(outer) + 6 * statistics.median(inner)
    print(
        json.dumps(
            {
                "n": args.n,
                "outer_median_us": round(statistics.median(outer) * 1e6, 1),
                "outer_p99_us": round(sorted(outer)[int(0.99 * len(outer))] * 1e6, 1),
                "nested_median_us": round(statistics.median(inner) * 1e6, 2),
                "per_run_us": round(per_run * 1e6, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
