"""Word tables whose cells hold the interviewer's question and the answer with no labels: split
where the layout says so, and named in a note where it cannot, never glued into a quote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docx import Document as DocxDocument
from typer.testing import CliRunner

from agent.cli import app


def _ingest(folder: Path, ws: Path, code: int = 0) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """(file name -> its chunks as (speaker, role, text), the --json summary)."""
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json"]
    )
    assert result.exit_code == code, result.stdout + result.stderr
    chunks: dict[str, list[Any]] = {}
    for row in (ws / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
        chunk = json.loads(row)
        chunks.setdefault(Path(chunk["source"]).name, []).append(
            (chunk["speaker"], chunk["role"], chunk["text"])
        )
    return chunks, json.loads(result.stdout)


def _docx(path: Path, rows: list[tuple[str, ...]], before: tuple[str, ...] = ()) -> None:
    doc = DocxDocument()
    for paragraph in before:
        doc.add_paragraph(paragraph)
    table = doc.add_table(rows=0, cols=len(rows[0]))
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = value
    doc.save(str(path))


ASK1, SAY1 = "How do you file expenses today?", "I upload receipts to the portal every Monday."
ASK2, SAY2 = "What is the hardest part?", "Blurry photos get rejected and I retype them."


def test_a_cell_holding_question_and_answer_is_split_between_interviewer_and_row(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _docx(
        folder / "P1.docx",
        [("Participant", "Response"), ("P1", f"{ASK1}\n{SAY1}"), ("P1", f"{ASK2}\n{SAY2}")],
    )
    # In a transcript of speech ("Speaker | Text") a speaker may open with a question of their
    # own: it stays theirs, and the note says how to mark it the interviewer's if it is.
    _docx(
        folder / "P2.docx",
        [
            ("Speaker", "Text"),
            ("Dana", f"You know what drives me crazy?\n{SAY1}"),
            ("Dana", f"Why would anyone design it so?\n{SAY2}"),
        ],
    )
    chunks, summary = _ingest(folder, tmp_path / "ws")
    assert chunks["P1.docx"] == [
        ("Interviewer", "interviewer", ASK1),
        ("P1", "participant", SAY1),
        ("Interviewer", "interviewer", ASK2),
        ("P1", "participant", SAY2),
    ]
    assert chunks["P2.docx"] == [
        (
            "Dana",
            "participant",
            f"You know what drives me crazy? {SAY1}\n\nWhy would anyone design it so? {SAY2}",
        )
    ]
    notes = summary["notes"]
    assert any(
        "P1.docx: table 1 rows 2, 3: the question opening each cell read as the interviewer's" in n
        for n in notes
    ), notes
    assert any("P2.docx: table 1 rows 2, 3: a question opens the cell" in n for n in notes), notes


def test_a_one_column_table_of_bare_questions_and_answers_is_read_in_turn(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # Question and answer cells in turn, after paragraph turns that name the participant.
    _docx(
        folder / "P3.docx",
        [(ASK1,), (SAY1,), (ASK2,), (SAY2,)],
        before=("Interviewer: Thanks for joining.", "P3: Happy to help."),
    )
    # Each cell a question with its answer below it, and nothing else in the file.
    _docx(folder / "P4.docx", [(f"{ASK1}\n{SAY1}",), (f"{ASK2}\n{SAY2}",)])
    chunks, _ = _ingest(folder, tmp_path / "ws")
    assert chunks["P3.docx"] == [
        ("Interviewer", "interviewer", "Thanks for joining."),
        ("P3", "participant", "Happy to help."),
        ("Interviewer", "interviewer", ASK1),
        ("P3", "participant", SAY1),
        ("Interviewer", "interviewer", ASK2),
        ("P3", "participant", SAY2),
    ]
    assert [s for s, _, _ in chunks["P4.docx"]] == ["Interviewer", "Participant"] * 2


def test_what_cannot_be_told_apart_is_named_never_glued_into_a_quote(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # Two questions in a row, then an answer: whose words are which is not in the layout.
    _docx(
        folder / "P5.docx",
        [(ASK1,), ("Do you use the app?",), (SAY1,)],
        before=("Interviewer: Thanks for joining.", "P5: Happy to help."),
    )
    # One cell of four opens with a question: likely Dana's own, so kept as hers, but said.
    _docx(
        folder / "P6.docx",
        [
            ("Speaker", "Text"),
            ("Dana", "Why would I bother?\nThe tool is slow and the receipts vanish."),
            ("Dana", "I just email them to finance instead."),
            ("Olu", "Same here, the portal logs me out."),
            ("Dana", "And the approvals take a week."),
        ],
    )
    chunks, summary = _ingest(folder, tmp_path / "ws")
    assert chunks["P5.docx"] == [
        ("Interviewer", "interviewer", "Thanks for joining."),
        ("P5", "participant", "Happy to help."),
    ]
    (note,) = [n for n in summary["notes"] if "P5.docx" in n]
    assert "P5.docx: table 1 (3 rows, 1 column) not read as turns: questions and answers" in note
    speaker, role, text = chunks["P6.docx"][0]
    assert (speaker, role) == ("Dana", "participant")
    assert text.startswith("Why would I bother? The tool is slow and the receipts vanish.")
    (note,) = [n for n in summary["notes"] if "P6.docx" in n and "table" in n]
    assert "P6.docx: table 1 row 2: a question opens the cell with more text below it" in note


def test_a_table_with_the_interviewer_s_own_rows_keeps_a_participant_s_question(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _docx(
        folder / "P7.docx",
        [
            ("Speaker", "Text"),
            ("Interviewer", "How do approvals go?"),
            ("Dana", "Why would I bother?\nThe tool is slow and the receipts vanish."),
        ],
    )
    chunks, summary = _ingest(folder, tmp_path / "ws")
    assert chunks["P7.docx"] == [
        ("Interviewer", "interviewer", "How do approvals go?"),
        ("Dana", "participant", "Why would I bother? The tool is slow and the receipts vanish."),
    ]
    assert not [n for n in summary["notes"] if "P7.docx" in n]
