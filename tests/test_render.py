"""Reports: Markdown with resolvable footnotes, Mermaid journeys, escaped HTML, schema-valid JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import Settings
from agent.errors import ConfigError, InputError, ValidationFailed
from agent.models import Persona
from agent.render import MANIFEST, jsonout, load_report_data, render_files, render_report
from agent.render.html import reach
from agent.render.markdown import mermaid_journey, mermaid_score, mermaid_text
from agent.review import FIELDS
from agent.schemas import export_schemas
from agent.workspace import read_json, write_json

from ._render_helpers import (
    EVIL_QUOTE,
    journey,
    make_workspace,
    personas,
    themes,
    write_personas,
)


@pytest.fixture
def schema_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Schemas exactly as the lead's generator writes them, so drift elsewhere cannot mask bugs."""
    target = tmp_path / "schemas"
    export_schemas(target)
    monkeypatch.setattr(jsonout, "SCHEMA_DIR", target)
    return target


@pytest.fixture
def ws(tmp_path: Path, schema_dir: Path):
    return make_workspace(tmp_path / "ws")


def footnotes(text: str) -> tuple[set[str], dict[str, str]]:
    refs = set(re.findall(r"\[\^(\d+)\](?!:)", text))
    defs = dict(re.findall(r"^\[\^(\d+)\]: (.*)$", text, flags=re.M))
    return refs, defs


def test_render_report_writes_every_format(ws) -> None:
    summary = render_report(Settings(), ws)
    out = ws.reports_dir
    expected = {
        "index.html",
        "summary.md",
        "report.json",
        "persona-dana.md",
        "persona-sam.md",
        "journey-dana.md",
        "journey-sam.md",
    }
    # Beside the reports, only the hidden list of what was written (see test_report_files.py).
    assert {p.name for p in out.iterdir()} == expected | {MANIFEST}
    assert set(summary.outputs) == expected
    assert summary.counts == {
        "personas": 2,
        "journeys": 2,
        "files": 7,
        "reviewed": 0,
        "stale_inputs": 0,
    }
    assert summary.mode is None  # one offline and one openai persona
    assert any("offline" in n for n in summary.notes)


