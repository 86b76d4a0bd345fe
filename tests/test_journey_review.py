"""Journey maps reviewed through the decision store: `persona review set journey.…`, the serve
journey page, marks in Markdown and report.json, re-drafts, conflicts and withdrawal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.decisions import CURRENT_VERSION, load_store
from agent.errors import InputError
from agent.library import load_view
from agent.render import load_report_data, render_files
from agent.review_file import apply_review_file, export_review
from agent.workspace import Workspace, read_json

from ._render_helpers import journey, make_workspace, personas, write_personas
from ._serve_helpers import form_for, running
from .conftest import CORPUS

ONBOARDING_ACTION = "journey.stages[stage:onboarding].actions[c:bff50739]"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    monkeypatch.setenv("PERSONA_REVIEWER", "Default Reviewer")
    return make_workspace(tmp_path / "ws")


def cli(*args: str | Path, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def dana_journey(ws: Workspace) -> Any:
    reviewed = load_view(ws).journey_of("p-dana")
    assert reviewed is not None
    return reviewed


def files(ws: Workspace) -> dict[str, str]:
    return render_files(load_report_data(ws), ["md", "json"])


def test_cli_confirms_corrects_and_extends_journey_parts(ws: Workspace) -> None:
    root = ws.root
    result = cli(
        "review",
        "set",
        "Dana",
        "journey.stages.3.actions.0",
        "--confirm",
        "--by",
        "Ana",
        "-w",
        root,
    )
    assert f"note: journey map: {ONBOARDING_ACTION} confirmed by Ana" in result.stdout
    cli("review", "set", "Dana", "journey.stages[stage:onboarding].emotion", "--correct", "1",
        "--by", "Ana", "--comment", "the sync works now", "-w", root)  # fmt: skip
    cli("review", "set", "Dana", "journey.key_findings.1", "--correct",
        "Advocacy needs a clean first close", "--by", "Bo", "-w", root)  # fmt: skip
    cli("review", "set", "Dana", "journey.recommendations.0.metric", "--correct",
        "Sync tickets per account", "-w", root)  # fmt: skip
    cli("review", "set", "Dana", "journey.stages.1.thoughts", "--extend", "Worries about price",
        "-w", root)  # fmt: skip
    fields = load_store(ws).personas["p-dana"].fields
    assert fields[ONBOARDING_ACTION].decision == "confirmed"
    assert fields[ONBOARDING_ACTION].by == "Ana"
    emotion = fields["journey.stages[stage:onboarding].emotion"]
    assert (emotion.value, emotion.base, emotion.comment) == (1, -2, "the sync works now")
    assert read_json(ws.review_dir / "decisions.json")["version"] == CURRENT_VERSION == 3

    reviewed = dana_journey(ws)
    stages = reviewed.journey.draft.stages
    assert stages[3].emotion == 1
    assert [t.text for t in stages[1].thoughts][-1] == "Worries about price"
    assert reviewed.journey.draft.key_findings[1].text == "Advocacy needs a clean first close"
    assert reviewed.journey.draft.recommendations[0].metric == "Sync tickets per account"
    assert reviewed.marks["journey.stages.1.thoughts.1"].kind == "added"

    # Human vs model, per item, in report.json and in the Markdown journey map.
    out = files(ws)
    provenance = json.loads(out["report.json"])["provenance"]["p-dana"]
    assert provenance["journey.key_findings.1"]["origin"] == "human"
    assert provenance["journey.key_findings.1"]["by"] == "Bo"
    assert provenance["journey.stages.3.emotion"]["origin"] == "human"
    assert provenance["journey.stages.3.actions.0"]["origin"] == "model"
    assert provenance["journey.stages.3.actions.0"]["decision"] == "confirmed"
    assert "journey.key_findings.0" not in provenance  # the draft's, unreviewed
    journey_md = out["journey-dana.md"]
    assert "- Advocacy needs a clean first close _(✎ corrected by reviewer)_\n" in journey_md
    assert "Does the onboarding thing[^" in journey_md and "_(✓ confirmed by reviewer)_" in (
        journey_md
    )
    assert "+1 (positive) _(✎ corrected by reviewer)_" in journey_md
    assert "Sync tickets per account _(✎ corrected by reviewer)_" in journey_md
    assert "Worries about price _(added in review)_ |" in journey_md  # one mark per item
    # The executive summary marks the reviewer's words as the journey page does.
    summary_md = out["summary.md"]
    assert "Advocacy needs a clean first close _(✎ corrected by reviewer)_" in summary_md
    assert "Sync tickets per account _(✎ corrected by reviewer)_" in summary_md
    # `review status` counts the journey parts decided (5 decisions above).
    status = json.loads(cli("review", "status", "-w", root, "--json").stdout)
    assert {p["persona_id"]: p["journey"] for p in status["personas"]}["p-dana"] == 5
    assert "5 journey map part(s) decided" in cli("review", "status", "-w", root).stdout
    # The HTML report marks the same items.
    html = render_files(load_report_data(ws), ["html"])["index.html"]
    assert 'data-origin="human" title="corrected by Ana, 2026-01-01T00:00:00Z: the sync' in html
    executive = html[html.index("<h2>Key findings</h2>") :][:2000]
    assert 'Advocacy needs a clean first close <span class="pill pill-corrected"' in executive
    assert 'Sync tickets per account <span class="pill pill-corrected"' in executive


def test_bad_journey_addresses_say_what_is_valid(ws: Workspace) -> None:
    result = cli("review", "set", "Dana", "journey.stagez.0", "--confirm", "-w", ws.root, code=1)
    assert "journey.stages[stage:<id>].<field>" in result.stderr
    assert "this journey's stages: awareness, consideration, decision, onboarding" in result.stderr
    result = cli("review", "set", "Dana", "journey.stages[stage:onboarding].actions[c:00000000]",
                 "--confirm", "-w", ws.root, code=1)  # fmt: skip
    assert f"actions items are: {ONBOARDING_ACTION}" in result.stderr
    result = cli("review", "set", "Dana", "journey.stages.3.emotion", "--correct", "5",
                 "-w", ws.root, code=1)  # fmt: skip
    assert "a whole number from -2 (very negative) to 2" in result.stderr
    result = cli("review", "set", "Dana", "journey.stages.3.pain_points.0", "--extend", "x",
                 "-w", ws.root, code=1)  # fmt: skip
    assert "cannot be extended" in result.stderr
    result = cli("review", "set", "Dana", "journey.stages.3.emotion", "--extend", "1",
                 "-w", ws.root, code=1)  # fmt: skip
    assert "cannot be extended: correct it instead" in result.stderr
    assert "`corrected`" not in result.stderr
    result = cli("review", "set", "Dana", "journey.stages.3.pain_points", "--extend", "t-sync",
                 "-w", ws.root, code=1)  # fmt: skip
    assert "pain points are themes" in result.stderr
    result = cli("review", "set", "Dana", "journey.stages.3.pain_points.0", "--correct", "foo",
                 "-w", ws.root, code=1)  # fmt: skip
    assert "'foo' is not a theme id or label; themes: Bank sync drops transactions (t-sync); " in (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (ws.review_dir / "decisions.json").exists()


def test_a_confirmed_journey_item_follows_its_item_through_a_redraft(ws: Workspace) -> None:
    cli("review", "set", "Dana", "journey.stages.3.actions.0", "--confirm", "--by", "Ana",
        "-w", ws.root)  # fmt: skip
    cli("review", "set", "Dana", "journey.stages.3.customer_goal", "--extend", "and on time",
        "-w", ws.root)  # fmt: skip
    cli("review", "set", "Dana", "journey.stages[stage:advocacy].emotion", "--correct", "2",
        "-w", ws.root)  # fmt: skip
    before = (ws.review_dir / "decisions.json").read_bytes()
    # A re-draft: new ids, the onboarding action moved behind a new one, advocacy dropped.
    redrafted = journey("p-dana", (0, 1, 1, -2, 1))
    onboarding = redrafted.draft.stages[3]
    onboarding.actions.insert(0, onboarding.actions[0].model_copy(update={"text": "New step"}))
    redrafted.draft.stages = redrafted.draft.stages[:4]
    items = personas()
    write_personas(ws, items, [redrafted.model_copy(update={"id": "j-new"}), journey("p-sam")])
    assert (ws.review_dir / "decisions.json").read_bytes() == before  # drafting wrote nothing

    reviewed = dana_journey(ws)
    stage = reviewed.journey.draft.stages[3]
    assert [a.text for a in stage.actions] == ["New step", "Does the onboarding thing"]
    mark = reviewed.marks["journey.stages.3.actions.1"]
    assert (mark.kind, mark.by, mark.address) == ("confirmed", "Ana", ONBOARDING_ACTION)
    assert "journey.stages.3.actions.0" not in reviewed.marks  # the new step is the draft's
    assert stage.customer_goal is not None and stage.customer_goal.text.endswith("and on time")
    # The stage it named is gone: the decision is kept in the store, shown as not applied.
    assert reviewed.unapplied == ("journey.stages[stage:advocacy].emotion",)
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana/journey")
    assert "1 journey decision no longer applies" in page
    assert "journey.stages[stage:advocacy].emotion</code>" in page


def test_web_journey_review_and_conflicting_edit(ws: Workspace) -> None:
    with running(ws) as srv:
        status, _, page = srv.get("/p/dana/journey")  # two reviewers load the page at once
        assert status == 200
        row = page[page.index('id="r-journey-stages-3-actions-0"') :][:400]
        assert 'data-origin="model"' in row
        ana = {**form_for(page, "journey.stages.3.actions.0"), "action": "correct",
               "text": "Connects the bank feed", "by": "Ana", "comment": "call notes"}  # fmt: skip
        bo = {**form_for(page, "journey.stages.3.actions.0"), "action": "confirm", "by": "Bo"}
        other = {**form_for(page, "journey.stages.3.emotion"), "action": "correct", "text": "-1"}
        assert ana["address"] == ONBOARDING_ACTION
        status, headers, _ = srv.post("/p/dana", ana)
        assert status == 303
        assert headers["location"] == "/p/dana/journey#r-journey-stages-3-actions-0"
        status, _, body = srv.post("/p/dana", bo)
        assert status == 409 and "Not saved: someone else changed this first." in body
        assert "corrected by Ana" in body and "“Connects the bank feed”" in body
        # Another part of the same stage is no conflict; a value out of range is refused.
        assert srv.post("/p/dana", {**other, "by": "Bo"})[0] == 303
        status, _, body = srv.post("/p/dana", {**other, "text": "7", "by": "Bo"})
        assert status == 400 and "a whole number from -2 (very negative) to 2" in body
        _, _, page = srv.get("/p/dana/journey")
        row = page[page.index('id="r-journey-stages-3-actions-0"') :][:600]
        assert "Connects the bank feed" in row and 'data-origin="human"' in row and "✎ Ana" in row
    fields = load_store(ws).personas["p-dana"].fields
    assert fields[ONBOARDING_ACTION].by == "Ana" and fields[ONBOARDING_ACTION].source == "web"
    assert fields["journey.stages[stage:onboarding].emotion"].value == -1
    # report.json reads the same store: the web correction is a human-written item.
    provenance = json.loads(files(ws)["report.json"])["provenance"]["p-dana"]
    assert provenance["journey.stages.3.actions.0"]["origin"] == "human"


WITHDRAWN = "P01-dana-finance-lead.txt"


def test_withdrawal_removes_a_journey_decision_citing_the_interview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    (data / "interviews").mkdir(parents=True)
    for name in (WITHDRAWN, "P02-marcus-controller.txt", "P07-aisha-finance-manager.md"):
        shutil.copy(CORPUS / "interviews" / name, data / "interviews" / name)
    for name in ("users.csv", "participants.csv"):
        shutil.copy(CORPUS / name, data / name)
    monkeypatch.setenv("PERSONA_EMBEDDER", "hash")
    ws = Workspace(tmp_path / "ws")
    cli("run", data, "-w", ws.root, "--llm", "offline")
    rows = [json.loads(x) for x in ws.chunks.read_text(encoding="utf-8").splitlines() if x]
    dana = {f"chunk:{r['id']}" for r in rows if r["participant_id"] == "P01"}
    view = load_view(ws)
    # A journey item citing only Dana's words (the offline drafter cites touchpoints).
    found = [
        (reviewed.journey.persona_id, f"journey.stages.{i}.{key}.{j}")
        for reviewed in view.journey_reviews
        for i, stage in enumerate(reviewed.journey.draft.stages)
        for key in ("actions", "touchpoints", "thoughts", "positives", "opportunities")
        for j, claim in enumerate(getattr(stage, key))
        if claim.evidence and set(claim.evidence) <= dana
    ]
    assert found, "the offline journeys cite none of P01's words alone"
    persona_id, position = found[0]
    cli("review", "set", persona_id, position, "--confirm", "-w", ws.root)
    persona = next(p for p in view.personas if p.id == persona_id)
    decided = [a for a in load_store(ws).personas[persona.id].fields if a.startswith("journey.")]
    assert len(decided) == 1

    (data / "interviews" / WITHDRAWN).unlink()
    cli("ingest", data, "-w", ws.root)
    left = [a for e in load_store(ws).personas.values() for a in e.fields if a in decided]
    assert left == []
    assert not any(cid.removeprefix("chunk:") in (ws.review_dir / "decisions.json").read_text()
                   for cid in dana)  # fmt: skip


def test_journey_decisions_across_a_redraft_with_changed_items(ws: Workspace) -> None:
    """Extensions land on the new draft's lists; a confirmed item whose words changed is not
    put back (it is listed as no longer applying); pain points stay theme ids."""
    root = ws.root
    cli("review", "set", "Dana", "journey.stages.3.thoughts", "--extend", "Worries about price",
        "-w", root)  # fmt: skip
    cli("review", "set", "Dana", "journey.stages.3.actions.0", "--confirm", "-w", root)
    cli("review", "set", "Dana", "journey.stages.3.pain_points.0", "--correct", "t-sync",
        "-w", root)  # fmt: skip
    cli("review", "set", "Dana", "journey.stages.2.touchpoints", "--confirm", "-w", root)
    redrafted = journey("p-dana")
    onboarding = redrafted.draft.stages[3]
    onboarding.thoughts = [onboarding.thoughts[0].model_copy(update={"text": "Thinks anew"})]
    onboarding.actions = [onboarding.actions[0].model_copy(update={"text": "Does it (7 mentions)"})]
    decision = redrafted.draft.stages[2]
    decision.touchpoints = [decision.touchpoints[0].model_copy(update={"text": "A new place"})]
    write_personas(ws, personas(), [redrafted, journey("p-sam")])

    reviewed = dana_journey(ws)
    stage = reviewed.journey.draft.stages[3]
    # The addition on top of the new draft's thoughts, not the old list frozen.
    assert [t.text for t in stage.thoughts] == ["Thinks anew", "Worries about price"]
    assert reviewed.marks["journey.stages.3.thoughts.1"].kind == "added"
    # The confirmed action's words are gone: shown once (the new text), not re-inserted.
    assert [a.text for a in stage.actions] == ["Does it (7 mentions)"]
    assert stage.pain_points == ["t-sync"]
    assert [t.text for t in reviewed.journey.draft.stages[2].touchpoints] == ["A new place"]
    assert set(reviewed.unapplied) == {
        ONBOARDING_ACTION,
        "journey.stages[stage:decision].touchpoints",
    }
    journey_md = files(ws)["journey-dana.md"]
    assert "Does the onboarding thing" not in journey_md
    assert "Worries about price _(added in review)_ |" in journey_md
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana/journey")
        assert "2 journey decisions no longer apply" in page
        assert f"{ONBOARDING_ACTION}</code>" in page
        # The web app refuses free text for a stage's pain point, and extending them.
        bad = {**form_for(page, "journey.stages.3.pain_points.0"), "action": "correct",
               "text": "foo"}  # fmt: skip
        status, _, body = srv.post("/p/dana", bad)
        assert status == 400 and "is not a theme id or label; themes: Bank sync drops" in body


# --------------------------------------------------------------------------- review files


def edit_block(text: str, block: str, **keys: object) -> str:
    """Set keys of one block of a review file as a person would in an editor."""
    lines = text.splitlines()
    start = lines.index(f"  {block}:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    for key, value in keys.items():
        at = next((i for i in range(start + 1, end) if lines[i].startswith(f"    {key}:")), None)
        if at is None:  # a key the export leaves out (comment, by)
            lines.insert(end, "")
            at, end = end, end + 1
        lines[at] = f"    {key}: {json.dumps(value)}"
    return "\n".join(lines) + "\n"


def add_block(text: str, block: str, **keys: object) -> str:
    """A block the reviewer writes for one item (`fields:` is the file's last key)."""
    body = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in keys.items())
    return text + f"\n  {block}:\n{body}"


