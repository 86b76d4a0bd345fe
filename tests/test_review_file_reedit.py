"""A reviewer editing their own applied review file again and re-applying it: building on a
colleague's correction, and restoring a colleague's removal, through `persona review apply`;
a colleague's change since the export is still refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.workspace import Workspace

from ._review_helpers import cli, edit, reviewed_workspace


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return reviewed_workspace(tmp_path, monkeypatch, "Default Reviewer")


def fields(ws: Workspace) -> dict[str, Any]:
    store = json.loads((ws.review_dir / "decisions.json").read_text())
    return store["personas"]["p-dana"]["fields"]


def role(ws: Workspace) -> dict[str, Any]:
    return fields(ws)["role"]


def report(ws: Workspace) -> dict[str, Any]:
    cli(ws, "report")
    return json.loads((ws.root / "reports" / "report.json").read_text())


def test_extending_a_colleagues_correction_can_be_edited_again_in_the_same_file(
    ws: Workspace,
) -> None:
    cli(ws, "review", "set", "Dana", "role", "--correct", "Controller", "--by", "Ana")
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    edit(path, "role", decision="extended", addition="Also runs payroll.")
    cli(ws, "review", "apply", path, "--by", "Bob")
    assert role(ws)["value"]["text"] == "Controller Also runs payroll."
    # Applied again untouched: nothing changes, nothing is refused.
    before = json.loads((ws.review_dir / "decisions.json").read_text())["revision"]
    cli(ws, "review", "apply", path, "--by", "Bob")
    assert json.loads((ws.review_dir / "decisions.json").read_text())["revision"] == before
    # Bob rewrites his own addition in the same block and applies the file again.
    edit(path, "role", addition="Also runs payroll and hires the bookkeeper.")
    cli(ws, "review", "apply", path, "--by", "Bob")
    decision = role(ws)
    assert decision["value"]["text"] == "Controller Also runs payroll and hires the bookkeeper."
    # The corrected words stay Ana's; Bob's addition replaced his earlier one.
    assert (decision["decision"], decision["by"]) == ("corrected", "Ana")
    assert [(e["by"], e["addition"]) for e in decision["extensions"]] == [
        ("Bob", "Also runs payroll and hires the bookkeeper.")
    ]
    mark = report(ws)["provenance"]["p-dana"]["role"]
    assert (mark["by"], mark["extended_by"]) == ("Ana", ["Bob"])
    page = (ws.root / "reports" / "persona-dana.md").read_text()
    assert "Also runs payroll. Also runs payroll" not in page


def test_a_colleagues_change_since_the_export_is_still_refused(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "role", "--correct", "Controller", "--by", "Ana")
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    edit(path, "role", decision="extended", addition="Also runs payroll.")
    cli(ws, "review", "apply", path, "--by", "Bob")
    # Ana re-words her correction after Bob's apply; Bob's next edit of the block is refused.
    cli(ws, "review", "set", "Dana", "role", "--correct", "Financial controller", "--by", "Ana")
    edit(path, "role", addition="Also runs payroll and hires the bookkeeper.")
    refused = cli(ws, "review", "apply", path, "--by", "Bob", code=1)
    assert "'role' was decided by someone else after this file was exported" in refused.output
    assert "corrected by Ana" in refused.output and "Financial controller" in refused.output
    assert role(ws)["value"]["text"] == "Financial controller"
    # Cy confirming Bob's extended words is someone else's change too.
    cli(ws, "review", "set", "Dana", "role", "--correct", "Controller", "--by", "Ana")
    cli(ws, "review", "export", "--force")
    edit(path, "role", decision="extended", addition="Also runs payroll.")
    cli(ws, "review", "apply", path, "--by", "Bob")
    cli(ws, "review", "set", "Dana", "role", "--confirm", "--by", "Cy")
    edit(path, "role", addition="Runs payroll.")
    refused = cli(ws, "review", "apply", path, "--by", "Bob", code=1)
    assert "decided by someone else" in refused.output and "confirmed by Cy" in refused.output
    # Another reviewer applying Bob's edited file is not Bob.
    refused = cli(ws, "review", "apply", path, "--by", "Dee", code=1)
    assert "decided by someone else" in refused.output


def test_restoring_a_colleagues_removal_can_be_edited_again_in_the_same_file(
    ws: Workspace,
) -> None:
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove", "--by", "Ana")
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    block = "pain_points[theme:t-sync]"
    edit(path, block, decision="pending", comment="she does have it")
    cli(ws, "review", "apply", path, "--by", "Bob")
    assert fields(ws)[block]["decision"] == "pending"
    pains = [p["theme_id"] for p in report(ws)["personas"][0]["draft"]["pain_points"]]
    assert pains == ["t-sync", "t-export"]
    # Bob decides the restored item in the same block, and applies the file again.
    edit(path, block, decision="confirmed", comment="seen in P01 and T-101")
    cli(ws, "review", "apply", path, "--by", "Bob")
    stored = fields(ws)[block]
    assert (stored["decision"], stored["by"], stored["comment"]) == (
        "confirmed",
        "Bob",
        "seen in P01 and T-101",
    )
    # And changes his mind once more: removed after all.
    edit(path, block, decision="removed", comment="tickets only")
    cli(ws, "review", "apply", path, "--by", "Bob")
    assert fields(ws)[block]["decision"] == "removed"
    pains = [p["theme_id"] for p in report(ws)["personas"][0]["draft"]["pain_points"]]
    assert pains == ["t-export"]
    # Ana removing it again since Bob's restore is someone else's change: refused.
    edit(path, block, decision="pending", comment="")
    cli(ws, "review", "apply", path, "--by", "Bob")
    cli(ws, "review", "set", "Dana", block, "--remove", "--by", "Ana", "--comment", "no")
    edit(path, block, decision="confirmed")
    refused = cli(ws, "review", "apply", path, "--by", "Bob", code=1)
    assert "decided by someone else" in refused.output and "removed by Ana" in refused.output


def test_withdrawing_your_extension_in_the_file_keeps_the_correction_its_correctors(
    ws: Workspace,
) -> None:
    cli(ws, "review", "set", "Dana", "role", "--correct", "Controller", "--by", "Bo")
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    edit(path, "role", decision="extended", addition="Also runs payroll.")
    cli(ws, "review", "apply", path, "--by", "Ana")
    assert role(ws)["value"]["text"] == "Controller Also runs payroll."
    # Ana changes her mind: the block back to Bo's correction, word for word.
    edit(path, "role", decision="corrected", value="Controller", addition=None)
    cli(ws, "review", "apply", path, "--by", "Ana")
    decision = role(ws)
    # Her extension is gone; the correction is Bo's, as before she extended it.
    assert decision["value"]["text"] == "Controller"
    assert (decision["decision"], decision["by"]) == ("corrected", "Bo")
    assert not decision.get("extensions")
    mark = report(ws)["provenance"]["p-dana"]["role"]
    assert mark["by"] == "Bo" and not mark.get("extended_by")
