"""A withdrawn participant's words leave every side store of the workspace on the next ingest:
the LLM cache, host files, logged errors, the redaction map and the Chroma store's files."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from agent.extract import extract_mentions
from agent.ingest import ingest
from agent.llm_cache import WITHDRAWN, ResponseCache
from agent.models import Chunk
from agent.workspace import Workspace, read_models
from tests._llm_helpers import make_settings, quoting_responder
from tests.openai_server import OpenAIServer

SECRET = "The zebra-striped export froze my laptop for an hour."
ANA = f"""---
participant_id: P01
---
Interviewer: What went wrong last week?
Ana: {SECRET} I mailed ana.zebra@example.com to myself as a reminder, and it still hurts.
"""
BO = """---
participant_id: P02
---
Interviewer: What went wrong last week?
Bo: The bank feed keeps dropping every Monday. Write to bo.feed@example.com if you need logs.
{more}
""".format(more=" ".join(f"In week {i} the feed broke once more." for i in range(60)))


def _stores(ws: Workspace) -> bytes:
    """Every byte the cache, log, host folder and redaction map hold (WAL files included)."""
    paths = [ws.calls_log, ws.redaction_map, *ws.root.glob("llm_cache.sqlite*")]
    for folder in (ws.host_dir, ws.chroma_dir):  # Chroma: its log and free pages included
        if folder.exists():
            paths += [p for p in folder.rglob("*") if p.is_file()]
    return b"".join(p.read_bytes() for p in paths if p.exists())


def _cache_rows(ws: Workspace) -> dict[str, list[str]]:
    with closing(sqlite3.connect(ws.llm_cache)) as db:
        return {k: json.loads(s) for k, s in db.execute("SELECT key, sources FROM responses")}


def _host_record(
    ws: Workspace, folder: str, rid: str, sources: list[str] | None, said: str = SECRET
) -> Path:
    record = {"id": rid, "step": "extract", "messages": [{"role": "user", "content": said}]}
    if sources is not None:
        record["sources"] = sources
    path = ws.host_dir / folder / f"{rid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_withdrawn_participant_leaves_cache_log_host_files_and_redaction_map(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ana.md").write_text(ANA, encoding="utf-8")
    (corpus / "bo.md").write_text(BO, encoding="utf-8")
    with OpenAIServer(responder=quoting_responder) as srv:
        settings = make_settings(tmp_path, srv.base_url, redact="on")
        settings.embeddings.provider = "hash"
        ws = Workspace(settings.workspace)
        ingest([corpus], settings, ws)
        chunks = read_models(ws.chunks, Chunk)
        ana = sorted(c.id for c in chunks if c.participant_id == "P01")
        bo = sorted(c.id for c in chunks if c.participant_id == "P02")
        assert ana and bo
        summary = extract_mentions(settings, ws)
        assert summary.ok and summary.counts["requests"] >= 1

        # Every cached answer says which chunks it was built from.
        first_requests = len(srv.chat_requests())
        rows = _cache_rows(ws)
        assert all(rows.values()) and set(ana) | set(bo) == {c for r in rows.values() for c in r}
        only_bo = {k for k, r in rows.items() if set(r) <= set(bo)}
        assert only_bo and len(only_bo) < len(rows)  # some requests carry Ana's words
        # A cache row from before sources were kept: unknown origin, so it goes too.
        legacy = ResponseCache(ws.llm_cache)
        legacy.put(
            "legacy",
            step="x",
            prompt="x",
            prompt_version="1",
            model="m",
            response_model="M",
            value=json.dumps({"q": SECRET}),
            usage={},
        )
        with closing(sqlite3.connect(ws.llm_cache)) as db:
            db.execute("UPDATE responses SET sources = '' WHERE key = 'legacy'")
            db.commit()
        legacy.close()
        # Logged errors can quote text; host files carry messages and quotes.
        with ws.calls_log.open("a", encoding="utf-8") as fh:
            for sources, said in ((ana, SECRET), (bo, "The bank feed keeps dropping")):
                line = {"step": "extract", "error": f"quote {said!r} not found", "sources": sources}
                fh.write(json.dumps(line) + "\n")
        pending_a = _host_record(ws, "pending", "req-a", ana)
        (ws.host_dir / "answers").mkdir(parents=True, exist_ok=True)
        answer_a = ws.host_dir / "answers" / "req-a.json"
        answer_a.write_text(json.dumps({"quote": SECRET}), encoding="utf-8")
        done_b = _host_record(ws, "done", "req-b", bo, said="The bank feed keeps dropping")
        stale_old = _host_record(ws, "stale", "req-old", None)
        assert SECRET.encode() in _stores(ws)
        assert "ana.zebra@example.com" in ws.redaction_map.read_text(encoding="utf-8")

        # Ana withdraws.
        (corpus / "ana.md").unlink()
        summary = ingest([corpus], settings, ws)
        assert any("removed the text of" in n for n in summary.notes), summary.notes
        assert any("rewrote the local evidence store" in n for n in summary.notes)
        # The rebuilt collection's old vector-index folders are gone too.
        with closing(sqlite3.connect(ws.chroma_dir / "chroma.sqlite3")) as db:
            live = {row[0] for row in db.execute("SELECT id FROM segments")}
        folders = {p.name for p in ws.chroma_dir.iterdir() if p.is_dir()}
        assert folders <= live, folders - live

        stored = _stores(ws)
        assert SECRET.encode() not in stored and b"zebra" not in stored
        assert b"bo.feed@example.com" in stored  # Bo's redaction entry is still needed
        assert not pending_a.exists() and not answer_a.exists() and not stale_old.exists()
        assert done_b.exists()
        log = [json.loads(x) for x in ws.calls_log.read_text(encoding="utf-8").splitlines()]
        blanked = [x for x in log if x.get("error") == WITHDRAWN]
        assert len(blanked) == 1 and blanked[0]["sources"] == ana
        assert "bank feed" in next(x for x in log if x.get("sources") == bo)["error"]

        # Answers built only from Bo's words are kept; the rest were purged, and extracting
        # again asks only for those, without a word of Ana's.
        assert set(_cache_rows(ws)) == only_bo
        srv.reset_log()
        again = extract_mentions(settings, ws)
        asked = srv.chat_requests()
        assert again.ok and 0 < len(asked) < first_requests
        assert not any("zebra" in r.text for r in asked)


OFFLINE = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}


def _ana_and_bo(tmp_path: Path) -> tuple[Path, Workspace]:
    """A corpus of Ana's and Bo's interviews, and the workspace to put it in."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ana.md").write_text(ANA, encoding="utf-8")
    (corpus / "bo.md").write_text(BO, encoding="utf-8")
    return corpus, Workspace(tmp_path / "ws")


