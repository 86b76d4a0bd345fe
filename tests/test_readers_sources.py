"""Research material as researchers and support teams have it: each export read from a sample
file made for these tests (fictional people), interviewers found, PDFs cleaned of page furniture."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests._pdf import Text, make_pdf, transcript_pages

SOURCES = Path(__file__).parent / "fixtures" / "sources"


def _ingest(folder: Path, ws: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json", *extra]
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, json.loads(result.stdout)


def _documents(ws: Path) -> dict[str, list[dict[str, Any]]]:
    """File name -> its documents, as ingest wrote them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in (ws / "documents.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        out.setdefault(Path(doc["source"]).name, []).append(doc)
    return out


def _said(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["speaker"], t["role"], t["text"]) for t in doc["turns"]]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, dict]]:
    ws = tmp_path_factory.mktemp("sources") / "ws"
    code, summary = _ingest(SOURCES, ws)
    # The one Dovetail highlight without a participant is the only thing not read.
    assert code == 2, summary
    assert [(Path(s["path"]).name, s["line"]) for s in summary["skipped"]] == [
        ("dovetail-highlights.csv", 6)
    ]
    yield summary, _documents(ws)


def test_every_sample_export_is_read(sources: tuple[dict, dict]) -> None:
    summary, docs = sources
    assert set(docs) == {p.name for p in SOURCES.iterdir()}
    assert summary["counts"]["interviews"] == 10 and summary["counts"]["tickets"] == 16


def test_zoom_vtt_keeps_display_names_and_merges_split_cues(sources: tuple[dict, dict]) -> None:
    (doc,) = sources[1]["zoom-session-04.vtt"]
    said = _said(doc)
    assert said[0][:2] == ("dan.okafor", "interviewer")
    assert said[3] == (
        "Ruth Abernathy",
        "participant",
        "Last Thursday. I had forty-two pending and the mobile app kept logging me out after "
        "every third approval. So I gave up and did them on the laptop that evening.",
    )
    assert doc["turns"][3]["time"] == "00:00:16.250" and doc["turns"][3]["line"] == 17


def test_teams_vtt_voice_tags(sources: tuple[dict, dict]) -> None:
    (doc,) = sources[1]["teams-session-05.vtt"]
    assert [s for s, _, _ in _said(doc)] == ["Dan Okafor", "Marisol Quintero"] * 3
    assert _said(doc)[1][2].endswith("the bank feed has usually disconnected over the weekend.")
    assert "</v>" not in json.dumps(doc)


def test_meet_caption_and_transcript_exports(sources: tuple[dict, dict]) -> None:
    docs = sources[1]
    (vtt,) = docs["meet-session-06.vtt"]
    assert [r for _, r, _ in _said(vtt)] == ["interviewer", "participant"] * 2
    (txt,) = docs["meet-session-07.txt"]
    # Title, attendee list and the "Transcript" heading are not speech; timestamps time turns.
    assert txt["metadata"]["title"] == "Expense tool interviews - Session 7 - Transcript"
    assert [(t["speaker"], t["time"]) for t in txt["turns"]] == [
        ("Dan Okafor", "00:00:00"),
        ("Priyanka Menon", "00:00:07"),
        ("Dan Okafor", "00:00:21"),
        ("Priyanka Menon", "00:00:25"),
    ]
    assert "00:00:21" not in " ".join(t["text"] for t in txt["turns"])


def test_otter_and_rev_heading_lines(sources: tuple[dict, dict]) -> None:
    docs = sources[1]
    (otter,) = docs["otter-session-08.txt"]
    assert [(t["speaker"], t["role"], t["time"]) for t in otter["turns"][:2]] == [
        ("Speaker 1", "interviewer", "0:03"),
        ("Speaker 2", "participant", "0:09"),
    ]
    # Otter's "Transcribed by" footer is not the participant's last words.
    assert otter["turns"][-1]["text"].endswith("waited two weeks to get paid.")
    (rev,) = docs["rev-session-09.txt"]
    assert [(t["speaker"], t["time"]) for t in rev["turns"][:2]] == [
        ("Dan Okafor", "00:00"),
        ("Tomasz Wierzbicki", "00:06"),
    ]
    assert rev["turns"][-1]["text"] == "Maybe thirty. It's tedious and I get them wrong."


