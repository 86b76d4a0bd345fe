"""Host mode end to end (issue 6): with no API key, `persona run transcripts/ --llm host` stops
with pending requests; a scripted answerer (the oracle, tests/_oracle.py) answers them, first
with some wrong answers that `persona resume` must reject naming the problem, then correctly,
until extraction, theme naming and drafting are done and the report is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.host import HostResumeReport
from agent.pipeline import RunSummary
from agent.workspace import Workspace
from tests._oracle import (
    CORPUS,
    E2E_MARKS,
    INVENTED_NUMBER,
    INVENTED_QUOTE,
    Finished,
    Oracle,
    copy_ingested,
    formula_order,
    frequency_by_key,
    ingested_workspace,
    load_truth,
    once,
    pending_records,
    planted_counts,
    planted_ranks,
    report_problems,
    with_invented_number,
    with_invented_quote,
    write_answer,
)

pytestmark = E2E_MARKS

EXIT_PENDING = 3
STEPS = ["extract", "consolidate_themes", "group_themes", "draft_persona", "draft_journey"]
BROKEN_JSON = '{"mentions": [{"statement": "Bank feeds drop'

Wrong = dict[str, tuple[str, Any]]  # request id -> (what is wrong, the answer written)


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def wrong_extractions(records: list[dict[str, Any]], answers: dict[str, Any]) -> Wrong:
    """Four wrong answers: an invented quote, a quote from another chunk, broken JSON and a
    mention without its severity."""
    with_mentions = [r for r in records if answers[r["id"]]["mentions"]]
    interviews = [r for r in with_mentions if _interview(r)]
    other_chunk = interviews[0]
    rest = [r for r in with_mentions if r is not other_chunk]
    wrong: Wrong = {}

    def copy(record: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(answers[record["id"]]))

    invented = copy(rest[0])
    invented["mentions"][0]["quotes"][0]["text"] = INVENTED_QUOTE
    wrong[rest[0]["id"]] = ("invented quote", invented)

    moved = copy(other_chunk)
    quote = moved["mentions"][0]["quotes"][0]
    chunks = other_chunk["context"]["chunks"]
    elsewhere = next(a for a, text in chunks.items() if quote["text"] not in text)
    quote["chunk_id"] = elsewhere
    wrong[other_chunk["id"]] = ("quote from another chunk", moved)

    wrong[rest[1]["id"]] = ("invalid json", BROKEN_JSON)

    missing = copy(rest[2])
    del missing["mentions"][0]["severity"]
    wrong[rest[2]["id"]] = ("missing field", missing)
    return wrong


def _interview(record: dict[str, Any]) -> bool:
    return any(alias.startswith("c") for alias in record["context"]["chunks"])


def wrong_personas(records: list[dict[str, Any]], answers: dict[str, Any]) -> Wrong:
    return {
        records[0]["id"]: ("invented number", with_invented_number(answers[records[0]["id"]])),
        records[1]["id"]: ("invented quote", with_invented_quote(answers[records[1]["id"]])),
    }


def wrong_journeys(records: list[dict[str, Any]], answers: dict[str, Any]) -> Wrong:
    return {records[0]["id"]: ("invented number", with_invented_number(answers[records[0]["id"]]))}


FAULTS: dict[str, Callable[[list[dict[str, Any]], dict[str, Any]], Wrong]] = {
    "extract": wrong_extractions,
    "draft_persona": wrong_personas,
    "draft_journey": wrong_journeys,
}


@dataclass
class Round:
    """One step's requests: what was answered wrongly, and what resume said each time."""

    step: str
    records: list[dict[str, Any]]
    wrong: Wrong = field(default_factory=dict)
    rejected: Any = None  # `persona resume --json` with the wrong answers in place
    human: Any = None  # the same, without --json
    errors_files: dict[str, Any] = field(default_factory=dict)  # id -> <id>.errors.json then
    resumed: Any = None  # `persona resume --json` once every answer is right


@dataclass
class HostFlow:
    workspace: Path
    first: Any
    first_records: list[dict[str, Any]]
    rounds: list[Round]
    again: Any = None  # `persona run` once more after completion


