"""Text from the inputs stays text in every common Markdown renderer, and in the HTML library.

The probe behind issue 11 put `<img onerror>` and a `javascript:` link into a user table and got
both live in MkDocs (Python-Markdown), which ignores CommonMark's `\\<`. Here the same kind of
value goes into every place input text reaches a report, and the Markdown is rendered by
Python-Markdown (with MkDocs' usual extensions) and by markdown-it-py (CommonMark + tables).
"""

from __future__ import annotations

import csv
import io
import shutil
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from agent.cli import app
from agent.models import CategoryShare, Claim
from agent.render.markdown import STAGE_TITLES, md, mermaid_text
from agent.stages import FUNNEL
from agent.workspace import Workspace, read_models, write_json, write_models

from ._render_helpers import chunks, journey, make_workspace, personas, segments, themes

CORPUS = Path(__file__).resolve().parent.parent / "transcripts"

HOSTILE = (
    "<img src=x onerror=alert(1)>[click](javascript:alert(1)) <script>alert(2)</script> "
    "![i](data:text/html,hi) <javascript:alert(3)> <http://evil.example> "
    '[r]: javascript:alert(4) {: onclick="alert(5)" } *em* __strong__ `tick` a | b ~~s~~ '
    "<!-- c --> &lt;b&gt; \\<i>x</i> <a href='javascript:alert(6)'>a</a> # end ##"
)
# The same value as it arrives from a file: line breaks that try to start blocks of their own.
HOSTILE_LINES = (
    HOSTILE + "\n# Heading\n- item\n> quote\n1. one\n```\n%%{init: {'theme': 'dark'}}%%\n"
    "click Dana call alert(7)\n<svg onload=alert(8)>\n~~~\n"
)
# What a file name can carry (no "/"): the probe's value.
FILE_HOSTILE = "<img src=x onerror=alert(1)>[click](javascript:alert(1))"
BAD_TAGS = {"img", "script", "svg", "iframe", "object", "embed", "style", "form", "input"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Parsed(HTMLParser):
    """Every start tag with its attributes, and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(html: str, where: str, allowed_tags: frozenset[str] = frozenset()) -> str:
    """No live tag, event handler or script URL in `html`; returns the visible text."""
    lowered = html.lower()
    for tag in ("img", "script", "svg", "iframe"):
        assert tag in allowed_tags or f"<{tag}" not in lowered, (where, tag)
    parsed = _Parsed()
    parsed.feed(html)
    for tag, attrs in parsed.tags:
        assert tag not in BAD_TAGS - allowed_tags, (where, tag, attrs)
        for name, value in attrs:
            assert not name.startswith("on"), (where, tag, name, value)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                target = "".join((value or "").split()).lower()
                assert not target.startswith(BAD_SCHEMES), (where, tag, name, value)
                if tag == "a":
                    # The only links a report makes: to its own pages and its footnotes.
                    assert target.startswith(("persona-", "journey-", "#")), (where, value)
    return " ".join("".join(parsed.text).split())


def python_markdown(text: str) -> str:
    """MkDocs' renderer with the extensions MkDocs sites usually switch on."""
    return markdown.markdown(text, extensions=["extra", "admonition", "toc", "sane_lists"])


def markdown_it(text: str) -> str:
    """CommonMark with raw HTML allowed (its default) plus GitHub's tables and strikethrough."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


def _hostile_workspace(root: Path) -> Workspace:
    """The render fixture with hostile text wherever input text reaches a report."""
    ws = make_workspace(root)
    items = chunks()
    for chunk in items:
        chunk.source = f"transcripts/{HOSTILE}.txt"  # a file name
        if chunk.id == "c-evil":
            chunk.text = HOSTILE_LINES
    write_models(ws.chunks, items)
    report = themes()
    report.themes[0].label = HOSTILE_LINES
    report.themes[0].description = HOSTILE_LINES
    write_json(ws.themes, report)
    segs = segments()
    segs.segments[0].name = HOSTILE
    segs.segments[0].warning = HOSTILE_LINES
    segs.segments[0].categorical["role"] = [CategoryShare(value=HOSTILE, count=40, share=0.33)]
    segs.stats[f"{HOSTILE}.role.share"] = 0.33
    write_json(ws.segments, segs)
    dana, sam = personas()
    dana.segment = HOSTILE
    dana.document_info.model = HOSTILE
    d = dana.draft
    d.name = "Dana, " + HOSTILE_LINES
    d.archetype = HOSTILE_LINES
    d.summary = Claim(text=HOSTILE_LINES, evidence=["chunk:c-evil", f"stat:{HOSTILE}.role.share"])
    # What the offline drafter writes from a user-table column's top values.
    d.role = Claim(text=f"Most common role: {HOSTILE} (33%)", evidence=["chunk:c-evil"])
    d.goals.append(Claim(text=HOSTILE_LINES, evidence=["theme:t-sync"]))
    d.pain_points[0].title = HOSTILE_LINES
    d.quotes[1].text = HOSTILE_LINES
    dana_journey = journey("p-dana")
    for stage in dana_journey.draft.stages:
        stage.customer_goal = Claim(text=HOSTILE_LINES, evidence=["theme:t-sync"])
        stage.actions = [Claim(text="Title " + HOSTILE_LINES, evidence=["chunk:c-evil"])]
        stage.metrics = [HOSTILE_LINES]
    dana_journey.draft.key_findings.append(Claim(text=HOSTILE_LINES, evidence=["chunk:c-evil"]))
    rec = dana_journey.draft.recommendations[0]
    rec.action, rec.goal, rec.metric = HOSTILE_LINES, HOSTILE_LINES, HOSTILE_LINES
    write_json(
        ws.personas,
        {
            "personas": [dana.model_dump(mode="json"), sam.model_dump(mode="json")],
            "journeys": [
                dana_journey.model_dump(mode="json"),
                journey("p-sam").model_dump(mode="json"),
            ],
        },
    )
    return ws


@pytest.fixture
def hostile_reports(tmp_path: Path) -> Path:
    ws = _hostile_workspace(tmp_path / "ws")
    result = CliRunner().invoke(app, ["report", "-w", str(ws.root), "--format", "md,html"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return ws.reports_dir


def test_hostile_input_text_is_inert_in_python_markdown_and_commonmark(
    hostile_reports: Path,
) -> None:
    pages = sorted(hostile_reports.glob("*.md"))
    assert [p.name for p in pages] == [
        "journey-dana.md",
        "journey-sam.md",
        "persona-dana.md",
        "persona-sam.md",
        "summary.md",
    ]
    shown = 0
    for page in pages:
        text = page.read_text()
        for render in (python_markdown, markdown_it):
            visible = assert_inert(render(text), f"{page.name} via {render.__name__}")
            # The reader still sees exactly what the input said, as text.
            shown += visible.count(FILE_HOSTILE)
    # persona-dana (many fields), its journey and the summary all carry the value.
    assert shown >= 3 * 2 * 3


def test_hostile_text_keeps_the_document_structure(hostile_reports: Path) -> None:
    text = (hostile_reports / "persona-dana.md").read_text()
    page = python_markdown(text)
    # One h1 (ours), no heading, list or quote smuggled in from the input's line breaks.
    assert page.count("<h1") == 1
    assert "<h1" not in page.split("</h1>", 1)[1]
    assert "Heading</h" not in page and "<li>item" not in page and "<p>quote" not in page
    # The footnotes are ours alone: `[r]: ...` in the text defines nothing.
    tokens = MarkdownIt("commonmark").parse(text)
    assert not any(t.type == "link_open" and "javascript" in str(t.attrs) for t in tokens)
    summary = markdown_it((hostile_reports / "summary.md").read_text())
    # The segments table keeps its five columns: a `|` in a value does not add one.
    table = summary.split("<h2>Segments</h2>")[1].split("</table>")[0]
    rows = [row for row in table.split("<tr>") if "<td" in row]
    assert len(rows) == 3 and all(row.count("<td") == 5 for row in rows)


def _mermaid_block(text: str) -> list[str]:
    fences = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    assert len(fences) == 1 and fences[0].info == "mermaid"
    return fences[0].content.splitlines()


def test_hostile_text_cannot_leave_or_steer_the_mermaid_block(hostile_reports: Path) -> None:
    text = (hostile_reports / "journey-dana.md").read_text()
    lines = _mermaid_block(text)
    # A real CommonMark parser ends the block where we ended it: after the last stage's task.
    assert lines[0] == "journey" and lines[1].startswith("    title ")
    tasks = [line for line in lines[2:] if not line.startswith("    section ")]
    sections = [line.strip() for line in lines[2:] if line.startswith("    section ")]
    assert sections == [f"section {STAGE_TITLES[stage]}" for stage in FUNNEL]
    assert len(tasks) == 5 * 2  # the goal and one action per stage
    for line in lines:
        assert "%%" not in line and "{" not in line and "<" not in line, line
        assert not line.strip().lower().startswith(("click", "%%", "call", "style")), line
    for task in tasks:
        name, score, actor = task.split(":")
        assert score.strip() in {"1", "2", "3", "4", "5"} and actor.strip() == "Dana"
        # "Title ..." as a task would otherwise be read as the diagram's title statement.
        assert not name.strip().lower().startswith(("title", "section")), task
    # Python-Markdown's fenced_code agrees: one code block, the rest of the page is outside it.
    page = python_markdown(text)
    assert page.count("<pre><code") == 1 and "## Stages" not in page


def test_html_library_is_clean_for_the_same_values(tmp_path: Path) -> None:
    ws = _hostile_workspace(tmp_path / "ws")
    result = CliRunner().invoke(app, ["report", "-w", str(ws.root), "--format", "html"])
    assert result.exit_code == 0, result.stderr
    html = (ws.reports_dir / "index.html").read_text()
    # The library draws its charts as inline SVG; no element comes from the inputs.
    visible = assert_inert(html, "index.html", allowed_tags=frozenset({"svg", "style"}))
    assert FILE_HOSTILE in visible
    assert html.count("<svg") == html.count("</svg>")
    assert "<svg onload" not in html.lower()


@pytest.mark.parametrize(
    "text",
    [
        "feat_receipts > 0, income <50k & 10-50 staff; Q&A &amp; more",
        "- not a list",
        "12. not a numbered item",
        "# not a heading",
        ": not a definition",
        "_not emphasis_ and *not* either, snake_case stays",
        "a data: colon and JavaScript : alert",
    ],
)
def test_escaped_text_reads_as_written(text: str) -> None:
    for render in (python_markdown, markdown_it):
        html = render("- " + md(text))
        assert assert_inert(html, text) == text, render.__name__
        assert html.count("<li>") == 1 and "<em>" not in html and "<h1" not in html
    assert "snake_case" in md("snake_case stays")  # raw text stays readable where it is safe


def test_mermaid_text_is_one_plain_task() -> None:
    text = mermaid_text(HOSTILE_LINES, 500)
    assert "\n" not in text and not set(text) & set(":;#%{}<>&\"'`~\\")
    assert mermaid_text("Title: the real one").startswith("· Title")
    assert mermaid_text("section X") == "· section X"


def test_a_hostile_user_table_value_through_persona_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's case end to end: a categorical value in users.csv and a hostile file name."""
    data = tmp_path / "in"
    data.mkdir()
    for name in ("P02-marcus-controller.txt", "P04-tomas-bookkeeper.txt"):
        shutil.copy(CORPUS / "interviews" / name, data / name)
    shutil.copy(CORPUS / "interviews" / "P01-dana-finance-lead.txt", data / f"{FILE_HOSTILE}.txt")
    rows = list(csv.reader(io.StringIO((CORPUS / "users.csv").read_text())))[:121]
    role = rows[0].index("role")
    for row in rows[1:]:
        if row[role] == "controller":
            row[role] = HOSTILE
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (data / "users.csv").write_text(buffer.getvalue())
    monkeypatch.setenv("PERSONA_EMBEDDER", "hash")
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["run", str(data), "-w", str(ws), "--json"])
    assert result.exit_code == 0, result.stderr[-2000:]
    from agent.models import Chunk

    assert any(FILE_HOSTILE in c.source for c in read_models(ws / "chunks.jsonl", Chunk))
    seen = 0
    for page in sorted((ws / "reports").glob("*.md")):
        text = page.read_text()
        for render in (python_markdown, markdown_it):
            visible = assert_inert(render(text), f"{page.name} via {render.__name__}")
            seen += FILE_HOSTILE in visible
    assert seen >= 2  # the role value reached at least one persona, in both renderers