def test_formats_and_out_dir(ws, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    summary = render_report(Settings(), ws, out_dir=target, formats=["md"])
    assert sorted(p.name for p in target.iterdir()) == sorted([*summary.outputs, MANIFEST])
    assert all(name.endswith(".md") for name in summary.outputs)
    assert not ws.reports_dir.exists()
    with pytest.raises(ConfigError, match="pdf"):
        render_report(Settings(), ws, formats=["md", "pdf"])


def test_missing_personas_is_a_clear_error(tmp_path: Path) -> None:
    from agent.workspace import Workspace

    with pytest.raises(InputError, match=r"personas\.json: no personas yet"):
        render_report(Settings(), Workspace(tmp_path / "empty"))


def test_persona_markdown_follows_seed_002_and_footnotes_resolve(ws) -> None:
    render_report(Settings(), ws, formats=["md"])
    text = (ws.reports_dir / "persona-dana.md").read_text()
    order = [
        "## Document Information",
        "### Role and Responsibilities",
        "### Goals and Motivations",
        "### Pain Points and Frustrations",
        "### Tools and Channels",
        "### Technical Skill Level",
        "### Quotes from Research",
        "### Behaviors and Preferences",
        "### Needs",
        "### Aha Moment",
        "### Journey Touchpoints",
        "## Evidence",
    ]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    # Document information carries the numbers from document_info and the offline label.
    assert "| **Status** | Draft |" in text
    assert "3 interviews, 40 support tickets, 200 users" in text
    assert "| **Prompt version** | draft-v1 |" in text
    assert "OFFLINE DRAFT" in text.split("## Document Information")[0]
    # Every footnote reference has a definition and every definition is used.
    refs, defs = footnotes(text)
    assert refs and refs == set(defs)
    by_ref = {m.group(2): m.group(1) for m in re.finditer(r"\[\^(\d+)\]: .*`(\w+:[\w.-]+)`", text)}
    assert "chunk:c-sync" in by_ref and "theme:t-sync" in by_ref
    sync_quote = defs[by_ref["chunk:c-sync"]]
    assert "P01 (interview)" in sync_quote and "transcripts/p01-dana.md" in sync_quote
    assert "bank sync drops half the transactions" in sync_quote
    theme = defs[by_ref["theme:t-sync"]]
    assert "Bank sync drops transactions" in theme
    assert "2 of 3 participants (66.67%)" in theme and "22 of 40 tickets (55%)" in theme
    assert "severity 4.2 mean / 5 max" in theme
    assert any("`power_users.size = 120`" in d for d in defs.values())
    # Pain points keep seed 002's impact / frequency / workaround triple.
    pain = text.split("### Pain Points and Frustrations")[1].split("###")[0]
    assert "**Impact**: Two days of manual matching each month" in pain
    assert "**Current workaround**: Matches transactions by hand" in pain
    assert "**Current workaround**: _not stated_" in pain
    # Assumptions are marked where they stand.
    assert "10-50 employees **[Assumption — no evidence]**" in text


def test_markdown_neutralises_markup_in_quotes(ws) -> None:
    render_report(Settings(), ws, formats=["md"])
    text = (ws.reports_dir / "persona-dana.md").read_text()
    # Entities, not backslashes: Python-Markdown (MkDocs) keeps a tag after `\<` live.
    assert "<" not in text.split("## Evidence")[0].replace("<br>", "")
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in text


def test_markdown_keeps_comparisons_and_ampersands_as_written(ws) -> None:
    from markdown_it import MarkdownIt

    items = personas("Uses receipts (feat_receipts > 0), income <50k & 10-50 staff; Q&A &amp; more")
    write_personas(ws, items, [journey("p-dana")])
    text = render_files(load_report_data(ws), ["md"])["persona-dana.md"]
    summary = next(line for line in text.splitlines() if line.startswith("**Summary**"))
    # A reader of the rendered page sees `>`, `<50k` and a literal `&amp;`, as written.
    html = MarkdownIt("commonmark").renderInline(summary)
    assert "feat_receipts &gt; 0), income &lt;50k &amp; 10-50 staff; Q&amp;A &amp;amp; more" in html
    assert "feat_receipts" in summary  # an underscore inside a word stays as typed


def test_unresolved_evidence_is_flagged_not_hidden(ws) -> None:
    items = personas()
    items[1].draft.goals[0].evidence = ["chunk:does-not-exist"]
    write_personas(ws, items, [journey("p-dana")])
    files = render_files(load_report_data(ws), ["md"])
    text = files["persona-sam.md"]
    assert "⚠ Unresolved evidence" in text and "chunk:does-not-exist" in text
    assert "evidence not found: chunk:does-not-exist" in files["summary.md"]
    # No journey for Sam: no journey file, no dangling link.
    assert "journey-sam.md" not in files and "journey-sam.md" not in text


def test_journey_markdown_table_and_mermaid(ws) -> None:
    render_report(Settings(), ws, formats=["md"])
    text = (ws.reports_dir / "journey-dana.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("|  | Awareness"))
    assert header.split("|")[2:7] == [
        " Awareness ",
        " Consideration ",
        " Decision ",
        " Onboarding & Retention ",
        " Advocacy ",
    ]
    emotion_row = next(line for line in text.splitlines() if line.startswith("| **Emotion**"))
    assert "-2 (very negative)" in emotion_row and "+1 (positive)" in emotion_row
    mermaid = text.split("```mermaid\n")[1].split("```")[0].splitlines()
    assert mermaid[0] == "journey"
    sections = [line.strip() for line in mermaid if line.strip().startswith("section ")]
    assert len(sections) == 5
    tasks = [line for line in mermaid[2:] if not line.strip().startswith("section")]
    for task in tasks:
        # Exactly "text: score: actor"; the goal text's own colon and semicolon are gone.
        name, score, actor = task.split(":")
        assert ";" not in name and score.strip() in {"1", "2", "3", "4", "5"}
        assert actor.strip() == "Dana"
    onboarding = mermaid.index("    section Onboarding & Retention")
    assert mermaid[onboarding + 1].endswith(": 1: Dana")  # emotion -2 -> score 1
    refs, defs = footnotes(text)
    assert refs == set(defs)
    assert "| 1 | Add a sync health check to onboarding" in text


def test_mermaid_sanitising() -> None:
    assert (
        mermaid_text("Pay: now; later #1 %% x\nnext line") == "Pay - now later 1 x next line"
    )  # a colon becomes a dash
    assert mermaid_text("") == "-"
    # Contractions keep their apostrophe (a typographic one, which no Mermaid syntax uses).
    assert mermaid_text("Rust's ergonomics, I'm told") == "Rust’s ergonomics, I’m told"
    assert len(mermaid_text("word " * 40)) <= 61
    # A long task ends at a clause that fits rather than mid-phrase.
    from agent.render.markdown import mermaid_task

    said = "Come to Rust after doing a lot of C and C++, for example in embedded work at a bank"
    assert mermaid_task(said) == "Come to Rust after doing a lot of C and C++"
    assert mermaid_task("Short task.") == "Short task"
    assert mermaid_task("word " * 40).endswith("…") and len(mermaid_task("word " * 40)) <= 61
    assert mermaid_task("Pay: now; later " * 6).count(";") == 0  # still sanitised
    assert [mermaid_score(e) for e in range(-2, 3)] == [1, 2, 3, 4, 5]
    persona = personas()[0]
    persona.draft.name = "Dana: the; Closer"
    lines = mermaid_journey(persona, journey("p-dana"))
    assert lines[2] == "    title Dana - the Closer journey"


def test_summary_markdown(ws) -> None:
    render_report(Settings(), ws, formats=["md"])
    text = (ws.reports_dir / "summary.md").read_text()
    assert "OFFLINE DRAFT" in text
    assert "Based on 3 interviews, 40 support tickets, 200 users." in text
    segments = text.split("## Segments")[1].split("##")[0]
    assert "| power_users | `sessions_per_week >= 10` | 120 | 60% |" in segments
    assert "only 18 users: below 30" in segments
    themes = text.split("## Top Pain Points")[1].split("\n## ")[0]
    rows = [line for line in themes.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [r.split("|")[1].strip() for r in rows] == ["1", "2", "3", "4"]
    assert "Bank sync drops transactions" in rows[0] and "| 4.2 / 5 | 5.11 |" in rows[0]
    assert "## Key Findings" in text and "Onboarding is where bank sync hurts most" in text
    recs = text.split("## Recommendations")[1]
    assert (
        "Add a sync health check to onboarding" in recs and "Sync tickets per new account" in recs
    )
    assert "## Caveats" in text and "statements are assumptions" in text
    personas_table = text.split("## Personas")[1].split("##")[0]
    assert "[Dana, the Month-End Closer](persona-dana.md)" in personas_table


def test_the_summary_names_personas_sharing_a_first_name_in_full(ws) -> None:
    dana, sam = personas()
    sam.draft.name = "Dana, the Occasional Approver"  # two drafts picked the same first name
    write_personas(ws, [dana, sam], [journey("p-dana"), journey("p-sam")])
    text = render_files(load_report_data(ws), ["md"])["summary.md"]
    findings = text.split("## Key Findings")[1].split("\n## ")[0]
    # (The second journey's findings are the same text, listed once.)
    assert "- **Dana, the Month-End Closer**:" in findings
    assert "- **Dana**:" not in findings


def test_report_json_validates_against_schemas(ws, schema_dir: Path) -> None:
    render_report(Settings(), ws, formats=["json"])
    report = read_json(ws.reports_dir / "report.json")
    assert isinstance(report, dict)
    assert report["offline"] is True and report["notice"]
    assert report["basis"] == {"interviews": 3, "tickets": 40, "users": 200}
    assert [p["id"] for p in report["personas"]] == ["p-dana", "p-sam"]
    assert report["evidence"]["stat:power_users.size"]["detail"] == "power_users.size = 120"
    assert report["evidence"]["chunk:c-evil"]["quote"] == EVIL_QUOTE
    sources = jsonout.validate_report(report, schema_dir)
    assert "schemas/Persona" in sources and "schemas/JourneyMap" in sources
    # Claim and Recommendation have no schema file: checked against pydantic's own schema.
    assert "pydantic:Claim" in sources
    for persona in report["personas"]:
        Persona.model_validate(persona)
    broken = json.loads(json.dumps(report))
    broken["personas"][1]["draft"]["goals"][0]["text"] = 42
    with pytest.raises(ValidationFailed, match=r"personas\[1\]\.draft\.goals\[0\]\.text"):
        jsonout.validate_report(broken, schema_dir)
    broken = json.loads(json.dumps(report))
    broken["themes"]["themes"][0]["surprise"] = 1
    with pytest.raises(ValidationFailed, match="surprise"):
        jsonout.validate_report(broken, schema_dir)


def test_outputs_are_deterministic(ws, tmp_path: Path) -> None:
    render_report(Settings(), ws, out_dir=tmp_path / "a")
    render_report(Settings(), ws, out_dir=tmp_path / "b")
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_html_escapes_user_text_and_is_self_contained(ws) -> None:
    render_report(Settings(), ws, formats=["html"])
    html = (ws.reports_dir / "index.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "it&#39;s fine&#34;" in html
    # No network: nothing is fetched from anywhere.
    for pattern in (r"<link\b", r"\bsrc=", r"@import", r"url\(", r"https?://"):
        assert not re.search(pattern, html), pattern
    assert html.count("<style>") == 1 and "<svg" in html


def test_html_structure_badges_matrix_and_curves(ws) -> None:
    render_report(Settings(), ws, formats=["html"])
    html = (ws.reports_dir / "index.html").read_text()
    assert html.count('class="card"') == 2
    assert 'id="dana"' in html and 'id="sam"' in html
    assert html.count("badge badge-offline") == 2  # Dana's card and Dana's page
    assert html.count("badge badge-draft") == 4
    assert "Offline draft — no language model was used." in html
    # The matrix has one numbered dot per theme, placed by reach and severity.
    matrix = html.split('class="matrix"')[1].split("</svg>")[0]
    dots = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="([\d.]+)"/>', matrix)
    assert len(dots) == 4
    tips = re.findall(r"<title>#(\d) ([^:]+):", matrix)
    assert sorted(tips) == [
        ("1", "Bank sync drops transactions"),
        ("2", "Export breaks on special characters"),
        ("3", "Renewal price surprises"),
        ("4", "Wrong tax on invoices"),
    ]
    ordered = sorted(dots, key=lambda d: float(d[2]), reverse=True)
    # Biggest dot = top score = bank sync: furthest right and highest (smallest y).
    assert float(ordered[0][0]) == max(float(d[0]) for d in dots)
    assert float(ordered[0][1]) == min(float(d[1]) for d in dots)
    # One emotion curve per persona with five points; -2 sits lowest.
    curves = re.findall(r'<polyline points="([^"]+)" class="line"/>', html)
    assert len(curves) == 2
    ys = [float(p.split(",")[1]) for p in curves[0].split()]
    assert len(ys) == 5 and ys[3] == max(ys) and ys[1] == ys[2]
    # Citations link to evidence entries that exist.
    anchors = set(re.findall(r'href="#(p\d-ev-\d+)"', html))
    ids = set(re.findall(r'id="(p\d-ev-\d+)"', html))
    assert anchors and anchors == ids


def test_reach_is_the_mean_share_over_sources_present(ws) -> None:
    data = load_report_data(ws)
    sync, tax = data.theme("t-sync"), data.theme("t-tax")
    assert sync is not None and tax is not None
    assert reach(sync, data.themes) == pytest.approx((2 / 3 + 22 / 40) / 2, abs=1e-3)
    assert reach(tax, data.themes) == pytest.approx((0 + 5 / 40) / 2)
    # The same reach the theme score uses: score = reach x mean severity.
    assert data.themes is not None
    ticket_only = data.themes.model_copy(update={"total_participants": 0})
    assert reach(tax, ticket_only) == pytest.approx(5 / 40)


def test_overlapping_dots_stay_at_their_values_and_only_labels_move(ws) -> None:
    from agent.render.html import LABEL_RADIUS, matrix_svg

    data = load_report_data(ws)
    assert data.themes is not None
    twins = [
        t.model_copy(update={"id": f"{t.id}-{i}", "rank": i + 1})
        for i, t in enumerate([data.themes.themes[1]] * 3)
    ]
    svg = str(matrix_svg(twins, data.themes))
    dots = [
        tuple(map(float, d))
        for d in re.findall(r'<g class="dot">.*?cx="([\d.]+)" cy="([\d.]+)"', svg)
    ]
    # Three themes with the same values are three dots on the same spot: data is never moved.
    assert len(dots) == 3 and len(set(dots)) == 1
    labels = [
        (float(x), float(y) - 4.5)
        for x, y in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" class="dot-label', svg)
    ]
    assert len(labels) == 3 and labels[0] == dots[0]
    for i, (x1, y1) in enumerate(labels):
        for x2, y2 in labels[i + 1 :]:
            assert (x1 - x2) ** 2 + (y1 - y2) ** 2 >= (2 * LABEL_RADIUS) ** 2 - 1
    # A moved label is tied to its dot by a leader line.
    assert svg.count('class="leader"') == 2


def test_matrix_never_draws_a_higher_severity_below_a_lower_one(ws) -> None:
    from agent.render.html import matrix_svg

    data = load_report_data(ws)
    assert data.themes is not None
    base = data.themes.themes[0]
    means = {1: 3.0, 2: 2.9, 3: 3.0, 4: 2.95}  # rank -> mean severity, all at the same reach
    close = [
        base.model_copy(
            update={
                "id": f"near-{rank}",
                "rank": rank,
                "severity": base.severity.model_copy(update={"mean": mean}),
            }
        )
        for rank, mean in means.items()
    ]
    svg = str(matrix_svg(close, data.themes))
    drawn = {
        int(rank): float(y)
        for rank, y in re.findall(r'<g class="dot"><title>#(\d+) .*?cy="([\d.]+)"', svg)
    }
    assert set(drawn) == set(means)
    for a in means:
        for b in means:
            if means[a] > means[b]:
                assert drawn[a] < drawn[b]  # SVG y grows downwards
            elif means[a] == means[b]:
                assert drawn[a] == drawn[b]


def test_review_marks_show_in_reports(ws) -> None:
    from agent.review import set_field

    set_field(ws, "Dana", "summary", confirm=True)
    set_field(ws, "Dana", "goals", extend="Spend month-end evenings at home")
    files = render_files(load_report_data(ws), ["md", "html"])
    text = files["persona-dana.md"]
    assert "**Summary _(✓ confirmed by reviewer)_**" in text
    assert "**Primary goals _(+ extended by reviewer)_**" in text
    assert "3. Spend month-end evenings at home _(from reviewer)_" in text
    assert "2. Trust the bank balance without re-checking[^" in text
    assert f"2 of {len(FIELDS)} fields reviewed (1 confirmed, 1 extended)" in text
    html = files["index.html"]
    assert 'pill pill-confirmed">✓ confirmed by reviewer' in html
    assert 'Spend month-end evenings at home</span> <span class="pill pill-corrected"' in html


def test_load_chunks_reads_only_cited_ids(tmp_path: Path) -> None:
    from agent.models import Chunk
    from agent.render.context import load_chunks
    from agent.workspace import write_models

    def chunk(cid: str, text: str) -> Chunk:
        return Chunk(
            id=cid,
            document_id="d",
            text=text,
            token_count=3,
            speaker="P1",
            role="participant",
            start=0,
            end=len(text),
            kind="interview",
            source="x.md",
        )

    path = tmp_path / "chunks.jsonl"
    # Text that looks like an id field must not fool the fast path.
    write_models(
        path, [chunk("a", 'He said "id": "b" twice'), chunk("b", "real b"), chunk("c", "")]
    )
    found = load_chunks(path, {"b", "zz"})
    assert list(found) == ["b"] and found["b"].text == "real b"
    assert load_chunks(path, set()) == {}
    assert load_chunks(tmp_path / "missing.jsonl", {"b"}) == {}


# --------------------------------------------------------------------------- review fixes


def test_summary_gives_a_shared_recommendation_to_the_segment_that_raised_it_most(ws) -> None:
    # Both journeys recommend the same sync fix; Dana is listed first, Sam's segment raised
    # the theme far more often.
    report = read_json(ws.themes)
    assert isinstance(report, dict)
    report["themes"][0]["segment_counts"] = {"casual": 25, "power_users": 6}
    from agent.workspace import write_json

    write_json(ws.themes, report)
    text = render_files(load_report_data(ws), ["md"])["summary.md"]
    recs = text.split("## Recommendations")[1].split("##")[0]
    row = next(line for line in recs.splitlines() if "sync health check" in line)
    # One row for the pain; the persona that also recommends a fix for it is named.
    assert row.rstrip(" |").endswith("Sam (also Dana)")
    assert recs.count("sync health check") == 1
    # Only the row's theme weighs: Dana citing more themes does not win the row.
    raw = read_json(ws.personas)
    assert isinstance(raw, dict)
    dana = next(j for j in raw["journeys"] if j["persona_id"] == "p-dana")
    others = [t["id"] for t in report["themes"][1:]]
    dana["draft"]["recommendations"][0]["evidence"] += [f"theme:{t}" for t in others]
    for t in report["themes"][1:]:
        t["segment_counts"] = {"power_users": 50}
    write_json(ws.themes, report)
    write_json(ws.personas, raw)
    text = render_files(load_report_data(ws), ["md"])["summary.md"]
    recs = text.split("## Recommendations")[1].split("##")[0]
    row = next(line for line in recs.splitlines() if "sync health check" in line)
    assert row.rstrip(" |").endswith("Sam (also Dana)")


def test_summary_gives_one_row_per_pain_however_the_journeys_word_the_fix(ws) -> None:
    """Journeys drafted apart word the same fix differently; the summary keys a row on the
    theme the action cites first, and ranks rows as their themes are ranked."""
    from agent.models import JourneyMap, Recommendation
    from agent.workspace import write_json

    raw = read_json(ws.personas)
    assert isinstance(raw, dict)
    journeys = [JourneyMap.model_validate(j) for j in raw["journeys"]]
    journeys[0].draft.recommendations = [
        Recommendation(
            action="Explain our privacy policy on the pricing page",
            goal="Fewer questions",
            metric="Questions per week",
        ),
        Recommendation(
            action="Reconnect bank feeds automatically before the monthly close",
            goal="No silent gaps",
            metric="Days with a broken feed",
            evidence=["theme:t-sync"],
        ),
    ]
    raw["journeys"] = [j.model_dump(mode="json") for j in journeys]
    write_json(ws.personas, raw)
    text = render_files(load_report_data(ws), ["md"])["summary.md"]
    recs = [
        line
        for line in text.split("## Recommendations")[1].split("##")[0].splitlines()
        if line.startswith("| ") and not line.startswith("| #")
    ]
    assert len(recs) == 2, recs
    # The theme's row comes first, the action citing no theme last.
    assert "Reconnect bank feeds" in recs[0] and "Dana (also Sam)" in recs[0]
    assert "privacy policy" in recs[1]


def test_stat_footnotes_show_the_stored_precision(ws) -> None:
    segments = read_json(ws.segments)
    assert isinstance(segments, dict)
    segments["stats"]["power_users.share"] = 0.3558
    from agent.workspace import write_json

    write_json(ws.segments, segments)
    files = render_files(load_report_data(ws), ["md", "html", "json"])
    # The text may say 35.6%: the footnote must not round that to 0.36.
    assert "`power_users.share = 0.3558`" in files["persona-dana.md"]
    assert "**Stat** — `power_users.share = 0.3558`" in files["persona-dana.md"]
    assert "power_users.share = 0.3558" in files["index.html"]
    evidence = json.loads(files["report.json"])["evidence"]
    assert evidence["stat:power_users.share"]["detail"] == "power_users.share = 0.3558"


def test_a_groups_size_and_share_are_said_as_a_reader_would_beside_the_key(ws) -> None:
    """The scorer's and the grouping's 'segment.<slug>.size/share' read as the group's name and
    number; any other key stays as it is (its slugs cannot be turned back into values)."""
    segments = read_json(ws.segments)
    assert isinstance(segments, dict)
    segments["segments"][0]["name"] = "Power Users"
    segments["stats"].update(
        {
            "segment.power_users.share": 0.6,
            "segment.power_users.size": 120,
            "segment.power_users.income_band.50_100k.share": 0.5098,
        }
    )
    from agent.workspace import write_json

    write_json(ws.segments, segments)
    data = load_report_data(ws)
    assert data.stat_title("segment.power_users.share", 0.6) == "Power Users: 60% of the users"
    assert data.stat_title("segment.power_users.size", 120) == "Power Users: 120 users"
    key = "segment.power_users.income_band.50_100k.share"
    assert data.stat_title(key, 0.5098) == key
    assert data.stat_title("segment.nobody_here.share", 0.1) == "segment.nobody_here.share"
    items = personas()
    items[0].draft.summary.evidence += ["stat:segment.power_users.share", f"stat:{key}"]
    write_personas(ws, items, [journey("p-dana"), journey("p-sam")])
    page = render_files(load_report_data(ws), ["md"])["persona-dana.md"]
    assert "**Stat** — Power Users: 60% of the users (`segment.power_users.share = 0.6`)" in page
    assert f"**Stat** — `{key} = 0.5098`" in page


def test_quote_footnotes_show_the_quoted_words_of_a_long_chunk(ws) -> None:
    from agent.models import Chunk, PersonaQuote
    from agent.workspace import write_models

    opening = "We started with the starter plan and the first weeks were fine. " * 6
    said = "the approvals tab takes a minute to open on my phone"
    text = opening + f"Lately {said}, so I wait until I am at my desk."
    long_chunk = Chunk(
        id="c-long",
        document_id="doc-P09",
        text=text,
        token_count=90,
        speaker="P09",
        role="participant",
        start=0,
        end=len(text),
        kind="interview",
        source="transcripts/p09.md",
        participant_id="P09",
    )
    from ._render_helpers import chunks

    write_models(ws.chunks, [*chunks(), long_chunk])
    items = personas()
    items[0].draft.quotes.append(PersonaQuote(text=said, chunk_id="c-long"))
    write_personas(ws, items, [journey("p-dana")])
    files = render_files(load_report_data(ws), ["md", "html", "json"])
    line = next(line for line in files["persona-dana.md"].splitlines() if "`chunk:c-long`" in line)
    assert said in line and line.count("…") >= 1
    item = next(
        li for li in files["index.html"].split("<li id=") if "<code>chunk:c-long</code>" in li
    )
    assert said in item.split("<q>")[1].split("</q>")[0]
    assert said in json.loads(files["report.json"])["evidence"]["chunk:c-long"]["quote"]


def test_a_paraphrased_claims_footnote_shows_the_sentence_it_rests_on() -> None:
    """A claim paraphrases what it cites, so no passage of it is found verbatim; the excerpt
    moves to the sentence sharing most of its words, not the chunk's opening."""
    from agent.render.context import focus_texts, quote_window

    opening = "We started with the starter plan and the first weeks were fine. " * 6
    said = "Lately the approvals tab takes a minute to open on my phone, so I wait for my desk."
    claim = "Approvals are slow to open on a phone, so they wait until they are at a desk."
    window = quote_window(opening + said + " Anyway, that is all.", focus_texts(claim))
    assert "approvals tab takes a minute to open on my phone" in window
    assert window.startswith("… ")
    assert len(window) <= 280 + 4
    # A run-on sentence (no full stop in 900 characters) is cut around the shared words.
    run_on = " ".join(["and then we talked about the weather"] * 12 + [said.rstrip(".")] * 1)
    run_on += " " + " ".join(["and the team lunch was nice"] * 12)
    window = quote_window(run_on, focus_texts(claim))
    assert len(window) <= 280 + 4 and "approvals tab takes a minute" in window
    # Words the claim does not share leave the opening in place.
    other = quote_window(opening + said, focus_texts("Budgets are reviewed monthly."))
    assert other.startswith("We started with the starter plan")


def test_emotion_curve_leaves_stages_without_evidence_as_gaps(ws) -> None:
    from agent.models import Claim
    from agent.render.html import emotion_svg
    from agent.render.markdown import render_journey_md

    report = read_json(ws.themes)
    assert isinstance(report, dict)
    report["themes"][0]["journey_stages"] = {"onboarding": 3, "retention": 9}
    from agent.workspace import write_json

    write_json(ws.themes, report)
    j = journey("p-dana", (0, 0, 0, -2, 0))
    for stage in j.draft.stages:
        if stage.stage != "onboarding":
            stage.actions = [Claim(text="Not in the evidence pack", assumption=True)]
            stage.thoughts = []
            stage.opportunities = []
            stage.customer_goal = Claim(text="Generic goal", assumption=True)
    data = load_report_data(ws)
    svg = str(emotion_svg(j, "Emotion", data))
    # One evidenced stage: a point, no line drawn across the four gaps, and its basis shown.
    assert "<polyline" not in svg
    assert svg.count('class="pt none"') == 4 and svg.count("no evidence") >= 4
    assert "12 pain mentions" in svg
    md_text = render_journey_md(data, personas()[0], j)
    row = next(line for line in md_text.splitlines() if line.startswith("| **Emotion**"))
    assert (
        row.count("no evidence") == 4 and "-2 (very negative; 12 pain mentions study-wide)" in row
    )  # a map without its own counts
    assert "No evidence for this stage: 3" in md_text


def test_cards_show_an_unknown_aha_moment_as_an_assumption(ws) -> None:
    from agent.models import Claim

    items = personas()
    items[0].draft.aha_moment = Claim(
        text="Not in the evidence pack: ask this segment", assumption=True
    )
    write_personas(ws, items, [journey("p-dana")])
    html = render_files(load_report_data(ws), ["html"])["index.html"]
    card = html.split('<article class="card">')[1].split("</article>")[0]
    assert 'class="aha unknown"' in card and "Not known yet" in card
    assert "pill-assume" in card


def test_a_crowded_journey_cell_shows_its_most_mentioned_pains_and_lists_the_rest(ws) -> None:
    """A model may place 30+ themes in one stage: the cell shows the five the persona's people
    mention most there and points to a full list below the table; a cell of up to seven
    keeps them all."""
    from ._render_helpers import _theme

    report = themes()
    extra = [_theme(f"t-x{i}", 5 + i, f"Extra pain {i}", 1, 1, 3.0, "c-sync") for i in range(9)]
    report.themes += extra
    write_json(ws.themes, report)
    dana = journey("p-dana")
    onboarding = next(s for s in dana.draft.stages if s.stage == "onboarding")
    onboarding.pain_points = [t.id for t in extra]  # 9: more than 5 + 2
    decision = next(s for s in dana.draft.stages if s.stage == "decision")
    decision.pain_points = [t.id for t in extra[:7]]  # 7: all shown
    # Own mentions at onboarding rise with i: the cell must show x8, x7, x6, x5, x4 first.
    dana.own_stage_counts = {t.id: {"onboarding": i + 1} for i, t in enumerate(extra)}
    write_personas(ws, personas(), [dana, journey("p-sam", (-1, 0, 1, 1, 2))])

    files = render_files(load_report_data(ws), ["md", "html"])
    text = files["journey-dana.md"]
    row = next(line for line in text.splitlines() if line.startswith("| **Pain points**"))
    cells = row.split(" | ")
    onboarding_cell, decision_cell = cells[4], cells[3]
    assert re.findall(r"Extra pain (\d)", onboarding_cell) == ["8", "7", "6", "5", "4"]
    assert "… and 4 more (see Pain Points by Stage)" in onboarding_cell
    assert len(re.findall(r"Extra pain \d", decision_cell)) == 7 and "more" not in decision_cell
    listed = text.split("## Pain Points by Stage")[1]
    assert "### Onboarding & Retention (9)" in listed and "### Decision" not in listed
    assert re.findall(r"^\d+\. Extra pain (\d)", listed, flags=re.M) == list("876543210")
    assert "1. Extra pain 8[^" in listed and "— 9 mentions by this persona's people" in listed
    refs, defs = footnotes(text)
    assert refs == set(defs)
    # The HTML library folds the rest of the cell away, every item still there.
    html = files["index.html"]
    assert html.count("<details><summary>4 more</summary>") == 1
    row = html.split("<th>Pain points</th>")[1].split("</tr>")[0]
    shown, folded = row.split("<details>")[0], row.split("<details>")[1].split("</details>")[0]
    onboarding_shown = shown.split("<td>")[-1]
    assert re.findall(r"Extra pain (\d)", onboarding_shown) == ["8", "7", "6", "5", "4"]
    assert re.findall(r"Extra pain (\d)", folded) == ["3", "2", "1", "0"]


def test_a_draft_written_by_another_version_still_loads(ws) -> None:
    """A field this version does not know (an earlier one wrote it) is left out; a field of the
    wrong type is one clear error naming the file, the item and the field."""
    raw = read_json(ws.personas)
    assert isinstance(raw, dict)
    raw["journeys"][0]["stage_mentions"] = {"onboarding": 3}
    raw["journeys"][0]["draft"]["stages"][0]["retired_field"] = 1
    write_json(ws.personas, raw)
    assert "journey-dana.md" in render_files(load_report_data(ws), ["md"])

    raw["journeys"][1]["draft"]["stages"][2]["emotion"] = "grim"
    write_json(ws.personas, raw)
    result = CliRunner().invoke(app, ["report", "-w", str(ws.root)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{ws.personas}: journeys[1].draft.stages.2.emotion:" in result.output


def test_empty_fields_whose_gaps_the_open_questions_name_are_one_line_not_placeholders(
    ws,
) -> None:
    """Issue 12: where evidence is missing, one list of open research questions, not a
    placeholder in every field. A field a reviewer decided on is always shown."""
    from agent.models import Behaviors, Demographics

    people = personas()
    sam = people[1]
    sam.draft.demographics = Demographics()
    sam.draft.behaviors = Behaviors(evaluation=sam.draft.behaviors.evaluation)
    sam.draft.open_questions = ["What do they earn, and how large are their companies?"]
    write_personas(ws, people, [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))])
    files = render_files(load_report_data(ws), ["md", "html"])
    page = files["persona-sam.md"]
    assert (
        "**Demographics**: _Not in the evidence: age range, income range, company size "
        "(see Open research questions)_" in page
    )
    assert "Income range" not in page and "Purchase triggers" not in page
    assert "_Not in the evidence: discovery, purchase triggers" in page
    assert "**Evaluation**" in page
    # The HTML library leaves out the same fields (Sam's section; Dana's keeps hers).
    sam_html = files["index.html"].split('id="sam"')[1]
    assert "Not in the evidence: age, income, company size" in sam_html
    assert "Not in the evidence: discovery, purchase triggers" in sam_html
    assert "<strong>Income:</strong>" not in sam_html and "Behaviors: evaluation" in sam_html
    # Without open questions an empty field keeps its line and says it is not stated.
    sam.draft.open_questions = []
    write_personas(ws, people, [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))])
    page = render_files(load_report_data(ws), ["md"])["persona-sam.md"]
    assert "**Income range**: _not stated_" in page and "**Purchase triggers**" in page


def test_a_source_the_corpus_lacks_is_no_column_of_zeros(ws) -> None:
    """Interviews alone: no Tickets column in the summary, no '0 tickets (0%)' on a pain."""
    report = themes()
    report.total_tickets = 0
    for t in report.themes:
        t.frequency.tickets, t.frequency.ticket_share = 0, 0.0
    write_json(ws.themes, report)
    items = personas()
    for persona in items:
        persona.document_info.based_on_tickets = 0
    write_personas(ws, items, [journey("p-dana"), journey("p-sam")])
    files = render_files(load_report_data(ws), ["md", "html"])
    header = next(line for line in files["summary.md"].splitlines() if line.startswith("| Rank"))
    assert header == "| Rank | Theme | Participants | Severity 1-5 (mean / max) | Score |"
    theme_line = next(
        line for line in files["persona-dana.md"].splitlines() if "**Theme**:" in line
    )
    assert "participants (" in theme_line and "ticket" not in theme_line
    # Nor in the HTML library: no "0 Support tickets" tile, no "· 0 tickets" under a theme.
    html = files["index.html"]
    assert "Support tickets</div>" not in html and "0 tickets" not in html
    assert "participants</div>" in html or "participant</div>" in html


def test_an_offline_themes_description_is_called_what_it_is(ws) -> None:
    """Offline, a theme's description is its most typical statement (a quote), not a
    definition a model wrote."""
    page = render_files(load_report_data(ws), ["md"])["persona-dana.md"]
    assert "**Most typical statement** (the whole study's)" in page
    assert "Theme definition" not in page
    report = themes()
    for t in report.themes:
        t.named_by = "openai"
    write_json(ws.themes, report)
    files = render_files(load_report_data(ws), ["md", "html"])
    assert "**Theme definition** (the whole study's)" in files["persona-dana.md"]
    assert "Theme definition (the whole study’s)" in files["index.html"]


def test_two_personas_with_one_first_name_are_a_caveat_naming_the_fix(ws) -> None:
    """Drafted apart, two personas can pick the same first name; the summary says so and how
    a reviewer renames one."""
    items = personas()
    items[1].draft.name = "Dana, the Casual Approver"
    write_personas(ws, items, [journey("p-dana"), journey("p-sam")])
    text = render_files(load_report_data(ws), ["md"])["summary.md"]
    caveats = text.split("## Caveats")[1]
    assert "- 2 personas are named Dana (" in caveats
    assert 'persona review set p-sam name --correct "..."' in caveats
    items[1].draft.name = "Sam, the Casual Approver"
    write_personas(ws, items, [journey("p-dana"), journey("p-sam")])
    assert "personas are named" not in render_files(load_report_data(ws), ["md"])["summary.md"]


def test_the_method_section_follows_where_the_personas_come_from(ws) -> None:
    """User-table segments, one persona for a ticket corpus, products: each is said as it is,
    and a caveat about groups the code proposed is only given for groups of participants."""
    from agent.models import Cohort, CohortReport

    summary = render_files(load_report_data(ws), ["md"])["summary.md"]
    method = summary.split("## Method")[1].split("\n## ")[0]
    assert "- Personas: 2 personas for segments of the user table" in method
    assert "(3 segments in all)" in method
    assert "- Drafts: written by the model and offline templates;" in method
    assert "each claim cites its evidence or is marked an assumption" in method
    ws.segments.unlink()
    everyone = Cohort(key="all", name="Everyone", basis="everyone", rule="all", size=40, share=1.0)
    write_json(ws.cohorts, CohortReport(basis="everyone", cohorts=[everyone], total=40))
    summary = render_files(load_report_data(ws), ["md"])["summary.md"]
    method = summary.split("## Method")[1].split("\n## ")[0]
    assert "- Personas: one persona for everyone in the study." in method
    assert "groups were proposed by code" not in summary
    products = [
        everyone.model_copy(update={"key": k, "name": k, "basis": "products", "product": k})
        for k in ("Cards", "Payroll")
    ]
    write_json(ws.cohorts, CohortReport(basis="products", cohorts=products, total=40))
    summary = render_files(load_report_data(ws), ["md"])["summary.md"]
    assert "- Personas: 2 personas, one for each product the evidence names." in summary
    assert "groups were proposed by code" not in summary