def exported(ws: Workspace) -> tuple[Path, str]:
    (path, _) = export_review(ws)
    return path, path.read_text(encoding="utf-8")


def test_review_file_decides_journey_parts_as_review_set_does(ws: Workspace) -> None:
    path, text = exported(ws)
    assert "# ---- journey.stages.3.emotion (number; stage: onboarding) ----" in text
    pains = text[text.index("  # ---- journey.stages.3.pain_points") :][:700]
    assert "#   theme:t-sync: Bank sync drops transactions" in pains  # bare ids resolved
    assert 'value:  # corrected: themes by id or label, e.g. ["Bank feed drops' in pains
    text = edit_block(text, "journey.stages.3.emotion", decision="corrected", value=1,
                      comment="the sync works now")  # fmt: skip
    text = edit_block(text, "journey.stages.1.thoughts", decision="extended",
                      addition=["Worries about price"])  # fmt: skip
    text = add_block(text, "journey.stages.3.actions.0", decision="confirmed", by="Ana")
    text = add_block(text, "journey.key_findings.1", decision="corrected",
                     value="Advocacy needs a clean first close")  # fmt: skip
    text = add_block(text, "journey.recommendations.0.metric", decision="corrected",
                     value="Sync tickets per account")  # fmt: skip
    path.write_text(text, encoding="utf-8")

    summary = apply_review_file(ws, path)
    (state,) = summary.personas
    assert state.journey == 5
    assert sorted(state.changed) == sorted(
        ["journey.stages.3.emotion", "journey.stages.1.thoughts", "journey.stages.3.actions.0",
         "journey.key_findings.1", "journey.recommendations.0.metric"]
    )  # fmt: skip
    fields = load_store(ws).personas["p-dana"].fields
    # The same addresses `persona review set` and the web app write.
    assert (fields[ONBOARDING_ACTION].decision, fields[ONBOARDING_ACTION].by) == (
        "confirmed",
        "Ana",
    )
    emotion = fields["journey.stages[stage:onboarding].emotion"]
    assert (emotion.value, emotion.base, emotion.comment) == (1, -2, "the sync works now")
    assert emotion.source == "file:dana.yaml"
    reviewed = dana_journey(ws)
    draft = reviewed.journey.draft
    assert draft.stages[3].emotion == 1
    assert [t.text for t in draft.stages[1].thoughts][-1] == "Worries about price"
    assert draft.key_findings[1].text == "Advocacy needs a clean first close"
    assert draft.recommendations[0].metric == "Sync tickets per account"

    # A new export shows the decisions, item blocks included, and records nothing when applied.
    again = export_review(ws)[0].read_text(encoding="utf-8")
    item = again[again.index("  # ---- journey.stages.3.actions.0 ") :][:600]
    assert "#   decided: confirmed by Ana" in item and "decision: confirmed" in item
    before = load_store(ws).personas
    assert apply_review_file(ws, path).personas[0].changed == []
    assert load_store(ws).personas == before


