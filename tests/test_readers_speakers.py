"""Speaker labels in plain-text, Markdown and Word transcripts: names in any script, with
particles or a job title, numbered interviewers, and colon lines that are not speakers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from docx import Document as DocxDocument
from typer.testing import CliRunner

from agent.cli import app


def _ingest(folder: Path, ws: Path) -> dict[str, list[dict[str, Any]]]:
    """File name -> its turns as (speaker, role, text), after `persona ingest`."""
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    out: dict[str, list[dict[str, Any]]] = {}
    for line in (ws / "documents.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        out[Path(doc["source"]).name] = doc["turns"]
    return out


def _said(turns: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(t["speaker"], t["role"], t["text"]) for t in turns]


NAMES = {
    "a_plain.txt": ("Åsa Lind", "Interviewer: What is hard?\nÅsa Lind: The form never saves.\n"),
    "d_E.txt": ("Émilie Dubois", "Interviewer: What is hard?\nÉmilie Dubois: Ça plante.\n"),
    "e_L.txt": ("Łukasz", "Interviewer: What is hard?\nŁukasz: Import fails.\n"),
    "o.txt": ("Øyvind", "Interviewer: What is hard?\nØyvind: The app is slow.\n"),
    "zoe.md": ("Zoë Ångström", "**Interviewer:** What is hard?\n\n**Zoë Ångström:** Approvals.\n"),
    "souza.txt": ("Maria de Souza", "Interviewer: What is hard?\nMaria de Souza: Receipts.\n"),
    "berg.txt": (
        "Jan van der Berg",
        "Interviewer: And for Jan?\nJan van der Berg: VAT is wrong.\n",
    ),
    "cfo.txt": ("J. Smith, CFO", "Interviewer: And your boss?\nJ. Smith, CFO: I never see them.\n"),
    "anna.txt": ("anna", "Interviewer: And you?\nanna (she/her): It crashes.\n"),
}


def test_names_in_any_script_with_particles_titles_or_pronouns_are_speakers(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (_, text) in NAMES.items():
        (folder / name).write_text(text, encoding="utf-8")
    docs = _ingest(folder, tmp_path / "ws")
    for name, (speaker, _) in NAMES.items():
        said = _said(docs[name])
        # Two turns, not the answer glued onto the interviewer's question.
        assert [(s, r) for s, r, _ in said] == [
            ("Interviewer", "interviewer"),
            (speaker, "participant"),
        ], name
        assert ":" not in said[0][2], name


def test_a_markdown_bullet_with_a_bold_label_is_a_turn(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P14.md").write_text(
        "# Interview with Zoë\n\n**Interviewer:** How do you approve invoices?\n\n"
        "**Zoë Ångström:** Through the inbox.\n\n- **Zoë Ångström:** Also the audit log.\n",
        encoding="utf-8",
    )
    said = _said(_ingest(folder, tmp_path / "ws")["P14.md"])
    assert said == [
        ("Interviewer", "interviewer", "How do you approve invoices?"),
        ("Zoë Ångström", "participant", "Through the inbox."),
        ("Zoë Ångström", "participant", "Also the audit log."),
    ]


def test_one_off_everyday_labels_and_sentence_colons_stay_in_the_turn(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P20.txt").write_text(
        "Interviewer: I'd like to try a scenario with you.\n"
        "Scenario: imagine the approval chain is broken and invoices are stuck.\n"
        "Interviewer: What would you do?\n"
        "Participant: I'd call the vendor.\n"
        "Interviewer: Last question.\n"
        "Follow-up: do you hate the current export?\n"
        "Participant: Yes. It happens in three steps.\n"
        "Step 1: the bank feed stops importing.\n"
        "Result: I only notice at month-end.\n"
        'My manager said: "Fix it or we switch vendors."\n'
        "Honestly: I'm looking at alternatives.\n",
        encoding="utf-8",
    )
    said = _said(_ingest(folder, tmp_path / "ws")["P20.txt"])
    assert [(s, r) for s, r, _ in said] == [
        ("Interviewer", "interviewer"),
        ("Interviewer", "interviewer"),
        ("Participant", "participant"),
        ("Interviewer", "interviewer"),
        ("Participant", "participant"),
    ]
    assert said[0][2].endswith(
        "Scenario: imagine the approval chain is broken and invoices are stuck."
    )
    assert said[3][2] == "Last question. Follow-up: do you hate the current export?"
    assert said[4][2] == (
        "Yes. It happens in three steps. Step 1: the bank feed stops importing. "
        'Result: I only notice at month-end. My manager said: "Fix it or we switch vendors." '
        "Honestly: I'm looking at alternatives."
    )


def test_a_speaker_who_speaks_once_is_still_a_speaker(tmp_path: Path) -> None:
    """The everyday-word rule must not swallow a real one-off speaker (a false merge)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P21.txt").write_text(
        "Interviewer: What is hard?\nDana: The bank feed.\nInterviewer: And for your manager?\n"
        "Dana: Approvals.\nSeán O'Brien: I never see the receipts.\n",
        encoding="utf-8",
    )
    said = _said(_ingest(folder, tmp_path / "ws")["P21.txt"])
    assert said[-1] == ("Seán O'Brien", "participant", "I never see the receipts.")