def test_a_number_is_escaped_only_where_it_would_start_a_list() -> None:
    from agent.render.markdown import md

    # Versions and measures read as written in the raw file.
    assert md("1.0") == "1.0"
    assert md("3.5 hours a week on reconciliation") == "3.5 hours a week on reconciliation"
    for item in ("1. one", "12) twelve", "7."):
        escaped = md(item)
        assert escaped != item
        for render in (python_markdown, markdown_it):
            assert "<ol" not in render(escaped), (item, escaped)


def test_an_ampersand_is_escaped_only_where_it_starts_a_reference() -> None:
    from agent.render.markdown import md

    assert md("Change &self to &mut self at R&D") == "Change &self to &mut self at R&D"
    escaped = md("&lt;b&gt; and &#91;x&#93;")
    for render in (python_markdown, markdown_it):
        shown = render(escaped)
        # Shown as typed, never turned into "<b>" or "[x]".
        assert "&amp;lt;b&amp;gt;" in shown and "<b>" not in shown


def test_brackets_are_escaped_only_where_they_could_make_a_link() -> None:
    from agent.render.markdown import md

    said = "I work for [organization] on the [tool] test suite"
    assert md(said) == said
    assert md("see [[Billing]] and ^[a note]") == "see &#91;[Billing]] and ^&#91;a note&#93;"
    for hostile in ("[click](javascript:alert(1))", "![i](x)", "[r]: x", "[^1]", "[a] [b]", "a]"):
        escaped = md(hostile)
        for render in (python_markdown, markdown_it):
            # Inside a template's own link text, too: the value cannot close or open a link.
            shown = render(f"[{escaped}](persona-x.md) and [^9]\n\n[^9]: note")
            assert 'href="persona-x.md"' in shown, (hostile, shown)
            assert 'href="javascript' not in shown and 'href="x"' not in shown, (hostile, shown)
            assert "<img" not in shown, (hostile, shown)
