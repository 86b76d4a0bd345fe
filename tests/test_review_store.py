"""The decision store under review: migrations, item decisions, provenance, conflicts, theme
lineage and decisions, placeholders, and hints that parse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app
from agent.decisions import (
    CURRENT_VERSION,
    ConflictError,
    ReviewError,
    decide,
    load_store,
    record,
    spec_for,
    theme_decisions,
)
from agent.library import load_view, reviewed_personas
from agent.models import Claim, Persona, ThemeReport
from agent.render import load_report_data, render_files
from agent.review import decide_theme, locate, set_field, store_path
from agent.review_file import apply_review_file, export_review
from agent.workspace import Workspace, read_json, write_json

from ._render_helpers import journey, make_workspace, personas, write_personas


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    monkeypatch.setenv("PERSONA_REVIEWER", "Default Reviewer")
    return make_workspace(tmp_path / "ws")


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def dana(ws: Workspace) -> Persona:
    return next(p for p in reviewed_personas(ws) if p.id == "p-dana")


def md(ws: Workspace, name: str = "persona-dana.md") -> str:
    return render_files(load_report_data(ws), ["md"])[name]


# --------------------------------------------------------------------------- migrations

V1 = {
    "version": 1,
    "personas": {
        "p-dana": {
            "segment": "power_users",
            "name": "Dana, the Closer",
            "anti": False,
            "marked_reviewed": True,
            "fields": {
                "role": {
                    "decision": "corrected",
                    "value": {"text": "Controller", "evidence": [], "assumption": False},
                    "base": {"text": "Finance lead", "evidence": ["chunk:c-sync"]},
                    "addition": None,
                    "source": "file:dana.yaml",
                },
                "goals": {
                    "decision": "extended",
                    "value": [
                        {
                            "text": "Close the books in under three days",
                            "evidence": ["chunk:c-sync"],
                        },
                        {"text": "Hand the close to a junior", "evidence": []},
                    ],
                    "base": [{"text": "Close the books in under three days"}],
                    "addition": [{"text": "Hand the close to a junior", "evidence": []}],
                    "source": "cli",
                },
            },
        }
    },
    "exports": {
        "dana.yaml": {
            "persona_id": "p-dana",
            "sha256": "ab" * 32,
            "applied_sha256": None,
            "status": "draft",
            "fields": {"summary": {"current": {"text": "x"}, "decision": "pending"}},
        }
    },
}


def test_a_version_1_store_migrates_without_losing_anything(ws: Workspace) -> None:
    store_path(ws).parent.mkdir(parents=True, exist_ok=True)
    store_path(ws).write_text(json.dumps(V1), encoding="utf-8")
    store = load_store(ws)
    assert store.version == CURRENT_VERSION == 3
    entry = store.personas["p-dana"]
    assert (entry.segment, entry.name, entry.marked_reviewed) == (
        "power_users",
        "Dana, the Closer",
        True,
    )
    for path, old in V1["personas"]["p-dana"]["fields"].items():  # type: ignore[index]
        new = entry.fields[path].model_dump()
        assert {k: new[k] for k in old} == old  # every stored key kept as it was
        assert (new["by"], new["at"], new["comment"]) == ("", "", "")  # provenance unknown
    assert sorted(d.rev for d in entry.fields.values()) == [1, 2] and store.revision == 2
    export = store.exports["dana.yaml"].model_dump()
    assert {k: export[k] for k in V1["exports"]["dana.yaml"]} == V1["exports"]["dana.yaml"]  # type: ignore[index]
    # The old decisions still shape what a reader sees.
    seen = dana(ws)
    assert seen.draft.role.text == "Controller"
    assert seen.draft.goals[-1].text == "Hand the close to a junior"
    assert seen.document_info.status == "reviewed"
    # The first write stores the current version; reading it back gives the same store.
    set_field(ws, "Dana", "summary", confirm=True)
    on_disk = read_json(store_path(ws))
    assert isinstance(on_disk, dict) and on_disk["version"] == CURRENT_VERSION
    again = load_store(ws)
    assert again.personas["p-dana"].fields["role"] == store.personas["p-dana"].fields["role"]


def test_a_store_from_a_newer_version_is_refused_with_one_line(ws: Workspace) -> None:
    store_path(ws).parent.mkdir(parents=True, exist_ok=True)
    store_path(ws).write_text(json.dumps({"version": 9, "personas": {}}), encoding="utf-8")
    result = cli("review", "status", "-w", ws.root)
    assert result.exit_code == 1
    assert f"{store_path(ws)}: review decisions are version 9" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- items


def test_one_pain_point_part_is_reviewed_with_name_time_and_comment(ws: Workspace) -> None:
    result = cli(
        "review", "set", "Dana", "pain_points.0.workaround",
        "--correct", "Exports to CSV and fixes it in Excel",
        "--by", "Ana", "--comment", "Heard in the follow-up call", "-w", ws.root,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "1 list item(s) decided" in result.stdout
    stored = load_store(ws).personas["p-dana"].fields
    (address,) = stored
    assert address == "pain_points[theme:t-sync].workaround"
    decision = stored[address]
    assert (decision.decision, decision.by, decision.comment) == (
        "corrected",
        "Ana",
        "Heard in the follow-up call",
    )
    assert decision.at == "2026-01-01T00:00:00Z"  # SOURCE_DATE_EPOCH, like draft's clock
    pain = dana(ws).draft.pain_points[0]
    assert pain.workaround is not None and pain.workaround.text.startswith("Exports to CSV")
    assert pain.impact.evidence == ["chunk:c-sync"]  # the rest of the pain point is the draft's
    # Marked as a reviewer's words in every output, the drafted parts not.
    files = render_files(load_report_data(ws), ["md", "html", "json"])
    text = files["persona-dana.md"]
    assert "**Current workaround**: Exports to CSV and fixes it in Excel _(from reviewer)_" in text
    assert re.search(
        r"\*\*Impact\*\*: Two days of manual matching each month\[\^\d+\]$", text, re.M
    )
    report = json.loads(files["report.json"])
    assert report["provenance"]["p-dana"]["pain_points.0.workaround"] == {
        "origin": "human",
        "decision": "corrected",
        "by": "Ana",
        "at": "2026-01-01T00:00:00Z",
        "comment": "Heard in the follow-up call",
        "address": "pain_points[theme:t-sync].workaround",
    }
    assert "pain_points.0.impact" not in report["provenance"]["p-dana"]
    html = files["index.html"]
    assert (
        'title="corrected by Ana, 2026-01-01T00:00:00Z: Heard in the follow-up call" '
        'data-origin="human">from reviewer</span>'
    ) in html


def test_items_are_confirmed_corrected_and_extended_one_by_one(ws: Workspace) -> None:
    set_field(ws, "Dana", "goals.1", confirm=True, by="Bo")
    set_field(ws, "Dana", "quotes.0", correct="I spend two whole days matching them by hand")
    set_field(ws, "Dana", "pain_points.1.impact", extend="and the CFO waits for the numbers")
    by = {a.split("[")[0]: d.by for a, d in load_store(ws).personas["p-dana"].fields.items()}
    assert by == {"goals": "Bo", "quotes": "Default Reviewer", "pain_points": "Default Reviewer"}
    text = md(ws)
    assert "2. Trust the bank balance without re-checking[^" in text
    assert re.search(r"2\. Trust the bank.*_\(✓ confirmed by reviewer\)_", text)
    assert "1. Close the books in under three days[^" in text  # the neighbour stays the draft's
    impact = next(x for x in text.splitlines() if "Renames categories before every close" in x)
    assert "added in review (the reviewer's words, no evidence cited):_ and the CFO waits" in impact
    assert "> “I spend two whole days matching them by hand”" in text
    assert "added by a reviewer" in text
    # Errors name the item and what is allowed.
    with pytest.raises(ReviewError, match=r"goals has 2 item\(s\), numbered from 0 to 1"):
        set_field(ws, "Dana", "goals.5", confirm=True)
    with pytest.raises(ReviewError, match=r"no part 'owner' \(parts: title, impact, frequency"):
        set_field(ws, "Dana", "pain_points.0.owner", confirm=True)
    with pytest.raises(ReviewError, match="a quote is verbatim"):
        set_field(ws, "Dana", "quotes.1", extend="more words")
    with pytest.raises(ReviewError, match="'role' is not a list"):
        set_field(ws, "Dana", "role.0", confirm=True)
    # Reset: kept as a record of who withdrew it, no longer in force.
    set_field(ws, "Dana", "goals.1", reset=True, by="Cy")
    decisions = load_store(ws).personas["p-dana"].fields
    reset = next(d for a, d in decisions.items() if a.startswith("goals["))
    assert (reset.decision, reset.by) == ("pending", "Cy")
    assert "confirmed by reviewer" not in next(x for x in md(ws).splitlines() if "Trust the" in x)


def test_item_decisions_follow_their_items_through_a_redraft(ws: Workspace) -> None:
    set_field(ws, "Dana", "goals.1", correct="Trust the balance on the first look")
    set_field(ws, "Dana", "pain_points.0.workaround", correct="Phones the bank")
    # The next draft reorders pain points and puts a new goal first.
    new = personas()
    draft = new[0].draft
    draft.pain_points = list(reversed(draft.pain_points))
    draft.goals.insert(0, Claim(text="Spend less on tools", evidence=["theme:t-price"]))
    write_personas(ws, new, [journey("p-dana")])
    seen = dana(ws).draft
    assert [g.text for g in seen.goals] == [
        "Spend less on tools",
        "Close the books in under three days",
        "Trust the balance on the first look",
    ]
    sync = next(p for p in seen.pain_points if p.theme_id == "t-sync")
    assert sync.workaround is not None and sync.workaround.text == "Phones the bank"
    other = next(p for p in seen.pain_points if p.theme_id == "t-export")
    assert other.workaround is None
    # A corrected item the new draft dropped stays: a human decided it.
    dropped = personas()
    dropped[0].draft.goals = dropped[0].draft.goals[:1]
    write_personas(ws, dropped, [journey("p-dana")])
    assert [g.text for g in dana(ws).draft.goals][-1] == "Trust the balance on the first look"


# --------------------------------------------------------------------------- placeholders


PLACEHOLDER = "Not in the evidence pack: motivations need interview answers about why"


def test_extending_a_placeholder_replaces_it(ws: Workspace) -> None:
    from agent.offline_draft import NOT_IN_EVIDENCE

    assert PLACEHOLDER.startswith(NOT_IN_EVIDENCE)  # the store's prefix is the drafter's
    items = personas()
    items[0].draft.motivations = [Claim(text=PLACEHOLDER, assumption=True)]
    items[0].draft.aha_moment = Claim(text=f"{NOT_IN_EVIDENCE}: ask them", assumption=True)
    write_personas(ws, items, [journey("p-dana")])
    set_field(ws, "Dana", "motivations", extend="Go home on time at month-end")
    set_field(ws, "Dana", "aha_moment", extend="The first close done in a day")
    seen = dana(ws).draft
    assert [m.text for m in seen.motivations] == ["Go home on time at month-end"]
    assert (
        seen.aha_moment.text == "The first close done in a day" and not seen.aha_moment.assumption
    )
    text = md(ws)
    assert NOT_IN_EVIDENCE not in text
    assert "- Go home on time at month-end _(from reviewer)_" in text
    assert (
        "### Aha Moment _(+ extended by reviewer)_\n\nThe first close done in a day _(from reviewer)_"
        in text
    )


# --------------------------------------------------------------------------- the YAML file


def hint_example(text: str, field: str, key: str) -> Any:
    """The example a block's hint comment gives, parsed as YAML (what a person would paste)."""
    lines = text.splitlines()
    start = lines.index(f"  {field}:")
    line = next(x for x in lines[start:] if x.startswith(f"    {key}:  #"))
    return yaml.safe_load(line.split("e.g. ", 1)[1])


