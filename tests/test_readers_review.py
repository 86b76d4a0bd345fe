"""New-user review of the input readers: semicolon CSVs, id column names, per-file column
mappings, rows lost to an unbalanced quote, and interviewer labels such as "Sam (UXR):"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docx import Document as DocxDocument

from agent.config import IngestSettings, load_settings
from agent.ingest import ingest
from agent.readers import read_file
from agent.readers.tables import detect_delimiter
from agent.workspace import Workspace

# European Excel export: BOM, semicolons, CRLF, quoted fields with ';', ',', '"' and a newline,
# a blank line and an all-empty row (as in the reviewer's tickets-helpdesk.csv).
HELPDESK = (
    "\ufeffTicket #;Created;Customer ID;Subject;Message;Tags\r\n"
    '1001;2026-02-01;M-0001;Sync failed;"The supplier sync failed again; order 5521 never '
    'reached the supplier, and there was no error shown.";sync,orders\r\n'
    '1002;2026-02-02;M-0002;"Crash, scanning";"App crashes when scanning a long list.\n'
    'It happened three times today, I lost my count each time.";scanner\r\n'
    "\r\n"
    '1003;2026-02-03;M-0003;Reorder qty;"Reorder quantity is too low for seasonal items.";reorder'
    "\r\n"
    '1006;2026-02-06;M-0005;"Report ""stock value"" slow";"The stock value report times out.";'
    "reports\r\n"
    ";;;;;\r\n"
    '1007;2026-02-07;M-0006;Sync pending;"Orders stuck in pending for 3 days.";sync\r\n'
)
# The reviewer's tickets-old.csv: line 3 opens a quote it never closes.
OLD = (
    "id,created_at,customer_id,subject,description\n"
    '2001,2026-01-10,M-0010,Login,"Cannot log in after password reset."\n'
    '2002,2026-01-11,M-0011,Sync,"Supplier sync shows success but the order never arrives\n'
    '2003,2026-01-12,M-0012,Reorder,"The reorder list forgets my manual edits."\n'
    '2004,2026-01-13,M-0013,Labels,"Label printing cuts off the price.",extra,fields,here\n'
    '2005,2026-01-14,M-0014,Export,"Export mixes up the columns."\n'
)
GUS = """# Interview with Gus (hardware store), 2026-03-10

Sam (UXR): How do reports work for you?

Gus: Honestly the reports are so slow I stopped using them.

Sam: What do you do instead?

Gus: I export everything to Excel and fix the columns by hand.
"""
QA = """Q: How long have you used Shelfwise?
A: About two years. The scanner is great but the app crashes when the delivery is big.
Q: What happens then?
A: I lose the whole count and have to start again.
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _settings(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_settings(
        None, {"workspace": tmp_path / "ws", "embeddings.provider": "hash", **overrides}
    )


def _roles(path: Path, settings: IngestSettings | None = None) -> list[tuple[str, str]]:
    result = read_file(path, settings or IngestSettings())
    assert not result.skipped, result.skipped
    return [(t.speaker, t.role) for d in result.documents for t in d.turns]


# --------------------------------------------------------------------------- 1. delimiters


def test_semicolon_excel_export_is_read_as_tickets(tmp_path: Path) -> None:
    result = read_file(_write(tmp_path, "tickets-helpdesk.csv", HELPDESK), IngestSettings())
    docs = {d.ticket_id: d for d in result.documents}
    assert sorted(docs) == ["1001", "1002", "1003", "1006", "1007"]
    assert docs["1001"].user_id == "M-0001"
    assert docs["1001"].metadata == {"created_at": "2026-02-01", "tags": "sync,orders"}
    assert docs["1001"].turns[1].text.startswith("The supplier sync failed again; order 5521")
    assert docs["1002"].turns[0].text == "Crash, scanning"
    assert (
        docs["1002"]
        .turns[1]
        .text.endswith("long list.\nIt happened three times today, I lost my count each time.")
    )
    assert docs["1006"].turns[0].text == 'Report "stock value" slow'
    assert docs["1007"].turns[0].line == 9
    # Only the all-empty row is left out, saying where it is.
    assert [(s.line, s.reason) for s in result.skipped] == [
        (8, "ticket has no subject or description")
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("id,customer_id,description\n1,U1,x\n", ","),
        ("id;customer_id;description\n1;U1;x\n", ";"),
        ("id\tcustomer_id\tdescription\n1\tU1\tx\n", "\t"),
        ("id|customer_id|description\n1|U1|x\n", "|"),
        # Delimiters inside a quoted header name do not count.
        ('"Name, first; last";age\nAda;3\n', ";"),
        ('"a;b;c",d,e\n1,2,3\n', ","),
        # Leading blank lines are skipped, as the reader skips them.
        ("\r\n\nid;text\n1;x\n", ";"),
        ("description\nonly one column, with commas\n", ","),
    ],
)
def test_delimiter_is_detected_from_the_header(header: str, expected: str) -> None:
    assert detect_delimiter(header) == expected


