"""Bench: segment 1,000,000 users vs a bare DuckDB aggregate over the same file.

    python bench/segment.py [--rows 1000000] [--repeat 3]

Writes bench/out/users_1m.{parquet,csv} (numpy, seed 42; regenerated only when missing), then
for each format runs, each in a fresh subprocess so peak RSS belongs to that step alone:
- bare: SELECT role, count(*), avg(...) ... GROUP BY role over the file (one DuckDB query);
- bare_all: the same shape of query over every column the preset reads (informative);
- bare_load: CREATE TABLE AS SELECT * over the file, i.e. only reading every column into memory,
  the floor under any scorer that keeps the rows (informative);
- bare_same: one hand-written DuckDB query computing the same segments (the preset's rules as
  CASE expressions) and the same per-segment numbers (count, mean, min, max and exact
  quartiles of every numeric column, value counts of every categorical column and dimension),
  i.e. what DuckDB alone takes for the work the scorer does, without its checks and outputs;
- score: agent.segment.score_users end to end with the weekly preset (read, validate rules, load
  the columns it needs into memory, lock the connection, score, every statistic), and
  write_segment_outputs (segments.json + 1M-row assignments CSV).
Before timing, a child checks that the same-work query and score_users give the same sizes,
means, minima, maxima and quartiles (to the scorer's 2 decimals). Prints a table and the
ratios (target <= 2x).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
FEATURES = ["receipts", "approvals", "cards", "bank_sync", "exports", "reports"]
BARE_SQL = (
    "SELECT role, count(*), avg(sessions_7d), avg(sessions_30d), avg(events_30d), "
    "avg(days_since_last_active), avg(total_events), avg(nps) FROM {src} GROUP BY role"
)
# A second, informative baseline: the same kind of query touching every column the weekly
# preset reads (a CSV scan costs more the more columns are converted).
NUMERIC = [
    "age",
    "signup_days_ago",
    "sessions_7d",
    "sessions_30d",
    "events_7d",
    "events_30d",
    "days_since_last_active",
    "total_events",
    "feedback_30d",
    "referrals",
    "nps",
    *(f"feat_{f}" for f in FEATURES),
]
BARE_ALL_SQL = (
    "SELECT role, count(*), count(DISTINCT plan), count(DISTINCT signup_source), "
    "count(DISTINCT company_size), count(DISTINCT income_band), max(user_id), "
    + ", ".join(f"avg({c})" for c in NUMERIC)
    + " FROM {src} GROUP BY role"
)

BARE_LOAD_SQL = "CREATE TABLE users AS SELECT * FROM {src}"


def bare_same_sql(src: str) -> str:
    """The weekly preset's rules and summaries as one plain GROUP BY (no agent code involved)."""
    sys.path.insert(0, str(ROOT))
    from agent.segment_rules import load_segment_config  # only to read the TOML's rules

    cfg = load_segment_config(None, "weekly")
    feats = [f"coalesce(feat_{f}, 0)" for f in FEATURES]
    sql = (
        f"SELECT *, ({' + '.join(f'CAST({v} > 0 AS INTEGER)' for v in feats)}) AS feature_breadth, "
        f"({' + '.join(feats)}) AS feature_total, greatest({', '.join(feats)}) AS feature_max "
        f"FROM {src}"
    )
    for name, expr in cfg.derived.items():
        sql = f"SELECT *, ({expr}) AS {name} FROM ({sql})"
    for dim in cfg.dimensions:
        whens = " ".join(f"WHEN {lv.when} THEN '{lv.label}'" for lv in dim.levels)
        sql = f"SELECT *, CASE {whens} ELSE '{dim.default}' END AS {dim.name} FROM ({sql})"
    whens = " ".join(f"WHEN {r.when} THEN '{r.name}'" for r in cfg.personas)
    sql = f"SELECT *, CASE {whens} END AS persona FROM ({sql})"
    numeric = [*cfg.table.numeric, "age"]
    cats = [*cfg.table.categorical, *(d.name for d in cfg.dimensions)]
    aggs = ", ".join(
        f"avg({c}), min({c}), max({c}), quantile_cont({c}, [0.25, 0.5, 0.75])" for c in numeric
    )
    hists = ", ".join(f"histogram({c})" for c in cats)
    return (
        f"SELECT persona, count(*), {aggs}, {hists} FROM ({sql}) "
        "GROUP BY GROUPING SETS ((persona), ())"
    )