def test_every_list_hint_gives_a_shape_that_is_accepted(ws: Workspace) -> None:
    (path, _) = export_review(ws)
    text = path.read_text()
    for field in ("pain_points", "quotes", "goals"):
        example = hint_example(text, field, "value")
        edited = text.replace(
            f"  {field}:\n",
            f"  {field}:\n    decision: corrected\n    value: {json.dumps(example)}\n",
            1,
        )
        # Drop the block's own exported decision/value lines that the insert now shadows.
        edited = _drop_first_after(
            edited, f"  {field}:", ("    decision: pending", "    value:  #")
        )
        path.write_text(edited)
        summary = apply_review_file(ws, path)
        assert summary.personas[0].changed == [field], field
        export_review(ws, force=True)
        text = path.read_text()
    seen = dana(ws).draft
    assert [p.title for p in seen.pain_points] == ["Slow support"]
    assert seen.pain_points[0].theme_id == "" and seen.pain_points[0].impact.text
    assert [q.text for q in seen.quotes] == ["as said in the interview"]
    # A hand-added item block works too; its position counts in the list as exported.
    text = path.read_text().replace(
        "\n  quotes:\n",
        "\n  pain_points.0.workaround:\n    decision: corrected\n    value: Asks a colleague\n"
        "    comment: from the diary study\n\n  quotes:\n",
        1,
    )
    path.write_text(text)
    apply_review_file(ws, path, by="Ana")
    pain = dana(ws).draft.pain_points[0]
    assert pain.workaround is not None and pain.workaround.text == "Asks a colleague"
    decided = (
        load_store(ws)
        .personas["p-dana"]
        .fields["pain_points[p:" + _key("Slow support") + "].workaround"]
    )
    assert (decided.by, decided.comment, decided.source) == (
        "Ana",
        "from the diary study",
        "file:dana.yaml",
    )


