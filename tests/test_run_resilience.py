"""A bad user table, rules file or setting is reported where it can be fixed, and costs the run
only the numbers it would have given."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from agent.config import load_settings
from agent.errors import ConfigError, InputError
from agent.pipeline import run_pipeline
from agent.segment import score_users
from agent.segment_rules import load_segment_config
from agent.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
INTERVIEW = """---
participant_id: P01
---
Interviewer: What went wrong?
Dana: The bank feed broke again last week and I lost a whole day fixing it. It is so frustrating.
"""


def _users(path: Path, id_name: str = "member", rows: int = 40) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([id_name, "events_30d", "days_since_last_active", "signup_days_ago"])
        for i in range(rows):
            writer.writerow([f"M{i:03d}", i, i % 20, 100 + i])
    return path


def test_run_goes_on_without_numbers_when_the_user_table_cannot_be_scored(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dana.md").write_text(INTERVIEW, encoding="utf-8")
    users = _users(corpus / "members.csv")
    settings = load_settings(
        None,
        {
            "workspace": str(tmp_path / "ws"),
            "embeddings.provider": "hash",
            "llm.provider": "offline",
        },
    )
    ws = Workspace(settings.workspace)
    summary = run_pipeline([corpus], settings, ws, users=users)
    steps = {s.step: s for s in summary.steps}
    assert not summary.ok  # exit 2: partial, and every finished step is listed
    assert list(steps) == ["ingest", "extract", "segment", "themes", "draft", "report"]
    seg = steps["segment"]
    assert not seg.ok and "user table not scored" in seg.notes[0]
    assert "no user id column found" in seg.notes[0] and "id_column" in seg.notes[0]
    # The table given with --users is the scorer's: ingest does not list it as skipped.
    assert not any(Path(s.path).name == "members.csv" for s in steps["ingest"].skipped)
    assert steps["draft"].ok and (ws.root / "reports").is_dir()
    assert not ws.segments.exists()


def test_segment_errors_name_the_row_and_the_rules_file(tmp_path: Path) -> None:
    users = _users(tmp_path / "users.csv", id_name="user_id")
    lines = users.read_text(encoding="utf-8").splitlines()
    lines[5] += ",1,2"  # data row 5 (file line 6) has two extra fields
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        score_users(ragged, load_segment_config(None, "weekly"))
    assert caught.value.line == 6 and "6 fields, the header has 4" in str(caught.value)

    rules = tmp_path / "rules.toml"
    text = (REPO / "agent" / "presets" / "weekly.toml").read_text("utf-8")
    rules.write_text(text.replace('when = "signup_days_ago < 30"', 'whn = "x"'), "utf-8")
    with pytest.raises(
        ConfigError, match=r"rules.toml: persona 'New User' \(#3\): unknown key 'whn' .*'when'"
    ):
        load_segment_config(rules)
    rules.write_text(text.replace("signup_days_ago < 30", "signup_dayz < 30"), "utf-8")
    with pytest.raises(
        ConfigError, match=r"rules.toml: persona 'New User' uses column 'signup_dayz'"
    ):
        score_users(REPO / "transcripts" / "users.csv", load_segment_config(rules))


def test_setting_errors_name_where_the_value_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"llm.provider.*\(from command line\)"):
        load_settings(None, {"llm.provider": "bogus"}, env={})
    with pytest.raises(ConfigError, match=r"\(from environment variable PERSONA_CONCURRENCY\)"):
        load_settings(None, {}, env={"PERSONA_CONCURRENCY": "abc"})
    toml = tmp_path / "persona.toml"
    toml.write_text("[llm]\nconcurrency = 'many'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"persona.toml\)"):
        load_settings(toml, {}, env={})


def test_user_tables_in_any_format_or_size_are_found_among_the_inputs(tmp_path: Path) -> None:
    import duckdb

    from agent.ingest import ingest, user_tables

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "dana.md").write_text(INTERVIEW, encoding="utf-8")
    src = REPO / "transcripts" / "users.csv"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * FROM '{src}') TO '{folder / 'users.parquet'}' (FORMAT parquet)"
        )
        con.execute(f"COPY (SELECT * FROM '{src}') TO '{folder / 'members.jsonl'}' (FORMAT json)")
    # Over ingest.max_file_mb: not read as evidence, still handed to the scorer.
    (folder / "big.csv").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings(
        None,
        {
            "workspace": str(tmp_path / "ws"),
            "embeddings.provider": "hash",
            "ingest.max_file_mb": 0.005,
        },
    )
    ws = Workspace(settings.workspace)
    summary = ingest([folder], settings, ws)
    assert summary.ok and summary.counts["user_tables"] == 3, summary.skipped
    assert {p.name for p in user_tables(ws)} == {"users.parquet", "members.jsonl", "big.csv"}
    assert summary.counts["interviews"] == 1
    for table in user_tables(ws):
        report, assignments = score_users(table, load_segment_config(None, "weekly", None))
        assignments.close()
        assert report.total_users == 2400
