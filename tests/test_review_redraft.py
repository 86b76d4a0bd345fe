"""Between a pain point's removal and the next draft: what was drafted only from it is shown
marked, never as if it stood, and the persona says a re-draft is pending, alike in Markdown,
HTML, report.json and `persona serve`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agent.workspace import Workspace

from ._render_helpers import journey, personas, write_personas
from ._review_helpers import cli, reviewed_workspace
from ._serve_helpers import running

MARK = "_(⚠ rests only on a pain point Ana removed; `persona draft` re-drafts it)_"
# Dana's items whose only evidence is theme:t-sync (the fixture's), and their journey's.
PERSONA_RESTING = ["aha_moment", "behaviors.evaluation.0", "goals.1", "needs.must.0"]
JOURNEY_RESTING = sorted(
    [
        *(f"journey.stages.{i}.customer_goal" for i in range(5)),
        *(f"journey.stages.{i}.opportunities.0" for i in range(5)),
        "journey.stages.3.pain_points.0",
        "journey.key_findings.0",
        "journey.recommendations.0",
    ]
)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return reviewed_workspace(tmp_path, monkeypatch, "Ana")


def page(ws: Workspace, name: str) -> str:
    return (ws.root / "reports" / name).read_text(encoding="utf-8")


def line_of(text: str, words: str) -> str:
    return next(x for x in text.splitlines() if words in x)


def report_json(ws: Workspace) -> dict[str, Any]:
    return json.loads(page(ws, "report.json"))


def test_report_marks_what_rests_only_on_a_removed_pain_point(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove", "--comment", "not hers")
    cli(ws, "report")
    persona = page(ws, "persona-dana.md")
    assert "> **RE-DRAFT PENDING.** Ana removed the pain point “Bank sync drops transactions”" in (
        persona
    )
    assert "4 items drafted only from its evidence are marked below" in persona
    for words in (
        "Reliable bank sync",
        "Trust the bank balance",
        "Tests the bank sync",
        "The first month the sync",
    ):
        assert line_of(persona, words).endswith(MARK), words
    # Items citing other evidence too stay as they are.
    for words in ("**Summary**", "Exports that accept", "Close the books", "A close checklist"):
        assert "⚠" not in line_of(persona, words), words
    assert persona.count("⚠") == 4
    journey_page = page(ws, "journey-dana.md")
    assert "**RE-DRAFT PENDING.**" in journey_page
    assert line_of(journey_page, "Onboarding is where bank sync").endswith(MARK)
    assert "⚠" not in line_of(journey_page, "Advocacy depends on a clean first close")
    assert MARK in line_of(journey_page, "Add a sync health check")
    # Sam's pages, whose pain nobody removed, say nothing of it.
    assert "⚠" not in page(ws, "persona-sam.md") + page(ws, "journey-sam.md")
    # report.json lists the same items, by the paths its provenance uses.
    redraft = report_json(ws)["redraft"]
    assert list(redraft) == ["p-dana"]
    assert redraft["p-dana"]["removed"] == [
        {
            "theme_id": "t-sync",
            "title": "Bank sync drops transactions",
            "by": "Ana",
            "at": "2026-01-01T00:00:00Z",
        }
    ]
    assert sorted(redraft["p-dana"]["resting"]) == sorted(PERSONA_RESTING + JOURNEY_RESTING)
    # The HTML library marks the same items and says the re-draft is pending.
    html = page(ws, "index.html")
    assert sorted(set(re.findall(r'data-resting="([^"]+)"', html))) == sorted(
        redraft["p-dana"]["resting"]
    )
    assert "<strong>Re-draft pending.</strong> Ana removed the pain point" in html
    # The summary leaves Dana's findings drafted from it out, and says so.
    summary = page(ws, "summary.md")
    assert "re-draft pending: Ana removed the pain point" in summary
    assert "2 of its key findings and recommendations rest only on it" in summary
    assert "**Dana**: Onboarding is where bank sync" not in summary
    # Deterministic: rendered again, byte-identical.
    before = {n: page(ws, n) for n in ("persona-dana.md", "journey-dana.md", "index.html")}
    cli(ws, "report")
    assert before == {n: page(ws, n) for n in before}


def test_decided_items_stand_and_a_redraft_or_restore_clears_the_marks(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove")
    # A need a reviewer confirmed is kept through the next draft: it is theirs, not marked.
    cli(ws, "review", "set", "Dana", "needs.must.0", "--confirm", "--by", "Bob")
    # A journey confirmation holds only while the new draft says the same: still marked.
    cli(ws, "review", "set", "Dana", "journey.key_findings.0", "--confirm", "--by", "Bob")
    cli(ws, "report")
    resting = report_json(ws)["redraft"]["p-dana"]["resting"]
    assert "needs.must.0" not in resting and "journey.key_findings.0" in resting
    assert "⚠" not in line_of(page(ws, "persona-dana.md"), "Reliable bank sync")
    # Restored: nothing is pending.
    cli(ws, "review", "set", "Dana", "pain_points[theme:t-sync]", "--reset")
    cli(ws, "report")
    assert report_json(ws)["redraft"] == {}
    assert "RE-DRAFT PENDING" not in page(ws, "persona-dana.md")
    assert "data-resting" not in page(ws, "index.html")
    # Removed again, then re-drafted without it: the draft no longer holds it, nothing pends.
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove")
    drafted = personas()
    drafted[0].draft.pain_points = drafted[0].draft.pain_points[1:]
    drafted[0].draft.needs.must = []
    write_personas(ws, drafted, [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))])
    cli(ws, "report")
    assert report_json(ws)["redraft"] == {}
    assert "⚠" not in page(ws, "persona-dana.md")


def test_web_app_marks_the_same_items(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove")
    with running(ws) as srv:
        _, _, persona = srv.get("/p/dana")
        assert "<strong>Re-draft pending.</strong> Ana removed the pain point" in persona
        assert sorted(set(re.findall(r'data-resting="([^"]+)"', persona))) == PERSONA_RESTING
        assert "<code>persona draft</code> re-drafts it" in persona
        _, _, journey_page = srv.get("/p/dana/journey")
        assert "<strong>Re-draft pending.</strong>" in journey_page
        assert sorted(set(re.findall(r'data-resting="([^"]+)"', journey_page))) == (JOURNEY_RESTING)
        _, _, sam = srv.get("/p/sam")
        assert "data-resting" not in sam and "data-redraft" not in sam


def write_mentions(ws: Workspace, quoted: dict[str, str]) -> None:
    """mentions.jsonl: each mention id (the fixture's themes' `m-<theme>-<n>`) quoting a chunk."""
    rows = [
        {"id": mid, "chunk_id": chunk, "quotes": [{"chunk_id": chunk, "text": "x"}]}
        for mid, chunk in quoted.items()
    ]
    ws.mentions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_an_item_citing_only_the_removed_themes_chunks_is_marked(ws: Workspace) -> None:
    # c-t101 is quoted only by t-sync's mentions; c-sync by t-sync's and by t-export's.
    write_mentions(ws, {"m-t-sync-0": "c-t101", "m-t-sync-1": "c-sync", "m-t-export-0": "c-sync"})
    drafted = personas()
    drafted[0].draft.needs.must[0].evidence = ["chunk:c-t101", "theme:t-sync"]
    write_personas(ws, drafted, [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))])
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove")
    cli(ws, "report")
    resting = report_json(ws)["redraft"]["p-dana"]["resting"]
    # Cites a chunk only the removed theme quotes: it rests on the removed pain.
    assert "behaviors.purchase_triggers.0" in resting
    assert "needs.must.0" in resting
    assert line_of(page(ws, "persona-dana.md"), "A failed close after a sync outage").endswith(MARK)
    # A chunk another theme still quotes is other evidence: the item stands.
    assert "role" not in resting and "tools.0" not in resting
    with running(ws) as srv:
        _, _, persona = srv.get("/p/dana")
    assert "behaviors.purchase_triggers.0" in re.findall(r'data-resting="([^"]+)"', persona)
    # Restored, nothing rests on it.
    cli(ws, "review", "set", "Dana", "pain_points[theme:t-sync]", "--reset")
    cli(ws, "report")
    assert report_json(ws)["redraft"] == {}


def test_every_view_counts_and_marks_alike(ws: Workspace) -> None:
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove")
    cli(ws, "report")
    html = page(ws, "index.html")
    # The index's profile says how many persona items are marked, and its journey part says
    # how many journey items are (before, the journey's 13 were marked without a notice).
    assert "4 items drafted only from its evidence are marked below" in html
    assert re.search(r"data-redraft-journey>.*13 items drafted only from its evidence", html)
    # The card names who removed what, as the pages do.
    card = line_of(html, "data-redraft-card")
    assert "Ana removed the pain point “Bank sync drops transactions”" in card
    assert "a reviewer removed a pain point" not in card
    # The summary's caveat reads as the pages do, the command as code.
    summary = page(ws, "summary.md")
    caveat = line_of(summary, "re-draft pending")
    assert "after this draft was written" in caveat and caveat.endswith(
        "`persona draft` re-drafts it"
    )
    assert "<code>persona draft</code> re-drafts it" in line_of(html, "re-draft pending: Ana")
    # report.json's notes point at no page position.
    found = report_json(ws)["redraft"]["p-dana"]
    assert "marked below" not in found["note"] + found["journey_note"]
    assert "4 items drafted only from its evidence are still in the draft" in found["note"]
    with running(ws) as srv:
        _, _, one_page = srv.get("/p/dana/print")
        _, _, index = srv.get("/")
    assert "<strong>Re-draft pending.</strong> Ana removed the pain point" in one_page
    assert {"goals.1", "needs.must.0", "aha_moment"} <= set(
        re.findall(r'data-resting="([^"]+)"', one_page)
    )
    assert "Ana removed the pain point “Bank sync drops transactions”" in line_of(
        index, "data-redraft-card"
    )


def test_several_reviewers_and_a_backticked_title(ws: Workspace) -> None:
    drafted = personas()
    drafted[0].draft.pain_points[1].title = "Export `CSV broken"
    write_personas(ws, drafted, [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))])
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove", "--by", "Ana")
    cli(ws, "review", "set", "Dana", "pain_points.0", "--remove", "--by", "Bo")
    cli(ws, "report")
    persona = page(ws, "persona-dana.md")
    banner = line_of(persona, "RE-DRAFT PENDING")
    assert (
        "Reviewers removed 2 pain points (“Bank sync drops transactions” by Ana; "
        "“Export &#96;CSV broken” by Bo)"
    ) in banner
    # The title's backtick is text; only our command is code.
    assert banner.count("`") == 2 and "`persona draft`" in banner
    html = page(ws, "index.html")
    notice = line_of(html, "data-redraft>")
    assert "“Export `CSV broken” by Bo" in notice
    assert notice.count("<code>") == 1 and "<code>persona draft</code>" in notice
    assert "rests only on a pain point reviewers removed" not in persona
    assert MARK.replace("Ana removed", "Ana removed (“Bank sync drops transactions”)") in persona


def test_a_reset_by_position_after_a_removal_says_which_address_restores_it(
    ws: Workspace,
) -> None:
    removed = cli(ws, "review", "set", "Dana", "pain_points.0", "--remove")
    restore = "persona review set Dana 'pain_points[theme:t-sync]' --reset"
    assert f"to bring it back: {restore}" in removed.output
    # pain_points.0 is now the next pain point, which nobody decided: nothing to reset.
    refused = cli(ws, "review", "set", "Dana", "pain_points.0", "--reset", code=1)
    assert "no decision at pain_points.0 (pain_points[theme:t-export]) to reset" in refused.output
    assert restore in refused.output and "Traceback" not in refused.output
    cli(ws, "review", "set", "Dana", "pain_points[theme:t-sync]", "--reset")
    cli(ws, "report")
    assert report_json(ws)["redraft"] == {}


def test_a_journey_reset_nobody_decided_is_refused_and_a_decided_one_resets(
    ws: Workspace,
) -> None:
    # Before, a journey reset with nothing to reset did nothing and said nothing.
    refused = cli(ws, "review", "set", "Dana", "journey.key_findings.0", "--reset", code=1)
    assert "no decision at journey.key_findings.0" in refused.output
    assert "Traceback" not in refused.output
    cli(ws, "review", "set", "Dana", "journey.key_findings.0", "--confirm", "--by", "Bob")
    cli(ws, "review", "set", "Dana", "journey.key_findings.0", "--reset")
    again = cli(ws, "review", "set", "Dana", "journey.key_findings.0", "--reset", code=1)
    assert "no decision at journey.key_findings.0" in again.output
