"""Human review: export/edit/apply round trip, quick CLI edits, clear errors, refresh without loss."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from agent.errors import InputError
from agent.library import reviewed_personas
from agent.models import Chunk, Persona
from agent.review import (
    FIELDS,
    ReviewError,
    apply_reviews,
    diff_personas,
    format_diff,
    load_decisions,
    mark_reviewed,
    review_status,
    set_field,
    store_path,
)
from agent.review_file import apply_review_file, export_review
from agent.workspace import Workspace, write_json, write_models

from ._render_helpers import chunks, journey, make_workspace, personas, themes, write_personas


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws")


def current(ws: Workspace) -> dict[str, Persona]:
    """The personas as every reader sees them: drafts with the decisions applied."""
    return {p.id: p for p in reviewed_personas(ws)}


def edit(text: str, field: str, **keys: object) -> str:
    """Change keys of one field block the way a person would in an editor, keeping comments."""
    lines = text.splitlines()
    start = lines.index(f"  {field}:")
    for key, value in keys.items():
        for i in range(start + 1, len(lines)):
            if lines[i].startswith(f"    {key}:"):
                lines[i] = f"    {key}: {json.dumps(value)}"
                break
        else:
            raise AssertionError(f"{field}.{key} not found")
    return "\n".join(lines) + "\n"


def line_of(text: str, needle: str) -> int:
    """Line of `needle`; 'field/prefix' means the first such line inside that field's block."""
    lines = text.splitlines()
    start = 0
    if "/" in needle:
        field, needle = needle.split("/", 1)
        start = lines.index(f"  {field}:")
    return next(i for i, line in enumerate(lines[start:], start + 1) if line.startswith(needle))


def test_export_writes_one_commented_yaml_per_persona(ws: Workspace) -> None:
    paths = export_review(ws)
    assert [p.name for p in paths] == ["dana.yaml", "sam.yaml"]
    assert all(p.parent == ws.review_dir for p in paths)
    text = paths[0].read_text()
    data = yaml.safe_load(text)
    assert data["persona_id"] == "p-dana" and data["status"] == "draft"
    persona_blocks = [k for k in data["fields"] if not k.startswith("journey.")]
    assert persona_blocks == list(FIELDS)
    # Then every part of the journey map: each stage's fields, key findings, recommendations.
    journey_blocks = [k for k in data["fields"] if k.startswith("journey.")]
    assert journey_blocks[:2] == ["journey.stages.0.customer_goal", "journey.stages.0.actions"]
    assert journey_blocks[-2:] == ["journey.key_findings", "journey.recommendations"]
    assert {b["decision"] for b in data["fields"].values()} == {"pending"}
    assert data["fields"]["summary"]["current"]["text"].startswith("A finance lead")
    # Comments explain how to edit and resolve the evidence next to each field.
    assert "#   corrected  replace it" in text
    assert "#   theme:t-sync: Bank sync drops transactions; 2 of 3 participants" in text
    assert "#   stat:power_users.size: power_users.size = 120" in text
    assert "decision: pending  # pending | confirmed | corrected | extended" in text


def test_untouched_file_records_nothing(ws: Workspace) -> None:
    before = current(ws)
    export_review(ws)
    summary = apply_review_file(ws)
    assert [s.counts["pending"] for s in summary.personas] == [len(FIELDS), len(FIELDS)]
    assert all(not s.changed for s in summary.personas)
    assert load_decisions(ws).personas == {}
    assert current(ws) == before


def test_apply_records_confirm_correct_extend(ws: Workspace) -> None:
    (path, _) = export_review(ws)
    text = path.read_text()
    text = edit(text, "summary", decision="confirmed")
    text = edit(text, "role", decision="corrected", value="Controller at a 40-person agency")
    text = edit(text, "goals", decision="extended", addition=["Hand the close to a junior"])
    text = edit(text, "demographics.income_range", decision="corrected", value="$70k-$90k")
    text = edit(text, "name", decision="corrected", value="Dana, the Closer")
    path.write_text(text)

    summary = apply_review_file(ws, path)
    (state,) = summary.personas
    assert state.counts == {
        "pending": len(FIELDS) - 5,
        "confirmed": 1,
        "corrected": 3,
        "extended": 1,
    }
    assert sorted(state.changed) == sorted(
        ["summary", "role", "goals", "demographics.income_range", "name"]
    )
    assert state.status == "draft"
    dana = current(ws)["p-dana"]
    assert dana.draft.name == "Dana, the Closer"
    assert dana.draft.role.text == "Controller at a 40-person agency"
    assert dana.draft.role.evidence == []
    assert dana.draft.demographics.income_range is not None
    assert dana.draft.demographics.income_range.text == "$70k-$90k"
    assert [g.text for g in dana.draft.goals] == [
        "Close the books in under three days",
        "Trust the bank balance without re-checking",
        "Hand the close to a junior",
    ]
    assert dana.draft.goals[0].evidence == ["chunk:c-sync"]  # drafted items keep evidence
    store = load_decisions(ws)
    decided = store.personas["p-dana"].fields
    assert decided["goals"].addition == [
        {"text": "Hand the close to a junior", "evidence": [], "assumption": False}
    ]
    assert decided["summary"].source == "file:dana.yaml"
    # Re-applying the same file is a no-op.
    again = apply_review_file(ws, path)
    assert again.personas[0].counts == state.counts
    assert load_decisions(ws).personas == store.personas


