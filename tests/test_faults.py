"""Faults lose nothing: an endpoint outage keeps earlier results (marked stale) and says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli import app
from tests._llm_helpers import generic_responder
from tests.openai_server import OpenAIServer, Reply, error

INTERVIEW = """---
participant_id: P{n:02d}
---
Interviewer: What went wrong last month?
P{n:02d}: The bank feed broke again and I lost a whole day fixing it. I re-key every receipt by hand now.
"""
TICKETS = "ticket_id,subject,body\n" + "".join(
    f"T{i},Export fails,The CSV export times out every time I try month {i} and I give up.\n"
    for i in range(1, 9)
)


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    for n in range(1, 4):
        (folder / f"p{n:02d}.md").write_text(INTERVIEW.format(n=n), encoding="utf-8")
    (folder / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    return folder


def _config(path: Path) -> Path:
    # No transport retries: a 500 fails its request at once.
    path.write_text("[llm]\nmax_retries = 0\nmax_reasks = 0\nredact = 'off'\n", encoding="utf-8")
    return path


def _run(args: list[str], url: str, config: Path, model: str = "test-model") -> Any:
    env = {
        "OPENAI_BASE_URL": url,
        "OPENAI_API_KEY": "test-key",
        "PERSONA_MODEL": model,
        "PERSONA_EMBEDDER": "hash",
    }
    return CliRunner().invoke(app, [*args, "-c", str(config), "--json"], env=env)


def _mentions(ws: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (ws / "mentions.jsonl").read_text().splitlines()]


def test_an_outage_keeps_earlier_mentions_and_reports_them_stale(tmp_path: Path) -> None:
    ws, config = tmp_path / "ws", _config(tmp_path / "persona.toml")
    corpus = _corpus(tmp_path / "in")
    with OpenAIServer(responder=generic_responder) as good:
        first = _run(["run", str(corpus), "-w", str(ws)], good.base_url, config)
    assert first.exit_code == 0, first.output
    before = _mentions(ws)
    themes_before = json.loads((ws / "themes.json").read_text())["themes"]
    assert len(before) >= 4 and not any(m["stale"] for m in before)

    # Another model (so nothing is answered from the cache) behind an endpoint that fails.
    with OpenAIServer(responder=lambda body: error(500)) as down:
        second = _run(["run", "-w", str(ws)], down.base_url, config, model="other-model")
    assert second.exit_code == 2, second.output
    run = json.loads(second.stdout)
    extract = next(s for s in run["steps"] if s["step"] == "extract")
    assert extract["counts"]["stale_mentions"] == len(before)
    assert any("extraction incomplete" in note for note in extract["notes"])
    after = _mentions(ws)
    # Nothing replaced by less: the same mentions, now marked stale.
    assert [m["id"] for m in after] == [m["id"] for m in before]
    assert all(m["stale"] for m in after)
    assert len(json.loads((ws / "themes.json").read_text())["themes"]) == len(themes_before)
    state = json.loads((ws / "extract_state.json").read_text())
    assert state["stale_mentions"] == len(before) and state["failed_requests"] >= 1
    report = next(s for s in run["steps"] if s["step"] == "report")
    assert report["counts"]["stale_inputs"] >= 1
    summary = (ws / "reports" / "summary.md").read_text(encoding="utf-8")
    assert "Extraction incomplete" in summary

    # The endpoint comes back: the failed calls are redone and nothing is stale any more.
    with OpenAIServer(responder=generic_responder) as back:
        third = _run(["run", "-w", str(ws)], back.base_url, config, model="other-model")
    assert third.exit_code == 0, third.output
    assert not any(m["stale"] for m in _mentions(ws))
    assert json.loads((ws / "extract_state.json").read_text())["failed_chunks"] == []


def test_one_new_file_during_an_outage_costs_nothing_earlier(tmp_path: Path) -> None:
    """The probe: one ticket file added to a finished run, endpoint down: 32 -> 30 mentions."""
    ws, config = tmp_path / "ws", _config(tmp_path / "persona.toml")
    corpus = _corpus(tmp_path / "in")
    with OpenAIServer(responder=generic_responder) as good:
        assert _run(["run", str(corpus), "-w", str(ws)], good.base_url, config).exit_code == 0
    before = {m["id"] for m in _mentions(ws)}
    more = "ticket_id,subject,body\nT99,Login,The login page rejects my password every morning.\n"
    (corpus / "more.csv").write_text(more, encoding="utf-8")

    def down(body: dict[str, Any]) -> Reply:
        return error(503)

    with OpenAIServer(responder=down) as srv:
        result = _run(["run", str(corpus), "-w", str(ws)], srv.base_url, config)
    assert result.exit_code == 2
    assert before <= {m["id"] for m in _mentions(ws)}
