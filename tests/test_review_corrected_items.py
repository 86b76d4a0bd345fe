"""A list item a reviewer corrected reads differently from the draft, so its content key no
longer finds it: re-export must still show its block, and a later decision on it (from the file,
`review set` or by position) must land on the same decision, never beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.decisions import load_store
from agent.library import load_view
from agent.review import set_field
from agent.review_file import apply_review_file, export_review
from agent.workspace import Workspace

from ._render_helpers import make_workspace


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("PERSONA_REVIEWER", "Ana")
    return make_workspace(tmp_path / "ws")


def dana_file(ws: Workspace) -> Path:
    return next(p for p in export_review(ws, force=True) if "dana" in p.name)


def append(path: Path, block: str) -> None:
    path.write_text(path.read_text() + block)


def item_decisions(ws: Workspace, prefix: str) -> dict[str, str]:
    fields = load_store(ws).personas["p-dana"].fields
    return {a: d.decision for a, d in fields.items() if a.startswith(prefix) and "[" in a}


def test_corrected_goal_keeps_its_block_and_one_address(ws: Workspace) -> None:
    path = dana_file(ws)
    append(path, "\n  goals.1:\n    decision: corrected\n    value: Trust the balance\n")
    apply_review_file(ws, path)
    (address,) = item_decisions(ws, "goals")

    path = dana_file(ws)
    exported = yaml.safe_load(path.read_text())["fields"]
    assert exported["goals.1"]["decision"] == "corrected"
    assert exported["goals.1"]["current"]["text"] == "Trust the balance"
    assert exported["goals.1"]["value"]["text"] == "Trust the balance"
    # Untouched, the re-exported file says nothing new.
    assert apply_review_file(ws, path).personas[0].changed == []

    # Re-deciding the block (a new wording) replaces the decision at the same address.
    text = path.read_text().replace("value:\n      text: Trust the balance", "value: Trust it", 1)
    path.write_text(text)
    apply_review_file(ws, path)
    assert item_decisions(ws, "goals") == {address: "corrected"}
    dana = next(r for r in load_view(ws).reviewed if r.persona.id == "p-dana")
    assert [g.text for g in dana.persona.draft.goals] == [
        "Close the books in under three days",
        "Trust it",
    ]

    # So does `review set` by position: confirming what the list shows now keeps the
    # reviewer's words theirs, with the confirmation on top.
    set_field(ws, "Dana", "goals.1", confirm=True, by="Bob")
    assert item_decisions(ws, "goals") == {address: "corrected"}
    assert load_store(ws).personas["p-dana"].fields[address].confirmation.by == "Bob"  # type: ignore[union-attr]
    dana = next(r for r in load_view(ws).reviewed if r.persona.id == "p-dana")
    assert dana.persona.draft.goals[1].text == "Trust it"


def test_corrected_journey_item_keeps_its_block_and_one_address(ws: Workspace) -> None:
    path = dana_file(ws)
    append(
        path,
        "\n  journey.stages.3.actions.0:\n    decision: corrected\n    value: Connects the bank\n",
    )
    apply_review_file(ws, path)
    (address,) = item_decisions(ws, "journey.stages[stage:onboarding].actions")

    path = dana_file(ws)
    exported = yaml.safe_load(path.read_text())["fields"]
    block = exported["journey.stages.3.actions.0"]
    assert (block["decision"], block["current"]["text"]) == ("corrected", "Connects the bank")
    assert apply_review_file(ws, path).personas[0].changed == []

    set_field(ws, "Dana", "journey.stages.3.actions.0", confirm=True)
    assert item_decisions(ws, "journey.stages[stage:onboarding].actions") == {address: "corrected"}