def test_status_moves_to_reviewed(ws: Workspace) -> None:
    for path in FIELDS:
        result = set_field(ws, "Dana", path, confirm=True)
    assert result.personas[0].status == "reviewed"
    assert current(ws)["p-dana"].document_info.status == "reviewed"
    set_field(ws, "Dana", "tools", reset=True)
    assert current(ws)["p-dana"].document_info.status == "draft"
    # Marked by the person, whatever is still pending.
    mark_reviewed(ws, "sam")
    assert current(ws)["p-sam"].document_info.status == "reviewed"
    mark_reviewed(ws, "sam", reviewed=False)
    assert current(ws)["p-sam"].document_info.status == "draft"
    # ... or through the review file's status key.
    export_review(ws)
    sam = ws.review_dir / "sam.yaml"
    sam.write_text(sam.read_text().replace("\nstatus: draft\n", "\nstatus: reviewed\n"))
    apply_review_file(ws, sam)
    assert current(ws)["p-sam"].document_info.status == "reviewed"
    states = {s.persona_id: s for s in review_status(ws).personas}
    assert states["p-sam"].status == "reviewed" and states["p-dana"].status == "draft"


def test_set_field_quick_edits(ws: Workspace) -> None:
    set_field(ws, "Dana, the Month-End Closer", "tech_proficiency", correct="Advanced in Excel")
    set_field(ws, "p-dana", "aha_moment", extend="and nobody had to stay late.")
    set_field(ws, "power_users", "quotes", extend="A quote a reviewer heard in person")
    set_field(ws, "dana", "needs.nice", correct=["A close checklist", "Slack alerts"])
    dana = current(ws)["p-dana"].draft
    assert dana.tech_proficiency.text == "Advanced in Excel"
    assert dana.aha_moment.text == (
        "The first month the sync matched every transaction and nobody had to stay late."
    )
    assert dana.aha_moment.evidence == ["theme:t-sync"]
    assert dana.quotes[-1].text == "A quote a reviewer heard in person"
    assert dana.quotes[-1].chunk_id == ""
    assert [n.text for n in dana.needs.nice] == ["A close checklist", "Slack alerts"]
    marks = load_decisions(ws).personas["p-dana"].fields
    assert {k: v.decision for k, v in marks.items()} == {
        "tech_proficiency": "corrected",
        "aha_moment": "extended",
        "quotes": "extended",
        "needs.nice": "corrected",
    }
    assert all(v.source == "cli" for v in marks.values())


def test_set_field_errors(ws: Workspace) -> None:
    with pytest.raises(ReviewError, match=r"no persona 'Zed'.*Dana, the Month-End Closer"):
        set_field(ws, "Zed", "summary", confirm=True)
    with pytest.raises(ReviewError, match="unknown field 'goal'; did you mean 'goals'"):
        set_field(ws, "Dana", "goal", confirm=True)
    # The item the user meant is kept in the suggestion, and only list fields have items.
    with pytest.raises(ReviewError, match=r"unknown field 'goal\.0'; did you mean 'goals\.0'\?$"):
        set_field(ws, "Dana", "goal.0", confirm=True)
    with pytest.raises(ReviewError, match="exactly one of"):
        set_field(ws, "Dana", "summary", confirm=True, correct="x")
    with pytest.raises(ReviewError, match="pain_points"):
        set_field(ws, "Dana", "pain_points", extend="Slow support")
    with pytest.raises(ReviewError, match="a correction needs the new value"):
        set_field(ws, "Dana", "summary", correct="")
    assert not store_path(ws).exists()


