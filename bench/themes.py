"""Time to cluster N pain-point mentions (default 10,000), ours next to BERTopic and HDBSCAN.

Mentions are synthesised from paraphrase templates of 30 planted pain points (so the partition
is known and ARI / V-measure can be reported too), embedded once with the project's MiniLM, and
every method clusters the SAME vectors, each in a fresh process so its peak memory is its own:

    /work/venv/bin/python bench/themes.py --n 10000 --bench-python /work/bench-venv/bin/python

`ours` = agent.cluster exact average linkage; `ours-2stage` = k-means pre-grouping + linkage
(what runs above EXACT_LIMIT); `build_themes` = the whole library call (cluster, count, rank,
quotes, offline names). BERTopic and HDBSCAN need the bench venv (see bench/themes_public.py).

Quality on the sample corpus (which vectors and thresholds keep its planted pain points whole):

    /work/venv/bin/python bench/themes.py --sample transcripts
    /work/venv/bin/python bench/themes.py --sample transcripts --offline
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent

PAINS = [
    [
        "bank sync drops transactions",
        "my bank feed misses payments",
        "imported bank rows go missing",
    ],
    [
        "the CSV export breaks date formats",
        "exported dates come out wrong",
        "dates are garbled in exports",
    ],
    [
        "I can't find the invoice button",
        "creating an invoice is hidden in menus",
        "the invoice option is hard to find",
    ],
    [
        "the mobile app logs me out constantly",
        "I get signed out of the app every day",
        "the app forgets my login",
    ],
    [
        "price went up without warning",
        "the plan got more expensive overnight",
        "we were charged more with no notice",
    ],
    [
        "support takes days to answer",
        "nobody replies to my tickets for a week",
        "customer service is very slow",
    ],
    [
        "reports load forever",
        "the dashboard takes minutes to open",
        "reporting pages are painfully slow",
    ],
    [
        "I can't add more than five users",
        "the seat limit blocks my team",
        "we hit the user cap too soon",
    ],
    [
        "receipts don't scan properly",
        "the receipt photo reader gets amounts wrong",
        "scanning receipts misreads totals",
    ],
    [
        "payroll runs fail at month end",
        "the payroll job errors out on closing day",
        "salary runs break every month end",
    ],
    [
        "two-factor codes arrive late",
        "the SMS login code takes ages",
        "verification texts come too slowly",
    ],
    [
        "tax rates are wrong for my region",
        "VAT is calculated incorrectly",
        "the sales tax setting is wrong for us",
    ],
    [
        "onboarding setup is confusing",
        "the first-time setup wizard is unclear",
        "getting started took me hours",
    ],
    [
        "notifications flood my inbox",
        "too many email alerts",
        "the app spams me with notifications",
    ],
    [
        "search never finds old invoices",
        "looking up past invoices returns nothing",
        "invoice search is broken",
    ],
    [
        "the API rate limit is too low",
        "our integration hits API limits",
        "API calls get throttled constantly",
    ],
    [
        "multi-currency totals are wrong",
        "foreign currency conversions are off",
        "exchange rates are applied badly",
    ],
    [
        "data import from spreadsheets fails",
        "uploading my spreadsheet gives errors",
        "the Excel import rejects my file",
    ],
    [
        "I can't undo a deleted entry",
        "deleted records are gone forever",
        "there is no way to restore deletions",
    ],
    [
        "permissions are too coarse",
        "I cannot restrict what staff see",
        "role settings don't let me limit access",
    ],
    [
        "the calendar sync duplicates events",
        "appointments show up twice after syncing",
        "synced meetings get duplicated",
    ],
    [
        "printing layouts are cut off",
        "printed reports lose the right margin",
        "the print view crops pages",
    ],
    [
        "the app crashes when attaching photos",
        "adding a picture makes the app close",
        "photo uploads crash the app",
    ],
    [
        "cancelling the subscription is hard",
        "there is no clear way to cancel",
        "I couldn't find how to end my plan",
    ],
    [
        "recurring invoices send on wrong dates",
        "scheduled invoices go out late",
        "repeat billing dates drift",
    ],
    ["the dark mode is unreadable", "text is invisible in dark theme", "dark mode has no contrast"],
    [
        "bank reconciliation takes hours",
        "matching transactions by hand is slow",
        "reconciling accounts is tedious",
    ],
    [
        "the translation is poor in German",
        "German labels are wrong",
        "the German version has bad wording",
    ],
    [
        "offline mode loses my changes",
        "edits made offline disappear",
        "work done without internet is lost",
    ],
    [
        "the audit log is missing entries",
        "I can't see who changed a record",
        "history of changes is incomplete",
    ],
]
PREFIX = [
    "",
    "Honestly, ",
    "Every week ",
    "For our team ",
    "As a small business ",
    "Lately ",
    "Again, ",
]
SUFFIX = [
    "",
    " and it costs me hours",
    ", which is frustrating",
    " so I do it by hand",
    " and my accountant complains",
    ", really annoying",
    " and we nearly left because of it",
]


def synthesise(n: int, seed: int) -> tuple[list[str], list[int]]:
    """n texts from PAINS (label = pain index), deterministic for a seed."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        pain = i % len(PAINS)
        core = rng.choice(PAINS[pain])
        texts.append(f"{rng.choice(PREFIX)}{core}{rng.choice(SUFFIX)}".strip())
        labels.append(pain)
    return texts, labels