@pytest.mark.parametrize(
    ("block", "keys", "message", "line_key"),
    [
        ("journey.stages.3.pain_points", {"decision": "corrected", "value": ["foo"]},
         "'foo' is not a theme id or label; themes: Bank sync drops transactions (t-sync)",
         "value"),
        ("journey.stages.3.emotion", {"decision": "corrected", "value": 7},
         "a whole number from -2 (very negative) to 2", "value"),
        ("journey.stages.3.pain_points", {"decision": "extended", "addition": ["t-sync"]},
         "cannot be extended", "addition"),
    ],
)  # fmt: skip
def test_review_file_refuses_bad_journey_values_naming_file_and_line(
    ws: Workspace, block: str, keys: dict[str, object], message: str, line_key: str
) -> None:
    path, text = exported(ws)
    text = edit_block(text, block, **keys)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as error:
        apply_review_file(ws, path)
    lines = text.splitlines()
    start = lines.index(f"  {block}:")
    expected = next(i for i in range(start, len(lines)) if lines[i].startswith(f"    {line_key}:"))
    assert message in error.value.reason
    assert (error.value.path, error.value.line) == (str(path), expected + 1)
    assert load_store(ws).personas == {}  # nothing from the file was recorded


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("journey.stages.0.feelings", "unknown journey address 'journey.stages.0.feelings'"),
        ("journey.stages.9.actions", "the journey has 5 stage(s), numbered from 0 to 4"),
        ("journey.stages.3.actions.7", "actions has 1 item(s), numbered from 0 to 0"),
    ],
)
def test_review_file_names_a_bad_journey_block(ws: Workspace, block: str, message: str) -> None:
    path, text = exported(ws)
    text = add_block(text, block, decision="confirmed")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as error:
        apply_review_file(ws, path)
    assert message in error.value.reason
    assert error.value.line == text.splitlines().index(f"  {block}:") + 1