def test_a_delimiter_tie_is_settled_by_the_rows() -> None:
    # One comma and one semicolon in the header: the rows agree with the semicolon.
    text = "id;name,first;description\n1;Ada,L;slow\n2;Bo,M;fast\n"
    assert detect_delimiter(text) == ";"
    text = "id,name;first,description\n1,Ada;L,slow\n2,Bo;M,fast\n"
    assert detect_delimiter(text) == ","


def test_pipe_csv_and_tsv_with_commas(tmp_path: Path) -> None:
    pipe = _write(tmp_path, "t.csv", "id|customer_id|description\n7|U1|Export fails, app freezes\n")
    assert read_file(pipe, IngestSettings()).documents[0].turns[0].text == (
        "Export fails, app freezes"
    )
    # A .tsv stays tab-separated even when its header has more semicolons than tabs.
    tsv = _write(tmp_path, "t.tsv", "id\tnotes;a;b;c\tdescription\n8\tx\tSync; then crash\n")
    doc = read_file(tsv, IngestSettings()).documents[0]
    assert doc.ticket_id == "8" and doc.turns[0].text == "Sync; then crash"


# --------------------------------------------------------------------------- 2. id columns


@pytest.mark.parametrize(
    "id_header",
    [
        "Ticket #",
        "Ticket No",
        "Ticket No.",
        "Ticket Number",
        "Case #",
        "Case Number",
        "Request ID",
        "Issue Key",
        "#",
        "TicketID",
        "ticket-id",
    ],
)
def test_common_id_headers_are_recognised(tmp_path: Path, id_header: str) -> None:
    path = _write(
        tmp_path, "t.csv", f'"{id_header}",Customer ID,Message\nT-1,U1,Login loops\nT-2,U2,Slow\n'
    )
    result = read_file(path, IngestSettings())
    assert not result.skipped, result.skipped
    assert [(d.ticket_id, d.user_id) for d in result.documents] == [("T-1", "U1"), ("T-2", "U2")]


def test_an_exact_id_name_beats_a_row_counter(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", "#,Ticket ID,Message\n1,ZD-77,Slow\n2,ZD-78,Crash\n")
    result = read_file(path, IngestSettings())
    assert [d.ticket_id for d in result.documents] == ["ZD-77", "ZD-78"]


def test_no_id_column_is_one_message_for_the_file(tmp_path: Path) -> None:
    rows = "".join(f"2026-01-0{n},U{n},Problem number {n}\n" for n in range(1, 6))
    path = _write(tmp_path, "tickets.csv", "Created,Customer,Message\n" + rows)
    result = read_file(path, IngestSettings())
    assert not result.documents
    assert len(result.skipped) == 1
    skipped = result.skipped[0]
    assert skipped.path == str(path) and skipped.line == 1
    assert "no ticket id column" in skipped.reason
    assert "columns: Created, Customer, Message" in skipped.reason
    assert "ingest.ticket_columns" in skipped.reason
    # The setting it names works.
    fixed = read_file(path, IngestSettings(ticket_columns={"id": "Created"}))
    assert len(fixed.documents) == 5 and not fixed.skipped


def test_jsonl_without_an_id_field_is_one_message(tmp_path: Path) -> None:
    lines = [json.dumps({"body": f"Problem {n}", "customer_id": f"U{n}"}) for n in range(3)]
    result = read_file(_write(tmp_path, "t.jsonl", "\n".join(lines) + "\n"), IngestSettings())
    assert not result.documents and len(result.skipped) == 1
    assert "no ticket id column" in result.skipped[0].reason
    assert "columns: body, customer_id" in result.skipped[0].reason


def test_an_empty_id_in_one_row_is_still_reported_by_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", "Ticket #,Message\n1,Slow\n,No id here\n3,Crash\n")
    result = read_file(path, IngestSettings())
    assert [d.ticket_id for d in result.documents] == ["1", "3"]
    assert [(s.line, s.reason) for s in result.skipped] == [(3, "ticket has no id")]


# --------------------------------------------------------------------------- 3. column mappings


def test_a_mapping_missing_from_one_export_falls_back_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder, "tickets-helpdesk.csv", HELPDESK)
    _write(folder, "tickets-new.csv", "Ref,Ticket #,Message\nR1,5001,Crash on scan\n")
    _write(folder, "tickets-old.jsonl", json.dumps({"id": 9, "body": "Login loops"}) + "\n")
    settings = _settings(tmp_path, **{"ingest.ticket_columns": {"id": "Ticket #"}})
    summary = ingest([folder], settings, Workspace(settings.workspace))
    # A file read in full is not "skipped": the fallback is a note. (The helpdesk export's
    # empty ";;;;;" row is the one skipped row.)
    assert [(Path(s.path).name, s.line) for s in summary.skipped] == [("tickets-helpdesk.csv", 8)]
    notes = [n for n in summary.notes if "is not a column of this file" in n]
    assert len(notes) == 1 and notes[0].startswith(str(folder / "tickets-old.jsonl"))
    assert "ingest.ticket_columns id = 'Ticket #' is not a column of this file" in notes[0]
    assert "auto-detected id = 'id' was used instead" in notes[0]
    # Every file's tickets are read: 5 + 1 + 1, and the configured column won where it exists.
    assert summary.counts["tickets"] == 7

    old_csv = _write(tmp_path, "tickets-old.csv", "id,description\n2001,Cannot log in\n")
    result = read_file(old_csv, settings.ingest)
    assert [d.ticket_id for d in result.documents] == ["2001"] and not result.skipped
    assert len(result.notes) == 1 and "id = 'id' was used" in result.notes[0]
    new = read_file(folder / "tickets-new.csv", settings.ingest)
    assert [d.ticket_id for d in new.documents] == ["5001"] and not new.skipped and not new.notes


