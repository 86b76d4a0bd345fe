"""Record inputs that are partly broken or loosely shaped: a bad JSONL line, HTML in a CSV
export, a Zendesk ticket without replies, a roster in another spelling, a run with nothing read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli import app


def _ingest(folder: Path, ws: Path) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json"]
    )
    assert "Traceback" not in result.stderr, result.stderr
    docs = [
        json.loads(line)
        for line in (ws / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return result.exit_code, json.loads(result.stdout), docs


def test_a_malformed_jsonl_line_skips_that_line_only(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "tickets.jsonl").write_text(
        '{"id": "j1", "subject": "Crash", "body": "App crashes on upload"}\n'
        '{"id":"j2","subject":"Broken", "body": "truncated line\n'
        '{"id": "j3", "subject": "Slow", "body": "Dashboard takes a minute"}\n',
        encoding="utf-8",
    )
    (folder / "batch.jsonl").write_text(
        '{"participant_id":"P41","turns":[{"speaker":"Interviewer","text":"Hi?"},'
        '{"speaker":"Cy","text":"The export is broken."}]}\n'
        '{"participant_id":"P42","turns":[{"speaker":"Cy"}]}\n'
        '{"participant_id":"P43","turns":[{"speaker":"Interviewer","text":"Hi?"},'
        '{"speaker":"Ed","text":"Cards declined abroad."}\n',
        encoding="utf-8",
    )
    code, summary, docs = _ingest(folder, tmp_path / "ws")
    assert code == 2
    skipped = sorted(
        (Path(s["path"]).name, s["line"], s["reason"].split(":")[0]) for s in summary["skipped"]
    )
    assert skipped == [
        ("batch.jsonl", 2, "turn 0 needs 'speaker' and 'text'"),
        ("batch.jsonl", 3, "invalid JSON"),
        ("tickets.jsonl", 2, "invalid JSON"),
    ]
    assert sorted(d["ticket_id"] or d["participant_id"] for d in docs) == ["P41", "j1", "j3"]


def test_html_in_a_csv_ticket_body_is_stripped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "freshdesk.csv").write_text(
        "Ticket ID,Subject,Description\n"
        "101,Bank sync broken,<p>The bank feed <b>stopped</b> importing.</p><br>Please fix"
        "&nbsp;ASAP &amp; call me.\n"
        '102,Export,"Names like Smith, Jones & Co <and> more break the export."\n',
        encoding="utf-8",
    )
    code, _, docs = _ingest(folder, tmp_path / "ws")
    assert code == 0
    bodies = {d["ticket_id"]: d["turns"][1]["text"] for d in docs}
    assert bodies == {
        "101": "The bank feed stopped importing. Please fix ASAP & call me.",
        # A bare '&' or '<' a customer typed is not markup.
        "102": "Names like Smith, Jones & Co <and> more break the export.",
    }


def test_a_zendesk_ticket_without_comments_keeps_the_file_a_zendesk_export(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    tickets = [
        {
            "id": 1,
            "subject": "Card declined",
            "description": "My card was declined in Lisbon.",
            "requester_id": 11,
            "comments": [
                {"author_id": 11, "public": True, "body": "My card was declined in Lisbon."},
                {"author_id": 99, "public": True, "body": "Can you share the last 4 digits?"},
                {"author_id": 99, "public": False, "body": "Internal: legacy plan"},
                {"author_id": 11, "public": True, "body": "It's 1234. Still failing."},
            ],
        },
        {"id": 2, "subject": "Reports", "description": "Reports time out.", "requester_id": 12},
    ]
    (folder / "zendesk.json").write_text(json.dumps({"tickets": tickets}), encoding="utf-8")
    code, summary, docs = _ingest(folder, tmp_path / "ws")
    assert code == 0
    assert any("read as a Zendesk export: 2 record(s)" in n for n in summary["notes"])
    said = {d["ticket_id"]: [(t["role"], t["text"]) for t in d["turns"]] for d in docs}
    assert said["1"] == [
        ("customer", "Card declined"),
        ("customer", "My card was declined in Lisbon."),
        ("agent", "Can you share the last 4 digits?"),
        ("customer", "It's 1234. Still failing."),
    ]
    assert said["2"] == [("customer", "Reports"), ("customer", "Reports time out.")]


def test_run_with_every_input_skipped_names_each_file_and_reason(tmp_path: Path) -> None:
    folder = tmp_path / "js"
    folder.mkdir()
    (folder / "P40.json").write_text(
        '{"participant_id": "P40", "turns": [{"speaker": "Dana"}]}', encoding="utf-8"
    )
    (folder / "batch.jsonl").write_text('{"participant_id": "P43", "turns": [\n', encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", str(folder), "-w", str(tmp_path / "ws"), "--llm", "offline"]
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "no input could be read" in error and "no chunks yet" not in result.stderr
    assert "P40.json (turn 0 needs 'speaker' and 'text')" in error
    assert "batch.jsonl:1 (invalid JSON" in error


def test_roster_ids_match_in_any_case_and_unmatched_rows_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Participants.csv").write_text(
        "\ufeffParticipant ID,Name,Role,Segment\np09,Tomás Ruiz,field sales,enterprise\n"
        "P03,Ana,AP clerk,smb\nP99,Ghost,cfo,enterprise\n",
        encoding="utf-8",
    )
    talk = "Interviewer: What is hard?\n{0}: The receipts.\nInterviewer: Why?\n{0}: OCR.\n"
    (folder / "P09 interview.txt").write_text(talk.format("Tomás Ruiz"), encoding="utf-8")
    (folder / "otter_p03.txt").write_text(talk.format("Ana"), encoding="utf-8")
    (folder / "extra.txt").write_text(talk.format("Lucía"), encoding="utf-8")
    code, summary, docs = _ingest(folder, tmp_path / "ws")
    assert code == 0, summary
    meta = {Path(d["source"]).name: (d["participant_id"], d["metadata"]) for d in docs}
    assert meta["P09 interview.txt"] == (
        "P09",
        {"participant_id": "P09", "role": "field sales", "segment": "enterprise"},
    )
    assert meta["otter_p03.txt"][0] == "P03" and meta["otter_p03.txt"][1]["role"] == "AP clerk"
    assert meta["extra.txt"] == ("extra", {})
    notes = [n for n in summary["notes"] if n.startswith("participant roster:")]
    assert len(notes) == 1
    assert "roster rows with no transcript: P99;" in notes[0]
    assert "transcripts with no roster row: extra.txt" in notes[0]
