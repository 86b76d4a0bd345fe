"""A researcher's annotations ("Note: participant shares screen", "Observer note: ...") written
among the turns: never a speaker, never inside a participant's quote, and named in a note."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli import app


def _ingest(folder: Path, ws: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(chunks.jsonl rows, the notes) after `persona ingest`."""
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = (ws / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(row) for row in rows], json.loads(result.stdout)["notes"]


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


P3 = (
    "Interviewer: Thanks for joining. How do you file expenses today?\n"
    "P3: I open the finance portal on Monday and upload my receipts.\n"
    "Note: participant shares screen\n"
    "Interviewer: What happens next?\n"
    "P3: The portal rejects half of them because the photo is blurry.\n"
    "Note: participant sighs, the export keeps failing and she redoes it\n"
    "Interviewer: How often does that happen?\n"
    "P3: Almost every week. I end up retyping the amounts by hand.\n"
)


def test_a_note_label_used_twice_is_not_a_speaker_nor_anyone_s_words(tmp_path: Path) -> None:
    chunks, notes = _ingest(_folder(tmp_path, {"P3.txt": P3}), tmp_path / "ws")
    assert [(c["speaker"], c["role"]) for c in chunks] == [
        ("Interviewer", "interviewer"),
        ("P3", "participant"),
    ] * 3
    assert not any("shares screen" in c["text"] or "sighs" in c["text"] for c in chunks)
    assert chunks[3]["text"] == "The portal rejects half of them because the photo is blurry."
    (note,) = [n for n in notes if "P3.txt" in n]
    assert note.endswith(
        "P3.txt:3: 2 annotations labelled 'Note' left out of the turns "
        "(the researcher's notes, not anyone's words; give a line its speaker's label to keep it)"
    )


def test_an_offline_run_attributes_no_mention_to_an_annotation(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"P3.txt": P3})
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["run", str(folder), "-w", str(ws), "--llm", "offline"])
    assert result.exit_code == 0, result.stdout + result.stderr
    mentions = [json.loads(r) for r in (ws / "mentions.jsonl").read_text().splitlines()]
    quotes = [q["text"] for m in mentions for q in m["quotes"]]
    # The participant's own complaint is found; the researcher's note never is.
    assert any("blurry" in q for q in quotes)
    assert not any("export keeps failing" in q or "shares screen" in q for q in quotes)


def test_annotation_labels_in_any_common_form_are_set_aside_but_summer_still_speaks(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path,
        {
            "P5.txt": (
                "Interviewer: What slows your month-end close?\n"
                "Timestamp: 00:12:03\n"
                "Summer: Chasing receipts from the field team.\n"
                "Observer note: she opens a spreadsheet of missing receipts\n"
                "and scrolls through it for a while\n"
                "Interviewer: Anything else?\n"
                "note: long pause\n"
                "Summer: The approvals sit in my manager's inbox for days.\n"
                "Summary: receipts and approvals\n"
                "Interviewer: Thanks, that is all.\n"
                "note: ends recording\n"
                "Summary: positive close\n"
            ),
        },
    )
    chunks, notes = _ingest(folder, tmp_path / "ws")
    assert [(c["speaker"], c["role"], c["text"]) for c in chunks] == [
        ("Interviewer", "interviewer", "What slows your month-end close?"),
        ("Summer", "participant", "Chasing receipts from the field team."),
        ("Interviewer", "interviewer", "Anything else?"),
        ("Summer", "participant", "The approvals sit in my manager's inbox for days."),
        ("Interviewer", "interviewer", "Thanks, that is all."),
    ]
    documents = [json.loads(r) for r in (tmp_path / "ws" / "documents.jsonl").open()]
    # "Timestamp: 00:12:03" times the turn below it, as a bare "00:12:03" line does.
    assert documents[0]["turns"][1]["time"] == "00:12:03"
    (note,) = [n for n in notes if "P5.txt" in n]
    assert "P5.txt:4: 5 annotations labelled 'Observer note', 'note', 'Summary'" in note


