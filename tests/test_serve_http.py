"""`persona serve` over HTTP: the safety checks, review actions, conflicts, evidence in context,
stale flags and share mode (the browser tests drive the same pages through Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.decisions import load_store
from agent.workspace import Workspace, read_json, write_json

from ._render_helpers import make_workspace
from ._serve_helpers import add_named_interview, form_for, running


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = make_workspace(tmp_path / "ws")
    add_named_interview(ws)
    return ws


def test_binds_loopback_and_refuses_foreign_hosts_origins_and_missing_tokens(ws: Workspace) -> None:
    with running(ws) as srv:
        assert srv.site.allowed_hosts == {
            f"127.0.0.1:{srv.port}",
            f"localhost:{srv.port}",
        }
        status, headers, page = srv.get("/p/dana")
        assert status == 200
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
        status, _, body = srv.get("/", Host=f"evil.example:{srv.port}")
        assert status == 421 and "Host 'evil.example" in body
        status, _, _ = srv.get("/", Host="127.0.0.1:1")
        assert status == 421
        form = {**form_for(page, "summary"), "action": "confirm", "by": "Mallory"}
        # Another site's form posting here.
        status, _, body = srv.post("/p/dana", form, Origin="http://evil.example")
        assert status == 403 and "another site" in body
        status, _, _ = srv.request("POST", "/p/dana", form, {"Referer": "http://evil.example/page"})
        assert status == 403
        # Same origin, but no (or a wrong) CSRF token.
        status, _, body = srv.post("/p/dana", {k: v for k, v in form.items() if k != "csrf"})
        assert status == 403 and "CSRF" in body
        status, _, _ = srv.post("/p/dana", {**form, "csrf": "guess"})
        assert status == 403
        assert not (ws.review_dir / "decisions.json").exists()
        # The real form goes through.
        status, headers, _ = srv.post("/p/dana", form)
        assert status == 303 and headers["location"] == "/p/dana#r-summary"
        assert load_store(ws).personas["p-dana"].fields["summary"].by == "Mallory"


def test_serve_refuses_to_listen_on_every_interface(ws: Workspace) -> None:
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "would listen on every network interface" in result.stderr
    result = CliRunner().invoke(app, ["serve", "-w", str(ws.root.parent / "empty")])
    assert result.exit_code == 1 and "no personas yet" in result.stderr


def test_a_second_edit_of_the_same_item_is_refused_with_what_changed(ws: Workspace) -> None:
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")  # two reviewers load the page at once
        ana = {**form_for(page, "goals.1"), "action": "correct", "text": "Trust the balance"}
        bo = {**form_for(page, "goals.1"), "action": "confirm", "by": "Bo"}
        other = {**form_for(page, "goals.0"), "action": "confirm", "by": "Bo"}
        assert srv.post("/p/dana", {**ana, "by": "Ana", "comment": "said so"})[0] == 303
        status, _, body = srv.post("/p/dana", bo)
        assert status == 409
        assert "Not saved: someone else changed this first." in body
        assert "corrected by Ana" in body and "“Trust the balance”" in body
        assert "(comment: said so)" in body
        # Bo's edit of another item is no conflict: nothing is lost.
        assert srv.post("/p/dana", other)[0] == 303
        fields = load_store(ws).personas["p-dana"].fields
        assert sorted(d.by for d in fields.values()) == ["Ana", "Bo"]
        _, _, page = srv.get("/p/dana")
        item = page[page.index('id="r-goals-1"') :][:1500]
        assert "Trust the balance" in item and 'data-origin="human"' in item
        assert "✎ Ana" in item


def test_list_corrections_keep_the_drafted_lines_and_mark_the_new_ones(ws: Workspace) -> None:
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
        form = form_for(page, "goals")
        text = "Close the books in under three days\nHire a second bookkeeper"
        assert (
            srv.post("/p/dana", {**form, "action": "correct", "text": text, "by": "Ana"})[0] == 303
        )
        _, _, page = srv.get("/p/dana")
        first = page[page.index('id="r-goals-0"') :][:800]
        second = page[page.index('id="r-goals-1"') :][:800]
        assert 'data-origin="model"' in first and "/evidence?ref=chunk%3Ac-sync" in first
        assert 'data-origin="human"' in second and "Hire a second bookkeeper" in second
        # The same words in report.json: one item model-written, one a reviewer's.
        from agent.render import load_report_data, render_files

        report = json.loads(render_files(load_report_data(ws), ["json"])["report.json"])
        provenance = report["provenance"]["p-dana"]
        assert provenance["goals.1"]["origin"] == "human" and "goals.0" not in provenance


def test_evidence_opens_in_its_context_with_line_and_neighbouring_turns(ws: Workspace) -> None:
    with running(ws) as srv:
        _, _, page = srv.get("/p/dana")
        link = re.search(r'href="(/evidence\?ref=chunk%3Ac-sync[^"]*)"', page)
        assert link, "every cited chunk is one click away"
        status, _, body = srv.get(link.group(1).replace("&amp;", "&"))
        assert status == 200
        assert "transcripts/p01-dana-whitfield.md, turn at line 12" in body
        assert body.index("How does month-end go for you") < body.index("bank sync drops half")
        assert body.index("bank sync drops half") < body.index("What do you do then?")
        assert 'class="turn cited role-participant"' in body and "line 12" in body
        assert "I call Priya" not in body  # two turns away: outside the window
        status, _, fragment = srv.get("/evidence?ref=chunk:c-sync&frag=1")
        assert status == 200 and "<html" not in fragment and "bank sync drops half" in fragment
        status, _, body = srv.get("/evidence?ref=theme:t-sync")
        assert "Bank sync drops transactions" in body and "2 of 3 participants" in body
        _, _, body = srv.get("/evidence?ref=chunk:gone")
        assert "not in the workspace any more" in body


def test_stale_drafts_are_flagged_with_the_command_to_rerun(ws: Workspace) -> None:
    raw = read_json(ws.personas)
    assert isinstance(raw, dict)
    raw["inputs"] = {"segments": "0" * 16, "themes": None}
    write_json(ws.personas, raw)
    with running(ws) as srv:
        _, _, page = srv.get("/")
        assert "<strong>Out of date.</strong>" in page and "segments.json" in page
        assert f"persona draft -w {ws.root}" in page


def test_share_mode_replaces_names_by_ids_and_is_read_only(ws: Workspace) -> None:
    with running(ws, share=True) as srv:
        pages = [srv.get(p)[2] for p in ("/", "/p/dana", "/p/dana/print", "/themes")]
        pages.append(srv.get("/evidence?ref=chunk:c-sync")[2])
        for page in pages:
            assert "Whitfield" not in page
            assert not re.search(r">[^<]*\bDana\b", page), "a participant's name is shown"
            assert '<details class="rv"' not in page  # no review controls
        assert "P01, the Month-End Closer" in pages[1]  # the persona's name shared the person's
        assert "transcripts/p01-P01-P01.md" in pages[4]
        status, _, body = srv.post("/p/dana", {"csrf": srv.site.token, "action": "confirm"})
        assert status == 403 and "read-only" in body
    with running(ws) as srv:  # the toggle: the same replacement, for one browser
        status, headers, _ = srv.get("/share?on=1&back=/p/dana")
        assert status == 303 and headers["location"] == "/p/dana"
        cookie = headers["set-cookie"].split(";")[0]
        page = srv.get("/p/dana", Cookie=cookie)[2]
        assert "Whitfield" not in page and "Share mode: on" in page
        assert "Dana Whitfield" in srv.get("/evidence?ref=chunk:c-sync")[2]


def test_pages_are_self_contained(ws: Workspace) -> None:
    with running(ws) as srv:
        for path in ("/", "/p/dana", "/p/dana/journey", "/p/dana/print", "/themes"):
            status, _, page = srv.get(path)
            assert status == 200, path
            assert not re.search(r'(src|href)="(https?:)?//', page), path
        for name in ("serve.css", "serve.js", "library.css"):
            assert srv.get(f"/static/{name}")[0] == 200
        assert srv.get("/static/../../etc/passwd")[0] == 404
        assert srv.get("/p/nobody")[0] == 404


def test_the_themes_page_lists_theme_groups_with_links_to_their_themes(ws: Workspace) -> None:
    from agent.models import ThemeGroup, ThemeReport

    report = ThemeReport.model_validate(read_json(ws.themes))
    sync, export = report.themes[0], report.themes[1]
    group = ThemeGroup(
        id="g-data",
        label="Data breaks between systems",
        description="Feeds in and exports out lose the books' data.",
        theme_ids=[sync.id, export.id],
        frequency=sync.frequency,
        severity=sync.severity,
        score=sync.score,
        rank=1,
        named_by="openai",
    )
    write_json(ws.themes, report.model_copy(update={"groups": [group]}))
    with running(ws) as srv:
        status, _, page = srv.get("/themes")
    assert status == 200
    section = page[page.index('id="theme-groups"') :]
    assert "Data breaks between systems" in section
    assert f'<a href="#t-{sync.id}">1. {sync.label}</a>' in section
    assert f'<a href="#t-{export.id}">2. {export.label}</a>' in section
    # Without groups (offline), the page has no such section.
    write_json(ws.themes, report)
    with running(ws) as srv:
        assert 'id="theme-groups"' not in srv.get("/themes")[2]


def test_an_interview_only_study_shows_no_ticket_counts(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "interviews-only")
    themes = read_json(ws.themes)
    themes["total_tickets"] = 0
    for theme in themes["themes"]:
        theme["frequency"].update(tickets=0, ticket_share=0.0)
    write_json(ws.themes, themes)
    personas = read_json(ws.personas)
    for persona in personas["personas"]:
        persona["document_info"]["based_on_tickets"] = 0
    write_json(ws.personas, personas)
    with running(ws) as srv:
        _, _, library = srv.get("/")
        _, _, page = srv.get("/p/dana")
    assert "Support tickets" not in library and "Interviews" in library
    assert "0 tickets" not in library and "2 participants (67%)" in library
    pains = page[page.index('id="r-pain_points"') : page.index("r-behaviors")]
    assert "0 tickets" not in pains and "(0%)" not in pains
    assert "2 participants (67%)" in page
