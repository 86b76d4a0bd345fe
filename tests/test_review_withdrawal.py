"""A withdrawn interview leaves the review decisions too: a confirmed quote never comes back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.decisions import load_store
from agent.library import reviewed_personas
from agent.workspace import Workspace

from .conftest import CORPUS

WITHDRAWN = "P01-dana-finance-lead.txt"


def cli(*args: str | Path) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.stderr[-2000:]
    return result


def chunk_texts(ws: Workspace) -> dict[str, tuple[str, str]]:
    rows = [json.loads(x) for x in ws.chunks.read_text(encoding="utf-8").splitlines() if x]
    return {r["id"]: (r["participant_id"] or "", r["text"]) for r in rows}


def review_bytes(ws: Workspace) -> str:
    return "".join(
        p.read_text(encoding="utf-8") for p in sorted(ws.review_dir.glob("*")) if p.is_file()
    )


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Workspace]:
    """Three interviews and the user table, run offline with hash embeddings (fast)."""
    data = tmp_path / "data"
    (data / "interviews").mkdir(parents=True)
    for name in (WITHDRAWN, "P02-marcus-controller.txt", "P07-aisha-finance-manager.md"):
        shutil.copy(CORPUS / "interviews" / name, data / "interviews" / name)
    for name in ("users.csv", "participants.csv"):
        shutil.copy(CORPUS / name, data / name)
    monkeypatch.setenv("PERSONA_EMBEDDER", "hash")
    ws = Workspace(tmp_path / f"ws-{tmp_path.name}")
    cli("run", data, "-w", ws.root, "--llm", "offline")
    return data, ws


def test_confirmed_quotes_of_a_withdrawn_interview_never_come_back(
    run: tuple[Path, Workspace],
) -> None:
    data, ws = run
    texts = chunk_texts(ws)
    by_segment = {p.segment: p for p in reviewed_personas(ws)}

    def quotes_from(segment: str, participant: str) -> list[int]:
        quotes = by_segment[segment].draft.quotes
        return [i for i, q in enumerate(quotes) if texts[q.chunk_id][0] == participant]

    # Personas whose drafts quote Dana (P01), and one quote of someone else's.
    whole = next(s for s in by_segment if quotes_from(s, "P01"))
    single = next(s for s in by_segment if s != whole and quotes_from(s, "P01"))
    kept = next(s for s in by_segment if s not in (whole, single) and quotes_from(s, "P02"))
    cli("review", "set", whole, "quotes", "--confirm", "-w", ws.root)
    cli(
        "review",
        "set",
        single,
        f"quotes.{quotes_from(single, 'P01')[0]}",
        "--confirm",
        "-w",
        ws.root,
    )
    cli("review", "set", kept, f"quotes.{quotes_from(kept, 'P02')[0]}", "--confirm", "-w", ws.root)
    cli("review", "export", "-w", ws.root)
    dana = {cid: text for cid, (who, text) in texts.items() if who == "P01"}
    quoted = [q.text for p in by_segment.values() for q in p.draft.quotes if q.chunk_id in dana]
    assert quoted and all(q in review_bytes(ws) for q in quoted)

    (data / "interviews" / WITHDRAWN).unlink()
    ingested = cli("ingest", data, "-w", ws.root, "--json")
    notes = " ".join(json.loads(ingested.stdout)["notes"])
    assert "review decision(s) or file(s)" in notes
    # Gone from the decisions, their export records and the review files.
    stored = review_bytes(ws)
    assert not any(q in stored for q in quoted)
    assert not any(cid in stored for cid in dana)
    decided = load_store(ws)
    assert not [a for e in decided.personas.values() for a in e.active() if a.startswith("quotes[")
                and "P01" in a]  # fmt: skip
    others = [
        d
        for e in decided.personas.values()
        for a, d in e.active().items()
        if a.startswith("quotes[")
    ]
    assert len(others) == 1 and others[0].value["chunk_id"] in texts  # the P02 quote stays

    # The next draft: the field a human confirmed keeps only what remains.
    cli("draft", "-w", ws.root, "--llm", "offline")
    after = {p.segment: p for p in reviewed_personas(ws)}
    assert not [q for q in after[whole].draft.quotes if q.chunk_id in dana]
    assert after[kept].draft.quotes  # the P02 confirmation still applies
    # Once every stage has run again, no word of Dana's is left in drafts or reports.
    cli("run", data, "-w", ws.root, "--llm", "offline")
    outputs = ws.personas.read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in ws.reports_dir.iterdir()
    )
    assert not any(q in outputs for q in quoted)
    assert not any(cid in outputs for cid in dana)
