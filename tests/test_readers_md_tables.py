"""Markdown and text transcripts holding GitHub pipe tables (Notion, Confluence exports): read
by the same table logic as Word tables, each turn on its row's line in the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli import app


def _ingest(
    files: dict[str, str], tmp_path: Path, code: int = 0
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """(file name -> its chunks, the --json summary) after `persona ingest` of `files`."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    ws = tmp_path / "ws"
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json"]
    )
    # Exit 2: some input was skipped.
    assert result.exit_code == code, result.stdout + result.stderr
    chunks: dict[str, list[dict[str, Any]]] = {}
    path = ws / "chunks.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            chunk = json.loads(line)
            chunks.setdefault(Path(chunk["source"]).name, []).append(chunk)
    return chunks, json.loads(result.stdout)


def _said(chunks: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return [(c["speaker"], c["role"], c["line"], c["text"]) for c in chunks]


def test_a_speaker_time_text_pipe_table_is_read_as_timed_turns(tmp_path: Path) -> None:
    text = (
        "---\nparticipant_id: P07\n---\n"  # lines 1-3
        "# Interview P07\n\n"  # 4-5
        "| Speaker | Time | Text |\n"  # 6
        "|---|:--:|---|\n"  # 7
        "| Interviewer | 00:01 | What's your biggest frustration with the tool? |\n"  # 8
        "| **Olu** | 00:05 | The approval emails land in spam.<br>Invoices sit for a week. |\n"
        "| Interviewer | 00:20 | How do you work around that? |\n"  # 10
        "| Olu | 00:24 | A spreadsheet \\| a sticky note, whichever is nearer. |\n"  # 11
    )
    chunks, summary = _ingest({"P07.md": text}, tmp_path)
    assert summary["skipped"] == [] and summary["notes"] == []
    assert _said(chunks["P07.md"]) == [
        ("Interviewer", "interviewer", 8, "What's your biggest frustration with the tool?"),
        ("Olu", "participant", 9, "The approval emails land in spam. Invoices sit for a week."),
        ("Interviewer", "interviewer", 10, "How do you work around that?"),
        ("Olu", "participant", 11, "A spreadsheet | a sticky note, whichever is nearer."),
    ]
    assert [c["time"] for c in chunks["P07.md"]] == ["00:01", "00:05", "00:20", "00:24"]
    assert {c["participant_id"] for c in chunks["P07.md"]} == {"P07"}


def test_question_answer_pipe_tables_make_the_question_the_interviewer_s(tmp_path: Path) -> None:
    headed = (
        "| Question | Answer |\n"
        "| --- | --- |\n"
        "| How do you file receipts? | I photograph them, but the totals come out wrong. |\n"
        "| What do you do then? | I retype every amount by hand. |\n"
    )
    # No header Word would know: the first row is a turn, and Q/A recur down the first column;
    # a .txt file goes through the same reader as a .md file.
    unheaded = (
        "| Q | How do you submit mileage? |\n"
        "|---|---|\n"
        "| A | I email a screenshot of Google Maps to my manager. |\n"
        "| Q | Is that a problem? |\n"
        "| A | Yes, it is slow and they lose the emails. |\n"
    )
    chunks, summary = _ingest({"P15.md": headed, "P10.txt": unheaded}, tmp_path)
    assert summary["skipped"] == []
    assert _said(chunks["P15.md"]) == [
        ("Question", "interviewer", 3, "How do you file receipts?"),
        ("Answer", "participant", 3, "I photograph them, but the totals come out wrong."),
        ("Question", "interviewer", 4, "What do you do then?"),
        ("Answer", "participant", 4, "I retype every amount by hand."),
    ]
    assert _said(chunks["P10.txt"]) == [
        ("Q", "interviewer", 1, "How do you submit mileage?"),
        ("A", "participant", 3, "I email a screenshot of Google Maps to my manager."),
        ("Q", "interviewer", 4, "Is that a problem?"),
        ("A", "participant", 5, "Yes, it is slow and they lose the emails."),
    ]


def test_a_pipe_table_of_no_turns_is_named_with_its_line_never_glued_into_a_turn(
    tmp_path: Path,
) -> None:
    mixed = (
        "Interviewer: Which features do you use?\n"  # 1
        "Dana Reyes: Mostly the receipt scanner.\n"  # 2
        "\n"
        "| Feature | Status |\n"  # 4
        "| --- | --- |\n"
        "| Receipt scan | shipped |\n"
        "| Mileage | planned |\n"
        "\n"
        "Interviewer: Anything else?\n"  # 9
        "Dana Reyes: The mobile app logs me out.\n"  # 10
    )
    only = "| Tool | Rating |\n|---|---|\n| Expensify | 2 of 5 |\n| Excel | 4 of 5 |\n"
    chunks, summary = _ingest({"P17.md": mixed, "P18.md": only}, tmp_path, code=2)
    assert _said(chunks["P17.md"]) == [
        ("Interviewer", "interviewer", 1, "Which features do you use?"),
        ("Dana Reyes", "participant", 2, "Mostly the receipt scanner."),
        ("Interviewer", "interviewer", 9, "Anything else?"),
        ("Dana Reyes", "participant", 10, "The mobile app logs me out."),
    ]
    assert not any("shipped" in c["text"] or "Feature" in c["text"] for c in chunks["P17.md"])
    (note,) = [n for n in summary["notes"] if "P17.md" in n]
    assert "P17.md: table 1 on line 4 (3 rows, 2 columns) not read as turns" in note
    assert "P18.md" not in chunks
    (skipped,) = summary["skipped"]
    assert skipped["path"].endswith("P18.md")
    assert "no speaker turns found; table 1 on line 1 (3 rows, 2 columns)" in skipped["reason"]


def test_speaker_lines_around_a_pipe_table_keep_the_file_s_order(tmp_path: Path) -> None:
    text = (
        "# Session notes\n"  # 1
        "Interviewer: Let's start with approvals.\n"  # 2
        "Priya Nair: They take a week.\n"  # 3
        "| Name | Said |\n"  # 4
        "|------|------|\n"
        "| Interviewer | And the exports? |\n"  # 6
        "| Priya Nair | The CSV drops the cost centre. |\n"  # 7
        "| Participant | How would I know?<br>Nobody tells me when it fails. |\n"  # 8
        "\n"
        "Interviewer: Anything else?\n"  # 10
        "Priya Nair: The mobile app logs me out\n"  # 11
        "every single morning.\n"
    )
    chunks, summary = _ingest({"P16.md": text}, tmp_path)
    assert not any("P16" in n for n in summary["notes"])
    assert _said(chunks["P16.md"]) == [
        ("Interviewer", "interviewer", 2, "Let's start with approvals."),
        ("Priya Nair", "participant", 3, "They take a week."),
        ("Interviewer", "interviewer", 6, "And the exports?"),
        ("Priya Nair", "participant", 7, "The CSV drops the cost centre."),
        # The interviewer has rows of their own: a question in a cell is the row speaker's.
        ("Participant", "participant", 8, "How would I know? Nobody tells me when it fails."),
        ("Interviewer", "interviewer", 10, "Anything else?"),
        ("Priya Nair", "participant", 11, "The mobile app logs me out every single morning."),
    ]


def test_a_cell_holding_a_question_then_its_answer_is_split_as_in_word(tmp_path: Path) -> None:
    text = (
        "| Participant | Response |\n"
        "|---|---|\n"
        "| P4 | How do you file expenses?<br>I photograph receipts on the train. |\n"  # 3
        "| P4 | What breaks?<br>The app crashes when I add a second photo. |\n"  # 4
    )
    chunks, _ = _ingest({"P4.md": text}, tmp_path)
    assert _said(chunks["P4.md"]) == [
        ("Interviewer", "interviewer", 3, "How do you file expenses?"),
        ("P4", "participant", 3, "I photograph receipts on the train."),
        ("Interviewer", "interviewer", 4, "What breaks?"),
        ("P4", "participant", 4, "The app crashes when I add a second photo."),
    ]


def test_a_one_column_pipe_table_is_a_box_of_speaker_lines_or_named(tmp_path: Path) -> None:
    text = (
        "| Transcript |\n"  # 1
        "| --- |\n"
        "| Interviewer: How do you approve invoices?<br>Kim Lee: By email, then I forget. |\n"
        "| Interviewer: Why?<br>Kim Lee: The reminders land in spam. |\n"  # 4
        "\n"
        "| Observer notes |\n"  # 6
        "| --- |\n"
        "| seemed frustrated by the portal |\n"
    )
    chunks, summary = _ingest({"P9.md": text}, tmp_path)
    assert _said(chunks["P9.md"]) == [
        ("Interviewer", "interviewer", 3, "How do you approve invoices?"),
        ("Kim Lee", "participant", 3, "By email, then I forget."),
        ("Interviewer", "interviewer", 4, "Why?"),
        ("Kim Lee", "participant", 4, "The reminders land in spam."),
    ]
    (note,) = [n for n in summary["notes"] if "P9.md" in n]
    assert "P9.md: table 2 on line 6 (2 rows, 1 column) not read as turns" in note


def test_a_pipe_table_inside_a_code_fence_is_text_not_turns(tmp_path: Path) -> None:
    # A researcher pasting the export format they were shown: Markdown renders it as code, so
    # its rows are nobody's turns and no table note is due.
    fenced = "| Speaker | Text |\n|---|---|\n| Finance | Approved |\n"
    text = (
        "Interviewer: What does the export look like?\n"
        f"Dana: It comes out like this:\n```\n{fenced}```\n"
        "Interviewer: And then?\n"
        f"Dana: Same again in the other file:\n~~~text\n{fenced}~~~\n"
    )
    chunks, summary = _ingest({"P1.md": text}, tmp_path)
    said = _said(chunks["P1.md"])
    assert [(who, role) for who, role, _, _ in said] == [
        ("Interviewer", "interviewer"),
        ("Dana", "participant"),
    ] * 2
    assert "| Finance | Approved |" in said[1][3] and "| Finance | Approved |" in said[3][3]
    assert not any("table" in n for n in summary["notes"])