@pytest.mark.parametrize(
    ("change", "needle", "message"),
    [
        (
            lambda t: t.replace("    decision: pending", "    decision: [oops", 1),
            "    decision: [oops",
            "not valid YAML",
        ),
        (
            # A colon inside an unquoted value: the message says to quote it.
            lambda t: t.replace("    decision: pending", "    decision: corrected: yes", 1),
            "    decision: corrected: yes",
            "a value with a colon in it needs quotes",
        ),
        (
            lambda t: t.replace("\n  goals:\n", "\n  goalz:\n"),
            "  goalz:",
            "unknown field 'goalz'; did you mean 'goals'",
        ),
        (
            lambda t: edit(t, "summary", decision="approved"),
            '    decision: "approved"',
            "decision 'approved' is not one of pending, confirmed, corrected, extended",
        ),
        (
            lambda t: edit(t, "role", decision="corrected"),
            "role/    value:",
            "`corrected` needs the new value",
        ),
        (
            lambda t: edit(t, "pain_points", decision="corrected", value="just text"),
            "pain_points/    value:",
            "field 'pain_points': invalid value",
        ),
        (
            lambda t: t.replace("\n  summary:\n", "\n  summary:\n    decison: confirmed\n"),
            "    decison:",
            "unknown key 'decison'",
        ),
        (
            lambda t: t.replace("\nstatus: draft\n", "\nstatus: draft\nreviewer: me\n"),
            "reviewer:",
            "unknown key 'reviewer'",
        ),
        (
            lambda t: edit(t, "archetype", current="Closer of books"),
            '    current: "Closer',
            "`current:` was edited",
        ),
    ],
)
def test_review_file_errors_name_file_and_line(ws: Workspace, change, needle, message) -> None:
    (path, _) = export_review(ws)
    edited = change(path.read_text())
    # A valid edit elsewhere in the same file must not be half-applied when the file fails.
    edited = edit(edited, "tools", decision="confirmed")
    path.write_text(edited)
    before = store_path(ws).read_bytes()
    with pytest.raises(InputError) as err:
        apply_review_file(ws, path)
    assert message in str(err.value)
    where = line_of(edited, needle)
    # YAML reports a flow-sequence error on the line where it notices the problem, at or after.
    assert str(err.value).startswith(f"{path}:")
    assert err.value.line is not None and where <= err.value.line <= where + 1
    assert store_path(ws).read_bytes() == before


def test_pending_after_export_resets_and_newer_cli_decision_survives(ws: Workspace) -> None:
    set_field(ws, "Dana", "summary", confirm=True)
    set_field(ws, "Dana", "motivations", confirm=True)
    (path, _) = export_review(ws)
    text = path.read_text()
    assert yaml.safe_load(text)["fields"]["summary"]["decision"] == "confirmed"
    # After export, a quick CLI edit; then the (older) file is applied with one other change.
    set_field(ws, "Dana", "role", correct="Head of finance")
    path.write_text(edit(text, "summary", decision="pending"))
    apply_review_file(ws, path)
    fields = load_decisions(ws).personas["p-dana"].fields
    # The person reverted it in the file: kept as a reset record (who, when), not in force.
    assert fields["summary"].decision == "pending" and fields["summary"].source == "file:dana.yaml"
    assert review_status(ws).personas[0].counts["confirmed"] == 1
    assert fields["motivations"].decision == "confirmed"  # untouched in the file: kept
    assert fields["role"].value["text"] == "Head of finance"  # newer than the file: kept


def test_export_never_overwrites_unapplied_edits(ws: Workspace) -> None:
    (path, _) = export_review(ws)
    edited = edit(path.read_text(), "summary", decision="confirmed")
    path.write_text(edited)
    with pytest.raises(ReviewError, match="has edits that were not applied"):
        export_review(ws)
    assert path.read_text() == edited
    export_review(ws, force=True)
    assert (ws.review_dir / "dana.yaml.bak").read_text() == edited
    # Once applied, re-exporting is safe and shows the decision.
    path.write_text(edited)
    apply_review_file(ws, path)
    export_review(ws)
    assert yaml.safe_load(path.read_text())["fields"]["summary"]["decision"] == "confirmed"


def redraft(dana_id: str = "p-dana-2") -> list[Persona]:
    """What the drafter produces after new data: new id, changed text almost everywhere."""
    new = personas(dana_summary="A finance lead who now also runs payroll.")
    dana = new[0]
    dana.id = dana_id
    dana.draft.role.text = "Finance and payroll lead"
    dana.draft.goals = [dana.draft.goals[1]]
    dana.draft.motivations[0].text = "Get payroll right first time"
    dana.draft.tech_proficiency.text = "Advanced: builds pivot tables"
    dana.draft.quotes = dana.draft.quotes[:1]
    dana.document_info.based_on_tickets = 55
    return new