@pytest.fixture
def flow(tmp_path_factory: pytest.TempPathFactory) -> HostFlow:
    def make() -> HostFlow:
        ws = copy_ingested(
            ingested_workspace(tmp_path_factory.getbasetemp()),
            tmp_path_factory.mktemp("host") / "ws",
        )
        workspace = Workspace(ws)
        oracle = Oracle()
        first = cli("run", CORPUS, "--llm", "host", "-w", ws, "--json")
        result = HostFlow(ws, first, pending_records(workspace), [])
        while len(result.rounds) < len(STEPS) + 2:
            records = pending_records(workspace)
            if not records:
                break
            steps = {r["step"] for r in records}
            assert len(steps) == 1, f"one step at a time, got {steps}"
            current = Round(steps.pop(), records)
            answers = {r["id"]: oracle.answer(r["messages"]) for r in records}
            if current.step in FAULTS:
                current.wrong = FAULTS[current.step](records, answers)
            for record in records:
                write_answer(
                    record, current.wrong.get(record["id"], (None, answers[record["id"]]))[1]
                )
            if current.wrong:
                current.rejected = cli("resume", "-w", ws, "--json")
                current.errors_files = {
                    p.name.removesuffix(".errors.json"): json.loads(p.read_text(encoding="utf-8"))
                    for p in (ws / "host" / "pending").glob("*.errors.json")
                }
                current.human = cli("resume", "-w", ws)
                for record in records:
                    if record["id"] in current.wrong:
                        write_answer(record, answers[record["id"]])
            current.resumed = cli("resume", "-w", ws, "--json")
            result.rounds.append(current)
            if current.resumed.exit_code != EXIT_PENDING:
                break
        result.again = cli("run", CORPUS, "--llm", "host", "-w", ws, "--json")
        return result

    return once("host", make)


def test_host_run_without_a_key_stops_with_pending_requests(flow: HostFlow) -> None:
    first = flow.first
    assert first.exit_code == EXIT_PENDING, first.stderr[-2000:]
    summary = RunSummary.model_validate_json(first.stdout)
    assert not summary.ok and summary.pending
    assert "persona resume" in summary.pending and "host/pending" in summary.pending
    assert [s.step for s in summary.steps] == ["ingest"]
    records = flow.first_records
    assert records and {r["step"] for r in records} == {"extract"}
    for record in records:
        assert set(record) >= {"id", "messages", "json_schema", "context", "answer_path"}
        assert record["answer_path"] == str(
            flow.workspace / "host" / "answers" / f"{record['id']}.json"
        )
        assert record["json_schema"]["title"] == "PainPointExtraction"
    assert (flow.workspace / "host" / "README.md").exists()
    # Requests leave the machine through the agent: redacted by default in host mode.
    truth = load_truth()
    text = json.dumps(records)
    pii = truth["pii"]
    assert [v for v in (*pii["emails"], *pii["phones"], *pii["cards"]) if v in text] == []
    assert "[EMAIL_1]" in text


def test_every_llm_step_goes_through_the_host(flow: HostFlow) -> None:
    assert [r.step for r in flow.rounds] == STEPS
    assert [r.resumed.exit_code for r in flow.rounds] == [EXIT_PENDING] * 4 + [0]
    for current in flow.rounds[:-1]:
        out = json.loads(current.resumed.stdout)
        # Valid answers were taken by the resume that rejected the wrong ones.
        expected = current.wrong or {r["id"] for r in current.records}
        assert sorted(out["resume"]["accepted"]) == sorted(expected)
        assert out["run"]["pending"] and "persona resume" in out["run"]["pending"]
    last = json.loads(flow.rounds[-1].resumed.stdout)
    assert last["resume"]["ok"] and last["run"]["ok"] and last["run"]["pending"] is None
    # One segment step: refreshed in place with top complaints once the themes exist.
    assert [s["step"] for s in last["run"]["steps"]] == [
        "extract",
        "segment",
        "themes",
        "draft",
        "report",
    ]
    assert all(not s["failures"] for s in last["run"]["steps"])
    assert pending_records(Workspace(flow.workspace)) == []
    # Once done, running again needs no answers: every LLM step is cached.
    assert flow.again.exit_code == 0, flow.again.stdout[-2000:]
    again = RunSummary.model_validate_json(flow.again.stdout)
    assert again.ok and again.pending is None
    assert {s.step: s.counts.get("calls", 0) for s in again.steps}["extract"] == 0


def rejected(current: Round) -> dict[str, list[str]]:
    assert current.rejected.exit_code == EXIT_PENDING
    report = HostResumeReport.model_validate_json(current.rejected.stdout)
    assert not report.ok and report.missing == []
    assert sorted(report.accepted) == sorted(
        r["id"] for r in current.records if r["id"] not in current.wrong
    )
    assert set(current.errors_files) == {item.id for item in report.rejected}
    for item in report.rejected:
        saved = current.errors_files[item.id]
        assert Path(item.errors_path).name == f"{item.id}.errors.json"
        assert saved["errors"] == item.errors and saved["answer_path"] == item.answer_path
    return {item.id: item.errors for item in report.rejected}


