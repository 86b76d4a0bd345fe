"""Who wrote what, when reviewers build on each other's words: a colleague confirming a
reviewer's correction or extension, and a second reviewer extending a list again."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agent.workspace import Workspace

from ._review_helpers import cli, reviewed_workspace
from ._serve_helpers import running


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return reviewed_workspace(tmp_path, monkeypatch, "Default Reviewer")


def provenance(ws: Workspace) -> dict[str, Any]:
    cli(ws, "report")
    report = json.loads((ws.root / "reports" / "report.json").read_text(encoding="utf-8"))
    return report["provenance"]["p-dana"]


def tooltip(page: str, text: str) -> str:
    """The origin tag's tooltip next to a shown text on a serve page."""
    at = page.index(html.escape(text, quote=False))
    found = re.search(r'class="origin origin-(\w+)" data-origin="\w+" title="([^"]*)"', page[at:])
    assert found is not None
    return f"{found[1]}: {html.unescape(found[2])}"


def test_confirming_a_colleagues_correction_keeps_it_theirs(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "goals.0", "--correct", "Reviewer-written goal",
        "--by", "Ana", "--comment", "said so twice")  # fmt: skip
    cli(ws, "review", "set", "Dana", "goals.0", "--confirm", "--by", "Bob")
    mark = provenance(ws)["goals.0"]
    assert (mark["origin"], mark["decision"], mark["by"], mark["comment"]) == (
        "human",
        "corrected",
        "Ana",
        "said so twice",
    )
    # The report says who confirmed the reviewer's words, in report.json and the Markdown.
    assert mark["confirmed_by"] == "Bob"
    page = (ws.root / "reports" / "persona-dana.md").read_text(encoding="utf-8")
    line = next(x for x in page.splitlines() if "Reviewer-written goal" in x)
    assert "_(from reviewer)_ _(✓ confirmed by Bob)_" in line
    stored = json.loads((ws.review_dir / "decisions.json").read_text())
    (decision,) = [
        d for a, d in stored["personas"]["p-dana"]["fields"].items() if a.startswith("goals[")
    ]
    assert decision["by"] == "Ana" and decision["confirmation"]["by"] == "Bob"
    # Confirming again changes nothing.
    revision = stored["revision"]
    cli(ws, "review", "set", "Dana", "goals.0", "--confirm", "--by", "Bob")
    assert json.loads((ws.review_dir / "decisions.json").read_text())["revision"] == revision
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
    shown = tooltip(page, "Reviewer-written goal")
    assert shown.startswith("human: corrected by Ana") and shown.count("confirmed by Bob") == 1
    assert shown.count("said so twice") == 1 and "drafter" not in shown


def test_confirming_your_own_extension_keeps_it_yours(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "goals", "--extend", "Hand the close to a junior",
        "--by", "Ana")  # fmt: skip
    cli(ws, "review", "set", "Dana", "goals.2", "--confirm", "--by", "Ana")
    mark = provenance(ws)["goals.2"]
    assert (mark["origin"], mark["decision"], mark["by"]) == ("human", "added", "Ana")
    cli(ws, "review", "set", "Dana", "summary", "--extend", "Works late at month end.",
        "--by", "Ana")  # fmt: skip
    cli(ws, "review", "set", "Dana", "summary", "--confirm", "--by", "Bob")
    mark = provenance(ws)["summary"]
    assert (mark["origin"], mark["decision"], mark["by"]) == ("human", "extended", "Ana")
    assert "Works late at month end." in (ws.root / "reports" / "persona-dana.md").read_text()


def test_a_list_extended_twice_keeps_both_reviewers_items(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "goals", "--extend", "Goal A", "--by", "Ana")
    cli(ws, "review", "set", "Dana", "goals", "--extend", "Goal B", "--by", "Bob")
    marks = provenance(ws)
    assert (marks["goals.2"]["origin"], marks["goals.2"]["by"]) == ("human", "Ana")
    assert (marks["goals.3"]["origin"], marks["goals.3"]["by"]) == ("human", "Bob")
    page = (ws.root / "reports" / "persona-dana.md").read_text()
    line_a = next(line for line in page.splitlines() if "Goal A" in line)
    assert "no evidence cited" not in line_a
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
    assert tooltip(page, "Goal A").startswith("human: added by Ana")
    assert tooltip(page, "Goal B").startswith("human: added by Bob")
    # A text extended twice: both additions are reviewers' words.
    cli(ws, "review", "set", "Dana", "summary", "--extend", "First addition.", "--by", "Ana")
    cli(ws, "review", "set", "Dana", "summary", "--extend", "Second addition.", "--by", "Bob")
    mark = provenance(ws)["summary"]
    assert mark["origin"] == "human" and mark["by"] == "Bob"
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
    assert "after Ana extended it" in page


