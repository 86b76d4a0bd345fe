"""A step whose inputs did not change is not redone (agent/rerun.py); any change upstream is.

Through the CLI on a slice of transcripts/ (2 interviews, 40 tickets, the user table), offline,
with the hash embedder so each run takes seconds.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from agent import rerun
from agent.cli import app
from agent.models import StepSummary
from agent.rerun import UNCHANGED
from agent.workspace import Workspace
from tests.conftest import CORPUS

KEPT = UNCHANGED
# The steps that keep their outputs when nothing they read changed (segment and draft run).
SKIPPING = ["ingest", "extract", "themes", "report"]
INTERVIEWS = ("P01-dana-finance-lead.txt", "P02-marcus-controller.txt")
LINE = re.compile(r"^(?P<stage>[a-z ]+): (?P<done>\d+)/(?P<total>\d+) \(\d+%\) \d+\.\ds$")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    if not (CORPUS / "GROUND_TRUTH.json").exists():
        pytest.skip("sample corpus not generated")
    data = tmp_path / "in"
    (data / "interviews").mkdir(parents=True)
    for name in INTERVIEWS:
        shutil.copy2(CORPUS / "interviews" / name, data / "interviews" / name)
    with (CORPUS / "participants.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with (data / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([rows[0], *(r for r in rows[1:] if r[-1] in INTERVIEWS)])
    with (CORPUS / "tickets.csv").open(encoding="utf-8", newline="") as fh:
        tickets = list(csv.reader(fh))
    with (data / "tickets.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(tickets[:41])
    shutil.copy2(CORPUS / "users.csv", data / "users.csv")
    return data


@pytest.fixture
def env() -> dict[str, str]:
    return {"PERSONA_EMBEDDER": "hash", "SOURCE_DATE_EPOCH": "1767225600"}


def _cli(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, (result.stdout[-2000:], result.stderr[-2000:])
    return result


def _run(inputs: Path, ws: Path, env: dict[str, str]) -> dict[str, StepSummary]:
    result = _cli(env, "run", str(inputs), "-w", str(ws), "--llm", "offline")
    steps = json.loads(result.stdout)["steps"]
    return {s["step"]: StepSummary.model_validate(s) for s in steps}


def _kept(step: StepSummary) -> bool:
    return any(note.startswith(KEPT) for note in step.notes)


def _stamp(path: Path) -> tuple[int, int]:
    """Inode and mtime: a file replaced (written again) gets a new inode."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def _outputs(ws: Path) -> dict[str, bytes]:
    names = ["mentions.jsonl", "observations.jsonl", "themes.json", "personas.json"]
    names += [f"reports/{p.name}" for p in (ws / "reports").iterdir()]
    return {name: (ws / name).read_bytes() for name in names}