def test_highlight_exports_become_quotable_participant_words(sources: tuple[dict, dict]) -> None:
    docs = sources[1]
    dovetail = {d["participant_id"]: d for d in docs["dovetail-highlights.csv"]}
    assert set(dovetail) == {"Marisol Quintero", "Wen Zhao"}
    marisol = dovetail["Marisol Quintero"]
    assert (
        marisol["kind"] == "interview" and marisol["metadata"]["session"] == "Interview - Marisol Q"
    )
    assert [(t["role"], t["line"]) for t in marisol["turns"]] == [
        ("participant", 2),
        ("participant", 3),
    ]
    condens = {d["participant_id"]: d for d in docs["condens-highlights.csv"]}
    assert (
        condens["P08"]["turns"][0]["text"]
        == "Last month a contractor waited two weeks to get paid."
    )


def test_help_desk_threads_keep_agents_as_context(sources: tuple[dict, dict]) -> None:
    docs = sources[1]
    zendesk = {d["ticket_id"]: d for d in docs["zendesk-tickets.json"]}
    bank = zendesk["48211"]
    assert [r for _, r, _ in _said(bank)] == ["customer", "customer", "agent", "customer"]
    assert (
        _said(bank)[3][2]
        == "Reconnecting worked, but I have to do it every Monday. That is not a fix."
    )
    assert (
        bank["participant_id"] == "90210011" and bank["metadata"]["tags"] == "bank_sync, enterprise"
    )
    everything = json.dumps(docs)
    # Internal notes never enter the corpus, in any of the four help desks.
    for note in ("INC-2291", "Third complaint this week", "Escalating to engineering", "MOB-77"):
        assert note not in everything
    intercom = {d["ticket_id"]: d for d in docs["intercom-conversations.json"]}
    assert _said(intercom["215468212"])[2] == (
        "customer",
        "customer",
        "The digest only covers my own expenses, not the ones I approve & that's the problem.",
    )
    assert intercom["215468212"]["participant_id"] == "U20417"
    # An outbound message: the agent's opening (subject too) is context, the reply is the customer's.
    outbound = _said(intercom["215468299"])
    assert [r for _, r, _ in outbound] == ["agent", "customer"]
    assert outbound[0][2].startswith("How is your trial going?")
    (fresh,) = docs["freshdesk-tickets.json"]
    assert [r for _, r, _ in _said(fresh)] == ["customer", "customer", "agent", "customer"]
    assert fresh["metadata"]["priority"] == "high" and fresh["metadata"]["status"] == "open"
    (jira,) = docs["jsm-requests.json"]
    assert _said(jira)[1][2] == (
        "Approving expenses on the phone logs me out after every few approvals. "
        "I end up finishing them on my laptop."
    )
    assert [r for _, r, _ in _said(jira)] == ["customer", "customer", "agent", "customer"]
    assert jira["metadata"]["product"] == "Tallyflow Mobile"


def test_jira_and_freshdesk_csv_exports(sources: tuple[dict, dict]) -> None:
    docs = sources[1]
    jira = {d["ticket_id"]: d for d in docs["jsm-requests.csv"]}
    assert [r for _, r, _ in _said(jira["SUP-482"])] == [
        "customer",
        "customer",
        "agent",
        "customer",
    ]
    assert jira["SUP-482"]["metadata"]["tags"] == "mobile, approvals"  # repeated Labels columns
    assert jira["SUP-490"]["participant_id"] == "qm:0c3f9a11-5e2b-4c7d-8a90-11b2c3d4e5f6:1"
    fresh = {d["ticket_id"]: d for d in docs["freshdesk-tickets.csv"]}
    assert fresh["3112"]["participant_id"] == "77000188"
    assert fresh["3112"]["metadata"]["created_at"] == "2026-03-12 14:05:00"
    assert fresh["3112"]["metadata"]["product"] == "Tallyflow"


def test_app_store_reviews_keep_rating_and_product(sources: tuple[dict, dict]) -> None:
    docs = sources[1]
    store = {
        d["metadata"]["product"] + ":" + str(d["metadata"]["rating"])
        for d in docs["app-store-reviews.csv"]
    }
    assert store == {"Tallyflow:2", "Tallyflow:5", "Tallyflow Scan:1"}
    two = next(d for d in docs["app-store-reviews.csv"] if d["metadata"]["rating"] == 2)
    assert [r for _, r, _ in _said(two)] == ["customer", "customer", "agent"]
    play = {d["ticket_id"]: d for d in docs["reviews_com.tallyflow_202603.csv"]}
    bank = play["gp:AOqpTOE1"]  # the review id from Google Play's review link
    assert bank["metadata"] == {
        "channel": "Google Play",
        "created_at": "2026-03-04T10:11:12Z",
        "language": "en",
        "product": "com.tallyflow.app",
        "rating": 2,
        "version": "4.3.0",
    }
    # The UTF-16 file (as Google Play writes it) keeps its accents.
    assert any("Beträge" in t["text"] for d in play.values() for t in d["turns"])
    (api,) = docs["app-store-reviews.json"]
    assert api["metadata"]["rating"] == 3 and api["metadata"]["country"] == "USA"