def check_same_numbers(file: Path) -> int:
    """Assert the bare same-work query and the scorer agree; returns how many values matched."""
    import duckdb

    from agent.segment import score_users
    from agent.segment_rules import load_segment_config

    src = f"read_parquet('{file}')" if file.suffix == ".parquet" else f"read_csv('{file}')"
    config = load_segment_config(None, "weekly")
    with duckdb.connect() as con:
        rows = con.execute(bare_same_sql(src)).fetchall()
    report, assignments = score_users(file, config)
    assignments.close()
    by_name = {s.name: s for s in report.segments}
    numeric = [*config.table.numeric, "age"]
    compared = 0
    for row in rows:
        if row[0] is None:  # the () grouping set: all users
            assert row[1] == report.total_users
            continue
        seg = by_name[row[0]]
        assert seg.size == row[1], (row[0], seg.size, row[1])
        compared += 1
        for i, col in enumerate(numeric):
            avg, lo, hi, quartiles = row[2 + 4 * i : 6 + 4 * i]
            summary = seg.numeric.get(col)
            if summary is None:  # age is reported as a range only
                continue
            want = tuple(round(float(v), 2) + 0.0 for v in (avg, lo, hi, *quartiles))
            got = (summary.mean, summary.min, summary.max, summary.q1, summary.median, summary.q3)
            assert got == want, (row[0], col, got, want)
            compared += 6
    return compared