def test_round_trip_refresh_keeps_every_human_edit(ws: Workspace) -> None:
    # 1. A person reviews: confirms, corrects and extends through the file and the CLI.
    (path, _) = export_review(ws)
    text = path.read_text()
    text = edit(text, "summary", decision="confirmed")
    text = edit(text, "role", decision="corrected", value="Controller at a 40-person agency")
    text = edit(text, "goals", decision="extended", addition=["Hand the close to a junior"])
    path.write_text(text)
    apply_review_file(ws, path)
    set_field(ws, "Dana", "needs.must", correct=["Reliable bank sync", "Audit trail"])
    reviewed = current(ws)["p-dana"]
    store_bytes = store_path(ws).read_bytes()

    # 2. New data arrives and the pipeline re-drafts (new id, changed inputs).
    write_models(ws.chunks, [*chunks(), Chunk(**{**chunks()[0].model_dump(), "id": "c-new"})])
    report = themes()
    report.themes[0].frequency.tickets = 37
    write_json(ws.themes, report)
    old = list(current(ws).values())
    drafted = redraft()
    assert drafted[0].draft.summary.text != reviewed.draft.summary.text
    refreshed = apply_reviews(drafted, load_decisions(ws))
    changes = diff_personas(old, refreshed)
    write_personas(ws, refreshed, [journey("p-dana-2")])

    # 3. Human edits intact, unreviewed fields updated, the review store untouched.
    dana = current(ws)["p-dana-2"]
    assert dana.draft.summary == reviewed.draft.summary
    assert dana.draft.role.text == "Controller at a 40-person agency"
    assert [g.text for g in dana.draft.goals] == [g.text for g in reviewed.draft.goals]
    assert "Hand the close to a junior" in [g.text for g in dana.draft.goals]
    assert [n.text for n in dana.draft.needs.must] == ["Reliable bank sync", "Audit trail"]
    assert dana.draft.motivations[0].text == "Get payroll right first time"
    assert dana.draft.tech_proficiency.text == "Advanced: builds pivot tables"
    assert len(dana.draft.quotes) == 1
    assert store_path(ws).read_bytes() == store_bytes

    # 4. The diff lists exactly what moved, and none of the human's fields.
    fields = {(c.field, c.change) for c in changes if c.persona_id == "p-dana-2"}
    assert ("motivations", "added") in fields and ("motivations", "removed") in fields
    assert ("tech_proficiency", "changed") in fields
    assert ("quotes", "removed") in fields
    assert ("document_info.based_on_tickets", "changed") in fields
    touched = {f for f, _ in fields}
    assert not touched & {"summary", "role", "goals", "needs.must"}
    assert not [c for c in changes if c.persona_id == "p-sam"]
    tickets = next(c for c in changes if c.field == "document_info.based_on_tickets")
    assert (tickets.old, tickets.new) == ("40", "55")
    printed = format_diff(changes)
    assert printed.splitlines()[0] == "Dana, the Month-End Closer (p-dana-2)"
    assert (
        "  ~ tech_proficiency: Intermediate: comfortable with spreadsheets -> Advanced" in printed
    )
    assert "  + motivations: Get payroll right first time" in printed

    # 5. The decisions follow the persona to its new id; re-export shows them.
    export_review(ws)
    again = yaml.safe_load(path.read_text())
    assert again["persona_id"] == "p-dana-2"
    assert again["fields"]["role"]["decision"] == "corrected"
    assert again["fields"]["role"]["value"]["text"] == "Controller at a 40-person agency"
    assert again["fields"]["motivations"]["decision"] == "pending"
    # Matched by segment until the next decision, which re-keys the entry under the new id.
    set_field(ws, "Dana", "tools", confirm=True)
    assert set(load_decisions(ws).personas) == {"p-dana-2"}


def test_diff_personas_added_removed_and_evidence_only_changes() -> None:
    old = personas()
    new = personas()
    new[0].draft.summary.evidence = ["theme:t-sync"]
    gone = new.pop(1)
    changes = diff_personas(old, new)
    assert [(c.persona_id, c.field, c.change) for c in changes] == [
        ("p-dana", "summary", "changed"),
        (gone.id, "persona", "removed"),
    ]
    assert "stat:power_users.size" in (changes[0].old or "")
    assert diff_personas(new, old)[-1].change == "added"
    assert format_diff([]) == "No changes."
    assert re.search(r"^  - persona removed$", format_diff(changes), flags=re.M)


