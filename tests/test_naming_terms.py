"""Offline theme terms are counted without scikit-learn; they must stay what CountVectorizer gave."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from agent.naming import _FILLER, _SENTENCE_BREAK, _stop_words, distinctive_terms

ROOT = Path(__file__).resolve().parent.parent


def _reference(groups: list[list[str]], top: int = 8) -> list[list[str]]:
    """The scikit-learn implementation distinctive_terms replaced, kept as the oracle."""
    sentences: list[str] = []
    owner: list[int] = []
    for g, texts in enumerate(groups):
        for text in texts:
            parts = [p for p in _SENTENCE_BREAK.split(text) if p.strip()]
            sentences.extend(parts)
            owner.extend([g] * len(parts))
    if not sentences:
        return [[] for _ in groups]
    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | _FILLER),
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9'-]*[a-zA-Z0-9]\b",
    )
    try:
        per_sentence = vectorizer.fit_transform(sentences)
    except ValueError:
        return [[] for _ in groups]
    membership = csr_matrix(
        (np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(len(groups), len(owner))
    )
    counts = (membership @ per_sentence).tocsr().astype(np.float64)
    vocab = vectorizer.get_feature_names_out()
    term_totals = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(counts.sum() / max(counts.shape[0], 1) / np.maximum(term_totals, 1.0))
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    out: list[list[str]] = []
    for r in range(counts.shape[0]):
        start, end = counts.indptr[r], counts.indptr[r + 1]
        cols, vals = counts.indices[start:end], counts.data[start:end]
        scores = np.round(vals / max(row_sums[r], 1.0) * idf[cols], 9)
        ranked = sorted(
            zip(scores.tolist(), vocab[cols].tolist(), strict=True), key=lambda sv: (-sv[0], sv[1])
        )
        out.append([term for _, term in ranked[:top]])
    return out


def test_the_copied_stop_words_are_scikit_learns() -> None:
    assert _stop_words() == ENGLISH_STOP_WORDS | _FILLER


def test_terms_match_count_vectorizer_on_the_sample_corpus() -> None:
    # Every ticket body and transcript file of the sample corpus, grouped by file, as themes
    # group their mentions' texts: thousands of distinct terms, ties included.
    groups: list[list[str]] = []
    for path in sorted((ROOT / "transcripts" / "interviews").iterdir()):
        if path.suffix == ".docx":
            continue
        groups.append(path.read_text(encoding="utf-8").split("\n\n"))
    tickets = (ROOT / "transcripts" / "tickets.csv").read_text(encoding="utf-8").splitlines()
    groups.extend([tickets[i : i + 25] for i in range(1, len(tickets), 25)])
    assert sum(len(g) for g in groups) > 500
    assert distinctive_terms(groups) == _reference(groups)
    assert distinctive_terms(groups, top=30) == _reference(groups, top=30)


def test_terms_match_count_vectorizer_on_edge_cases() -> None:
    cases = [
        [["The export's CSV has broken co-op columns; export again!"], ["export"]],
        [["Ça ne marche pas: l'export échoue"], ["naïve café re-sync x2 2fa"]],
        [["the and of"], ["it is"]],
        [[], []],
        [[""], ["  "], ["Sync sync SYNC. Sync fails"]],
        [["a b c d"], [json.dumps({"k": "Approvals stall on mobile"})]],
    ]
    for groups in cases:
        assert distinctive_terms(groups) == _reference(groups), groups


def test_naming_a_theme_imports_no_scikit_learn() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from agent.naming import distinctive_terms\n"
        "distinctive_terms([['Bank feeds drop every week'], ['Approvals stall on mobile']])\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
