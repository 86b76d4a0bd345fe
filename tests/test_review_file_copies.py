"""Copies of an exported review file: two reviewers applying copies of one export, and a
renamed copy of a file someone already applied, through `persona review apply`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.workspace import Workspace

from ._review_helpers import cli, edit, reviewed_workspace


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return reviewed_workspace(tmp_path, monkeypatch, "Default Reviewer")


def store(ws: Workspace) -> dict[str, Any]:
    return json.loads((ws.review_dir / "decisions.json").read_text())


def copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    return dest


def test_two_copies_of_one_export_correcting_the_same_field_are_refused(
    ws: Workspace, tmp_path: Path
) -> None:
    cli(ws, "review", "export")
    exported = ws.review_dir / "dana.yaml"
    ana = copy(exported, tmp_path / "ana" / "dana.yaml")
    bob = copy(exported, tmp_path / "bob" / "dana.yaml")
    edit(ana, "role", decision="corrected", value="Controller")
    edit(bob, "role", decision="corrected", value="Bookkeeper")
    cli(ws, "review", "apply", ana, "--by", "Ana")
    refused = cli(ws, "review", "apply", bob, "--by", "Bob", code=1)
    assert "'role' was decided by someone else" in refused.output
    assert "corrected by Ana" in refused.output and "Controller" in refused.output
    assert store(ws)["personas"]["p-dana"]["fields"]["role"]["value"]["text"] == "Controller"
    # Ana editing her own file again and re-applying it is hers to do.
    edit(ana, "role", value="Financial controller")
    cli(ws, "review", "apply", ana, "--by", "Ana")
    role = store(ws)["personas"]["p-dana"]["fields"]["role"]
    assert role["value"]["text"] == "Financial controller"


def test_a_renamed_copy_records_only_its_changed_block_and_reapplies_as_a_no_op(
    ws: Workspace, tmp_path: Path
) -> None:
    cli(ws, "review", "export")
    exported = ws.review_dir / "dana.yaml"
    edit(exported, "summary", decision="confirmed", comment="solid")
    edit(exported, "role", decision="corrected", value="Controller", comment="per P01")
    cli(ws, "review", "apply", exported, "--by", "Ana")
    cli(ws, "review", "export")
    renamed = copy(exported, tmp_path / "dana-bob.yaml")
    edit(renamed, "archetype", decision="corrected", value="The closer")
    before = store(ws)["revision"]
    result = cli(ws, "review", "apply", renamed, "--by", "Bob", "--json")
    changed = json.loads(result.stdout)["personas"][0]["changed"]
    assert changed == ["archetype"]
    after = store(ws)
    assert after["revision"] == before + 1
    fields = after["personas"]["p-dana"]["fields"]
    assert (fields["summary"]["by"], fields["summary"]["comment"]) == ("Ana", "solid")
    assert (fields["role"]["by"], fields["role"]["comment"]) == ("Ana", "per P01")
    assert fields["archetype"]["by"] == "Bob"
    cli(ws, "review", "apply", renamed, "--by", "Bob")
    assert store(ws)["revision"] == before + 1


def test_a_renamed_copy_of_an_older_export_is_conflict_checked(
    ws: Workspace, tmp_path: Path
) -> None:
    cli(ws, "review", "export")
    exported = ws.review_dir / "dana.yaml"
    renamed = copy(exported, tmp_path / "dana-bob.yaml")
    edit(exported, "role", decision="corrected", value="Controller")
    cli(ws, "review", "apply", exported, "--by", "Ana")
    edit(renamed, "role", decision="corrected", value="Bookkeeper")
    refused = cli(ws, "review", "apply", renamed, "--by", "Bob", code=1)
    assert "decided by someone else" in refused.output and "Ana" in refused.output


def test_a_colleagues_applied_copy_is_not_an_earlier_draft_but_a_redraft_is(
    ws: Workspace, tmp_path: Path
) -> None:
    from ._render_helpers import journey, personas, write_personas

    cli(ws, "review", "export")
    exported = ws.review_dir / "dana.yaml"
    ana = copy(exported, tmp_path / "ana" / "dana.yaml")
    bob = copy(exported, tmp_path / "bob" / "dana.yaml")
    carol = copy(exported, tmp_path / "carol" / "dana.yaml")
    edit(ana, "role", decision="corrected", value="Controller")
    edit(bob, "archetype", decision="corrected", value="The closer")
    edit(carol, "tech_proficiency", decision="confirmed")
    cli(ws, "review", "apply", ana, "--by", "Ana")
    # Ana's decision changed the reviewed persona, not the draft Bob's copy was exported from.
    result = cli(ws, "review", "apply", bob, "--by", "Bob")
    assert "earlier draft" not in result.output
    assert store(ws)["personas"]["p-dana"]["fields"]["archetype"]["by"] == "Bob"
    # A re-draft since the export is said.
    write_personas(
        ws,
        personas(dana_summary="A finance lead who now also runs payroll."),
        [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))],
    )
    result = cli(ws, "review", "apply", carol, "--by", "Carol")
    assert "dana.yaml: exported from an earlier draft" in result.output


def test_adding_to_an_extended_blocks_addition_list_adds_only_the_new_items(
    ws: Workspace,
) -> None:
    cli(ws, "review", "export")
    path = ws.review_dir / "dana.yaml"
    edit(path, "goals", decision="extended", addition=["Goal A"])
    edit(path, "summary", decision="extended", addition="Runs payroll too.")
    cli(ws, "review", "apply", path, "--by", "Ana")
    cli(ws, "review", "export")
    text = path.read_text()
    # The export shows the earlier addition as `current:` shows items (no default keys).
    assert "    addition:\n    - text: Goal A\n" in text
    # Bob appends an item to the list, and words to the text, after Ana's.
    text = text.replace(
        "    addition:\n    - text: Goal A\n", "    addition:\n    - text: Goal A\n    - Goal B\n"
    )
    path.write_text(text)
    edit(path, "summary", addition="Runs payroll too. Hires a bookkeeper in spring.")
    cli(ws, "review", "apply", path, "--by", "Bob")
    cli(ws, "report")
    report = json.loads((ws.root / "reports" / "report.json").read_text())
    (dana,) = [p for p in report["personas"] if p["id"] == "p-dana"]
    assert [g["text"] for g in dana["draft"]["goals"]] == [
        "Close the books in under three days",
        "Trust the bank balance without re-checking",
        "Goal A",
        "Goal B",
    ]
    assert dana["draft"]["summary"]["text"] == (
        "A finance lead who closes the books every month. Runs payroll too. Hires a bookkeeper "
        "in spring."
    )
    marks = report["provenance"]["p-dana"]
    assert (marks["goals.2"]["by"], marks["goals.3"]["by"]) == ("Ana", "Bob")
    # Applied again untouched: nothing changes.
    before = store(ws)["revision"]
    cli(ws, "review", "apply", path, "--by", "Bob")
    assert store(ws)["revision"] == before
    # An addition list that drops the earlier item replaces the extension, on the draft.
    cli(ws, "review", "export")
    text = path.read_text()
    old = "    addition:\n    - text: Goal A\n    - text: Goal B\n"
    assert old in text
    path.write_text(text.replace(old, "    addition:\n    - Goal C\n"))
    cli(ws, "review", "apply", path, "--by", "Bob")
    goals = store(ws)["personas"]["p-dana"]["fields"]["goals"]["value"]
    assert [g["text"] for g in goals][2:] == ["Goal C"]
