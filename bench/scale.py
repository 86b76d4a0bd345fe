"""`persona run` on the sample corpus scaled to N tickets (default 50,000), offline, end to end.

Run:  python bench/scale.py [--tickets 50000] [--reruns 1] [--code DIR] [--vary]

The corpus is transcripts/ (12 interviews, roster, users.csv) with tickets.csv repeated under
fresh ids up to N rows, as bench/ingest.py builds it (`--vary` appends the ticket's id to each
description, so no two texts are the same and nothing can be shared between repeats). Each run
is a fresh `python -m agent run CORPUS --llm offline --json` process in a fresh workspace; then
the same command again with nothing changed (`--reruns` times). Reported per run: wall seconds,
peak RSS of the process (wait4), the summary's seconds per step, and the progress lines the
themes step printed (stderr is not a terminal here, so they are the plain lines).
`--code DIR` runs another checkout of the package (e.g. a `git archive` of the previous commit)
through PYTHONPATH, to compare before and after on the same corpus.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "transcripts"
OUT = ROOT / "bench" / "out" / "scale"


def build_corpus(folder: Path, tickets: int, vary: bool) -> Path:
    """transcripts/ with tickets.csv repeated (fresh ids) up to `tickets` rows."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(SAMPLE / "interviews", folder / "interviews")
    for name in ("participants.csv", "users.csv"):
        shutil.copy2(SAMPLE / name, folder / name)
    with (SAMPLE / "tickets.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = list(reader.fieldnames or [])
    with (folder / "tickets.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for i in range(tickets):
            row = dict(rows[i % len(rows)])
            row["id"] = str(900000 + i)
            if vary:
                row["description"] = f"{row['description']} (ref {900000 + i})"
            writer.writerow(row)
    return folder


def run_once(
    corpus: Path, workspace: Path, code: Path | None, profile: Path | None = None
) -> dict[str, Any]:
    """One `persona run` in a fresh process: wall, peak RSS, step seconds, themes progress."""
    env = dict(os.environ, PERSONA_PROGRESS_SECONDS="15", PYTHONPATH=str(code or ROOT))
    command = [sys.executable, "-m", "agent", "run", str(corpus), "--llm", "offline"]
    command += ["-w", str(workspace), "--json"]
    if profile is not None:
        # py-spy samples from outside; its own RSS, not the run's, is what wait4 then reports.
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "-r", "20", "-f", "raw", "-o", str(profile), "--", *command]
    began = time.perf_counter()
    samples: list[tuple[float, int]] = []
    with (
        (workspace.parent / "stdout.json").open("w") as out,
        (workspace.parent / "stderr.txt").open("w") as err,
    ):
        # Not the checkout as cwd: `python -m` puts it first on sys.path, before PYTHONPATH.
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=workspace.parent)
        watch = None if profile else threading.Thread(target=_sample, args=(child, samples))
        if watch:
            watch.start()
        _, status, usage = os.wait4(child.pid, 0)
        if watch:
            watch.join()
    wall = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    # The run's own record (stdout may carry py-spy's chatter when profiling).
    summary = json.loads((workspace / "last_run.json").read_text(encoding="utf-8"))
    progress = (workspace.parent / "stderr.txt").read_text(encoding="utf-8").splitlines()
    steps = {s["step"]: s["seconds"] for s in summary.get("steps", [])}
    return {
        "exit_code": child.returncode,
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "in_process_seconds": summary.get("seconds"),
        "steps": steps,
        "step_peak_rss_mb": _step_peaks(samples, steps, wall - summary.get("seconds", 0)),
        "counts": {s["step"]: s.get("counts", {}) for s in summary.get("steps", [])},
        "themes_progress": [line for line in progress if line.startswith("themes")],
    }


def _sample(child: subprocess.Popen[bytes], samples: list[tuple[float, int]]) -> None:
    """(seconds since start, RSS MB) every 0.2 s while the child runs."""
    began = time.perf_counter()
    status = Path(f"/proc/{child.pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        if "State:\tZ" in text:
            return  # exited, waiting to be reaped
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                samples.append((time.perf_counter() - began, int(line.split()[1]) // 1024))
        time.sleep(0.2)


def _step_peaks(
    samples: list[tuple[float, int]], steps: dict[str, float], startup: float
) -> dict[str, int]:
    """Highest RSS sampled during each step, placing steps by their seconds (after start-up).

    Approximate at the edges (a step's seconds start after its imports), exact enough to say
    which step holds the peak.
    """
    peaks: dict[str, int] = {}
    at = startup
    for step, seconds in steps.items():
        inside = [rss for t, rss in samples if at <= t <= at + seconds]
        peaks[step] = max(inside, default=0)
        at += seconds
    return peaks


def _profile(args: argparse.Namespace, name: str) -> Path | None:
    wanted = args.profile == "all" or (args.profile == "reruns" and name != "first")
    return (args.out / f"{name}.pyspy.txt").absolute() if wanted else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--reruns", type=int, default=1)
    parser.add_argument("--vary", action="store_true", help="make every ticket text distinct")
    parser.add_argument("--code", type=Path, help="run this checkout of the package instead")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--profile",
        choices=["none", "reruns", "all"],
        default="none",
        help="record runs with py-spy (raw stacks in --out)",
    )
    args = parser.parse_args()
    corpus = build_corpus(args.out / "corpus", args.tickets, args.vary)
    workspace = args.out / "ws" / ".persona"
    shutil.rmtree(workspace.parent, ignore_errors=True)
    workspace.parent.mkdir(parents=True)
    load = os.getloadavg()
    result: dict[str, Any] = {
        "tickets": args.tickets,
        "vary": args.vary,
        "code": str(args.code or ROOT),
        "load_average_before": [round(x, 2) for x in load],
        "first": run_once(corpus, workspace, args.code, _profile(args, "first")),
    }
    print(json.dumps({"first": result["first"]}, indent=2), file=sys.stderr)
    result["reruns"] = [
        run_once(corpus, workspace, args.code, _profile(args, f"rerun{i}"))
        for i in range(args.reruns)
    ]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