def _child(method: str, vectors_path: Path, texts_path: Path, out_path: Path, seed: int) -> None:
    """Run one method on the saved vectors; record labels, seconds and this process's peak RSS."""
    vectors = np.load(vectors_path)
    texts = json.loads(texts_path.read_text(encoding="utf-8"))["texts"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if method in ("ours", "ours-2stage", "build_themes"):
        sys.path.insert(0, str(REPO))
        from agent.cluster import cluster_vectors

        if method == "ours":
            labels = cluster_vectors(vectors, 0.55).tolist()
        elif method == "ours-2stage":
            labels = cluster_vectors(vectors, 0.55, exact_limit=2500).tolist()
        else:
            labels = _build(texts, vectors, seed)
    elif method == "bertopic":
        from bertopic import BERTopic
        from umap import UMAP

        umap = UMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
        )
        topics, _ = BERTopic(umap_model=umap).fit_transform(texts, vectors)
        labels = [int(t) for t in topics]
    elif method == "hdbscan":
        import hdbscan

        labels = hdbscan.HDBSCAN().fit_predict(vectors).tolist()
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"labels": labels, "seconds": seconds, "peak_mb": peak, "start_mb": rss_before}
    out_path.write_text(json.dumps(out), encoding="utf-8")


def _build(texts: list[str], vectors: np.ndarray, seed: int) -> list[int]:
    from agent.config import ThemeSettings
    from agent.models import PainPointMention, Quote
    from agent.themes import build_themes

    mentions = []
    for i, text in enumerate(texts):
        kind = "ticket" if i % 3 else "interview"
        pid, tid = (None, f"T{i}") if kind == "ticket" else (f"P{i % 200}", None)
        quote = Quote(text=text, chunk_id=f"c{i}", start=0, end=len(text))
        mentions.append(
            PainPointMention(
                id=f"m{i:06d}",
                statement=text,
                category="",
                severity=1 + i % 5,
                severity_rationale="",
                journey_stage="unknown",
                quotes=[quote],
                chunk_id=f"c{i}",
                document_id=f"d{pid or tid}",
                kind=kind,
                participant_id=pid,
                ticket_id=tid,
            )
        )

    class Precomputed:
        name, dim = "precomputed-minilm", vectors.shape[1]

    report = build_themes(
        mentions,
        Precomputed(),
        total_participants=200,
        total_tickets=len(texts),  # type: ignore[arg-type]
        settings=ThemeSettings(),
        embeddings=vectors,
    )
    label_of = {mid: k for k, theme in enumerate(report.themes) for mid in theme.mention_ids}
    return [label_of[m.id] for m in mentions]