def test_review_file_journey_edit_after_someone_elses_is_refused(ws: Workspace) -> None:
    path, text = exported(ws)
    cli("review", "set", "Dana", "journey.stages.3.emotion", "--correct", "-1", "--by", "Bo",
        "-w", ws.root)  # fmt: skip
    path.write_text(edit_block(text, "journey.stages.3.emotion", decision="corrected", value=2))
    with pytest.raises(InputError) as error:
        apply_review_file(ws, path)
    assert "was decided by someone else after this file was exported" in error.value.reason
    assert "corrected by Bo" in error.value.reason
    fields = load_store(ws).personas["p-dana"].fields
    assert fields["journey.stages[stage:onboarding].emotion"].value == -1


def test_review_file_journey_item_is_the_one_exported_after_a_redraft(ws: Workspace) -> None:
    path, text = exported(ws)
    # Re-drafted between export and apply: a new first action pushes the exported one down.
    redrafted = journey("p-dana")
    onboarding = redrafted.draft.stages[3]
    onboarding.actions.insert(0, onboarding.actions[0].model_copy(update={"text": "New step"}))
    write_personas(ws, personas(), [redrafted, journey("p-sam")])
    path.write_text(add_block(text, "journey.stages.3.actions.0", decision="confirmed"))
    apply_review_file(ws, path)
    decided = [a for a in load_store(ws).personas["p-dana"].fields if a.startswith("journey.")]
    assert decided == [ONBOARDING_ACTION]
    assert dana_journey(ws).marks["journey.stages.3.actions.1"].kind == "confirmed"


