"""Readers, chunking invariants, idempotent re-ingest and Chroma persistence."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document as DocxDocument

from agent.chunking import Chunker
from agent.config import IngestSettings, load_settings
from agent.ingest import ingest
from agent.models import Chunk, Document
from agent.readers import read_file
from agent.workspace import Workspace, read_models

TXT = """Interviewer: Thanks for joining. What do you do?

Dana: I run finance at a 40 person company. The bank feed keeps disconnecting and I have to
reconnect it every single week, which is annoying.

Interviewer: How often does that happen?
Dana: Every Monday, like clockwork.
"""

MD = """---
participant_id: P05
user_id: U00042
role: controller
interviewer: Sam
---
# Interview notes

**Sam:** How did you find the product?

**Marcus:** A colleague recommended it at a conference.

**Marcus:** Exports to QuickBooks duplicate every expense, so I fix them by hand.
"""

VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
<v Interviewer>Tell me about approvals.

00:00:04.500 --> 00:00:09.000
<v Priya>Approving on my phone is slow.

00:00:09.000 --> 00:00:12.000
<v Priya>The app logs me out every time.
"""

SRT = """1
00:00:01,000 --> 00:00:03,000
Interviewer: What about receipts?

2
00:00:03,500 --> 00:00:06,000
Leo: The scanner misreads totals

3
00:00:06,000 --> 00:00:08,000
and I retype them myself.
"""

TICKETS = (
    "id,created_at,requester_id,subject,description,tags,priority,channel\n"
    '101,2026-03-01,U1,Bank sync,"Transactions stopped syncing, again.",bank,high,email\n'
    '102,2026-03-02,U2,Export,"CSV export has broken, quoted ""fields""\nover two lines",export,normal,web\n'
    "103,2026-03-03,U3,,,misc,low,chat\n"
)


def _settings(tmp_path: Path, **overrides: object):
    return load_settings(
        None, {"workspace": tmp_path / "ws", "embeddings.provider": "hash", **overrides}
    )


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "P01-dana.txt").write_text(TXT)
    (folder / "marcus.md").write_text(MD)
    (folder / "P03-priya.vtt").write_text(VTT)
    (folder / "P04-leo.srt").write_text(SRT)
    (folder / "tickets.csv").write_text(TICKETS)
    (folder / "users.csv").write_text("user_id,age,sessions_7d\nU1,33,4\n")
    doc = DocxDocument()
    for line in ("Interviewer: What slows you down?", "Ana: Month-end reports take ages to load."):
        doc.add_paragraph(line)
    doc.save(folder / "P06-ana.docx")
    return folder


def _read(path: Path) -> list[Document]:
    result = read_file(path, IngestSettings())
    assert not result.skipped, result.skipped
    return result.documents


def test_plain_text_turns_roles_and_wrapped_lines(tmp_path: Path) -> None:
    doc = _read(_write(tmp_path / "in") / "P01-dana.txt")[0]
    assert doc.participant_id == "P01" and doc.kind == "interview"
    assert [t.role for t in doc.turns] == [
        "interviewer",
        "participant",
        "interviewer",
        "participant",
    ]
    assert doc.turns[1].text.endswith(
        "I have to reconnect it every single week, which is annoying."
    )
    assert doc.turns[1].line == 3
    for turn in doc.turns:
        assert doc.text[turn.start : turn.start + len(turn.text)] == turn.text


def test_markdown_front_matter_and_named_interviewer(tmp_path: Path) -> None:
    doc = _read(_write(tmp_path / "in") / "marcus.md")[0]
    assert doc.participant_id == "P05" and doc.user_id == "U00042"
    assert doc.metadata["role"] == "controller"
    assert doc.turns[0].speaker == "Sam" and doc.turns[0].role == "interviewer"
    # Two consecutive Marcus paragraphs stay two turns in the document...
    assert [t.speaker for t in doc.turns] == ["Sam", "Marcus", "Marcus"]
    # ...but share one chunk, because a chunk holds one speaker's consecutive words.
    chunks = Chunker(IngestSettings()).chunk(doc)
    assert len(chunks) == 2 and "QuickBooks" in chunks[1].text and "colleague" in chunks[1].text


def test_vtt_voice_tags_merge_split_cues(tmp_path: Path) -> None:
    doc = _read(_write(tmp_path / "in") / "P03-priya.vtt")[0]
    assert [t.speaker for t in doc.turns] == ["Interviewer", "Priya"]
    assert doc.turns[1].text == "Approving on my phone is slow. The app logs me out every time."
    assert doc.turns[1].time == "00:00:04.500"


def test_srt_continuation_cue_belongs_to_previous_speaker(tmp_path: Path) -> None:
    doc = _read(_write(tmp_path / "in") / "P04-leo.srt")[0]
    assert [t.speaker for t in doc.turns] == ["Interviewer", "Leo"]
    assert doc.turns[1].text == "The scanner misreads totals and I retype them myself."


def test_docx_paragraph_speakers(tmp_path: Path) -> None:
    doc = _read(_write(tmp_path / "in") / "P06-ana.docx")[0]
    assert doc.participant_id == "P06"
    assert doc.turns[1].speaker == "Ana" and "ages to load" in doc.turns[1].text


def test_ticket_csv_columns_multiline_and_bad_row(tmp_path: Path) -> None:
    result = read_file(_write(tmp_path / "in") / "tickets.csv", IngestSettings())
    assert [d.ticket_id for d in result.documents] == ["101", "102"]
    assert (
        result.documents[1].turns[1].text
        == 'CSV export has broken, quoted "fields"\nover two lines'
    )
    assert (
        result.documents[0].user_id == "U1" and result.documents[0].metadata["priority"] == "high"
    )
    assert len(result.skipped) == 1 and result.skipped[0].line == 5
    assert "no subject or description" in result.skipped[0].reason


