"""Reviewer decisions outlive re-runs: a theme merge sticks, and a confirmed pain point still
resolves after consolidation gives its theme a new id (lineage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli import app
from tests._llm_helpers import generic_responder, identity_consolidation
from tests._oracle import data_blocks, request_kind
from tests.openai_server import OpenAIServer, Reply, ok

CORPUS = Path(__file__).resolve().parents[1] / "transcripts"


def _study(tmp: Path) -> Path:
    folder = tmp / "study"
    (folder / "interviews").mkdir(parents=True)
    for path in sorted((CORPUS / "interviews").iterdir())[:6]:
        (folder / "interviews" / path.name).write_bytes(path.read_bytes())
    return folder


def merging(body: dict[str, Any]) -> Reply:
    """A model that merges everything it is shown into one theme (every other step as usual)."""
    messages = body["messages"]
    if request_kind(messages) != "consolidate_themes":
        return generic_responder(body)
    candidates = data_blocks(messages)["candidates"]
    answer = identity_consolidation(candidates)
    first = answer["themes"][0]
    first["candidates"] = [c["id"] for c in candidates]
    return ok({"themes": [first]})


def _themes(ws: Path) -> list[dict[str, Any]]:
    return json.loads((ws / "themes.json").read_text())["themes"]


def test_a_reviewer_merge_sticks_across_re_runs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(_study(tmp_path)), "-w", str(ws)], env=env).exit_code == 0
    before = _themes(ws)
    source, target = before[0], before[1]
    result = runner.invoke(
        app,
        [
            "review",
            "theme",
            source["id"],
            "--merge-into",
            target["id"],
            "--by",
            "Ana",
            "-w",
            str(ws),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    for step in ("themes", "run"):  # the themes step itself, then a whole run: it holds
        assert runner.invoke(app, [step, "-w", str(ws)], env=env).exit_code == 0
        after = _themes(ws)
        merged = [t for t in after if set(source["mention_ids"]) & set(t["mention_ids"])]
        assert len(merged) == 1
        assert set(source["mention_ids"]) | set(target["mention_ids"]) <= set(
            merged[0]["mention_ids"]
        )
        # The merged theme keeps the name of the theme it was merged into.
        assert merged[0]["label"] == target["label"]
        assert len(after) == len(before) - 1
    assert runner.invoke(app, ["run", "-w", str(ws)], env=env).exit_code == 0
    assert len(_themes(ws)) == len(before) - 1


def test_a_reviewer_rename_reaches_themes_json_the_drafts_and_persona_themes(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(_study(tmp_path)), "-w", str(ws)], env=env).exit_code == 0
    top = _themes(ws)[0]
    named = "Approval crash PLUGH"
    result = runner.invoke(
        app, ["review", "theme", top["label"], "--rename", named, "-w", str(ws)], env=env
    )
    assert result.exit_code == 0 and "persona report" in result.stdout, result.output
    assert runner.invoke(app, ["run", "-w", str(ws)], env=env).exit_code == 0
    renamed = next(t for t in _themes(ws) if t["id"] == top["id"])
    assert renamed["label"] == named
    shown = runner.invoke(app, ["themes", "-w", str(ws)], env=env).stdout
    assert named in shown and top["label"] not in shown

    # The drafts' own words name it as the reviewer did, as the reports' tables do (a quote
    # may still hold the words the old label was cut from: those are the participant's).
    def own_words(value: object) -> object:
        if isinstance(value, dict):
            return {k: own_words(v) for k, v in value.items() if "chunk_id" not in value}
        if isinstance(value, list):
            return [own_words(v) for v in value]
        return value

    drafts = json.dumps(own_words(json.loads((ws / "personas.json").read_text(encoding="utf-8"))))
    assert named in drafts and top["label"] not in drafts


def test_a_confirmed_pain_point_resolves_after_consolidation_changes_its_theme(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    offline = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    assert (
        runner.invoke(app, ["run", str(_study(tmp_path)), "-w", str(ws)], env=offline).exit_code
        == 0
    )
    persona = json.loads((ws / "personas.json").read_text())["personas"][0]
    theme_id = persona["draft"]["pain_points"][0]["theme_id"]
    done = runner.invoke(
        app,
        [
            "review",
            "set",
            persona["id"],
            "pain_points.0",
            "--confirm",
            "--by",
            "Ana",
            "-w",
            str(ws),
        ],
        env=offline,
    )
    assert done.exit_code == 0, done.output
    # A model now consolidates the themes: every theme is rebuilt, so ids change.
    with OpenAIServer(responder=merging) as server:
        env = {
            "PERSONA_EMBEDDER": "hash",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "test",
            "PERSONA_REDACT": "off",
        }
        assert runner.invoke(app, ["themes", "-w", str(ws)], env=env).exit_code == 0
    report = json.loads((ws / "themes.json").read_text())
    assert theme_id not in {t["id"] for t in report["themes"]}
    assert report["lineage"][theme_id] in {t["id"] for t in report["themes"]}
    assert runner.invoke(app, ["report", "-w", str(ws)], env=offline).exit_code == 0
    text = "\n".join(p.read_text() for p in (ws / "reports").glob("*.md"))
    assert "Unresolved" not in text


def test_a_reverse_merge_is_refused(tmp_path: Path) -> None:
    from tests._render_helpers import make_workspace

    ws = make_workspace(tmp_path / "ws").root
    runner = CliRunner()
    first = ["review", "theme", "t-sync", "--merge-into", "t-export", "--by", "Ana"]
    assert runner.invoke(app, [*first, "-w", str(ws)]).exit_code == 0
    back = ["review", "theme", "Export breaks on special characters", "--merge-into", "t-sync"]
    refused = runner.invoke(app, [*back, "-w", str(ws)])
    assert refused.exit_code == 1
    assert "theme t-sync is already merged into t-export by Ana" in refused.output
    assert "would make a loop" in refused.output and "--reset" in refused.output
    stored = json.loads((ws / "review" / "decisions.json").read_text())["themes"]
    assert set(stored) == {"t-sync"}


def test_a_removed_pain_point_leaves_the_whole_redraft(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(_study(tmp_path)), "-w", str(ws)], env=env).exit_code == 0

    def drafted() -> tuple[dict[str, Any], dict[str, Any]]:
        data = json.loads((ws / "personas.json").read_text())
        persona = data["personas"][0]
        journey = next(j for j in data["journeys"] if j["persona_id"] == persona["id"])
        return persona, journey

    persona, journey = drafted()
    # The pain point whose theme the rest of the draft leans on most.
    text = json.dumps([persona["draft"]["needs"], journey["draft"]])
    pains = persona["draft"]["pain_points"]
    index, pain = max(enumerate(pains), key=lambda p: text.count(p[1]["theme_id"]))
    theme_id = pain["theme_id"]
    assert text.count(theme_id) > 0
    removed = runner.invoke(
        app,
        ["review", "set", persona["id"], f"pain_points.{index}", "--remove", "-w", str(ws)],
        env=env,
    )
    assert removed.exit_code == 0, removed.output
    assert runner.invoke(app, ["run", "-w", str(ws)], env=env).exit_code == 0
    persona, journey = drafted()
    assert theme_id not in {p["theme_id"] for p in persona["draft"]["pain_points"]}
    assert theme_id not in json.dumps([persona["draft"]["needs"], journey["draft"]])