def test_a_reviewers_emotion_shows_where_the_stage_had_no_evidence(ws: Workspace) -> None:
    """A stage without evidence shows its emotion as a gap, until a reviewer sets one."""
    bare = journey("p-dana")
    bare.draft.stages[0].thoughts = []  # awareness: nothing felt or cited there now
    write_personas(ws, personas(), [bare, journey("p-sam")])
    assert "| **Emotion** | no evidence |" in files(ws)["journey-dana.md"]
    cli("review", "set", "Dana", "journey.stages.0.emotion", "--correct", "1", "-w", ws.root)
    out = files(ws)
    assert (
        "| **Emotion** | +1 (positive; the reviewer's value) _(✎ corrected by reviewer)_ |"
        in (out["journey-dana.md"])
    )
    # The Mermaid chart draws the reviewer's value too (+1 is 4 on its 1-5 scale).
    chart = out["journey-dana.md"].split("```mermaid")[1].split("```")[0]
    awareness = chart.split("section Awareness")[1].split("section")[0]
    assert "Emotion set by a reviewer: 4:" in awareness and "No evidence" not in awareness
    html = render_files(load_report_data(ws), ["html"])["index.html"]
    dana = html[html.index("Emotion across Dana") :][:6000]
    assert (
        "Awareness: positive (the reviewer&#39;s value)" in dana
        or "Awareness: positive (the reviewer's value)" in dana
    )
    assert "Awareness: no evidence" not in dana
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana/journey")
    cell = page[page.index('id="r-journey-stages-0-emotion"') :][:300]
    assert "No evidence" not in cell and '<span class="emo-pos">+1</span> positive' in cell