def _partition_quality(keys: list[str], labels: list[int]) -> dict[str, int]:
    """Planted points that are exactly one theme, themes mixing points, noise inside points."""
    by_theme: dict[int, set[str]] = {}
    by_key: dict[str, set[int]] = {}
    for key, label in zip(keys, labels, strict=True):
        by_theme.setdefault(label, set()).add(key)
        by_key.setdefault(key, set()).add(label)
    planted = {k for k in by_key if k not in ("noise", "other")}
    exact = sum(1 for k in planted if len(by_key[k]) == 1 and by_theme[min(by_key[k])] == {k})
    return {
        "exact": exact,
        "planted": len(planted),
        "merged": sum(1 for t in by_theme.values() if len(t & planted) > 1),
        "noise_in": sum(1 for t in by_theme.values() if "noise" in t and t & planted),
        "extra_splits": sum(len(by_key[k]) - 1 for k in planted),
    }


def _quality_rows(name: str, keys: list[str], vectors: np.ndarray, thresholds: list[float]) -> None:
    sys.path.insert(0, str(REPO))
    from agent.cluster import cluster_vectors

    for threshold in thresholds:
        q = _partition_quality(keys, cluster_vectors(vectors, threshold).tolist())
        print(
            f"| {name} | {threshold} | {q['exact']}/{q['planted']} | {q['merged']} "
            f"| {q['noise_in']} | {q['extra_splits']} |"
        )


QUALITY_HEAD = (
    "| vectors | threshold | planted exact | merged themes | noise in planted | extra splits |\n"
    "|---|---|---|---|---|---|"
)


def sample_quality(corpus: Path, thresholds: list[float]) -> None:
    """Sample corpus: one mention per planted quote/ticket (+ noise tickets), by vector recipe."""
    sys.path.insert(0, str(REPO))
    from agent.cluster import normalise
    from agent.config import EmbeddingSettings
    from agent.embeddings import get_embedder
    from agent.themes import mention_vectors
    from tests._themes_helpers import sample_mentions

    mentions, key_of, _ = sample_mentions(corpus)
    keys = [key_of[m.id] for m in mentions]
    embed = get_embedder(EmbeddingSettings(provider="minilm")).embed
    prefixed = [f"{m.category}: {m.statement}" if m.category else m.statement for m in mentions]
    recipes = {
        "ours: e(statement) + 0.75 e(category)": mention_vectors(mentions, embed),
        "category prefixed: e('category: statement')": normalise(embed(prefixed)),
        "no category: e(statement)": normalise(embed([m.statement for m in mentions])),
    }
    planted = sum(k != "noise" for k in keys)
    print(f"## {corpus}: {len(mentions)} mentions ({planted} planted, {len(keys) - planted} noise)")
    print(QUALITY_HEAD)
    for name, vectors in recipes.items():
        _quality_rows(name, keys, vectors, thresholds)