def test_lowercase_handles_that_recur_are_speakers(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "chat.txt").write_text(
        "dan.okafor: What is hard?\npriya_s: The mileage form.\n"
        "dan.okafor: Anything else?\npriya_s: so basically: receipts get rejected.\n",
        encoding="utf-8",
    )
    said = _said(_ingest(folder, tmp_path / "ws")["chat.txt"])
    assert [s for s, _, _ in said] == ["dan.okafor", "priya_s"] * 2
    assert said[3][2] == "so basically: receipts get rejected."


def test_docx_soft_line_breaks_separate_turns(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    doc = DocxDocument()
    doc.add_paragraph("Interviewer: What do you think of reports?")
    doc.add_paragraph("Kim Lau: They're fine but slow to load.")
    para = doc.add_paragraph()
    para.add_run("Interviewer: How slow?")
    para.add_run().add_break()
    para.add_run("Kim Lau: Thirty seconds, it's painful.")
    doc.save(str(folder / "P13.docx"))
    said = _said(_ingest(folder, tmp_path / "ws")["P13.docx"])
    assert said == [
        ("Interviewer", "interviewer", "What do you think of reports?"),
        ("Kim Lau", "participant", "They're fine but slow to load."),
        ("Interviewer", "interviewer", "How slow?"),
        ("Kim Lau", "participant", "Thirty seconds, it's painful."),
    ]


@pytest.mark.parametrize(
    ("second", "speaker"),
    [
        ("Interviewer 2", "Interviewer 2"),
        ("Moderator B", "Moderator B"),
        ("Interviewer (Anna)", "Interviewer"),
    ],
)
def test_numbered_or_lettered_interviewers_are_interviewers(
    tmp_path: Path, second: str, speaker: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P51.txt").write_text(
        "Interviewer 1: How do you submit expenses?\n"
        f"{second}: And on what device?\n"
        "Interviewee: The mobile app, but the camera crashes.\n"
        "Interviewer 1: Does that bother you?\n"
        "Interviewee: Yes, I lose receipts.\n",
        encoding="utf-8",
    )
    said = _said(_ingest(folder, tmp_path / "ws")["P51.txt"])
    assert [(s, r) for s, r, _ in said] == [
        ("Interviewer 1", "interviewer"),
        (speaker, "interviewer"),
        ("Interviewee", "participant"),
        ("Interviewer 1", "interviewer"),
        ("Interviewee", "participant"),
    ]


def test_meeting_tool_lines_and_sbv_timings_are_not_quoted(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "meet.txt").write_text(
        "Jordan Blake: What's the hardest part?\nRiley Moss: Mileage claims.\n"
        "Meeting ended after 00:15:32 👋\n",
        encoding="utf-8",
    )
    (folder / "teams.txt").write_text(
        "Dan Okafor started transcription\n\nDan Okafor   0:03\nSo tell me about approvals.\n\n"
        "Marcus Lee   0:08\nApprovals are a nightmare.\n\nDan Okafor stopped transcription\n",
        encoding="utf-8",
    )
    (folder / "sbv.txt").write_text(
        "0:00:01.000,0:00:04.000\nInterviewer: How do you file expenses?\n\n"
        "0:00:04.500,0:00:09.000\nNadia: On my phone.\n\n0:00:09.500,0:00:12.000\n"
        "Interviewer: Then?\n",
        encoding="utf-8",
    )
    docs = _ingest(folder, tmp_path / "ws")
    assert _said(docs["meet.txt"])[-1] == ("Riley Moss", "participant", "Mileage claims.")
    assert [t["text"] for t in docs["teams.txt"]] == [
        "So tell me about approvals.",
        "Approvals are a nightmare.",
    ]
    assert [(t["text"], t["time"]) for t in docs["sbv.txt"]] == [
        ("How do you file expenses?", "0:00:01.000"),
        ("On my phone.", "0:00:04.500"),
        ("Then?", "0:00:09.500"),
    ]
