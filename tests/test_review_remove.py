"""Removing one list item (a pain point, a goal, a stage's pain) through `persona review set
--remove`, a review file and the web app; and the review messages and web forms around it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.library import load_view
from agent.workspace import Workspace

from ._review_helpers import cli, reviewed_workspace
from ._serve_helpers import form_for, running


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return reviewed_workspace(tmp_path, monkeypatch, "Ana")


def dana(ws: Workspace) -> Any:
    return next(r.persona.draft for r in load_view(ws).reviewed if r.persona.id == "p-dana")


def onboarding_pains(ws: Workspace) -> list[str]:
    journey = load_view(ws).journey_of("p-dana")
    assert journey is not None
    return next(s.pain_points for s in journey.journey.draft.stages if s.stage == "onboarding")


def block(path: Path, name: str, **keys: object) -> None:
    text = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in keys.items())
    path.write_text(path.read_text() + f"\n  {name}:\n{text}")


def test_cli_removes_one_pain_point_and_one_goal_and_reset_brings_them_back(
    ws: Workspace,
) -> None:
    result = cli(ws, "review", "set", "Dana", "pain_points.0", "--remove", "--comment", "not hers")
    assert "pain_points[theme:t-sync] removed by Ana" in result.output
    assert "Bank sync drops transactions" in result.output
    assert [p.theme_id for p in dana(ws).pain_points] == ["t-export"]
    cli(ws, "review", "set", "Dana", "goals.1", "--remove")
    assert [g.text for g in dana(ws).goals] == ["Close the books in under three days"]
    # What is left is numbered as shown: the remaining pain point is pain_points.0 now.
    cli(ws, "review", "set", "Dana", "pain_points.0.workaround", "--correct", "Fixes by hand")
    assert dana(ws).pain_points[0].workaround.text == "Fixes by hand"
    cli(ws, "report")
    md = (ws.root / "reports" / "persona-dana.md").read_text()
    assert "Trust the bank balance" not in md
    report = json.loads((ws.root / "reports" / "report.json").read_text())
    (persona,) = [p for p in report["personas"] if p["id"] == "p-dana"]
    assert [p["theme_id"] for p in persona["draft"]["pain_points"]] == ["t-export"]
    # Only whole items go.
    refused = cli(ws, "review", "set", "Dana", "goals", "--remove", code=1)
    assert "remove one item by its number ('goals.0')" in refused.output
    refused = cli(ws, "review", "set", "Dana", "summary", "--remove", code=1)
    assert "only list items can be removed" in refused.output
    refused = cli(ws, "review", "set", "Dana", "pain_points.0.impact", "--remove", code=1)
    assert "a part of an item cannot be removed" in refused.output
    # Reset by address: the pain point is back.
    cli(ws, "review", "set", "Dana", "pain_points[theme:t-sync]", "--reset")
    assert [p.theme_id for p in dana(ws).pain_points] == ["t-sync", "t-export"]


def test_a_stage_pain_list_can_be_emptied(ws: Workspace) -> None:
    assert onboarding_pains(ws) == ["t-sync"]
    cli(ws, "review", "set", "Dana", "journey.stages.3.pain_points.0", "--remove")
    assert onboarding_pains(ws) == []
    cli(ws, "report")
    journey = (ws.root / "reports" / "journey-dana.md").read_text()
    onboarding = journey[journey.index("Onboarding") :]
    assert "Bank sync drops transactions" not in onboarding.split("\n\n")[0]


def test_review_file_removes_an_item_and_refuses_values_it_would_ignore(ws: Workspace) -> None:
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    assert "removed    (one list item only)" in path.read_text()
    original = path.read_text()
    block(path, "summary.0", decision="removed")
    refused = cli(ws, "review", "apply", path, code=1)
    assert "summary" in refused.output and "not a list" in refused.output
    path.write_text(original)
    # A value under `confirmed` would be ignored: refused with its line.
    lines = original.splitlines()
    start = lines.index("  role:")
    at = next(i for i in range(start, len(lines)) if lines[i].startswith("    decision:"))
    lines[at] = "    decision: confirmed"
    lines[at + 1] = "    value: Controller"
    path.write_text("\n".join(lines) + "\n")
    refused = cli(ws, "review", "apply", path, code=1)
    assert f"{path}:{at + 2}" in refused.output
    assert "`value:` is filled in but `decision:` is confirmed" in refused.output
    path.write_text(original)
    block(path, "pain_points.1", decision="removed", comment="tickets only")
    block(path, "journey.stages.3.pain_points.0", decision="removed")
    cli(ws, "review", "apply", path)
    assert [p.theme_id for p in dana(ws).pain_points] == ["t-sync"]
    assert onboarding_pains(ws) == []
    # Re-exported and applied untouched: nothing changes.
    cli(ws, "review", "export")
    before = json.loads((ws.review_dir / "decisions.json").read_text())["revision"]
    cli(ws, "review", "apply", path)
    assert json.loads((ws.review_dir / "decisions.json").read_text())["revision"] == before


def test_web_removes_items_and_its_forms_speak_the_pages_language(ws: Workspace) -> None:
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
        form = form_for(page, "pain_points.1")
        assert 'value="remove"' in page[page.index('data-target="pain_points.1"') :][:3000]
        status, _, _ = srv.post("/p/dana", {**form, "action": "remove", "by": "Bob"})
        assert status == 303
        assert [p.theme_id for p in dana(ws).pain_points] == ["t-sync"]

        _, _, page = srv.get("/p/dana/journey")
        at = page.index('data-target="journey.stages.3.pain_points"')
        box = page[at : page.index("</form>", at)]
        # The stage's pain list is shown to correct by theme labels, not ids.
        assert "Bank sync drops transactions</textarea>" in box and "t-sync" not in box
        # An emotion is picked from -2..2.
        at = page.index('data-target="journey.stages.3.emotion"')
        box = page[at : page.index("</form>", at)]
        options = re.findall(r'<option value="(-?\d)"( selected)?>', box)
        assert [v for v, _ in options] == ["-2", "-1", "0", "1", "2"]
        assert [v for v, s in options if s] == ["-2"]
        assert "<textarea" not in box
        form = form_for(page, "journey.stages.3.emotion")
        status, _, body = srv.post("/p/dana", {**form, "action": "correct", "text": "7"})
        assert status == 400
        assert "an emotion is a whole number from -2 (very negative) to 2" in body
        assert "Input should" not in body
        form = form_for(page, "journey.stages.3.actions.0")
        status, _, body = srv.post("/p/dana", {**form, "action": "correct", "text": ""})
        assert status == 400 and "a correction needs the new value" in body
        assert "value:" not in body.split("Not saved.")[1][:200]
        form = form_for(page, "journey.stages.3.pain_points.0")
        status, _, _ = srv.post("/p/dana", {**form, "action": "remove"})
        assert status == 303 and onboarding_pains(ws) == []


def test_messages_name_what_the_user_typed(ws: Workspace) -> None:
    result = cli(ws, "review", "set", "Dana", "journey.stages.3.emotion", "--correct", "0")
    assert "corrected by Ana at 2026-01-01T00:00:00Z to “0”" in result.output
    refused = cli(ws, "review", "set", "Dana", "goals.-1", "--confirm", code=1)
    assert "goals items are numbered from 0 ('goals.0'" in refused.output
    assert "did you mean" not in refused.output
    refused = cli(ws, "review", "set", "Dana", "pain_points.0.workaroud", "--confirm", code=1)
    assert "'pain_points.0.workaroud': pain_points items have no part 'workaroud'" in (
        refused.output
    )
    assert "[theme:" not in refused.output
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    block(path, "pain_points.0.workaroud", decision="confirmed")
    refused = cli(ws, "review", "apply", path, code=1)
    assert "'pain_points.0.workaroud'" in refused.output and "[x]" not in refused.output


def set_decision(path: Path, name: str, decision: str) -> int:
    """Set the `decision:` of one block as a person would; returns its line number."""
    lines = path.read_text().splitlines()
    start = lines.index(f"  {name}:")
    at = next(i for i in range(start, len(lines)) if lines[i].startswith("    decision:"))
    lines[at] = f"    decision: {decision}"
    path.write_text("\n".join(lines) + "\n")
    return at + 1


def test_an_exported_file_lists_removed_items_and_pending_brings_them_back(
    ws: Workspace,
) -> None:
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove", "--comment", "not hers")
    cli(ws, "review", "set", "Dana", "journey.stages.3.pain_points.0", "--remove")
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    exported = path.read_text()
    data = yaml.safe_load(exported)["fields"]
    pain = data["pain_points[theme:t-sync]"]
    assert pain["decision"] == "removed"
    assert pain["current"]["title"] == "Bank sync drops transactions"
    stage_pain = data["journey.stages[stage:onboarding].pain_points[theme:t-sync]"]
    assert stage_pain == {"current": "t-sync", "decision": "removed"}
    assert "decided: removed by Ana at 2026-01-01T00:00:00Z; comment: not hers" in exported
    # Applied untouched: still removed, nothing recorded.
    before = json.loads((ws.review_dir / "decisions.json").read_text())["revision"]
    cli(ws, "review", "apply", path)
    assert json.loads((ws.review_dir / "decisions.json").read_text())["revision"] == before
    assert [p.theme_id for p in dana(ws).pain_points] == ["t-export"]
    # Deciding a removed item otherwise says how to bring it back, with its line.
    line = set_decision(path, "pain_points[theme:t-sync]", "confirmed")
    refused = cli(ws, "review", "apply", path, code=1)
    assert f"{path}:{line}:" in refused.output
    assert "was removed from its list; set `decision: pending` to bring it back" in refused.output
    path.write_text(exported)
    set_decision(path, "pain_points[theme:t-sync]", "pending")
    set_decision(path, "journey.stages[stage:onboarding].pain_points[theme:t-sync]", "pending")
    cli(ws, "review", "apply", path, "--by", "Bob")
    assert [p.theme_id for p in dana(ws).pain_points] == ["t-sync", "t-export"]
    assert onboarding_pains(ws) == ["t-sync"]
    stored = json.loads((ws.review_dir / "decisions.json").read_text())["personas"]["p-dana"]
    assert stored["fields"]["pain_points[theme:t-sync]"]["decision"] == "pending"
    assert stored["fields"]["pain_points[theme:t-sync]"]["by"] == "Bob"
    # Exported again: the item is back in its list, not listed as removed.
    cli(ws, "review", "export")
    assert "pain_points[theme:t-sync]:" not in path.read_text()


def test_web_lists_removed_items_with_a_restore_control(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "goals.1", "--remove", "--comment", "duplicate")
    cli(ws, "review", "set", "Dana", "journey.stages.3.pain_points.0", "--remove")
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
        at = page.index('data-removed="goals[')
        box = page[at : page.index("</form>", at)]
        assert "Trust the bank balance without re-checking" in box
        assert "removed by Ana" in box and "duplicate" in box
        assert 'value="reset"' in box and "Restore" in box
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', box))
        status, _, _ = srv.post("/p/dana", {**form, "action": "reset", "by": "Bob"})
        assert status == 303
        assert [g.text for g in dana(ws).goals][1] == "Trust the bank balance without re-checking"
        _, _, page = srv.get("/p/dana")
        assert 'data-removed="goals[' not in page
        _, _, page = srv.get("/p/dana/journey")
        at = page.index('data-removed="journey.stages[stage:onboarding].pain_points[')
        box = page[at : page.index("</form>", at)]
        assert "Bank sync drops transactions" in box and "Restore" in box
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', box))
        status, _, _ = srv.post("/p/dana", {**form, "action": "reset"})
        assert status == 303 and onboarding_pains(ws) == ["t-sync"]
    with running(ws, share=True) as srv:
        cli(ws, "review", "set", "Dana", "goals.1", "--remove")
        _, _, page = srv.get("/p/dana")
        assert "data-removed" not in page
