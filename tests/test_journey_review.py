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
from agent.library import load_view
from agent.render import load_report_data, render_files
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
    assert read_json(ws.review_dir / "decisions.json")["version"] == CURRENT_VERSION == 2

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
    assert "less than or equal to 2" in result.stderr
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
    assert "'foo' is not a theme id; valid theme ids: t-sync, " in result.stderr
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
        assert status == 400 and "less than or equal to 2" in body
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
        assert status == 400 and "is not a theme id; valid theme ids: t-sync" in body