def test_one_off_note_inside_a_turn_is_still_the_speaker_s_words(tmp_path: Path) -> None:
    """Said once, 'Note:' may be the participant's own phrasing; the one-off rule keeps it."""
    folder = _folder(
        tmp_path,
        {
            "P6.txt": (
                "Interviewer: How do you file mileage?\n"
                "P6: In the app.\n"
                "Note: it only works on wifi.\n"
                "Interviewer: And receipts?\n"
                "P6: By email.\n"
            )
        },
    )
    chunks, notes = _ingest(folder, tmp_path / "ws")
    assert chunks[1]["text"] == "In the app. Note: it only works on wifi."
    assert not any("annotation" in n for n in notes)


def test_annotation_and_one_off_words_in_the_other_label_languages(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "P8.txt": (
                "Interviewer: Wie reichen Sie Belege ein?\n"
                "Jonas: Über das Portal.\n"
                "Beispiel: letzte Woche drei Taxiquittungen.\n"
                "Anmerkung: teilt den Bildschirm\n"
                "Interviewer: Was ist schwierig?\n"
                "Jonas: Die Fotos werden abgelehnt.\n"
                "Anmerkung: zeigt die Ablehnung\n"
            ),
            "P9.txt": (
                "インタビュアー：経費精算はどうしていますか？\n"
                "田中：ポータルで毎週月曜日に出します。\n"
                "メモ：画面共有\n"
                "インタビュアー：何が大変ですか？\n"
                "田中：写真がよく却下されます。\n"
                "メモ：却下メールを見せる\n"
            ),
        },
    )
    chunks, notes = _ingest(folder, tmp_path / "ws")
    said = {}
    for c in chunks:
        said.setdefault(Path(c["source"]).name, []).append((c["speaker"], c["text"]))
    assert said["P8.txt"] == [
        ("Interviewer", "Wie reichen Sie Belege ein?"),
        # A one-off "Beispiel:" (example) stays in the turn, as "Example:" would.
        ("Jonas", "Über das Portal. Beispiel: letzte Woche drei Taxiquittungen."),
        ("Interviewer", "Was ist schwierig?"),
        ("Jonas", "Die Fotos werden abgelehnt."),
    ]
    assert [s for s, _ in said["P9.txt"]] == ["インタビュアー", "田中"] * 2
    assert not any("画面共有" in t for _, t in said["P9.txt"])
    assert any("P8.txt:4: 2 annotations labelled 'Anmerkung'" in n for n in notes)
    assert any("P9.txt:3: 2 annotations labelled 'メモ'" in n for n in notes)


def test_participant_comment_is_the_participant_s_words_not_an_annotation(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "U1.txt": (
                "Interviewer: Where did you get stuck?\n"
                "Participant comment: I can't find the submit button on the expense form.\n"
                "Interviewer: And then?\n"
                "Participant comment: I gave up and emailed the receipt to finance.\n"
            )
        },
    )
    chunks, notes = _ingest(folder, tmp_path / "ws")
    said = [c["text"] for c in chunks if c["role"] == "participant"]
    assert said == [
        "I can't find the submit button on the expense form.",
        "I gave up and emailed the receipt to finance.",
    ]
    assert not any("annotation" in n for n in notes)


def test_unlabelled_lines_under_a_note_are_counted_in_its_note(tmp_path: Path) -> None:
    text = P3.replace(
        "Note: participant shares screen\n",
        "Note: participant shares screen\nI mean, the portal then reads the total wrong.\n",
    )
    _, notes = _ingest(_folder(tmp_path, {"P3.txt": text}), tmp_path / "ws")
    (note,) = [n for n in notes if "P3.txt" in n]
    assert "2 annotations labelled 'Note' and 1 unlabelled line below them left out" in note


def test_a_file_of_annotations_only_is_skipped_saying_so(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "P3.txt": P3,
            "P4.txt": "Note: no-show, rescheduled\nNote: second attempt, no answer\n",
        },
    )
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(tmp_path / "ws"), "--embedder", "hash", "--json"]
    )
    assert result.exit_code == 2, result.stdout + result.stderr  # 2: some inputs were skipped
    skipped = json.loads(result.stdout)["skipped"]
    assert [Path(s["path"]).name for s in skipped] == ["P4.txt"]
    assert (
        "holds only researcher annotations (labelled 'Note') and no speaker turns"
        in (skipped[0]["reason"])
    )