def test_review_file_stage_numbers_are_the_stages_as_exported(ws: Workspace) -> None:
    """A re-draft that drops a stage between export and apply cannot move a stage's decision
    onto the stage that now has its number."""
    path, text = exported(ws)
    redrafted = journey("p-dana")
    redrafted.draft.stages = redrafted.draft.stages[1:]  # awareness dropped: onboarding is 2
    write_personas(ws, personas(), [redrafted, journey("p-sam")])
    path.write_text(edit_block(text, "journey.stages.3.emotion", decision="corrected", value=2))
    apply_review_file(ws, path)
    decided = [a for a in load_store(ws).personas["p-dana"].fields if a.startswith("journey.")]
    assert decided == ["journey.stages[stage:onboarding].emotion"]
    assert dana_journey(ws).journey.draft.stages[2].emotion == 2


def test_review_file_refuses_silent_edits_and_reads_no_made_up_current(ws: Workspace) -> None:
    path, text = exported(ws)
    # `current:` in a block the reviewer wrote is not the draft: the draft's item is confirmed.
    mine = add_block(text, "journey.stages.3.thoughts.0", current="I made this up",
                     decision="confirmed")  # fmt: skip
    path.write_text(mine)
    apply_review_file(ws, path)
    thoughts = dana_journey(ws).journey.draft.stages[3].thoughts
    assert [t.text for t in thoughts] == ["Thinks about onboarding"]
    assert thoughts[0].evidence == ["chunk:c-sync"]
    # A key typed twice in one block (YAML would keep the last) is refused with its lines.
    lines = text.splitlines()
    at = lines.index("  journey.stages.2.emotion:")
    twice = "\n".join([*lines[: at + 1], "    decision: corrected", *lines[at + 1 :]]) + "\n"
    path.write_text(twice)
    with pytest.raises(InputError) as error:
        apply_review_file(ws, path)
    assert "'decision' appears twice in one block" in error.value.reason
    assert error.value.line == at + 4  # the exported `decision: pending`, under `current:`
    # A value under a pending decision would be dropped: refused, naming the line.
    path.write_text(edit_block(text, "journey.stages.2.emotion", value=1))
    with pytest.raises(InputError) as error:
        apply_review_file(ws, path)
    assert "`value:` is filled in but `decision:` is pending" in error.value.reason
    assert error.value.line == text.splitlines().index("  journey.stages.2.emotion:") + 4


def test_review_file_names_a_stage_pain_point_by_its_label(ws: Workspace) -> None:
    path, text = exported(ws)
    path.write_text(edit_block(text, "journey.stages.1.pain_points", decision="corrected",
                               value=["bank sync drops transactions"]))  # fmt: skip
    apply_review_file(ws, path)
    decided = load_store(ws).personas["p-dana"].fields
    assert decided["journey.stages[stage:consideration].pain_points"].value == ["t-sync"]