def offline_quality(corpus: Path, thresholds: list[float]) -> None:
    """The real offline path: ingest + offline extraction of the sample corpus, then themes."""
    import tempfile

    sys.path.insert(0, str(REPO))
    from agent.config import load_settings
    from agent.embeddings import get_embedder
    from agent.extract import extract_mentions
    from agent.ingest import ingest
    from agent.models import PainPointMention
    from agent.themes import mention_vectors
    from agent.workspace import Workspace, read_models

    truth = json.loads((corpus / "GROUND_TRUTH.json").read_text(encoding="utf-8"))
    ticket_key = {t: p["key"] for p in truth["pain_points"] for t in p["tickets"]}
    ticket_key.update({t: "noise" for t in truth["noise_tickets"]})

    def norm(text: str) -> str:
        return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())

    quotes = [
        (p["key"], q["participant"], norm(q["text"]))
        for p in truth["pain_points"]
        for q in p["interview_quotes"]
    ]

    def key(m: PainPointMention) -> str:
        if m.kind == "ticket":
            return ticket_key.get(m.ticket_id or "", "other")
        for quote in m.quotes:
            text = norm(quote.text)
            for k, pid, planted in quotes:
                if pid == m.participant_id and (text in planted or planted in text):
                    return k
        return "other"

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            overrides={
                "workspace": tmp,
                "llm.provider": "offline",
                "embeddings.provider": "minilm",
            },
            env={},
        )
        workspace = Workspace(tmp).ensure()
        ingest([corpus], settings, workspace)
        extract_mentions(settings, workspace, provider="offline")
        mentions = read_models(workspace.mentions, PainPointMention)
    keys = [key(m) for m in mentions]
    vectors = mention_vectors(mentions, get_embedder(settings.embeddings).embed)
    print(f"## offline extraction of {corpus}: {len(mentions)} mentions, {Counter(keys)}")
    print(QUALITY_HEAD)
    _quality_rows("offline mentions", keys, vectors, thresholds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bench-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/persona-bench"))
    parser.add_argument("--methods", default="ours,ours-2stage,build_themes,hdbscan,bertopic")
    parser.add_argument("--sample", type=Path, help="quality on this sample corpus instead")
    parser.add_argument("--offline", action="store_true", help="with --sample: offline extraction")
    parser.add_argument("--thresholds", default="0.45,0.5,0.55,0.6,0.65,0.7,0.75")
    parser.add_argument(
        "--child", nargs=4, metavar=("METHOD", "VEC", "TEXTS", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        method, *paths = args.child
        _child(method, *(Path(p) for p in paths), seed=args.seed)
        return
    if args.sample:
        thresholds = [float(t) for t in args.thresholds.split(",")]
        (offline_quality if args.offline else sample_quality)(args.sample, thresholds)
        return
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    args.cache.mkdir(parents=True, exist_ok=True)
    texts, truth = synthesise(args.n, args.seed)
    texts_path = args.cache / f"synth-{args.n}.json"
    texts_path.write_text(json.dumps({"texts": texts, "labels": truth}), encoding="utf-8")
    vectors_path = args.cache / f"synth-{args.n}-{args.seed}.minilm.npy"
    if not vectors_path.exists():
        sys.path.insert(0, str(REPO))
        from agent.config import EmbeddingSettings
        from agent.embeddings import get_embedder

        start = time.perf_counter()
        np.save(vectors_path, get_embedder(EmbeddingSettings(provider="minilm")).embed(texts))
        print(f"embedded {args.n} texts in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    print(f"## {args.n} synthetic mentions, {len(PAINS)} planted pain points, MiniLM vectors")
    print("| method | seconds | peak RSS MB | clusters | noise | ARI | V |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        python = (
            sys.executable
            if method in ("ours", "ours-2stage", "build_themes")
            else (args.bench_python)
        )
        out = args.cache / f"synth-{args.n}.{method}.json"
        subprocess.run(
            [
                python,
                str(HERE),
                "--child",
                method,
                str(vectors_path),
                str(texts_path),
                str(out),
                "--seed",
                str(args.seed),
            ],
            check=True,
        )
        got = json.loads(out.read_text(encoding="utf-8"))
        labels = np.asarray(got["labels"])
        noise = float(np.mean(labels == -1))
        print(
            f"| {method} | {got['seconds']:.2f} | {got['peak_mb']:.0f} | {len(set(labels.tolist()))} "
            f"| {noise:.1%} | {adjusted_rand_score(truth, labels):.4f} "
            f"| {v_measure_score(truth, labels):.4f} |"
        )


if __name__ == "__main__":
    main()