def test_an_unchanged_rerun_keeps_extraction_themes_and_report(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    first = _run(inputs, ws, env)
    assert not any(_kept(s) for s in first.values())
    assert first["extract"].counts["mentions"] > 0 and first["themes"].counts["themes"] > 0
    before = _outputs(ws)
    stamps = {n: _stamp(ws / n) for n in ("mentions.jsonl", "themes.json", "reports/index.html")}
    second = _run(inputs, ws, env)
    assert [s for s, summary in second.items() if _kept(summary)] == SKIPPING
    work = {"embeddings_cached", "chunk_vectors_reused", "texts_embedded"}
    for step in ("extract", "themes", "report"):
        # --json still reports what the kept outputs hold; nothing was embedded this time.
        held = {k: v for k, v in first[step].counts.items() if k not in work}
        assert {k: v for k, v in second[step].counts.items() if k not in work} == held, step
        assert second[step].outputs == first[step].outputs, step
    assert first["themes"].counts["texts_embedded"] > 0
    assert {second["themes"].counts[k] for k in work} == {0}
    assert {n: _stamp(ws / n) for n in stamps} == stamps  # not even rewritten
    assert _outputs(ws) == before
    # The kept ingest says what an ingest that looked at every file again says.
    rerun.forget(Workspace(ws), "ingest")
    looked = _run(inputs, ws, env)["ingest"]
    assert not _kept(looked) and looked.counts["files_unchanged"] == looked.counts["files"]
    assert looked.counts["chunks_embedded"] == 0
    for field in ("counts", "tokens", "skipped", "outputs", "ok"):
        assert getattr(second["ingest"], field) == getattr(looked, field), field
    assert second["ingest"].notes[1:] == looked.notes


def test_a_changed_transcript_recomputes_every_step_after_it(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    first = _run(inputs, ws, env)
    transcript = inputs / "interviews" / INTERVIEWS[0]
    transcript.write_text(
        transcript.read_text(encoding="utf-8")
        + "\nInterviewer: Anything else?\n\nDana: The mobile app crashes every time I "
        "attach a receipt photo, and it is really frustrating.\n",
        encoding="utf-8",
    )
    second = _run(inputs, ws, env)
    assert not any(_kept(s) for s in second.values())
    assert second["extract"].counts["mentions"] > first["extract"].counts["mentions"]
    mentions = (ws / "mentions.jsonl").read_text(encoding="utf-8")
    assert "crashes every time I attach a receipt photo" in mentions
    assert second["themes"].counts["mentions"] == second["extract"].counts["mentions"]
    third = _run(inputs, ws, env)
    assert [s for s, summary in third.items() if _kept(summary)] == SKIPPING


def test_ingest_looks_again_when_a_file_a_setting_or_the_store_changes(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    ingest = ["ingest", str(inputs), "-w", str(ws)]
    assert _kept(StepSummary.model_validate_json(_cli(env, *ingest).stdout))
    # A new file nobody can read is named in skipped[] (exit 2: partial).
    (inputs / "notes.xlsx").write_bytes(b"PK\x03\x04")
    result = CliRunner().invoke(app, [*ingest, "--json"], env=env)
    assert result.exit_code == 2
    summary = StepSummary.model_validate_json(result.stdout)
    assert not _kept(summary) and [s.path for s in summary.skipped if "xlsx" in s.path]
    (inputs / "notes.xlsx").unlink()
    assert not _kept(StepSummary.model_validate_json(_cli(env, *ingest).stdout))
    assert _kept(StepSummary.model_validate_json(_cli(env, *ingest).stdout))
    # Who may be quoted is a setting: the same files are cut again.
    names = dict(env)
    config = tmp_path / "persona.toml"
    config.write_text('[ingest]\nparticipant_names = ["Dana"]\n', encoding="utf-8")
    named = _cli(names, *ingest, "-c", str(config))
    assert not _kept(StepSummary.model_validate_json(named.stdout))
    assert _kept(StepSummary.model_validate_json(_cli(names, *ingest, "-c", str(config)).stdout))
    # A deleted evidence store is filled again, whatever the files say (a new process: this
    # one's Chroma client still holds the old store in memory).
    shutil.rmtree(ws / "chroma")
    proc = subprocess.run(
        [sys.executable, "-m", "agent", *ingest, "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **names},
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    refilled = StepSummary.model_validate_json(proc.stdout)
    assert not _kept(refilled) and refilled.counts["chunks_embedded"] == refilled.counts["chunks"]


def test_an_output_changed_by_another_writer_is_rebuilt(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    before = _outputs(ws)
    # An LLM extraction, a purge or a hand edit rewrote mentions.jsonl; a report file went.
    lines = (ws / "mentions.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (ws / "mentions.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    (ws / "reports" / "summary.md").unlink()
    second = _run(inputs, ws, env)
    assert not _kept(second["extract"]) and not _kept(second["report"])
    # Extraction wrote the same mentions again, so themes were built from the very same inputs.
    assert _kept(second["themes"])
    assert _outputs(ws) == before


def test_theme_settings_and_segments_are_inputs_of_the_themes_step(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    themes = ["themes", "-w", str(ws), "--llm", "offline"]
    assert _kept(StepSummary.model_validate_json(_cli(env, *themes).stdout))
    tighter = StepSummary.model_validate_json(_cli(env, *themes, "--threshold", "0.2").stdout)
    assert not _kept(tighter)
    again = StepSummary.model_validate_json(_cli(env, *themes, "--threshold", "0.2").stdout)
    assert _kept(again) and again.counts["themes"] == tighter.counts["themes"]
    default = StepSummary.model_validate_json(_cli(env, *themes).stdout)
    assert not _kept(default) and default.counts["themes"] < tighter.counts["themes"]
    # Other segment rules put the same users in other segments: the per-segment counts change.
    _cli(env, "segment", str(inputs / "users.csv"), "-w", str(ws), "--preset", "daily")
    resegmented = StepSummary.model_validate_json(_cli(env, *themes).stdout)
    assert not _kept(resegmented)


def test_a_review_decision_or_another_format_renders_the_report_again(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    report = ["report", "-w", str(ws)]
    assert _kept(StepSummary.model_validate_json(_cli(env, *report).stdout))
    personas = json.loads((ws / "personas.json").read_text(encoding="utf-8"))["personas"]
    name = personas[0]["id"]
    _cli(env, "review", "set", name, "motivations", "--extend", "Wants month-end done by day 3",
         "-w", str(ws), "--by", "Ana")  # fmt: skip
    rendered = StepSummary.model_validate_json(_cli(env, *report).stdout)
    assert not _kept(rendered)
    assert "Wants month-end done by day 3" in (ws / "reports" / "index.html").read_text(
        encoding="utf-8"
    )
    assert _kept(StepSummary.model_validate_json(_cli(env, *report).stdout))
    html_only = StepSummary.model_validate_json(_cli(env, *report, "--format", "html").stdout)
    assert not _kept(html_only) and list(html_only.outputs) == ["index.html"]
    elsewhere = tmp_path / "site"
    moved = StepSummary.model_validate_json(_cli(env, *report, "--out", str(elsewhere)).stdout)
    assert not _kept(moved) and (elsewhere / "index.html").is_file()


def test_new_code_recomputes(
    inputs: Path, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.rerun as rerun

    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    # Another version of the package (a cue word, a template, a bug fix) trusts nothing earlier.
    monkeypatch.setattr(rerun, "code_version", lambda: "another-version")
    second = _run(inputs, ws, env)
    assert not any(_kept(s) for s in second.values())


def test_a_killed_renders_temp_file_goes_even_when_the_report_is_kept(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    dead = ws / "reports" / ".summary.md.999999999.ab12cd34.tmp"
    dead.write_text("")
    result = StepSummary.model_validate_json(_cli(env, "report", "-w", str(ws)).stdout)
    assert _kept(result) and not dead.exists()
    assert "removed 1 temp file(s) an interrupted write left" in result.notes


# --------------------------------------------------------------------------- themes progress


def test_themes_progress_through_the_cli(inputs: Path, tmp_path: Path, env: dict[str, str]) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    (ws / "step_state.json").unlink()  # build the themes again, as a first run would
    result = CliRunner().invoke(
        app,
        ["themes", "-w", str(ws), "--llm", "offline", "--json"],
        env={**env, "PERSONA_PROGRESS_SECONDS": "0"},
    )
    assert result.exit_code == 0, result.stderr
    summary = StepSummary.model_validate_json(result.stdout)  # stdout is the summary alone
    lines = [LINE.match(line) for line in result.stderr.splitlines()]
    assert all(lines), result.stderr
    last = {m["stage"]: (int(m["done"]), int(m["total"])) for m in lines if m}
    mentions, themes = summary.counts["mentions"], summary.counts["themes"]
    assert last["themes cluster"] == (mentions, mentions)
    assert last["themes count"] == (themes, themes)
    # The texts that were not cached from the run before were embedded (none: all cached).
    assert "themes embed" not in last and summary.counts["texts_embedded"] == 0


def test_themes_progress_in_a_run_names_each_part(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    result = CliRunner().invoke(
        app,
        ["run", str(inputs), "-w", str(tmp_path / "ws"), "--llm", "offline", "--json"],
        env={**env, "PERSONA_PROGRESS_SECONDS": "0"},
    )
    assert result.exit_code == 0, result.stderr
    themes = next(s for s in json.loads(result.stdout)["steps"] if s["step"] == "themes")
    stages = [m["stage"] for m in map(LINE.match, result.stderr.splitlines()) if m]
    assert [s for s in dict.fromkeys(stages) if s.startswith("themes")] == [
        "themes embed",
        "themes cluster",
        "themes count",
    ]
    embedded = [
        (int(m["done"]), int(m["total"]))
        for m in map(LINE.match, result.stderr.splitlines())
        if m and m["stage"] == "themes embed"
    ]
    assert embedded[-1] == (themes["counts"]["texts_embedded"],) * 2


# --------------------------------------------------------------------------- chunk vectors


def test_offline_mention_contexts_reuse_the_chunk_vectors_ingest_stored(
    inputs: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    from agent.models import PainPointMention
    from agent.themes import own_window
    from agent.workspace import read_models

    ws = tmp_path / "ws"
    themes = _run(inputs, ws, env)["themes"].counts
    mentions = read_models(Workspace(ws).mentions, PainPointMention)
    contexts = {m.context for m in mentions if m.context}
    windows = {own_window(m) for m in mentions} - {""}
    # Every context is a chunk ingest embedded; only the quote windows are new words.
    assert themes["chunk_vectors_reused"] == len(contexts)
    assert themes["texts_embedded"] == len(windows - contexts) > 0


def test_a_stored_vector_stands_only_for_its_own_text(tmp_path: Path) -> None:
    from agent.config import Settings
    from agent.embeddings import HashEmbedder
    from agent.store import open_store

    settings = Settings.model_validate(
        {"workspace": str(tmp_path), "embeddings": {"provider": "hash"}}
    )
    store = open_store(settings, Workspace(tmp_path).ensure())
    texts = ["the bank feed drops rows", "exports garble the dates"]
    vectors = HashEmbedder().embed(texts)
    store.upsert("chunks", ["c1", "c2"], texts, vectors, [{}, {}])
    found = store.vectors_of_texts(
        "chunks", {"c1": texts[0], "c2": "exports garble the dates!", "c3": "gone"}
    )
    assert list(found) == ["c1"] and np.array_equal(found["c1"], vectors[0])
    # An id asked twice is one record.
    assert list(store.get_embeddings("chunks", ["c2", "c2"])) == ["c2"]


def test_minilm_vectors_do_not_depend_on_the_batch() -> None:
    """What chunk-vector reuse rests on: a text's vector is bit for bit the same alone, in a
    batch of longer texts (more padding) or in another batch size."""
    from agent.embeddings import MiniLMEmbedder

    texts = [
        "The bank feed drops transactions.",
        "Exports garble the dates every month, and I fix them by hand in a spreadsheet.",
        "ok",
        "I can't find where approvals are waiting; the mobile app logs me out all the time, "
        "and the receipts never attach on the first try.",
    ]
    model = MiniLMEmbedder()
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    assert np.array_equal(together, alone)
    assert np.array_equal(MiniLMEmbedder(batch_size=3).embed(texts[::-1])[::-1], together)
    # So a text given twice is embedded once, and both rows hold its vector.
    seen: list[str] = []
    embed_batch = model._embed_batch
    model._embed_batch = lambda batch: (seen.extend(batch), embed_batch(batch))[1]  # type: ignore[method-assign]
    twice = model.embed([texts[1], *texts, texts[2]])
    assert sorted(seen) == sorted(texts)
    assert np.array_equal(twice, together[[1, 0, 1, 2, 3, 2]])


def test_the_step_state_holds_no_words(inputs: Path, tmp_path: Path, env: dict[str, str]) -> None:
    ws = tmp_path / "ws"
    _run(inputs, ws, env)
    state = (ws / "step_state.json").read_text(encoding="utf-8")
    # Digests and summaries: nothing quoted, so a withdrawal has nothing to scrub here.
    quotes = [
        q["text"]
        for line in (ws / "mentions.jsonl").read_text(encoding="utf-8").splitlines()
        for q in json.loads(line)["quotes"]
    ]
    assert quotes and not [q for q in quotes if q in state]
    assert "Dana" not in state and os.path.getsize(ws / "step_state.json") < 20_000
