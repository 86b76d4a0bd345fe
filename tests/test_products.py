"""Several products in one export: themes counted, scored and ranked within each product."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from agent.cli import app

ROWS = {
    # A small app: 4 reviews, 2 of them about its crash.
    "Tiny Notes": [
        "The app crashes every time I open a note.",
        "It crashes whenever I open a note with a picture.",
        "I wish the font were bigger.",
        "Please add a dark mode.",
    ],
    # A big app: 12 reviews, 3 about sync.
    "Big Mail": [
        "My inbox does not sync since the update.",
        "Sync stopped working on my phone.",
        "Mail does not sync across devices anymore.",
        *[f"The search cannot find message number {i} at all." for i in range(9)],
    ],
}


def _export(folder: Path) -> Path:
    folder.mkdir()
    lines = ["review_id,app,review"]
    n = 0
    for product, texts in ROWS.items():
        for text in texts:
            n += 1
            lines.append(f'R{n},{product},"{text}"')
    (folder / "reviews.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _run(tmp_path: Path) -> tuple[Path, dict[str, str], CliRunner]:
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(_export(tmp_path / "in")), "-w", str(ws)], env=env)
    assert result.exit_code == 0, result.output
    return ws, env, runner


def test_shares_scores_and_ranks_are_per_product(tmp_path: Path) -> None:
    ws, env, runner = _run(tmp_path)
    report = json.loads((ws / "themes.json").read_text())
    assert {k: v["tickets"] for k, v in report["product_totals"].items()} == {
        "Big Mail": 12,
        "Tiny Notes": 4,
    }
    crash = next(t for t in report["themes"] if "crash" in t["label"].lower())
    assert crash["product"] == "Tiny Notes"
    # Every share is of its own product's reviews (a Tiny Notes review is 1/4, not 1/16).
    for theme in report["themes"]:
        total = report["product_totals"][theme["product"]]["tickets"]
        assert theme["frequency"]["ticket_share"] == round(theme["frequency"]["tickets"] / total, 4)
    for product in ("Big Mail", "Tiny Notes"):
        ranks = [t["product_rank"] for t in report["themes"] if t["product"] == product]
        assert sorted(ranks) == list(range(1, len(ranks) + 1))

    shown = runner.invoke(app, ["themes", "-w", str(ws), "--product", "Tiny Notes"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "product: Tiny Notes (0 participants, 4 tickets)" in shown.stdout
    assert "Big Mail" not in shown.stdout and "crash" in shown.stdout.lower()
    both = runner.invoke(app, ["themes", "-w", str(ws)], env=env)
    assert "product: Big Mail" in both.stdout and "product: Tiny Notes" in both.stdout
    missing = runner.invoke(app, ["themes", "-w", str(ws), "--product", "Nope"], env=env)
    assert missing.exit_code == 1 and "products: Big Mail, Tiny Notes" in missing.stderr


def test_the_report_groups_themes_by_product_and_renders_one(tmp_path: Path) -> None:
    ws, env, runner = _run(tmp_path)
    summary = (ws / "reports" / "summary.md").read_text(encoding="utf-8")
    assert "## Top Pain Points by Product" in summary
    assert "### Big Mail" in summary and "### Tiny Notes" in summary
    html = (ws / "reports" / "index.html").read_text(encoding="utf-8")
    assert "in its product" in html
    one = runner.invoke(
        app, ["report", "-w", str(ws), "--product", "Tiny Notes", "--json"], env=env
    )
    assert one.exit_code == 0, one.output
    folder = ws / "reports" / "product-tiny_notes"
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    themes = data["themes"]["themes"]
    assert {t["product"] for t in themes} == {"Tiny Notes"}
    assert sorted(t["rank"] for t in themes) == list(range(1, len(themes) + 1))
    # Rendered again unchanged, the product's files are kept, and so are the whole report's.
    again = runner.invoke(
        app, ["report", "-w", str(ws), "--product", "Tiny Notes", "--json"], env=env
    )
    assert json.loads(again.stdout)["notes"][0].startswith("nothing changed since the last run")
    whole = runner.invoke(app, ["report", "-w", str(ws), "--json"], env=env)
    assert json.loads(whole.stdout)["notes"][0].startswith("nothing changed since the last run")
    other = runner.invoke(
        app, ["report", "-w", str(ws), "--product", "Big Mail", "--json"], env=env
    )
    assert not json.loads(other.stdout)["notes"][0].startswith("nothing changed")
    assert {
        t["product"]
        for t in json.loads(
            (ws / "reports" / "product-big_mail" / "report.json").read_text(encoding="utf-8")
        )["themes"]["themes"]
    } == {"Big Mail"}
    bad = runner.invoke(app, ["report", "-w", str(ws), "--product", "Nope"], env=env)
    assert bad.exit_code == 1 and "products: Big Mail, Tiny Notes" in bad.stderr


def test_tickets_alone_from_several_products_give_a_persona_per_product(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    result = CliRunner().invoke(app, ["run", str(_export(tmp_path / "in")), "-w", str(ws)], env=env)
    assert result.exit_code == 0, result.output
    cohorts = json.loads((ws / "cohorts.json").read_text())
    assert cohorts["basis"] == "products"
    assert {(c["product"], c["size"]) for c in cohorts["cohorts"]} == {
        ("Big Mail", 12),
        ("Tiny Notes", 4),
    }
    personas = json.loads((ws / "personas.json").read_text())["personas"]
    themes = {t["id"]: t for t in json.loads((ws / "themes.json").read_text())["themes"]}
    product_of = {c["name"]: c["product"] for c in cohorts["cohorts"]}
    assert {p["segment"] for p in personas} == set(product_of)
    # Each persona rests on its own product's reviews, in the whole report too.
    based = {p["segment"]: p["document_info"]["based_on_tickets"] for p in personas}
    assert {product_of[name]: n for name, n in based.items()} == {"Big Mail": 12, "Tiny Notes": 4}
    for persona in personas:
        # Each persona's pains are its own product's themes only.
        mine = {themes[pain["theme_id"]]["product"] for pain in persona["draft"]["pain_points"]}
        assert mine <= {product_of[persona["segment"]]}


SHARE = re.compile(r"(\d+) of (\d+) (?:Tiny Notes |Big Mail )?tickets \((\d+(?:\.\d+)?)%\)")
OF_PRODUCT = re.compile(r"(\d+) of (?:Tiny Notes|Big Mail)'s (\d+) tickets \((\d+(?:\.\d+)?)%\)")


def _shares_add_up(text: str) -> int:
    """Every 'N of M ... tickets (P%)' in the text has P = N/M; how many were checked."""
    found = [*SHARE.findall(text), *OF_PRODUCT.findall(text)]
    for n, total, share in found:
        decimals = len(share.partition(".")[2])
        assert round(int(n) / int(total) * 100, decimals) == float(share), (n, total, share)
    return len(found)


def test_a_product_report_holds_only_that_products_personas_totals_and_ranks(
    tmp_path: Path,
) -> None:
    ws, env, runner = _run(tmp_path)
    # Any spelling of the product finds it; the folder is named after the product itself.
    one = runner.invoke(app, ["report", "-w", str(ws), "--product", "tiny NOTES"], env=env)
    assert one.exit_code == 0, one.output
    folder = ws / "reports" / "product-tiny_notes"
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".md")
    assert names == [
        "journey-tiny-notes-customers.md",
        "persona-tiny-notes-customers.md",
        "summary.md",
    ]
    everything = "\n".join(p.read_text(encoding="utf-8") for p in folder.iterdir() if p.is_file())
    assert "Big Mail" not in everything
    assert "Unresolved" not in everything and "evidence not found" not in everything
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "Based on 4 support tickets." in summary
    assert "1 persona (0 reviewed, 1 draft)." in summary
    assert " overall" not in summary and "among Tiny Notes's themes" in summary
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert [p["segment"] for p in data["personas"]] == ["Tiny Notes customers"]
    assert data["themes"]["total_tickets"] == 4
    persona = (folder / "persona-tiny-notes-customers.md").read_text(encoding="utf-8")
    assert "| **Based on** | 4 support tickets |" in persona
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "of 4 Tiny Notes tickets (25%)" in html and "rank 1 in Tiny Notes" in html
    assert _shares_add_up(everything) >= 3


def test_shares_name_the_product_total_they_are_of(tmp_path: Path) -> None:
    ws, _, _ = _run(tmp_path)
    reports = ws / "reports"
    persona = (reports / "persona-tiny-notes-customers.md").read_text(encoding="utf-8")
    # A Tiny Notes review is 1 of its 4 (25%), not 1 of all 16 reviews (6%).
    assert "Raised in 1 of Tiny Notes's 4 tickets (25%)" in persona
    assert "1 of 4 Tiny Notes tickets (25%)" in persona
    big = (reports / "persona-big-mail-customers.md").read_text(encoding="utf-8")
    assert "Raised in 9 of Big Mail's 12 tickets (75%)" in big
    whole = "\n".join(p.read_text(encoding="utf-8") for p in reports.glob("*.md"))
    assert "of all tickets" not in whole and " of 16 tickets" not in whole
    assert _shares_add_up(whole) >= 6


def test_an_unknown_product_prints_only_the_error(tmp_path: Path) -> None:
    ws, env, runner = _run(tmp_path)
    missing = runner.invoke(app, ["themes", "-w", str(ws), "--product", "Nope"], env=env)
    assert missing.exit_code == 1
    assert missing.stdout == "" and "products: Big Mail, Tiny Notes" in missing.stderr
    as_json = runner.invoke(app, ["themes", "-w", str(ws), "--product", "Nope", "--json"], env=env)
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)
    assert error["ok"] is False and "products: Big Mail, Tiny Notes" in error["error"]
    found = runner.invoke(app, ["themes", "-w", str(ws), "--product", "big mail"], env=env)
    assert found.exit_code == 0, found.output
    assert "product: Big Mail (0 participants, 12 tickets)" in found.stdout
    assert "Tiny Notes" not in found.stdout


def test_a_one_product_pack_carries_no_product_fields() -> None:
    """Packs of corpora without products read as before (prompts, and so cached answers, alike)."""
    from agent.models import CorpusTotals
    from tests._draft_fixtures import pack_theme

    plain = pack_theme("t-sync", "Bank feed drops transactions", 1, 4)
    assert not {"product", "product_rank", "product_totals"} & set(plain.model_dump(mode="json"))
    per_product = plain.model_copy(
        update={
            "product": "Big Mail",
            "product_rank": 1,
            "product_totals": CorpusTotals(participants=0, tickets=12),
        }
    )
    dumped = per_product.model_dump(mode="json")
    assert (dumped["product"], dumped["product_rank"], dumped["product_totals"]["tickets"]) == (
        "Big Mail",
        1,
        12,
    )


def test_theme_groups_are_shown_per_product(tmp_path: Path) -> None:
    """Groups (from a model's grouping) carry their product: the whole report names it, and a
    product's report holds only its own groups, ranked within it."""
    ws, env, runner = _run(tmp_path)
    report = json.loads((ws / "themes.json").read_text())
    groups = []
    for product in ("Big Mail", "Tiny Notes"):
        mine = [t for t in report["themes"] if t["product"] == product][:2]
        groups.append(
            {
                "id": f"g-{product}",
                "label": f"{product} troubles",
                "description": "Two of its themes.",
                "theme_ids": [t["id"] for t in mine],
                "frequency": mine[0]["frequency"],
                "severity": mine[0]["severity"],
                "score": mine[0]["score"],
                "rank": len(groups) + 1,
                "product": product,
                "named_by": "openai",
            }
        )
    report["groups"] = groups
    (ws / "themes.json").write_text(json.dumps(report), encoding="utf-8")
    assert runner.invoke(app, ["report", "-w", str(ws)], env=env).exit_code == 0
    summary = (ws / "reports" / "summary.md").read_text(encoding="utf-8")
    table = summary[summary.index("## Theme Groups") :]
    assert "| Big Mail: **Big Mail troubles**" in table
    assert "| Tiny Notes: **Tiny Notes troubles**" in table
    # The web page names the product too, and numbers themes as its pain table beside it does.
    html = (ws / "reports" / "index.html").read_text(encoding="utf-8")
    section = html[html.index('id="theme-groups"') :]
    row = section[
        section.index("Tiny Notes troubles") : section.index(
            "</tr>", section.index("Tiny Notes troubles")
        )
    ]
    tiny = [t for t in report["themes"] if t["product"] == "Tiny Notes"][:2]
    assert "<td>Tiny Notes</td>" in row
    assert all(f"<div>{t['rank']}. " in row for t in tiny)
    one = runner.invoke(app, ["report", "-w", str(ws), "--product", "Tiny Notes"], env=env)
    assert one.exit_code == 0, one.output
    data = json.loads(
        (ws / "reports" / "product-tiny_notes" / "report.json").read_text(encoding="utf-8")
    )
    assert [(g["label"], g["rank"]) for g in data["themes"]["groups"]] == [
        ("Tiny Notes troubles", 1)
    ]
    page = (ws / "reports" / "product-tiny_notes" / "summary.md").read_text(encoding="utf-8")
    assert "Big Mail troubles" not in page and "**Tiny Notes troubles**" in page
