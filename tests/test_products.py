"""Several products in one export: themes counted, scored and ranked within each product."""

from __future__ import annotations

import json
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


def test_shares_scores_and_ranks_are_per_product(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(_export(tmp_path / "in")), "-w", str(ws)], env=env)
    assert result.exit_code == 0, result.output
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
    ws = tmp_path / "ws"
    env = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    runner = CliRunner()
    assert (
        runner.invoke(app, ["run", str(_export(tmp_path / "in")), "-w", str(ws)], env=env).exit_code
        == 0
    )
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
    for persona in personas:
        # Each persona's pains are its own product's themes only.
        mine = {themes[pain["theme_id"]]["product"] for pain in persona["draft"]["pain_points"]}
        assert mine <= {product_of[persona["segment"]]}