def test_ticket_column_mapping_override(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Ref,Who,Problem\nA-1,C9,Card declined at checkout\n")
    result = read_file(
        path, IngestSettings(ticket_columns={"id": "Ref", "customer": "Who", "text": "Problem"})
    )
    assert result.documents[0].ticket_id == "A-1" and result.documents[0].user_id == "C9"


def test_jsonl_tickets_and_json_transcript(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text(
        json.dumps({"id": 7, "body": "Login loops forever", "customer_id": "C1"}) + "\n{bad\n"
    )
    (tmp_path / "i.json").write_text(
        json.dumps(
            {
                "participant_id": "P9",
                "turns": [
                    {"speaker": "Interviewer", "text": "Hi"},
                    {"speaker": "Kim", "text": "Setup was slow."},
                ],
            }
        )
    )
    bad = read_file(tmp_path / "t.jsonl", IngestSettings())
    assert bad.skipped and bad.skipped[0].line == 2 and "invalid JSON" in bad.skipped[0].reason
    doc = read_file(tmp_path / "i.json", IngestSettings()).documents[0]
    assert doc.participant_id == "P9" and doc.turns[1].role == "participant"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blob.txt", b"\x00\x01\x02garbage", "binary"),
        ("latin.txt", "Interviewer: caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("broken.vtt", b"00:00 nothing here", "WEBVTT"),
        ("nospeakers.md", b"just some notes without any speaker labels", "no speaker turns"),
        ("bad.docx", b"PK\x03\x04 not really a zip", "docx"),
        ("front.md", b"---\n: [unclosed\n---\nA: b\n", "front matter"),
    ],
)
def test_bad_inputs_are_skipped_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = read_file(path, IngestSettings())
    assert not result.documents
    assert len(result.skipped) == 1 and reason in result.skipped[0].reason
    assert result.skipped[0].path == str(path)


def test_huge_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("A: " + "word " * 300_000)
    result = read_file(path, IngestSettings(max_file_mb=1))
    assert "over the 1 MB limit" in result.skipped[0].reason


def test_chunks_cover_every_turn_and_hold_the_budget() -> None:
    sentences = [
        f"Sentence number {i} says the export broke and we retyped row {i} by hand."
        for i in range(120)
    ]
    long_turn = " ".join(sentences)
    doc = read_file_text("Interviewer: Go on.\n\nDana: " + long_turn + "\n\nInterviewer: Thanks.\n")
    settings = IngestSettings(max_tokens=80, overlap_tokens=20)
    chunker = Chunker(settings)
    chunks = chunker.chunk(doc)
    assert all(c.token_count <= settings.max_tokens for c in chunks)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
    # No text lost: every character of every turn lies inside some chunk of the same speaker.
    for turn in doc.turns:
        covered = set()
        for c in chunks:
            if c.speaker == turn.speaker:
                covered.update(
                    range(max(c.start, turn.start), min(c.end, turn.start + len(turn.text)))
                )
        assert covered == set(range(turn.start, turn.start + len(turn.text)))
    dana = [c for c in chunks if c.speaker == "Dana"]
    assert len(dana) > 5
    assert all(a.end > b.start for a, b in itertools.pairwise(dana)), "windows overlap"


def test_a_sentence_longer_than_the_budget_is_cut_by_words() -> None:
    doc = read_file_text("Dana: " + " ".join(["reconciliation"] * 400))
    chunks = Chunker(IngestSettings(max_tokens=50, overlap_tokens=0)).chunk(doc)
    assert len(chunks) > 5 and all(c.token_count <= 50 for c in chunks)


def read_file_text(text: str) -> Document:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.txt"
        path.write_text(text)
        return read_file(path, IngestSettings()).documents[0]


def test_ingest_is_idempotent_and_replaces_changed_files(tmp_path: Path) -> None:
    folder = _write(tmp_path / "in")
    settings = _settings(tmp_path)
    ws = Workspace(settings.workspace)
    first = ingest([folder], settings, ws)
    assert first.counts["interviews"] == 5 and first.counts["tickets"] == 2
    assert first.counts["chunks_embedded"] == first.counts["chunks"] > 0
    assert first.counts["user_tables"] == 1 and not first.ok  # one bad ticket row
    second = ingest([folder], settings, ws)
    # Same bytes, not parsed again: the six evidence files and the user table.
    assert second.counts["chunks_embedded"] == 0 and second.counts["files_unchanged"] == 7
    assert second.counts["chunks"] == first.counts["chunks"]
    assert len(second.skipped) == 1, "skipped rows are reported again on re-ingest"
    (folder / "P01-dana.txt").write_text(TXT.replace("Every Monday", "Every Friday"))
    third = ingest([folder], settings, ws)
    assert third.counts["chunks_embedded"] == 1 and third.counts["chunks_deleted"] == 1
    chunks = read_models(ws.chunks, Chunk)
    assert any("Every Friday" in c.text for c in chunks) and not any(
        "Every Monday" in c.text for c in chunks
    )


def test_chroma_persists_across_processes(tmp_path: Path) -> None:
    folder = _write(tmp_path / "in")
    settings = _settings(tmp_path)
    ingest([folder], settings, Workspace(settings.workspace))
    code = (
        "from agent.config import load_settings; from agent.search import search; from agent.workspace import Workspace;"
        f"s = load_settings(None, {{'workspace': r'{settings.workspace}', 'embeddings.provider': 'hash'}});"
        "hits = search('bank feed keeps disconnecting', s, Workspace(s.workspace), n=2, kind='interview');"
        "print(hits[0].participant_id, hits[0].speaker)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert out.stdout.split() == ["P01", "Dana"]