def test_wrong_extractions_are_rejected_naming_the_problem(flow: HostFlow) -> None:
    current = flow.rounds[0]
    errors = rejected(current)
    assert set(errors) == set(current.wrong)
    seen = set()
    for rid, (what, answer) in current.wrong.items():
        text = " ".join(errors[rid])
        seen.add(what)
        if what == "invented quote":
            assert "mentions.0.quotes.0" in text and "does not appear verbatim" in text
            assert INVENTED_QUOTE[:60] in text
        elif what == "quote from another chunk":
            alias = answer["mentions"][0]["quotes"][0]["chunk_id"]
            assert f"does not appear verbatim in chunk {alias}" in text
        elif what == "invalid json":
            assert "Invalid JSON" in text
        else:
            assert "mentions.0.severity: Field required" in text
    assert seen == {"invented quote", "quote from another chunk", "invalid json", "missing field"}
    # The human output names every rejected answer and says what to do.
    human = current.human
    assert human.exit_code == EXIT_PENDING
    assert "4 answers failed validation" in human.stdout and "persona resume" in human.stdout
    assert all(rid in human.stdout for rid in current.wrong)


def test_wrong_drafts_are_rejected_naming_the_problem(flow: HostFlow) -> None:
    personas, journeys = flow.rounds[3], flow.rounds[4]
    for current in (personas, journeys):
        errors = rejected(current)
        assert set(errors) == set(current.wrong)
        for rid, (what, _) in current.wrong.items():
            text = " ".join(errors[rid])
            assert "not grounded in the evidence pack" in text
            if what == "invented number":
                assert f"number '{INVENTED_NUMBER}' does not appear in the evidence pack" in text
            else:
                assert INVENTED_QUOTE in text and "is not verbatim" in text


def test_host_report_ranks_planted_pain_points_with_verbatim_quotes_and_scorer_numbers(
    flow: HostFlow,
) -> None:
    truth = load_truth()
    done = Finished.load(flow.workspace)
    assert report_problems(done) == []
    assert frequency_by_key(done, truth) == planted_counts(truth)
    assert len({t["id"] for t, _ in done.planted_themes(truth).values()}) == 8
    ranks = planted_ranks(done, truth)
    by_rank = sorted(ranks, key=ranks.__getitem__)
    assert by_rank[:3] == truth["expected_rank"][:3]
    totals = (done.themes["total_participants"], done.themes["total_tickets"])
    assert by_rank == formula_order(truth, *totals)
    assert {t["named_by"] for t in done.themes["themes"]} == {"host"}
    assert done.verbatim_problems() == []
    assert done.number_problems() == []
    assert done.cut_quotes() == []
    personas = done.personas["personas"]
    assert len(personas) == 4
    assert {p["document_info"]["mode"] for p in personas} == {"host"}
    assert {p["document_info"]["model"] for p in personas} == {"host"}
    assert all("drafted by the oracle" in p["draft"]["name"] for p in personas)
    text = (flow.workspace / "personas.json").read_text(encoding="utf-8")
    assert INVENTED_NUMBER not in text and INVENTED_QUOTE not in text
    report = json.loads((flow.workspace / "reports" / "report.json").read_text(encoding="utf-8"))
    assert report["modes"] == ["host"] and report["offline"] is False


# --------------------------------------------------------------------------- relative paths


@pytest.fixture
def relative_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Any]:
    """`persona run data --llm host -w ws` started in tmp_path with relative paths (one
    interview, the roster and the user table; hash embeddings keep it fast)."""
    data = tmp_path / "data"
    (data / "interviews").mkdir(parents=True)
    (data / "interviews" / "P01-dana-finance-lead.txt").write_bytes(
        (CORPUS / "interviews" / "P01-dana-finance-lead.txt").read_bytes()
    )
    for name in ("users.csv", "participants.csv"):
        (data / name).write_bytes((CORPUS / name).read_bytes())
    monkeypatch.setenv("PERSONA_EMBEDDER", "hash")
    monkeypatch.chdir(tmp_path)
    # A name of its own: Chroma caches clients by the path string, so two tests both using
    # "ws" from different directories would share one client in this process.
    name = f"ws-{tmp_path.name}"
    first = cli("run", "data", "--llm", "host", "-w", name, "--json")
    assert first.exit_code == EXIT_PENDING, first.stderr[-2000:]
    return tmp_path / name, first


def test_pending_answer_paths_do_not_depend_on_the_cwd(relative_run: tuple[Path, Any]) -> None:
    """The agent may write answers from another directory than the one `persona run` ran in:
    the answer_path a pending request names must be absolute."""
    ws, _ = relative_run
    records = pending_records(Workspace(ws))
    assert records
    assert all(Path(r["answer_path"]).is_absolute() for r in records), records[0]["answer_path"]


def test_resume_from_another_directory_continues_the_run(
    relative_run: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`persona resume -w WS` from another directory must find the inputs `persona run` read."""
    ws, _ = relative_run
    oracle = Oracle()
    for record in pending_records(Workspace(ws)):
        write_answer(record, oracle.answer(record["messages"]))
    elsewhere = ws.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("resume", "-w", f"../{ws.name}", "--json")
    assert "user table not found" not in result.stderr, result.stderr[-500:]
    assert result.exit_code == EXIT_PENDING, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["resume"]["ok"] and "persona resume" in out["run"]["pending"]
