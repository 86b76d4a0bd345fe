"""Theme consolidation by the model: merge, split, name; a partition checked by validators; cached,
hierarchical when one request cannot hold every candidate, and never worse than the clustering
when a call fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from agent.config import Settings, ThemeSettings
from agent.consolidate import LLMConsolidator, ThemeConsolidation
from agent.embeddings import HashEmbedder
from agent.errors import HostPending
from agent.models import PainPointMention, ThemeReport
from agent.themes import build_themes
from agent.workspace import Workspace
from tests._llm_helpers import make_settings
from tests._oracle import data_blocks, pending_records, write_answer
from tests._themes_helpers import mention
from tests.openai_server import OpenAIServer, Reply, error, ok

DIM = 16
SHOWN = {"k1": ["k1.1", "k1.2"], "k2": ["k2.1"], "k3": ["k3.1", "k3.2", "k3.3"]}


def direction(k: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.zeros(DIM, dtype=np.float32)
    v[k] = 1.0
    v += rng.normal(scale=noise, size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def corpus() -> tuple[list[PainPointMention], np.ndarray]:
    """Two candidates that are one pain in other words, one that lumps two pains, one outlier."""
    ms = [
        mention("bank sync drops transactions", participant="P1", severity=4, n=1),
        mention("bank sync drops rows again", participant="P2", severity=4, n=2),
        mention("the sync misses bank rows", ticket="T1", severity=3, n=3),
        mention("feed disconnects every monday", participant="P3", severity=3, n=4),
        mention("feed disconnects after login", participant="P1", severity=3, n=5),
        mention("csv export has wrong dates", ticket="T2", severity=2, n=6),
        mention("csv export dates are off", ticket="T3", severity=2, n=7),
        mention("login page rejects my password", participant="P4", severity=3, n=8),
        mention("the logo colour is ugly", participant="P5", severity=1, n=9),
    ]
    vecs = np.stack(
        [direction(0, 0.02, i) for i in range(3)]
        + [direction(3, 0.02, 10 + i) for i in range(2)]
        + [direction(1, 0.02, 20 + i) for i in range(3)]
        + [direction(2)]
    )
    return ms, vecs


def researcher(body: dict[str, Any]) -> Reply:
    """Merges sync with feed, splits export from login, keeps the outlier: by statement words."""
    candidates = data_blocks(body["messages"])["candidates"]
    groups: dict[str, dict[str, list[str]]] = {}

    def put(key: str, field: str, ident: str) -> None:
        groups.setdefault(key, {"candidates": [], "statements": []})[field].append(ident)

    def key_of(text: str) -> str:
        for key, words in (
            ("sync", ("sync", "feed")),
            ("export", ("export",)),
            ("login", ("login page", "password")),
        ):
            if any(w in text for w in words):
                return key
        return "other"

    for c in candidates:
        statements = c["statements"]
        texts = list(statements.values()) if isinstance(statements, dict) else statements
        keys = {key_of(t) for t in texts}
        if len(keys) == 1 or not isinstance(statements, dict):
            put(key_of(texts[0]), "candidates", c["id"])
        else:
            for sid, text in statements.items():
                put(key_of(text), "statements", sid)
    names = {
        "sync": "Bank feed drops transactions",
        "export": "CSV export shows wrong dates",
        "login": "Login rejects valid passwords",
        "other": "Logo colour looks unprofessional",
    }
    themes = [
        {"name": names[k], "definition": f"Customers report: {names[k].lower()}.", **held}
        for k, held in groups.items()
    ]
    return ok({"themes": themes})


def _settings(tmp_path: Path, url: str) -> Settings:
    settings = make_settings(tmp_path, url)
    settings.embeddings.provider = "hash"
    return settings


def _build(
    consolidator: Any,
    previous: ThemeReport | None = None,
    ms: Any = None,
    vecs: Any = None,
    grouper: Any = None,
) -> ThemeReport:
    if ms is None:
        ms, vecs = corpus()
    return build_themes(
        ms,
        _NoEmbedder(),
        total_participants=5,
        total_tickets=3,
        settings=ThemeSettings(distance_threshold=0.3),
        embeddings=vecs,
        consolidator=consolidator,
        previous=previous,
        grouper=grouper,
    )


class _NoEmbedder:
    name = "precomputed"

    def embed(self, texts: Any) -> np.ndarray:
        raise AssertionError("embeddings were passed")


def test_the_model_merges_splits_and_names_and_code_counts(tmp_path: Path) -> None:
    offline = _build(None)
    # The clustering alone: sync and feed apart, export and login lumped together.
    assert len(offline.themes) == 4
    with OpenAIServer(responder=researcher) as server:
        settings = _settings(tmp_path, server.base_url)
        consolidator = LLMConsolidator(settings, Workspace(tmp_path / "ws"), "openai")
        report = _build(consolidator, previous=offline)
        assert len(server.chat_requests()) == consolidator.calls == 1
        # Re-run with nothing changed: answered from the cache.
        again = LLMConsolidator(settings, Workspace(tmp_path / "ws"), "openai")
        assert _build(again, previous=report).model_dump() == report.model_dump()
        assert len(server.chat_requests()) == 1 and again.calls == 0
    by_name = {t.label: t for t in report.themes}
    assert set(by_name) == {
        "Bank feed drops transactions",
        "CSV export shows wrong dates",
        "Login rejects valid passwords",
        "Logo colour looks unprofessional",
    }
    sync = by_name["Bank feed drops transactions"]
    # Counts come from the members: P1 twice is one participant; T1 is one ticket.
    assert len(sync.mention_ids) == 5
    assert (sync.frequency.participants, sync.frequency.tickets) == (3, 1)
    assert sync.named_by == "openai" and sync.rank == 1
    assert len(by_name["Login rejects valid passwords"].mention_ids) == 1
    assert all(t.named_by == "openai" for t in report.themes)
    # Lineage: both earlier sync candidates lead to the merged theme.
    old_sync = [t.id for t in offline.themes if len(t.mention_ids) in (2, 3)]
    assert {report.lineage[i] for i in old_sync if i in report.lineage} <= {
        sync.id,
        by_name["CSV export shows wrong dates"].id,
    }
    merged_from = [t for t in offline.themes if set(t.mention_ids) <= set(sync.mention_ids)]
    assert len(merged_from) == 2 and all(report.lineage[t.id] == sync.id for t in merged_from)


def test_candidates_that_do_not_fit_one_request_are_consolidated_in_levels(
    tmp_path: Path,
) -> None:
    with OpenAIServer(responder=researcher) as server:
        settings = _settings(tmp_path, server.base_url)
        # A budget that holds about two candidates per request forces a second level.
        consolidator = LLMConsolidator(
            settings,
            Workspace(tmp_path / "ws"),
            "openai",
            batch_tokens=150,
            embed=HashEmbedder().embed,
        )
        report = _build(consolidator)
        requests = server.chat_requests()
    assert consolidator.levels >= 2 and len(requests) >= 3
    labels = sorted(t.label for t in report.themes)
    assert labels == sorted(
        [
            "Bank feed drops transactions",
            "CSV export shows wrong dates",
            "Login rejects valid passwords",
            "Logo colour looks unprofessional",
        ]
    )
    ms, _ = corpus()
    assert sorted(m for t in report.themes for m in t.mention_ids) == sorted(m.id for m in ms)
    # Higher levels merge only: their requests carry no statement ids to split by, and their
    # prompt joins batches (the same theme found twice) instead of building broader themes.
    later = [data_blocks(r.body["messages"])["candidates"] for r in requests[-1:]]
    assert all(isinstance(c["statements"], list) for batch in later for c in batch)
    first, last = (r.body["messages"][0]["content"] for r in (requests[0], requests[-1]))
    assert "consolidating a first sort" in first and "joining the theme lists" not in first
    assert "joining the theme lists of one study" in last and "never split one" in last


def test_a_failed_call_keeps_the_clustering_and_earlier_model_names(tmp_path: Path) -> None:
    with OpenAIServer(responder=researcher) as server:
        settings = _settings(tmp_path, server.base_url)
        named = _build(LLMConsolidator(settings, Workspace(tmp_path / "a"), "openai"))
    with OpenAIServer(responder=lambda body: error(500)) as down:
        settings = _settings(tmp_path, down.base_url)
        consolidator = LLMConsolidator(settings, Workspace(tmp_path / "b"), "openai")
        report = _build(consolidator, previous=named)
    assert consolidator.failures and consolidator.failures[0].step == "consolidate_themes"
    # The candidates stand. One that is most of an earlier model theme (and mostly made of it)
    # keeps that theme's name; the smaller half of a merge does not, it gets an offline label.
    assert len(report.themes) == 4
    by_size = {len(t.mention_ids): t for t in report.themes if len(t.mention_ids) != 3}
    ms, _ = corpus()
    sync = next(t for t in report.themes if ms[0].id in t.mention_ids)
    assert (sync.label, sync.named_by) == ("Bank feed drops transactions", "openai")
    assert by_size[2].named_by == "offline" and "feed" in by_size[2].label.lower()
    assert (by_size[1].label, by_size[1].named_by) == ("Logo colour looks unprofessional", "openai")


def test_answers_must_partition_the_candidates() -> None:
    def check(answer: dict[str, Any], splittable: bool = True) -> str:
        try:
            ThemeConsolidation.model_validate(
                answer, context={"candidates": SHOWN, "splittable": splittable}
            )
        except ValidationError as exc:
            return str(exc)
        return ""

    def theme(name: str = "Bank sync drops rows", **held: list[str]) -> dict[str, Any]:
        return {"name": name, "definition": "Rows vanish.", **held}

    good = {"themes": [theme(candidates=["k1", "k2"]), theme(candidates=["k3"])]}
    assert check(good) == ""
    split = {
        "themes": [
            theme(candidates=["k1"], statements=["k3.1", "k3.3"]),
            theme("Export dates are wrong", candidates=["k2"], statements=["k3.2"]),
        ]
    }
    assert check(split) == ""
    assert "missing: k3" in check({"themes": [theme(candidates=["k1", "k2"])]})
    assert "unknown candidate id 'k9'" in check(
        {"themes": [theme(candidates=["k1", "k2", "k3", "k9"])]}
    )
    assert "listed 2 times" in check({"themes": [theme(candidates=["k1", "k2", "k3", "k1"])]})
    assert "missing k3.2" in check(
        {"themes": [theme(candidates=["k1", "k2"], statements=["k3.1", "k3.3"])]}
    )
    assert "listed whole and split" in check(
        {"themes": [theme(candidates=["k1", "k2", "k3"], statements=["k3.1", "k3.2", "k3.3"])]}
    )
    assert "cannot be split" in check(split, splittable=False)
    assert "2-9 words" in check({"themes": [theme("Sync", candidates=["k1", "k2", "k3"])]})
    assert "Extra inputs" in check({"themes": [{**theme(candidates=["k1", "k2", "k3"]), "x": 1}]})


def test_host_mode_writes_consolidation_requests_and_resumes(tmp_path: Path) -> None:
    from agent.host import resume_host

    settings = Settings.model_validate(
        {"workspace": str(tmp_path / "ws"), "embeddings": {"provider": "hash"}}
    )
    ws = Workspace(settings.workspace).ensure()
    consolidator = LLMConsolidator(settings, ws, "host")
    first = _build(consolidator)
    assert isinstance(consolidator.pending, HostPending)
    assert all(t.named_by == "offline" for t in first.themes)  # candidates until answered
    (record,) = pending_records(ws)
    assert record["response_model"] == "consolidate_themes"
    write_answer(record, researcher({"messages": record["messages"]}).answer)
    assert resume_host(settings, ws).accepted == [record["id"]]
    done = _build(LLMConsolidator(settings, ws, "host"))
    assert {t.named_by for t in done.themes} == {"host"} and len(done.themes) == 4


def test_a_wrong_host_answer_is_rejected_with_the_validators_words(tmp_path: Path) -> None:
    from agent.host import resume_host

    settings = Settings.model_validate(
        {"workspace": str(tmp_path / "ws"), "embeddings": {"provider": "hash"}}
    )
    ws = Workspace(settings.workspace).ensure()
    _build(LLMConsolidator(settings, ws, "host"))
    (record,) = pending_records(ws)
    partial = {"name": "Bank sync drops rows", "definition": "x.", "candidates": ["k1"]}
    write_answer(record, {"themes": [partial]})
    report = resume_host(settings, ws)
    assert not report.accepted and report.rejected
    assert "every candidate must be in exactly one theme" in " ".join(report.rejected[0].errors)


@pytest.mark.parametrize("words", [1, 10])
def test_names_must_have_two_to_nine_words(words: int) -> None:
    name = " ".join(["word"] * words)
    with pytest.raises(ValidationError, match="2-9 words"):
        ThemeConsolidation.model_validate(
            {"themes": [{"name": name, "definition": "d.", "candidates": ["k1"]}]}
        )


def test_lineage_never_sends_a_current_theme_elsewhere() -> None:
    from agent.themes import theme_lineage

    first = _build(None)
    # A lineage entry from an older run points one of today's themes at another theme.
    now = [t.id for t in first.themes]
    old = first.model_copy(update={"lineage": {now[1]: now[0], "gone": now[0]}})
    lineage = theme_lineage(old, first.themes)
    assert now[1] not in lineage and lineage["gone"] == now[0]


def test_a_failed_first_level_call_still_joins_at_the_next_level(tmp_path: Path) -> None:
    """Candidates whose first-level call failed carry no model name; the join shows their
    clustering label and statements instead of stopping the step."""
    seen: list[str] = []

    def first_fails(body: dict[str, Any]) -> Reply:
        seen.append(body["messages"][0]["content"])
        if len(seen) == 1:
            return error(500)
        return researcher(body)

    with OpenAIServer(responder=first_fails) as server:
        settings = _settings(tmp_path, server.base_url)
        settings.llm.max_retries = 0
        consolidator = LLMConsolidator(
            settings, Workspace(tmp_path / "ws"), "openai", batch_tokens=150,
            embed=HashEmbedder().embed,
        )  # fmt: skip
        report = _build(consolidator)
    assert consolidator.failures and consolidator.levels >= 2
    assert any("joining the theme lists" in text for text in seen)
    ms, _ = corpus()
    assert sorted(m for t in report.themes for m in t.mention_ids) == sorted(m.id for m in ms)