def test_extending_a_colleagues_correction_keeps_the_corrected_words_theirs(
    ws: Workspace,
) -> None:
    cli(ws, "review", "set", "Dana", "role", "--correct", "Controller of a small firm",
        "--by", "Ana", "--comment", "per P01")  # fmt: skip
    cli(ws, "review", "set", "Dana", "role", "--extend", "and runs payroll.", "--by", "Bob")
    cli(ws, "review", "set", "Dana", "goals.0", "--correct", "Close in two days", "--by", "Ana")
    cli(ws, "review", "set", "Dana", "goals.0", "--extend", "without overtime", "--by", "Bob")
    marks = provenance(ws)
    for path in ("role", "goals.0"):
        mark = marks[path]
        assert (mark["origin"], mark["decision"], mark["by"]) == ("human", "corrected", "Ana")
    assert marks["role"]["comment"] == "per P01"
    page = (ws.root / "reports" / "persona-dana.md").read_text(encoding="utf-8")
    role = next(x for x in page.splitlines() if "Controller of a small firm" in x)
    # Ana's words are a reviewer's, and Bob's addition is set apart as added in review.
    assert "Controller of a small firm _(from reviewer)_ — _added in review" in role
    assert role.endswith("and runs payroll.")
    goal = next(x for x in page.splitlines() if "Close in two days" in x)
    assert "Close in two days without overtime _(from reviewer)_" in goal
    # The reports name the colleague who extended the words, too.
    assert goal.endswith("_(+ extended by Bob)_")
    assert "**Role _(✎ corrected by reviewer)_** _(+ extended by Bob)_:" in page
    assert marks["goals.0"]["extended_by"] == ["Bob"] and marks["role"]["extended_by"] == ["Bob"]
    stored = json.loads((ws.review_dir / "decisions.json").read_text())["personas"]["p-dana"]
    role_decision = stored["fields"]["role"]
    assert (role_decision["by"], role_decision["decision"]) == ("Ana", "corrected")
    assert [(e["by"], e["addition"]) for e in role_decision["extensions"]] == [
        ("Bob", "and runs payroll.")
    ]
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
    shown = tooltip(page, "Controller of a small firm")
    assert shown.startswith("human: corrected by Ana") and "extended by Bob" in shown
    shown = tooltip(page, "Close in two days")
    assert shown.startswith("human: corrected by Ana") and "extended by Bob" in shown
    # Carol confirming the extended words records her confirmation on top of Ana's words.
    cli(ws, "review", "set", "Dana", "role", "--confirm", "--by", "Carol")
    mark = provenance(ws)["role"]
    assert (mark["by"], mark["decision"], mark["confirmed_by"]) == ("Ana", "corrected", "Carol")


def test_extending_words_a_colleague_added_or_a_list_they_corrected(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "goals", "--extend", "Goal A", "--by", "Ana")
    cli(ws, "review", "set", "Dana", "goals.2", "--extend", "by Friday", "--by", "Bob")
    mark = provenance(ws)["goals.2"]
    assert (mark["origin"], mark["decision"], mark["by"]) == ("human", "added", "Ana")
    page = (ws.root / "reports" / "persona-dana.md").read_text(encoding="utf-8")
    assert "Goal A by Friday _(from reviewer)_" in page
    cli(ws, "review", "set", "Dana", "motivations", "--correct", "Go home on time", "--by", "Ana")
    cli(ws, "review", "set", "Dana", "motivations", "--extend", "Sleep well", "--by", "Bob")
    marks = provenance(ws)
    assert (marks["motivations"]["decision"], marks["motivations"]["by"]) == ("corrected", "Ana")
    assert (marks["motivations.0"]["origin"], marks["motivations.0"]["by"]) == ("human", "Ana")
    assert (marks["motivations.1"]["decision"], marks["motivations.1"]["by"]) == ("added", "Bob")
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
    shown = tooltip(page, "Goal A")
    assert shown.startswith("human: added by Ana") and "extended by Bob" in shown
    assert tooltip(page, "Sleep well").startswith("human: added by Bob")