def test_a_missing_mapping_with_nothing_detected_is_still_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", "Created,Message\n2026-01-01,Slow\n")
    result = read_file(path, IngestSettings(ticket_columns={"id": "Ticket #"}))
    assert not result.documents and len(result.skipped) == 1
    assert result.skipped[0].reason == (
        "ingest.ticket_columns id = 'Ticket #': no such column (columns: Created, Message)"
    )
    # No text column at all: not a ticket export, and the mapping is named.
    path = _write(tmp_path, "t.csv", "id,Created\n1,2026-01-01\n")
    result = read_file(path, IngestSettings(ticket_columns={"text": "Problem"}))
    assert not result.documents and "not a ticket export" in result.skipped[0].reason
    assert "text = 'Problem' is not one of them" in result.skipped[0].reason


def test_the_mapping_warning_is_reported_again_for_an_unchanged_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder, "tickets-old.csv", "id,description\n2001,Cannot log in\n")
    settings = _settings(tmp_path, **{"ingest.ticket_columns": {"id": "Ticket #"}})
    ws = Workspace(settings.workspace)
    ingest([folder], settings, ws)
    again = ingest([folder], settings, ws)
    assert again.counts["files_unchanged"] == 1 and again.counts["tickets"] == 1
    assert not again.skipped
    assert sum("is not a column of this file" in n for n in again.notes) == 1


# --------------------------------------------------------------------------- 4. unbalanced quote


def test_rows_swallowed_by_an_unbalanced_quote_are_named(tmp_path: Path) -> None:
    result = read_file(_write(tmp_path, "tickets-old.csv", OLD), IngestSettings())
    assert [d.ticket_id for d in result.documents] == ["2001", "2005"]
    assert [(s.line, s.reason) for s in result.skipped] == [
        (
            3,
            "a quoted field runs into the next row (unbalanced quote?): lines 3-4 read as one "
            "record, so the row on line 4 is skipped too",
        ),
        (5, "row has 8 fields, header has 5"),
    ]


def test_every_swallowed_row_is_listed(tmp_path: Path) -> None:
    text = (
        "id,customer_id,subject,description,status\n"
        '1001,U1,Export,"The CSV export is broken,open\n'
        "1002,U2,Sync,Bank sync fails every day,open\n"
        '1003,U3,Login,"Login loops",open\n'
        '1004,U4,Cards,"Card declined, twice",open\n'
    )
    result = read_file(_write(tmp_path, "t.csv", text), IngestSettings())
    assert [d.ticket_id for d in result.documents] == ["1004"]
    assert len(result.skipped) == 1 and result.skipped[0].line == 2
    assert result.skipped[0].reason.endswith(
        "lines 2-4 read as one record, so the rows on lines 3, 4 are skipped too"
    )