def _key(title: str) -> str:
    from agent.ids import content_hash

    return content_hash(title, 8)


def _drop_first_after(text: str, anchor: str, prefixes: tuple[str, ...]) -> str:
    lines = text.splitlines()
    start = lines.index(anchor)
    for prefix in prefixes:
        at = next(i for i in range(start + 3, len(lines)) if lines[i].startswith(prefix))
        del lines[at]
    return "\n".join(lines) + "\n"


def test_a_file_edit_to_a_field_decided_since_export_is_refused(ws: Workspace) -> None:
    (path, _) = export_review(ws)
    set_field(ws, "Dana", "summary", correct="Runs finance alone", by="Bo", comment="per CEO")
    text = (
        path.read_text()
        .replace("  summary:\n", "  summary:\n    comment: looks right\n", 1)
        .replace("    decision: pending", "    decision: confirmed", 1)
    )
    path.write_text(text)
    before = store_path(ws).read_bytes()
    with pytest.raises(Exception) as err:
        apply_review_file(ws, path)
    message = str(err.value)
    assert message.startswith(f"{path}:")
    assert "'summary' was decided by someone else after this file was exported" in message
    assert (
        "corrected by Bo at 2026-01-01T00:00:00Z to “Runs finance alone” (comment: per CEO)"
        in message
    )
    assert store_path(ws).read_bytes() == before


