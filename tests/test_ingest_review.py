"""Review findings on ingest: forgetting deleted inputs, user tables, malformed tables, odd JSON,
redaction before embedding, per-workspace collections and search filters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.config import load_settings
from agent.errors import ConfigError
from agent.ingest import ingest, redaction_on, user_tables
from agent.models import Chunk, Document
from agent.readers import read_file
from agent.search import search
from agent.store import open_store, workspace_id
from agent.workspace import Workspace, read_models

P01 = """Interviewer: What slows down your month-end close?

Dana: The bank feed keeps disconnecting and I reconnect it by hand every Monday.
"""
P02 = """Interviewer: What slows down your month-end close?

Marcus: Exports to QuickBooks duplicate every expense, so I fix them by hand.
"""
USERS = "user_id,age,sessions_7d\nU1,33,4\nU2,41,0\n"
ROSTER = "participant_id,user_id,role,file\nP01,U1,finance_admin,P01-dana.txt\n"


def _settings(tmp_path: Path, **overrides: object):
    return load_settings(
        None, {"workspace": tmp_path / "ws", "embeddings.provider": "hash", **overrides}
    )


def _ws(settings) -> Workspace:  # type: ignore[no-untyped-def]
    return Workspace(settings.workspace)


def _folder(tmp_path: Path, name: str = "in", **files: str) -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        (folder / filename.replace("__", ".")).write_text(text)
    return folder


def _store_texts(settings, ws: Workspace) -> list[str]:  # type: ignore[no-untyped-def]
    store = open_store(settings, ws)
    got = store._collection("chunks").get(include=["documents"])
    return list(got["documents"])


# --------------------------------------------------------------------------- 1. deleted inputs


def test_a_deleted_file_is_forgotten_everywhere(tmp_path: Path) -> None:
    folder = _folder(tmp_path, **{"P01-dana__txt": P01, "P02-marcus__txt": P02})
    settings = _settings(tmp_path)
    ws = _ws(settings)
    first = ingest([folder], settings, ws)
    assert first.counts["documents"] == 2 and first.counts["files_removed"] == 0
    (folder / "P02-marcus.txt").unlink()
    second = ingest([folder], settings, ws)
    assert second.counts["documents"] == 1 and second.counts["chunks_deleted"] == 2
    assert second.ok and second.counts["files_removed"] == 1
    assert any("P02-marcus.txt" in note and "no longer exist" in note for note in second.notes)
    assert {d.participant_id for d in read_models(ws.documents, Document)} == {"P01"}
    assert {c.participant_id for c in read_models(ws.chunks, Chunk)} == {"P01"}
    assert not any("QuickBooks" in text for text in _store_texts(settings, ws))
    hits = search("QuickBooks duplicate expenses", settings, ws, n=10)
    assert hits and {h.participant_id for h in hits} == {"P01"}


def test_a_missing_file_given_by_name_is_forgotten_not_an_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, **{"P01-dana__txt": P01, "P02-marcus__txt": P02})
    settings = _settings(tmp_path)
    ws = _ws(settings)
    p01, p02 = folder / "P01-dana.txt", folder / "P02-marcus.txt"
    ingest([p01, p02], settings, ws)
    p02.unlink()
    summary = ingest([p01, p02], settings, ws)
    assert summary.ok and not summary.skipped, summary.skipped
    assert summary.counts["files_removed"] == 1 and summary.counts["documents"] == 1
    # Only the withdrawn file given: nothing left to read is fine, the withdrawal still happens.
    ingest([p01, tmp_path / "in" / "P03.txt"], settings, ws)  # an unknown missing path: skipped
    p01.unlink()
    last = ingest([p01], settings, ws)
    assert last.counts["files_removed"] == 1 and last.counts["documents"] == 0
    assert read_models(ws.chunks, Chunk) == [] and _store_texts(settings, ws) == []


def test_files_outside_the_folders_given_are_kept(tmp_path: Path) -> None:
    a = _folder(tmp_path, "a", **{"P01-dana__txt": P01})
    b = _folder(tmp_path, "b", **{"P02-marcus__txt": P02})
    settings = _settings(tmp_path)
    ws = _ws(settings)
    ingest([a], settings, ws)
    ingest([b], settings, ws)
    (b / "P02-marcus.txt").unlink()
    only_a = ingest([a], settings, ws)
    assert only_a.counts["files_removed"] == 0 and only_a.counts["documents"] == 2
    with_b = ingest([a, b], settings, ws)
    assert with_b.counts["files_removed"] == 1 and with_b.counts["documents"] == 1


def test_deleted_roster_and_user_table_are_pruned(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        **{"P01-dana__txt": P01, "users__csv": USERS, "participants__csv": ROSTER},
    )
    settings = _settings(tmp_path)
    ws = _ws(settings)
    ingest([folder], settings, ws)
    doc = read_models(ws.documents, Document)[0]
    assert doc.metadata["role"] == "finance_admin" and doc.user_id == "U1"
    assert user_tables(ws) == [folder / "users.csv"]
    (folder / "users.csv").unlink()
    (folder / "participants.csv").unlink()
    summary = ingest([folder], settings, ws)
    assert summary.counts["files_removed"] == 2 and summary.counts["user_tables"] == 0
    assert user_tables(ws) == []
    doc = read_models(ws.documents, Document)[0]
    assert "role" not in doc.metadata and doc.user_id is None
    chunk = read_models(ws.chunks, Chunk)[0]
    assert "role" not in chunk.metadata and chunk.user_id is None


# --------------------------------------------------------------------------- 2. user tables


def test_user_tables_under_the_given_paths(tmp_path: Path) -> None:
    old = _folder(tmp_path, "transcripts", **{"P01-dana__txt": P01, "users__csv": USERS})
    new = _folder(tmp_path, "tcopy", **{"P02-marcus__txt": P02, "users__csv": USERS})
    settings = _settings(tmp_path)
    ws = _ws(settings)
    ingest([old], settings, ws)
    ingest([new], settings, ws)
    assert user_tables(ws) == sorted([old / "users.csv", new / "users.csv"])
    assert user_tables(ws, under=[new]) == [new / "users.csv"]
    assert user_tables(ws, under=[str(old / "users.csv")]) == [old / "users.csv"]
    assert user_tables(ws, under=[new / "P02-marcus.txt"]) == []
    (old / "users.csv").unlink()
    assert user_tables(ws) == [new / "users.csv"], "a table that is gone is not offered"
    assert user_tables(ws, under=[old]) == []


def test_unchanged_tables_count_as_unchanged_and_a_changed_roster_is_read(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path,
        **{"P01-dana__txt": P01, "users__csv": USERS, "participants__csv": ROSTER},
    )
    settings = _settings(tmp_path)
    ws = _ws(settings)
    ingest([folder], settings, ws)
    again = ingest([folder], settings, ws)
    assert again.counts["files"] == again.counts["files_unchanged"] == 3
    assert again.counts["user_tables"] == 1 and again.notes
    (folder / "participants.csv").write_text(ROSTER.replace("finance_admin", "controller"))
    changed = ingest([folder], settings, ws)
    assert changed.counts["files_unchanged"] == 2 and changed.counts["chunks_embedded"] == 0
    assert read_models(ws.chunks, Chunk)[0].metadata["role"] == "controller"


def test_the_sample_corpus_reingests_as_all_unchanged(tmp_path: Path, corpus: Path) -> None:
    settings = _settings(tmp_path)
    ws = _ws(settings)
    first = ingest([corpus], settings, ws)
    second = ingest([corpus], settings, ws)
    assert second.counts["files"] == first.counts["files"] == second.counts["files_unchanged"]
    assert second.counts["chunks_embedded"] == 0
    assert user_tables(ws, under=[corpus]) == [corpus / "users.csv"]


def test_changed_reader_settings_read_unchanged_files_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path, **{"P01-dana__txt": P01})
    settings = _settings(tmp_path)
    ws = _ws(settings)
    ingest([folder], settings, ws)
    renamed = _settings(tmp_path, **{"ingest.interviewer_names": ["dana"]})
    summary = ingest([folder], renamed, ws)
    assert summary.counts["files_unchanged"] == 0
    roles = {c.speaker: c.role for c in read_models(ws.chunks, Chunk)}
    assert roles == {"Interviewer": "participant", "Dana": "interviewer"}


# --------------------------------------------------------------------------- 3. malformed CSV

HEADER = "id,created_at,customer_id,subject,description,status\n"


def test_short_rows_are_skipped_with_the_field_count(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        HEADER
        + "1001,2026-01-01,U1,Export,CSV export is broken,open\n"
        + "1002,2026-01-02,U2,Sync\n"
        + "1003,2026-01-03,U3,Login,Login loops,open,extra\n"
    )
    result = read_file(path, _settings(tmp_path).ingest)
    assert [d.ticket_id for d in result.documents] == ["1001"]
    assert [(s.line, s.reason) for s in result.skipped] == [
        (3, "row has 4 fields, header has 6"),
        (4, "row has 7 fields, header has 6"),
    ]


def test_an_unbalanced_quote_is_reported_not_merged(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "tickets.csv").write_text(
        HEADER
        + '1001,2026-01-01,U00001,Export,"The CSV export is broken and I hate it,open\n'
        + "1002,2026-01-02,U00002,Sync,Bank sync fails every day,open\n"
        + '1003,2026-01-03,U00003,Login,"Login loops",open\n'
        + '1004,2026-01-04,U00004,Cards,"Card declined, twice",open\n'
    )
    settings = _settings(tmp_path)
    result = read_file(folder / "tickets.csv", settings.ingest)
    assert [d.ticket_id for d in result.documents] == ["1004"]
    assert len(result.skipped) == 1 and result.skipped[0].line == 2
    assert result.skipped[0].reason == (
        "a quoted field runs into the next row (unbalanced quote?): "
        "lines 2-4 read as one record, so the rows on lines 3, 4 are skipped too"
    )
    summary = ingest([folder], settings, _ws(settings))
    assert not summary.ok and summary.counts["tickets"] == 1


def test_legitimate_multiline_descriptions_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        HEADER
        + '1001,2026-01-01,U1,Export,"Steps:\n1, open the app, click export\n2, nothing",open\n'
        + '1002,2026-01-02,U2,Sync,"Line one\nLine two, with a comma",open\n'
    )
    result = read_file(path, _settings(tmp_path).ingest)
    assert not result.skipped and [d.ticket_id for d in result.documents] == ["1001", "1002"]
    assert "1, open the app" in result.documents[0].turns[1].text


def test_ticket_lines_are_the_first_line_of_each_record(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        HEADER
        + '1001,2026-01-01,U1,Export,"first line\nsecond line\nthird line",open\n'
        + "\n"
        + "1002,2026-01-02,U2,Sync,Bank sync fails,open\n"
    )
    docs = read_file(path, _settings(tmp_path).ingest).documents
    assert [(d.ticket_id, d.turns[0].line) for d in docs] == [("1001", 2), ("1002", 6)]


# --------------------------------------------------------------------------- 4. classification


def test_tsv_is_read_with_tabs(tmp_path: Path) -> None:
    path = tmp_path / "tickets.tsv"
    path.write_text("id\tcustomer_id\tdescription\n7\tU1\tExport fails, then the app freezes\n")
    result = read_file(path, _settings(tmp_path).ingest)
    assert not result.skipped and not result.user_table
    assert result.documents[0].turns[0].text == "Export fails, then the app freezes"


def test_a_mapped_column_that_is_missing_is_named(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        **{
            "tickets__csv": HEADER + "1001,2026-01-01,U1,Export,CSV export is broken,open\n",
            "users__csv": USERS,
            "participants__csv": ROSTER,
            "tickets__jsonl": json.dumps({"id": 1, "body": "Login loops", "customer_id": "U1"}),
        },
    )
    settings = _settings(
        tmp_path, **{"ingest.ticket_columns": {"text": "Problem", "customer": "Who"}}
    )
    summary = ingest([folder], settings, _ws(settings))
    # Missing from these files, so auto-detection stands in, saying so; nothing is dropped.
    assert not summary.skipped
    notes = {Path(n.split(": ")[0]).name: n for n in summary.notes if "ticket_columns" in n}
    assert set(notes) == {"tickets.csv", "tickets.jsonl"}
    assert notes["tickets.csv"].endswith(
        "ingest.ticket_columns customer = 'Who', text = 'Problem' is not a column of this file, "
        "so the auto-detected customer = 'customer_id', text = 'description' was used instead "
        "(columns: id, created_at, customer_id, subject, description, status)"
    )
    assert "text = 'Problem'" in notes["tickets.jsonl"] and "body" in notes["tickets.jsonl"]
    assert summary.counts["user_tables"] == 1 and summary.counts["tickets"] == 2


def test_a_csv_that_is_no_known_table_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("name,notes\nAda,likes tea\nBo,prefers coffee\n")
    result = read_file(path, _settings(tmp_path).ingest)
    assert not result.user_table and not result.documents
    assert "not a ticket export" in result.skipped[0].reason
    assert "columns: name, notes" in result.skipped[0].reason
    # An id column alone is not enough either: a user table has numbers to score.
    path.write_text("user_id,plan\nU1,growth\n")
    assert read_file(path, _settings(tmp_path).ingest).skipped


def test_unknown_ticket_column_keys_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("invalid setting ingest.ticket_columns.txt")):
        _settings(tmp_path, **{"ingest.ticket_columns": {"txt": "Problem"}})


# --------------------------------------------------------------------------- 5. odd JSON / YAML


def test_numbers_in_json_transcripts_become_text(tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    path.write_text(
        json.dumps(
            {
                "participant_id": 7,
                "user_id": 1042,
                "turns": [
                    {"speaker": "Interviewer", "text": "Hi", "time": 0},
                    {"speaker": "Kim", "text": "Setup was slow.", "time": 12.5},
                    {"speaker": "Kim", "text": None},
                ],
            }
        )
    )
    result = read_file(path, _settings(tmp_path).ingest)
    assert not result.skipped, result.skipped
    doc = result.documents[0]
    assert (doc.participant_id, doc.user_id) == ("7", "1042")
    assert [(t.text, t.time) for t in doc.turns] == [("Hi", "0"), ("Setup was slow.", "12.5")]


def test_an_unexpected_error_becomes_a_skipped_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.readers as readers
    from agent.models import Turn

    def broken(*args: object, **kwargs: object) -> object:
        return Turn.model_validate({"speaker": "x", "role": "nobody", "text": "y"})

    monkeypatch.setattr(readers, "make_document", broken)
    path = tmp_path / "i.json"
    path.write_text(json.dumps({"turns": [{"speaker": "Kim", "text": "Hi"}]}))
    result = read_file(path, _settings(tmp_path).ingest)
    assert not result.documents and result.skipped[0].path == str(path)
    assert result.skipped[0].reason.startswith("cannot read: unexpected value for role")


def test_front_matter_dates_are_kept_as_iso_text(tmp_path: Path) -> None:
    path = tmp_path / "P05.md"
    path.write_text(
        "---\ninterview_date: 2026-02-10\nrecorded: 2026-02-10 09:30:00\nuser_id: 1042\n---\n"
        "Interviewer: Hi.\n\nGrace: Hello.\n"
    )
    doc = read_file(path, _settings(tmp_path).ingest).documents[0]
    assert doc.metadata["interview_date"] == "2026-02-10"
    assert doc.metadata["recorded"] == "2026-02-10T09:30:00"
    assert doc.user_id == "1042"


# --------------------------------------------------------------------------- 6. collections


def test_local_store_names_are_unchanged_and_server_names_carry_the_workspace(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    ws = _ws(settings)
    assert open_store(settings, ws).collection_name("chunks") == "persona-chunks-hash"
    assert not (ws.root / "workspace.json").exists(), "local stores need no workspace id"
    ident = workspace_id(ws)
    assert ident == workspace_id(ws) == json.loads((ws.root / "workspace.json").read_text())["id"]
    other = workspace_id(Workspace(tmp_path / "other"))
    assert other != ident
    from agent.store import EvidenceStore

    server = EvidenceStore(None, _settings(tmp_path, **{"chroma.url": "http://127.0.0.1:1"}), ident)
    assert server.collection_name("chunks") == f"persona-{ident}-chunks-hash"


# --------------------------------------------------------------------------- 7. redaction


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, False),
        ({"embeddings.provider": "openai"}, True),
        ({"embeddings.provider": "openai", "llm.base_url": "http://127.0.0.1:8080/v1"}, False),
        ({"embeddings.provider": "openai", "llm.base_url": "http://localhost:8080/v1"}, False),
        ({"embeddings.provider": "openai", "llm.base_url": "https://api.example.com/v1"}, True),
        ({"chroma.url": "http://127.0.0.1:8000"}, False),
        ({"chroma.url": "http://127.5.6.7:8000"}, False),
        ({"chroma.url": "http://[::1]:8000"}, False),
        ({"chroma.url": "localhost:8000"}, False),
        ({"chroma.url": "http://10.0.0.5:8000"}, True),
        ({"chroma.url": "https://chroma.internal.example"}, True),
        ({"chroma.url": "http://localhost.evil.example:8000"}, True),
        ({"chroma.url": "http://127.0.0.1.nip.io:8000"}, True),
        ({"chroma.url": "http://10.0.0.5:8000", "ingest.redact": False}, False),
        ({"ingest.redact": True}, True),
        ({"ingest.redact": "auto"}, False),
    ],
)
def test_redaction_is_automatic_when_text_leaves_the_machine(
    tmp_path: Path, overrides: dict[str, object], expected: bool
) -> None:
    assert redaction_on(_settings(tmp_path, **overrides)) is expected


def test_remote_embedder_gets_redacted_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.store
    from agent.config import EmbeddingSettings
    from agent.embeddings import get_embedder

    seen: list[str] = []
    fake = get_embedder(EmbeddingSettings(provider="hash"))

    class Recording:
        def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
            seen.extend(texts)
            return fake.embed(texts)

    monkeypatch.setattr(agent.store, "get_embedder", lambda *a, **k: Recording())
    folder = _folder(
        tmp_path, **{"P01__txt": "Interviewer: Contact?\n\nDana: Mail me at dana@example.com.\n"}
    )
    settings = _settings(
        tmp_path,
        **{"embeddings.provider": "openai", "llm.base_url": "https://api.example.com/v1"},
    )
    ingest([folder], settings, _ws(settings))
    assert seen and not any("dana@example.com" in t for t in seen)
    assert any("[EMAIL_1]" in t for t in seen)


def test_switching_redaction_on_replaces_the_stored_text(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, **{"P01__txt": "Interviewer: Contact?\n\nDana: Mail me at dana@example.com.\n"}
    )
    plain = _settings(tmp_path, **{"ingest.redact": False})
    ws = _ws(plain)
    ingest([folder], plain, ws)
    assert any("dana@example.com" in t for t in _store_texts(plain, ws))
    redacted = _settings(tmp_path, **{"ingest.redact": True})
    summary = ingest([folder], redacted, ws)
    assert summary.counts["chunks_embedded"] == 1
    texts = _store_texts(redacted, ws)
    assert not any("dana@example.com" in t for t in texts) and any("[EMAIL_1]" in t for t in texts)


# --------------------------------------------------------------------------- 8. search filters


@pytest.fixture
def searchable(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = _folder(
        tmp_path,
        **{
            "P01-dana__txt": P01,
            "tickets__csv": HEADER
            + "1001,2026-01-01,U1,Export,The export to QuickBooks is broken,open\n"
            + "1002,2026-01-02,U2,Sync,Bank sync fails every day,open\n",
        },
    )
    settings = _settings(tmp_path)
    ws = _ws(settings)
    ingest([folder], settings, ws)
    ws.assignments.write_text("user_id,persona\nU1,Finance Power User\nU2,Casual Approver\n")
    return settings, ws


def test_search_rejects_unknown_kind_and_role(searchable) -> None:  # type: ignore[no-untyped-def]
    settings, ws = searchable
    with pytest.raises(ConfigError) as err:
        search("export", settings, ws, kind="foo")
    assert str(err.value) == "--kind 'foo' is not one of: interview | ticket"
    with pytest.raises(ConfigError, match="--role 'boss'"):
        search("export", settings, ws, role="boss")
    hits = search("export", settings, ws, kind="Ticket", role="CUSTOMER")
    assert hits and all(h.kind == "ticket" and h.role == "customer" for h in hits)


def test_search_segment_by_slug_or_name(searchable) -> None:  # type: ignore[no-untyped-def]
    settings, ws = searchable
    for name in ("finance_power_user", "FINANCE POWER USER", "Finance Power User"):
        hits = search("broken", settings, ws, segment=name)
        assert hits and {h.user_id for h in hits} == {"U1"}, name
    with pytest.raises(ConfigError) as err:
        search("broken", settings, ws, segment="power users")
    assert "Casual Approver (casual_approver)" in str(err.value)
    assert "Finance Power User (finance_power_user)" in str(err.value)


def test_participant_search_leaves_out_the_interviewer(searchable) -> None:  # type: ignore[no-untyped-def]
    settings, ws = searchable
    question = "What slows down your month-end close?"
    hits = search(question, settings, ws, participant="P01")
    assert hits and all(h.role == "participant" for h in hits)
    with_questions = search(question, settings, ws, participant="P01", include_interviewer=True)
    assert with_questions[0].role == "interviewer" and with_questions[0].text == question
    asked = search(question, settings, ws, participant="P01", role="interviewer")
    assert [h.role for h in asked] == ["interviewer"]


def test_every_mappable_ticket_field_is_detected_by_the_reader() -> None:
    from typing import get_args

    from agent.config import TicketField
    from agent.readers.tables import TICKET_ALIASES

    assert set(get_args(TicketField)) == set(TICKET_ALIASES)