def generate(n: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Users in the sample table's columns, drawn from six behavioural groups."""
    rng = np.random.default_rng(seed)
    group = rng.choice(6, size=n, p=[0.15, 0.15, 0.3, 0.1, 0.1, 0.2])
    roles = np.array(
        ["finance_admin", "approver_manager", "employee", "employee", "controller", "employee"]
    )
    role = roles[group]
    role[(group == 0) & (rng.random(n) < 0.4)] = "bookkeeper"
    idle = np.select(
        [group == 4, group == 5],
        [rng.integers(14, 61, n), rng.integers(61, 400, n)],
        rng.integers(0, 10, n),
    )
    s30 = np.select([group == 0, group >= 4], [rng.integers(20, 60, n), 0], rng.integers(2, 12, n))
    e30 = np.select([group == 0, group >= 4], [rng.integers(60, 300, n), 0], rng.integers(4, 30, n))
    feats = {}
    for i, name in enumerate(FEATURES):
        base = rng.poisson(2, n)
        boost = np.select(
            [group == 0, (group == 1) & (i == 1), (group == 2) & (i == 0)],
            [rng.poisson(15, n), rng.poisson(8, n), rng.poisson(8, n)],
            0,
        )
        keep = (group == 0) | (rng.random(n) < 0.15)
        feats[f"feat_{name}"] = np.where(group >= 4, 0, boost + base * keep)
    nps = rng.integers(0, 11, n).astype(float)
    nps[rng.random(n) < 0.25] = np.nan
    return {
        "user_id": np.char.add("u", np.arange(n).astype(str)).astype(object),
        "age": rng.integers(21, 66, n),
        "income_band": rng.choice(["<50k", "50-100k", "100-150k", "150k+"], n).astype(object),
        "signup_source": rng.choice(["search", "referral", "partner", "ads", "direct"], n).astype(
            object
        ),
        "role": role.astype(object),
        "plan": rng.choice(["free", "team", "business", "enterprise"], n).astype(object),
        "company_size": rng.choice(["1-10", "11-50", "51-200", "201-1000"], n).astype(object),
        "signup_days_ago": np.where(group == 3, rng.integers(1, 30, n), rng.integers(30, 1500, n)),
        "sessions_7d": s30 // 4,
        "sessions_30d": s30,
        "events_7d": e30 // 4,
        "events_30d": e30,
        "days_since_last_active": idle,
        "total_events": e30 * rng.integers(3, 15, n) + np.where(group == 4, 500, 0),
        **feats,
        "feedback_30d": rng.poisson(0.3, n),
        "referrals": rng.poisson(0.1, n),
        "nps": nps,
    }


def ensure_files(rows: int) -> dict[str, Path]:
    import duckdb

    OUT.mkdir(parents=True, exist_ok=True)
    tag = "1m" if rows == 1_000_000 else str(rows)
    files = {"parquet": OUT / f"users_{tag}.parquet", "csv": OUT / f"users_{tag}.csv"}
    if all(p.exists() for p in files.values()):
        return files
    data = generate(rows)  # noqa: F841 - read by DuckDB's replacement scan below
    con = duckdb.connect()
    # numpy has no NULL: turn the NaN placeholders into real NULLs (empty in the CSV).
    con.execute(
        "CREATE TABLE users AS SELECT * REPLACE (nullif(nps, 'NaN'::DOUBLE) AS nps) FROM data"
    ).fetchall()
    con.execute(f"COPY users TO '{files['parquet']}' (FORMAT parquet)").fetchall()
    con.execute(f"COPY users TO '{files['csv']}' (FORMAT csv, HEADER true)").fetchall()
    return files


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step(kind: str, file: Path, repeat: int) -> dict[str, object]:
    """Run one measurement in this (fresh) process; returns seconds per run and peak RSS."""
    import tempfile

    import duckdb

    times, write_times = [], []
    src = f"read_parquet('{file}')" if file.suffix == ".parquet" else f"read_csv('{file}')"
    result: dict[str, object] = {}
    if kind == "score":
        sys.path.insert(0, str(ROOT))
        from agent.segment import score_users, write_segment_outputs
        from agent.segment_rules import load_segment_config
        from agent.workspace import Workspace
    for _ in range(repeat):
        t0 = time.perf_counter()
        if kind in ("bare", "bare_all", "bare_load", "bare_same"):
            con = duckdb.connect()
            # The scorer's own setting, so the in-memory load is measured alike.
            con.execute("SET preserve_insertion_order = false")
            sql = {"bare": BARE_SQL, "bare_all": BARE_ALL_SQL, "bare_load": BARE_LOAD_SQL}.get(kind)
            sql = sql.format(src=src) if sql else bare_same_sql(src)
            rows = con.execute(sql).fetchall()
            result["groups"] = len(rows)
            con.close()
        else:
            report, assignments = score_users(file, load_segment_config(None, "weekly"))
            t1 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                write_segment_outputs(report, assignments, Workspace(tmp))
            write_times.append(time.perf_counter() - t1)
            result["segments"] = {s.name: s.size for s in report.segments}
            assignments.close()
        times.append(time.perf_counter() - t0 - (write_times[-1] if write_times else 0))
    result.update(seconds=times, write_seconds=write_times, peak_rss_mb=round(peak_rss_mb(), 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median shown)")
    parser.add_argument(
        "--step",
        choices=["generate", "check", "bare", "bare_all", "bare_load", "bare_same", "score"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "generate":
        ensure_files(args.rows)
        return
    if args.step == "check":
        sys.path.insert(0, str(ROOT))
        print(json.dumps({"compared": check_same_numbers(args.file)}))
        return
    if args.step:
        print(json.dumps(step(args.step, args.file, 1)))
        return
    t0 = time.perf_counter()
    # Generate in a child so this process stays small: on Linux a child's ru_maxrss starts
    # from its parent's high-water mark at fork time.
    cmd = [sys.executable, __file__, "--step", "generate", "--rows", str(args.rows)]
    subprocess.run(cmd, check=True)
    files = ensure_files(args.rows)
    print(f"data: {args.rows:,} users, ready in {time.perf_counter() - t0:.1f} s")
    for fmt, file in files.items():
        size_mb = file.stat().st_size / 1e6
        cmd = [sys.executable, __file__, "--step", "check", "--file", str(file)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        checked = json.loads(out.strip().splitlines()[-1])["compared"]
        res: dict[str, dict] = {}
        # Alternate the two, one run per child, so background load hits both alike.
        for _ in range(args.repeat):
            for kind in ("score", "bare", "bare_all", "bare_load", "bare_same"):
                cmd = [sys.executable, __file__, "--step", kind, "--file", str(file)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                one = json.loads(out.strip().splitlines()[-1])
                acc = res.setdefault(kind, {"seconds": [], "write_seconds": [], "peak_rss_mb": 0})
                acc["seconds"] += one["seconds"]
                acc["write_seconds"] += one["write_seconds"]
                acc["peak_rss_mb"] = max(acc["peak_rss_mb"], one["peak_rss_mb"])
                acc["segments"] = one.get("segments")
        bare = statistics.median(res["bare"]["seconds"])
        score = statistics.median(res["score"]["seconds"])
        write = statistics.median(res["score"]["write_seconds"])
        print(f"\n{fmt} ({size_mb:.0f} MB), median of {args.repeat}:")
        print(f"  the same-work query and score_users agree on {checked} values")
        bare_all = statistics.median(res["bare_all"]["seconds"])
        bare_same = statistics.median(res["bare_same"]["seconds"])
        bare_load = statistics.median(res["bare_load"]["seconds"])
        print(f"  bare aggregate : {bare:6.2f} s   peak RSS {res['bare']['peak_rss_mb']:7.1f} MB")
        print(
            f"  bare, all cols : {bare_all:6.2f} s   peak RSS "
            f"{res['bare_all']['peak_rss_mb']:7.1f} MB"
        )
        print(
            f"  bare, load all : {bare_load:6.2f} s   peak RSS "
            f"{res['bare_load']['peak_rss_mb']:7.1f} MB"
        )
        print(
            f"  bare, same work: {bare_same:6.2f} s   peak RSS "
            f"{res['bare_same']['peak_rss_mb']:7.1f} MB"
        )
        print(
            f"  score_users    : {score:6.2f} s   peak RSS {res['score']['peak_rss_mb']:7.1f} MB"
            f"   (+ write outputs {write:.2f} s)"
        )
        print(
            f"  ratio score/bare: {score / bare:.2f}x (target <= 2x); "
            f"score/bare-all-columns: {score / bare_all:.2f}x; "
            f"score/bare-same-work: {score / bare_same:.2f}x"
        )
        print(f"  segments: {res['score']['segments']}")


if __name__ == "__main__":
    main()