def test_semicolon_export_with_an_unbalanced_quote(tmp_path: Path) -> None:
    text = (
        "Ticket #;Customer ID;Message\r\n"
        '1;U1;"Sync fails\r\n'
        '2;U2;"Export; broken"\r\n'
        "3;U3;Crash\r\n"
    )
    result = read_file(_write(tmp_path, "t.csv", text), IngestSettings())
    assert [d.ticket_id for d in result.documents] == ["3"]
    assert [s.line for s in result.skipped] == [2]
    assert "lines 2-3" in result.skipped[0].reason and "line 3 is skipped" in (
        result.skipped[0].reason
    )


# --------------------------------------------------------------------------- 5. interviewers


def test_a_role_marker_after_the_name_makes_the_interviewer(tmp_path: Path) -> None:
    path = _write(tmp_path, "P7-gus.md", GUS)
    assert _roles(path) == [
        ("Sam", "interviewer"),
        ("Gus", "participant"),
        # Marked once, the interviewer throughout.
        ("Sam", "interviewer"),
        ("Gus", "participant"),
    ]


@pytest.mark.parametrize(
    "label",
    [
        "Sam (UXR)",
        "Sam (Interviewer)",
        "Sam (moderator)",
        "Sam (Researcher)",
        "Sam (Facilitator)",
        "Sam (Research)",
        "Sam (UX Researcher)",
        "Sam - Interviewer",
        "Sam – Moderator",
        "Sam [Interviewer]",
        "**Sam (UXR):**",
    ],
)
def test_role_marker_variants(tmp_path: Path, label: str) -> None:
    colon = "" if label.endswith(":**") else ":"
    text = f"{label}{colon} What slows you down?\nDana: The bank feed disconnects.\n"
    assert _roles(_write(tmp_path, "P1.txt", text)) == [
        ("Sam", "interviewer"),
        ("Dana", "participant"),
    ]


def test_other_tags_and_names_keep_their_roles(tmp_path: Path) -> None:
    text = (
        "Interviewer (Sam): What slows you down?\n"
        "Dana (P01): The bank feed disconnects.\n"
        "Lee (research participant): Same for me.\n"
        "Note - see below: not a speaker turn\n"
        "See [1]: the footnote, not a speaker either\n"
    )
    assert _roles(_write(tmp_path, "P1.txt", text)) == [
        ("Interviewer", "interviewer"),
        ("Dana", "participant"),
        ("Lee", "participant"),
    ]


def test_question_and_answer_labels(tmp_path: Path) -> None:
    doc = read_file(_write(tmp_path, "P8-qa.txt", QA), IngestSettings()).documents[0]
    assert [(t.speaker, t.role) for t in doc.turns] == [
        ("Q", "interviewer"),
        ("A", "participant"),
        ("Q", "interviewer"),
        ("A", "participant"),
    ]
    assert doc.participant_id == "P8"
    long_form = "Question: How long?\nAnswer: Two years.\n"
    assert _roles(_write(tmp_path, "P9.txt", long_form)) == [
        ("Question", "interviewer"),
        ("Answer", "participant"),
    ]


def test_role_markers_in_docx_vtt_and_json(tmp_path: Path) -> None:
    doc = DocxDocument()
    for line in ("Sam [Interviewer]: What frustrates you?", "Femi: The supplier sync."):
        doc.add_paragraph(line)
    doc.save(tmp_path / "P6.docx")
    assert _roles(tmp_path / "P6.docx") == [("Sam", "interviewer"), ("Femi", "participant")]
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Sam (UXR)>How is month end?\n\n"
        "00:00:04.000 --> 00:00:06.000\n<v Priya (P03)>Slow, very slow.\n"
    )
    assert _roles(_write(tmp_path, "P3.vtt", vtt)) == [
        ("Sam", "interviewer"),
        ("Priya (P03)", "participant"),
    ]
    record = {
        "participant_id": "P5",
        "turns": [
            {"speaker": "Sam - Moderator", "text": "Why?"},
            {"speaker": "Erin", "text": "Because the sync fails."},
        ],
    }
    path = _write(tmp_path, "p5.json", json.dumps(record))
    assert _roles(path) == [("Sam", "interviewer"), ("Erin", "participant")]


def test_a_metrics_table_with_its_own_id_name_is_a_user_table(tmp_path: Path) -> None:
    rows = "".join(f"M-{i:04d},basic,{i},{i * 3},{i % 7}\n" for i in range(12))
    path = _write(tmp_path, "members.csv", "member,plan,sessions_30d,events_30d,idle_days\n" + rows)
    result = read_file(path, IngestSettings())
    assert result.user_table and not result.skipped
    # Repeated first-column values are no id: not taken for a user table.
    dup = _write(tmp_path, "daily.csv", "day,visits,signups\nmon,3,1\nmon,4,2\ntue,5,1\n")
    assert not read_file(dup, IngestSettings()).user_table