def test_decisions_survive_a_model_value_that_no_longer_fits(ws: Workspace) -> None:
    set_field(ws, "Dana", "summary", correct="Kept text")
    store = load_decisions(ws)
    store.personas["p-dana"].fields["goals"] = store.personas["p-dana"].fields["summary"]
    result = apply_reviews(list(current(ws).values()), store)
    dana = next(p for p in result if p.id == "p-dana")
    assert dana.draft.summary.text == "Kept text"
    assert len(dana.draft.goals) == 2  # the unusable value was skipped, not forced in


def test_bulk_apply_skips_files_of_personas_no_longer_drafted(ws: Workspace) -> None:
    paths = export_review(ws)
    sam_file = next(p for p in paths if p.name == "sam.yaml")
    dana_file = next(p for p in paths if p.name == "dana.yaml")
    dana_file.write_text(edit(dana_file.read_text(), "summary", decision="confirmed"))
    # A later run no longer drafts Sam (like an anti-persona dropped without --anti-persona).
    write_personas(ws, personas()[:1], [journey("p-dana")])
    summary = apply_review_file(ws)
    assert [s.persona_id for s in summary.personas] == ["p-dana"]
    assert summary.personas[0].changed == ["summary"]
    assert any(n.startswith("sam.yaml: skipped") and "p-sam" in n for n in summary.notes)
    assert load_decisions(ws).personas["p-dana"].fields["summary"].decision == "confirmed"
    # Named explicitly, the same file is still an error: the user asked for that persona.
    with pytest.raises(InputError, match=r"not in personas\.json"):
        apply_review_file(ws, sam_file)


def test_bare_review_file_name_is_found_in_the_review_folder(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = export_review(ws)
    dana = next(p for p in paths if p.name == "dana.yaml")
    text = dana.read_text()
    # The header names a command that works from the project folder, and the full path.
    assert "# Then run:  persona review apply dana.yaml" in text
    assert f"persona review apply {dana.absolute()} -w {ws.root.absolute()}" in text
    dana.write_text(edit(text, "role", decision="confirmed"))
    monkeypatch.chdir(tmp_path)  # not the review folder: the bare name must still resolve
    assert not (tmp_path / "dana.yaml").exists()
    summary = apply_review_file(ws, "dana.yaml")
    assert summary.personas[0].changed == ["role"]
    assert summary.files == [str(ws.review_dir / "dana.yaml")]
    with pytest.raises(InputError, match="review file not found"):
        apply_review_file(ws, "nobody.yaml")


def test_mark_reviewed_with_undecided_fields_warns_and_reports_say_so(ws: Workspace) -> None:
    from agent.render import load_report_data, render_files

    set_field(ws, "Dana", "summary", confirm=True)
    summary = mark_reviewed(ws, "Dana")
    assert summary.personas[0].status == "reviewed"
    undecided = len(FIELDS) - 1
    assert any(f"{undecided} of {len(FIELDS)} fields undecided" in n for n in summary.notes)
    files = render_files(load_report_data(ws), ["md", "html"])
    text = files["persona-dana.md"]
    assert "| **Status** | Reviewed |" in text
    assert f"| **Validation** | marked reviewed; 1 of {len(FIELDS)} fields decided" in text
    assert "not yet reviewed by a person" not in text
    assert f"marked reviewed; 1 of {len(FIELDS)} fields decided" in files["index.html"]
    # Every field decided: no warning.
    for path in FIELDS:
        set_field(ws, "Dana", path, confirm=True)
    assert not mark_reviewed(ws, "Dana").notes


def test_a_pending_export_holds_only_undecided_blocks_and_applies_the_same_way(
    ws: Workspace,
) -> None:
    set_field(ws, "Dana", "summary", confirm=True)
    set_field(ws, "Dana", "journey.stages.0.actions", confirm=True)
    (path, _) = export_review(ws, pending_only=True)
    text = path.read_text()
    fields = yaml.safe_load(text)["fields"]
    # Decided blocks are left out; the rest are there, and the file says why it is short.
    assert "summary" not in fields and "journey.stages.0.actions" not in fields
    assert "role" in fields and "journey.stages.1.actions" in fields
    assert "Only the blocks nobody has decided yet are here" in text
    full = yaml.safe_load(export_review(ws, force=True)[0].read_text())["fields"]
    assert len(fields) == len(full) - 2
    # Applied untouched it changes nothing; a decision in it is recorded as from a full file.
    (path, _) = export_review(ws, pending_only=True, force=True)
    apply_review_file(ws, path)
    assert review_status(ws).personas[0].counts["confirmed"] == 1
    path.write_text(edit(path.read_text(), "role", decision="confirmed"))
    apply_review_file(ws, path)
    held = load_decisions(ws).personas["p-dana"].fields
    assert held["summary"].decision == held["role"].decision == "confirmed"
