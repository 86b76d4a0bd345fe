"""Word transcripts laid out as tables or with bold names above the words, and labels written
with a full-width colon ('田中：') or a numbered role ('Interviewer #2:')."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docx import Document as DocxDocument
from typer.testing import CliRunner

from agent.cli import app


def _run(
    folder: Path, ws: Path, code: int = 0
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """(file name -> its turns, the --json summary) after `persona ingest`."""
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json"]
    )
    # Exit 2: some input was skipped.
    assert result.exit_code == code, result.stdout + result.stderr
    docs: dict[str, list[dict[str, Any]]] = {}
    path = ws / "documents.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            docs[Path(doc["source"]).name] = doc["turns"]
    return docs, json.loads(result.stdout)


def _said(turns: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(t["speaker"], t["role"], t["text"]) for t in turns]


def _table(doc: Any, rows: list[tuple[str, ...]]) -> None:
    table = doc.add_table(rows=0, cols=len(rows[0]))
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = value


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def test_a_speaker_time_text_table_is_read_as_timed_turns(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    doc = DocxDocument()
    doc.add_heading("Interview P07 - Finance Ops", 1)
    _table(
        doc,
        [
            ("Speaker", "Time", "Text"),
            ("Interviewer", "00:01", "What's your biggest frustration with the tool?"),
            ("Olu", "00:05", "The approval emails land in spam, so invoices sit for a week."),
            ("Interviewer", "00:20", "How do you work around that?"),
            ("Olu", "00:24", "I keep a spreadsheet of pending invoices."),
        ],
    )
    doc.save(str(folder / "P07 table.docx"))
    docs, summary = _run(folder, tmp_path / "ws")
    assert summary["skipped"] == []
    turns = docs["P07 table.docx"]
    assert [(t["speaker"], t["role"], t["time"]) for t in turns] == [
        ("Interviewer", "interviewer", "00:01"),
        ("Olu", "participant", "00:05"),
        ("Interviewer", "interviewer", "00:20"),
        ("Olu", "participant", "00:24"),
    ]
    assert turns[1]["text"] == "The approval emails land in spam, so invoices sit for a week."


def test_a_q_a_table_without_a_header_makes_q_the_interviewer(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    doc = DocxDocument()
    _table(
        doc,
        [
            ("Q", "How do you submit mileage?"),
            ("A", "I email a screenshot of Google Maps to my manager."),
            ("Q", "Is that a problem?"),
            ("A", "Yes, it is slow and they lose the emails."),
        ],
    )
    doc.save(str(folder / "P10_qa_table.docx"))
    docs, summary = _run(folder, tmp_path / "ws")
    assert summary["skipped"] == []
    assert _said(docs["P10_qa_table.docx"]) == [
        ("Q", "interviewer", "How do you submit mileage?"),
        ("A", "participant", "I email a screenshot of Google Maps to my manager."),
        ("Q", "interviewer", "Is that a problem?"),
        ("A", "participant", "Yes, it is slow and they lose the emails."),
    ]


def test_a_question_answer_column_table_is_one_exchange_per_row(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    doc = DocxDocument()
    _table(
        doc,
        [
            ("Question", "Answer"),
            ("How do you file receipts?", "I photograph them, but the totals come out wrong."),
            ("What do you do then?", "I retype every amount by hand."),
        ],
    )
    doc.save(str(folder / "P15.docx"))
    docs, _ = _run(folder, tmp_path / "ws")
    assert _said(docs["P15.docx"]) == [
        ("Question", "interviewer", "How do you file receipts?"),
        ("Answer", "participant", "I photograph them, but the totals come out wrong."),
        ("Question", "interviewer", "What do you do then?"),
        ("Answer", "participant", "I retype every amount by hand."),
    ]


def test_a_turn_table_between_paragraph_turns_keeps_document_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    doc = DocxDocument()
    doc.add_paragraph("Interviewer: Let's start with approvals.")
    doc.add_paragraph("Priya Nair: They take a week.")
    _table(
        doc,
        [
            ("Name", "Said"),
            ("Interviewer", "And the exports?"),
            ("Priya Nair", "The CSV drops the cost centre."),
        ],
    )
    doc.add_paragraph("Interviewer: Anything else?")
    doc.add_paragraph("Priya Nair: The mobile app logs me out.")
    doc.save(str(folder / "P16.docx"))
    docs, summary = _run(folder, tmp_path / "ws")
    assert not any("P16" in n for n in summary["notes"])
    assert [t for _, _, t in _said(docs["P16.docx"])] == [
        "Let's start with approvals.",
        "They take a week.",
        "And the exports?",
        "The CSV drops the cost centre.",
        "Anything else?",
        "The mobile app logs me out.",
    ]


def test_a_table_that_holds_no_turns_is_named_not_dropped_silently(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    doc = DocxDocument()
    doc.add_paragraph("Interviewer: What slows you down?")
    _table(doc, [("Tool", "Rating"), ("Expensify", "2 of 5"), ("Excel", "4 of 5")])
    doc.add_paragraph("Dana Reyes: Expensify, mostly the receipts.")
    # A roster has a Name column too, but a team beside a name is not something anyone said.
    _table(doc, [("Name", "Team"), ("Dana Reyes", "Finance"), ("Olu Ade", "Ops")])
    doc.save(str(folder / "P17.docx"))
    only = DocxDocument()
    _table(only, [("Tool", "Rating"), ("Expensify", "2 of 5"), ("Excel", "4 of 5")])
    only.save(str(folder / "P18.docx"))
    docs, summary = _run(folder, tmp_path / "ws", code=2)
    assert [s for s, _, _ in _said(docs["P17.docx"])] == ["Interviewer", "Dana Reyes"]
    notes = [n for n in summary["notes"] if "P17.docx" in n]
    assert len(notes) == 1
    assert "table 1 (3 rows, 2 columns), table 2 (3 rows, 2 columns) not read" in notes[0]
    (skipped,) = summary["skipped"]
    assert skipped["path"].endswith("P18.docx")
    assert "table 1 (3 rows, 2 columns)" in skipped["reason"]
    assert "Speaker" in skipped["reason"]


def test_a_bold_name_alone_above_the_words_is_a_speaker(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    doc = DocxDocument()
    doc.add_paragraph("Background").runs[0].bold = True
    doc.add_paragraph("Recorded at the Leeds office.")
    for speaker, paragraphs in [
        ("Interviewer", ["What would you change?"]),
        ("Tomás Ruiz", ["The mobile app, definitely.", "It crashes when I attach a PDF."]),
        ("Interviewer", ["Anything else?"]),
        ("Tomás Ruiz", ["Better export to Xero."]),
    ]:
        doc.add_paragraph().add_run(speaker).bold = True
        for text in paragraphs:
            doc.add_paragraph(text)
    doc.save(str(folder / "P12 name-above-nocolon.docx"))
    docs, summary = _run(folder, tmp_path / "ws")
    assert summary["skipped"] == []
    said = _said(docs["P12 name-above-nocolon.docx"])
    # The one-off bold heading stays text, without a colon added to it.
    assert said[0] == ("Unknown", "participant", "Background Recorded at the Leeds office.")
    assert said[1:] == [
        ("Interviewer", "interviewer", "What would you change?"),
        (
            "Tomás Ruiz",
            "participant",
            "The mobile app, definitely. It crashes when I attach a PDF.",
        ),
        ("Interviewer", "interviewer", "Anything else?"),
        ("Tomás Ruiz", "participant", "Better export to Xero."),
    ]


def test_full_width_colons_and_numbered_interviewers_are_labels(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "jp.txt").write_text(
        "インタビュアー：一番困っていることは何ですか？\n"
        "田中：経費精算の承認が遅いことです。毎月締めに間に合いません。\n"
        "インタビュアー：どうしていますか？\n"
        "田中：エクセルで管理しています。\n",
        encoding="utf-8",
    )
    (folder / "P19.txt").write_text(
        "Interviewer #1: How do you book travel?\n"
        "Interviewer #2: And who approves it?\n"
        "Sam Ortiz: My manager, after a week.\n"
        "Interviewer #1: Why a week?\n"
        "Sam Ortiz: The approval emails get lost.\n",
        encoding="utf-8",
    )
    docs, summary = _run(folder, tmp_path / "ws")
    assert summary["skipped"] == []
    assert _said(docs["jp.txt"]) == [
        ("インタビュアー", "interviewer", "一番困っていることは何ですか？"),
        ("田中", "participant", "経費精算の承認が遅いことです。毎月締めに間に合いません。"),
        ("インタビュアー", "interviewer", "どうしていますか？"),
        ("田中", "participant", "エクセルで管理しています。"),
    ]
    assert [(s, r) for s, r, _ in _said(docs["P19.txt"])] == [
        ("Interviewer #1", "interviewer"),
        ("Interviewer #2", "interviewer"),
        ("Sam Ortiz", "participant"),
        ("Interviewer #1", "interviewer"),
        ("Sam Ortiz", "participant"),
    ]