# --------------------------------------------------------------------------- concurrency


def test_two_reviewers_on_one_item_the_second_is_refused_with_what_changed(ws: Workspace) -> None:
    seen = load_view(ws)  # both reviewers loaded the page at the same time
    target = locate(seen, "Dana", "goals.1")
    spec = spec_for(target.address)

    def word(kind: str, by: str, **kw: Any) -> Any:
        return decide(spec, kind, target.current, by=by, at="2026-01-01T00:00:00Z", **kw)

    first = record(ws, target.persona, target.address, word("confirmed", "Ana"), expected=0)
    assert first.rev == 1
    with pytest.raises(ConflictError) as err:
        record(
            ws,
            target.persona,
            target.address,
            word("corrected", "Bo", value="Trust it", comment="too vague"),
            expected=0,
        )
    assert "goals[c:" in str(err.value) and "confirmed by Ana at 2026-01-01T00:00:00Z" in str(
        err.value
    )
    assert err.value.current[0]["by"] == "Ana"
    assert load_store(ws).personas["p-dana"].fields[str(target.address)].decision == "confirmed"
    # A different item, or a different persona, is no conflict.
    other = locate(seen, "Dana", "goals.0")
    record(
        ws,
        other.persona,
        other.address,
        decide(spec_for(other.address), "confirmed", other.current),
        expected=0,
    )
    # The whole list overlaps every item in it.
    whole = locate(seen, "Dana", "goals")
    with pytest.raises(ConflictError):
        record(
            ws,
            whole.persona,
            whole.address,
            decide(whole.spec, "confirmed", whole.current),
            expected=0,
        )
    # Seeing the newest revision, the edit goes through.
    record(
        ws, whole.persona, whole.address, decide(whole.spec, "confirmed", whole.current), expected=2
    )