class _Killed(BaseException):
    """Stands for a kill -9 mid-scrub: nothing after the raise runs, as after a real kill."""


def test_a_crash_during_the_scrub_is_finished_by_the_next_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from agent.cli import app
    from agent.purge import journal_path
    from agent.store import EvidenceStore

    corpus, ws = _ana_and_bo(tmp_path)
    runner, env = CliRunner(), OFFLINE
    assert runner.invoke(app, ["ingest", str(corpus), "-w", str(ws.root)], env=env).exit_code == 0
    assert SECRET.encode() in _stores(ws)

    (corpus / "ana.md").unlink()  # Ana withdraws consent

    def killed(self: EvidenceStore, collection: str, **_: object) -> bool:
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(EvidenceStore, "scrub", killed)
        with pytest.raises(_Killed):
            runner.invoke(
                app, ["ingest", str(corpus), "-w", str(ws.root)], env=env, catch_exceptions=False
            )
    # The deletion reached Chroma's index but its file still holds the words: the journal says so.
    assert journal_path(ws).exists()
    assert SECRET.encode() in _stores(ws)

    # Any next command that writes the workspace finishes the withdrawal before its own work.
    result = runner.invoke(app, ["extract", "-w", str(ws.root)], env=env)
    assert result.exit_code == 0, result.output
    assert not journal_path(ws).exists()
    assert SECRET.encode() not in _stores(ws)
    assert b"zebra" not in _stores(ws)


def test_a_store_that_stays_busy_keeps_the_withdrawal_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scrub that cannot vacuum the file never ends the withdrawal as if it had."""
    from typer.testing import CliRunner

    from agent.cli import app
    from agent.purge import journal_path
    from agent.store import EvidenceStore

    corpus, ws = _ana_and_bo(tmp_path)
    runner, env = CliRunner(), OFFLINE
    assert runner.invoke(app, ["ingest", str(corpus), "-w", str(ws.root)], env=env).exit_code == 0
    (corpus / "ana.md").unlink()

    with monkeypatch.context() as patch:
        # The file stays locked by someone else through every attempt.
        patch.setattr(EvidenceStore, "_vacuum", lambda self, attempts=3: None)
        busy = runner.invoke(app, ["ingest", str(corpus), "-w", str(ws.root), "--json"], env=env)
        assert busy.exit_code == 0, busy.output
        assert "could not be rewritten" in busy.stdout
        assert journal_path(ws).exists()
        # Still busy on the next command: the journal still stays.
        still = runner.invoke(app, ["extract", "-w", str(ws.root)], env=env)
        assert still.exit_code == 0, still.output
        assert journal_path(ws).exists()
        # ... and the user is told, not left believing the words are gone.
        assert "still could not be rewritten" in still.stderr

    # Say why if this ever fails again: it failed once in a loaded `-n 2` run, with no output.
    done = runner.invoke(app, ["extract", "-w", str(ws.root)], env=env)
    assert done.exit_code == 0, done.output
    assert "could not be rewritten" not in done.stderr
    left = journal_path(ws).read_text(encoding="utf-8") if journal_path(ws).exists() else ""
    assert not left, (left, sorted(p.name for p in ws.chroma_dir.iterdir()))
    assert SECRET.encode() not in _stores(ws) and b"zebra" not in _stores(ws)


def test_a_withdrawal_run_leaves_no_word_in_any_workspace_file(tmp_path: Path) -> None:
    """The whole workspace after `persona run` following a withdrawal, last_run.json included
    (the draft step's note on what changed once quoted the withdrawn words there)."""
    from typer.testing import CliRunner

    from agent.cli import app

    corpus, workspace = _ana_and_bo(tmp_path)
    ws, env, runner = workspace.root, OFFLINE, CliRunner()
    first = runner.invoke(app, ["run", str(corpus), "-w", str(ws), "--json"], env=env)
    assert first.exit_code == 0, first.output
    everything = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"zebra" in everything  # the words were there to withdraw

    (corpus / "ana.md").unlink()
    again = runner.invoke(app, ["run", str(corpus), "-w", str(ws), "--json"], env=env)
    assert again.exit_code == 0, again.output
    assert "zebra" not in again.stdout
    left = [p for p in ws.rglob("*") if p.is_file() and b"zebra" in p.read_bytes()]
    assert left == []