def test_the_product_column_reaches_chunks(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SOURCES / "app-store-reviews.csv", folder)
    code, _ = _ingest(folder, tmp_path / "ws")
    assert code == 0
    chunks = [
        json.loads(line) for line in (tmp_path / "ws" / "chunks.jsonl").read_text().splitlines()
    ]
    assert {c["metadata"]["product"] for c in chunks} == {"Tallyflow", "Tallyflow Scan"}


# --------------------------------------------------------------------------- interviewers


def _session(participant: str, interviewer: str = "Dan") -> str:
    turns = [
        f"{interviewer}: Thanks for joining, {participant}. What do you do day to day?",
        f"{participant}: I look after the books for a small agency, mostly invoices and payroll.",
        f"{interviewer}: How do you handle receipts?",
        f"{participant}: I photograph them, but half of them never arrive in the app and I chase them at month end.",
        f"{interviewer}: What happens then?",
        f"{participant}: I lose an afternoon. Honestly it drives me up the wall.",
    ]
    return "\n\n".join(turns) + "\n"


def _roles(ws: Path) -> dict[str, dict[str, str]]:
    return {
        name: {t["speaker"]: t["role"] for t in doc["turns"]}
        for name, (doc,) in _documents(ws).items()
    }


def test_the_recurring_speaker_is_the_interviewer(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    people = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Femi", "Gita"]
    for i, person in enumerate(people, start=1):
        (folder / f"session-{i}.txt").write_text(_session(person))
    ws = tmp_path / "ws"
    code, summary = _ingest(folder, ws)
    assert code == 0
    assert any(n.startswith("interviewer: Dan, in 7 of 7 transcripts") for n in summary["notes"])
    roles = _roles(ws)
    assert all(
        r == {"Dan": "interviewer", p: "participant"}
        for r, p in zip(roles.values(), people, strict=True)
    )
    chunks = (ws / "chunks.jsonl").read_text()
    dan = [json.loads(c) for c in chunks.splitlines() if json.loads(c)["speaker"] == "Dan"]
    assert dan and {c["role"] for c in dan} == {"interviewer"}

    # Saying Dan is a participant wins over the structure, and chunks follow without re-embedding.
    (tmp_path / "persona.toml").write_text('[ingest]\nparticipant_names = ["Dan"]\n')
    code, summary = _ingest(folder, ws, "-c", str(tmp_path / "persona.toml"))
    assert code == 0 and summary["counts"]["chunks_embedded"] == 0
    assert all(r["Dan"] == "participant" for r in _roles(ws).values())
    assert {json.loads(c)["role"] for c in (ws / "chunks.jsonl").read_text().splitlines()} == {
        "participant"
    }


def test_configured_interviewer_names_still_win(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    for person in ("Ana", "Ben", "Chloe"):
        (folder / f"{person}.txt").write_text(_session(person))
    config = tmp_path / "persona.toml"
    # Odd but explicit: the user says Ana is the interviewer in her session.
    config.write_text('[ingest]\ninterviewer_names = ["Ana"]\n')
    code, summary = _ingest(folder, tmp_path / "ws", "-c", str(config))
    roles = _roles(tmp_path / "ws")
    assert roles["Ana.txt"] == {"Dan": "participant", "Ana": "interviewer"}
    assert roles["Ben.txt"] == {"Dan": "interviewer", "Ben": "participant"}
    assert code == 0 and any("in 2 of 3 transcripts" in n for n in summary["notes"])


def test_one_transcript_uses_who_asks_the_questions(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "call.txt").write_text(_session("Kim", interviewer="Sam"))
    code, summary = _ingest(folder, tmp_path / "ws")
    assert code == 0 and _roles(tmp_path / "ws")["call.txt"] == {
        "Sam": "interviewer",
        "Kim": "participant",
    }
    assert any(
        n.startswith("interviewer: Sam in call.txt (asks most of the questions")
        for n in summary["notes"]
    )


def test_no_clear_interviewer_is_said_not_guessed(tmp_path: Path) -> None:
    folder = tmp_path / "chat"
    folder.mkdir()
    (folder / "chat.txt").write_text(
        "Kim: We moved to the new tool in March.\n\nLee: It has been fine for us.\n\n"
        "Kim: The exports are slow.\n\nLee: The mobile app is better now.\n"
    )
    code, summary = _ingest(folder, tmp_path / "ws")
    assert code == 0 and set(_roles(tmp_path / "ws")["chat.txt"].values()) == {"participant"}
    assert any(n.startswith("no interviewer found in chat.txt") for n in summary["notes"])


def test_a_tag_in_one_transcript_marks_the_interviewer_in_all(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "a.txt").write_text(_session("Ana", interviewer="Jo (UXR)"))
    # In b.txt Jo answers more than asks; the mark from a.txt still holds.
    (folder / "b.txt").write_text(
        "Jo: Right.\n\nBen: What do you need from me?\n\nJo: Your month end.\n\nBen: Which part?\n"
    )
    code, _ = _ingest(folder, tmp_path / "ws")
    roles = _roles(tmp_path / "ws")
    assert (
        code == 0
        and roles["a.txt"]["Jo"] == "interviewer"
        and roles["b.txt"]["Jo"] == "interviewer"
    )
    assert roles["b.txt"]["Ben"] == "participant"


def test_label_typos_are_folded_and_headers_are_not_speakers(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    body = "\n".join(
        f"Interviewer: Question {i}?\nParticipant: Answer number {i} about the export."
        for i in range(6)
    )
    (folder / "P01.txt").write_text(
        "Interview\n" + body + "\nParticpant: And the sync breaks too.\nInterview\n"
    )
    code, summary = _ingest(folder, tmp_path / "ws")
    assert code == 0
    (doc,) = _documents(tmp_path / "ws")["P01.txt"]
    assert {t["speaker"] for t in doc["turns"]} == {"Interviewer", "Participant"}
    assert doc["turns"][-1] == {
        **doc["turns"][-1],
        "speaker": "Participant",
        "text": "And the sync breaks too.",
        "line": 14,
    }
    assert any(
        "P01.txt:14: speaker label 'Particpant' (1 turn) read as 'Participant'" in n
        for n in summary["notes"]
    )
    # Names one letter apart are different people: not folded.
    (folder / "P02.txt").write_text(
        body.replace("Participant", "Dana") + "\nDan: I'm Dana's manager.\n"
    )
    _ingest(folder, tmp_path / "ws")
    (doc,) = _documents(tmp_path / "ws")["P02.txt"]
    assert {t["speaker"] for t in doc["turns"]} == {"Interviewer", "Dana", "Dan"}


# --------------------------------------------------------------------------- PDF

STUDY_LINES = [
    "Interview",
    "Interviewer: Thanks for joining. Can you tell me about your role?",
    "Participant: Sure, I run accounts payable at a logistics firm, about 200 people.",
    "Interviewer: What does month end look like for you?",
    "Participant: Honestly it's a scramble. The bank feed drops every Monday and I",
    "reconnect it by hand, which eats an hour each time.",
    "Particpant: And the export to our ledger duplicates lines.",
] + [
    f"Interviewer: And what about step {i}?"
    if i % 2
    else f"Participant: Step {i} is slow for us too."
    for i in range(40)
]


def _pdf(folder: Path, name: str, pages: list[list[Text]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(make_pdf(pages, title="Session 3 transcript"))
    return path


def test_pdf_transcript_without_page_furniture(tmp_path: Path) -> None:
    pages = transcript_pages(
        STUDY_LINES,
        header="Acme usability study - Session 3 - Transcript",
        footer="Confidential - Page {page} of {total}",
        first_number=84,
    )
    _pdf(tmp_path / "in", "P03-session.pdf", pages)
    code, summary = _ingest(tmp_path / "in", tmp_path / "ws", "--redact")
    assert code == 0, summary
    (doc,) = _documents(tmp_path / "ws")["P03-session.pdf"]
    text = " ".join(t["text"] for t in doc["turns"])
    for furniture in ("Acme usability study", "Confidential", "Page 1", "84 85", "111"):
        assert furniture not in text
    assert {t["speaker"] for t in doc["turns"]} == {"Interviewer", "Participant"}  # no "Unknown"
    first = doc["turns"][3]
    assert first["text"] == (
        "Honestly it's a scramble. The bank feed drops every Monday and I reconnect it by hand, "
        "which eats an hour each time."
    )
    assert first["line"] == 88  # the printed line number, so a citation matches the page
    assert doc["metadata"]["pages"] == 2 and doc["metadata"]["title"] == "Session 3 transcript"
    # With the numbers gone, redaction finds no "card numbers" in the transcript.
    assert "[CARD_" not in (tmp_path / "ws" / "chunks.jsonl").read_text()
    assert any("'Particpant' (1 turn) read as 'Participant'" in n for n in summary["notes"])


def test_pdf_with_numbers_inline_or_in_one_run(tmp_path: Path) -> None:
    # Layout 1: each line starts with its number ("12  Interviewer: ...").
    inline = [
        [Text(50, 720 - i * 20, f"{12 + i}   {line}") for i, line in enumerate(STUDY_LINES[1:25])],
        [Text(50, 720 - i * 20, f"{36 + i}   {line}") for i, line in enumerate(STUDY_LINES[25:])],
    ]
    _pdf(tmp_path / "a", "inline.pdf", inline)
    # Layout 2: the margin numbers come out as one run of text ("1 2 3 ... 24").
    run = [[Text(30, 740, " ".join(str(n) for n in range(1, 25)), 6)]]
    run[0] += [Text(72, 720 - i * 20, line) for i, line in enumerate(STUDY_LINES[1:25])]
    _pdf(tmp_path / "b", "run.pdf", run)
    for folder, name, line in (("a", "inline.pdf", 15), ("b", "run.pdf", None)):
        code, _ = _ingest(tmp_path / folder, tmp_path / f"ws-{folder}")
        (doc,) = _documents(tmp_path / f"ws-{folder}")[name]
        text = " ".join(t["text"] for t in doc["turns"])
        assert (
            code == 0
            and "1 2 3" not in text
            and not any(c.isdigit() for c in text.split("Step")[0].replace("200", ""))
        )
        assert doc["turns"][3]["text"].endswith("which eats an hour each time.")
        if line is not None:
            assert doc["turns"][3]["line"] == line


def test_pdf_without_text_or_broken_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _pdf(folder, "scan.pdf", [[]])
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    (folder / "P01.txt").write_text(_session("Ana"))
    code, summary = _ingest(folder, tmp_path / "ws")
    reasons = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert code == 2 and summary["counts"]["interviews"] == 1
    assert reasons["scan.pdf"].startswith("no text in this PDF (a scan?)")
    assert reasons["broken.pdf"].startswith("not a readable PDF")


def test_pdf_with_each_label_on_its_own_line(tmp_path: Path) -> None:
    """As many published studies lay turns out: "Dan:" on a line, the words on the lines below,
    a page counter ("1/2") and an "Interview" heading on top (PDPilot's transcripts do this)."""
    files = (
        ("P1.pdf", ("We plot", "ICE curves daily."), "Participant:"),
        ("P2.pdf", ("Rarely.",), "Particpant:"),
    )
    for name, answers, label in files:
        lines = [
            "Interview",
            "Dan:",
            "Do you use ICE plots in your work?",
            "Participant:",
            *answers,
            "Dan:",
            "And two-way plots?",
            "Participant:",
            "Sometimes.",
            "Dan:",
            "What is hardest about them?",
            label,  # P2's is typo'd: folded into Participant, with a note
            "Finding the interactions takes me hours.",
        ]
        pages = [[Text(300, 770, "1/1", 9), *transcript_pages(lines, numbered=False)[0]]]
        _pdf(tmp_path / "in", name, pages)
    code, summary = _ingest(tmp_path / "in", tmp_path / "ws")
    assert code == 0, summary
    assert summary["counts"]["interviews"] == 2 and summary["counts"]["skipped"] == 0
    notes = summary["notes"]
    assert any(n.startswith("interviewer: Dan, in 2 of 2 transcripts") for n in notes), notes
    assert any("P2.pdf" in n and "'Particpant'" in n for n in notes), notes
    docs = _documents(tmp_path / "ws")
    (one,) = docs["P1.pdf"]
    (two,) = docs["P2.pdf"]
    assert {t["speaker"] for t in two["turns"]} == {"Dan", "Participant"}
    assert [(t["speaker"], t["role"], t["text"]) for t in one["turns"]] == [
        ("Dan", "interviewer", "Do you use ICE plots in your work?"),
        ("Participant", "participant", "We plot ICE curves daily."),
        ("Dan", "interviewer", "And two-way plots?"),
        ("Participant", "participant", "Sometimes."),
        ("Dan", "interviewer", "What is hardest about them?"),
        ("Participant", "participant", "Finding the interactions takes me hours."),
    ]