# --------------------------------------------------------------------------- themes


def change_theme_id(ws: Workspace, old: str, new: str) -> None:
    """What a re-run does when a theme's members change: a new id, and lineage says so."""
    report = ThemeReport.model_validate(read_json(ws.themes))
    for theme in report.themes:
        if theme.id == old:
            theme.id = new
    report.lineage = {old: new}
    write_json(ws.themes, report)


def test_a_confirmed_pain_point_resolves_after_its_theme_id_changes(ws: Workspace) -> None:
    set_field(ws, "Dana", "pain_points", confirm=True)
    set_field(ws, "Dana", "pain_points.0.impact", correct="Two lost days each month")
    change_theme_id(ws, "t-sync", "t-sync-2")
    text = md(ws)
    assert "Unresolved evidence" not in text and "Unresolved" not in text
    assert "   - **Theme**: Bank sync drops transactions" in text
    assert "Two lost days each month _(from reviewer)_" in text
    seen = dana(ws).draft
    assert seen.pain_points[0].theme_id == "t-sync-2"
    assert "theme:t-sync-2" in seen.summary.evidence  # the model's own citations follow too
    report = json.loads(render_files(load_report_data(ws), ["json"])["report.json"])
    assert all(e["found"] for e in report["evidence"].values())


def test_theme_renames_and_merges_stick_by_id_through_lineage(ws: Workspace) -> None:
    result = cli(
        "review", "theme", "Bank sync drops transactions", "--rename", "Bank feed drops",
        "--by", "Ana", "-w", ws.root,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "rename t-sync: Bank feed drops" in result.stdout
    decide_theme(ws, "t-tax", merge_into="Export breaks on special characters", comment="same")
    assert theme_decisions(ws).model_dump() == {
        "renames": {"t-sync": "Bank feed drops"},
        "merges": {"t-tax": "t-export"},
    }
    # Reports show the new name now; the themes step applies both on every re-run.
    assert "**Theme**: Bank feed drops — " in md(ws)
    change_theme_id(ws, "t-sync", "t-sync-2")
    assert theme_decisions(ws).renames == {"t-sync-2": "Bank feed drops"}
    # Once the themes step has merged them (both ids lead to one theme), the merge is done.
    report = ThemeReport.model_validate(read_json(ws.themes))
    report.lineage["t-tax"] = "t-export"
    write_json(ws.themes, report)
    assert theme_decisions(ws).merges == {}
    with pytest.raises(ReviewError, match="merged into itself"):
        decide_theme(ws, "t-price", merge_into="t-price")
    bad = cli("review", "theme", "No such theme", "--rename", "x", "-w", ws.root)
    assert bad.exit_code == 1 and "no theme 'No such theme'" in bad.stderr
