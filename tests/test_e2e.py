"""End to end on transcripts/: offline through the CLI, and through a local OpenAI-compatible
server answered by the oracle (tests/_oracle.py). Issue 5's test: the report lists the planted
top pain points in the right order, every quote is verbatim, every number matches the scorer.

The corpus is ingested once per test process (real MiniLM embeddings, local Chroma); each run
works in its own copy of that workspace. Each pipeline run happens once per process
(`tests._oracle.once`), from function-scoped fixtures so that it runs under tests/conftest.py's
guards (loopback only, clean environment).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import Settings
from agent.pipeline import RunSummary, run_pipeline
from agent.workspace import Workspace
from tests._oracle import (
    CORPUS,
    E2E_MARKS,
    INVENTED_NUMBER,
    INVENTED_QUOTE,
    Faulty,
    Finished,
    Oracle,
    copy_ingested,
    formula_order,
    frequency_by_key,
    ingested_workspace,
    load_truth,
    once,
    planted_counts,
    planted_ranks,
    report_problems,
    request_kind,
    with_invented_number,
    with_invented_quote,
)
from tests.openai_server import LoggedRequest, OpenAIServer

pytestmark = E2E_MARKS

TOP = 3


@pytest.fixture
def truth() -> dict[str, Any]:
    return load_truth()


@pytest.fixture
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_workspace(tmp_path_factory.getbasetemp())


# --------------------------------------------------------------------------- offline (CLI)


@pytest.fixture
def offline(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Finished]:
    """`persona run transcripts/ -w WS --json` with no key and no endpoint: offline mode."""

    def make() -> tuple[Any, Finished]:
        ws = copy_ingested(ingested, tmp_path_factory.mktemp("offline") / "ws")
        result = CliRunner().invoke(app, ["run", str(CORPUS), "-w", str(ws), "--json"])
        assert result.exit_code == 0, (result.stdout[-2000:], result.stderr[-2000:])
        return result, Finished.load(ws)

    return once("offline", make)


def test_offline_run_through_the_cli_writes_a_valid_report(offline: tuple[Any, Finished]) -> None:
    result, done = offline
    summary = RunSummary.model_validate_json(result.stdout)
    assert summary.ok and summary.pending is None
    steps = [s.step for s in summary.steps]
    assert steps == ["ingest", "extract", "segment", "themes", "draft", "report"]
    assert all(not s.failures for s in summary.steps)
    ingest = summary.steps[0].counts
    # The copy's ingest is reused: documents unchanged, nothing embedded again.
    assert ingest["files"] == 15 and ingest["files_unchanged"] == 15  # roster and user table too
    assert ingest["chunks_embedded"] == 0 and ingest["chunks"] == 987
    assert {s.mode for s in summary.steps if s.step in ("extract", "draft")} == {"offline"}
    assert report_problems(done) == []
    personas = done.personas["personas"]
    assert len(personas) == 4
    assert {p["document_info"]["mode"] for p in personas} == {"offline"}
    report = json.loads((done.root / "reports" / "report.json").read_text(encoding="utf-8"))
    assert report["offline"] is True and report["modes"] == ["offline"]


def test_offline_quotes_are_verbatim_and_numbers_are_the_scorers(
    offline: tuple[Any, Finished],
) -> None:
    _, done = offline
    assert len(done.quotes()) >= 30
    assert done.verbatim_problems() == []
    assert done.number_problems() == []
    cited = done.stat_citations()
    assert cited, "offline drafts cite no scorer stat"
    stats = done.segments["stats"]
    keys = [r[5:] for _, refs, _ in cited for r in refs if r.startswith("stat:")]
    assert [k for k in keys if k not in stats] == []
    # A claim citing a single stat and showing a single number shows that stat's value.
    checked = 0
    for where, refs, text in cited:
        numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?%?", text)
        if len(refs) != 1 or len(numbers) != 1:
            continue
        value, shown = float(stats[refs[0][5:]]), numbers[0]
        if shown.endswith("%"):
            assert abs(float(shown[:-1]) - value * 100) <= 0.5, (where, text, value)
        else:
            assert abs(float(shown) - value) <= 0.5, (where, text, value)
        checked += 1
    assert checked >= 1


def test_offline_quotes_do_not_cut_words_or_numbers(offline: tuple[Any, Finished]) -> None:
    """A quote is a whole span of words: never '$538.' out of '$538.81' (the offline
    extractor's sentence split must not break at a decimal point)."""
    _, done = offline
    assert done.cut_quotes() == []


def test_offline_report_shows_the_planted_top_pain_points(
    offline: tuple[Any, Finished], truth: dict[str, Any]
) -> None:
    _, done = offline
    planted = done.planted_themes(truth)
    summary = (done.root / "reports" / "summary.md").read_text(encoding="utf-8")
    report = json.loads((done.root / "reports" / "report.json").read_text(encoding="utf-8"))
    for key in truth["expected_rank"][:TOP]:
        theme, held = planted[key]
        assert held >= 5, (key, held)
        assert theme["label"] in summary, key
        assert theme["id"] in report["summary"]["top_themes"], key


def test_offline_report_lists_the_planted_pain_points_in_order(
    offline: tuple[Any, Finished], truth: dict[str, Any]
) -> None:
    """Offline mode (cue extraction, clustering on chunk context, no model) against the stated
    tolerance in the README: at most 2 of the 8 planted pain points split across themes (it
    separates accounting_export's QuickBooks/Xero sync complaints from its CSV-export ones, and
    onboarding_setup's setup time from its set-up questions); every pain point kept whole ranks
    in the ground truth's order, with the top one first. A key counts as whole when one theme
    holds at least 75% of its planted tickets and quotes."""
    _, done = offline
    planted = done.planted_themes(truth)
    items = {p["key"]: len(p["tickets"]) + len(p["interview_quotes"]) for p in truth["pain_points"]}
    whole = [k for k in truth["expected_rank"] if planted[k][1] / items[k] >= 0.75]
    shown = {k: (planted[k][0]["rank"], round(planted[k][1] / items[k], 2)) for k in items}
    assert len(whole) >= 6, f"more than 2 planted pain points split: {shown}"
    assert whole[0] == truth["expected_rank"][0] and planted[whole[0]][0]["rank"] == 1, shown
    ranks = [planted[k][0]["rank"] for k in whole]
    assert len(set(ranks)) == len(ranks), f"planted pain points share a theme: {shown}"
    assert ranks == sorted(ranks), f"out of order: {shown}"


# --------------------------------------------------------------------------- through a server


def server_settings(ws: Path, base_url: str, **llm: Any) -> Settings:
    settings = Settings(workspace=ws)
    values = {
        "provider": "openai",
        "base_url": base_url,
        "api_key": "test",
        "model": "gpt-4o-mini",
        "mode": "tools",  # as against api.openai.com; the redaction run below uses JSON mode
        **llm,
    }
    settings.llm = settings.llm.model_copy(update=values)
    assert settings.embeddings.provider == "minilm"
    return settings


class ServerRun:
    """One pipeline run through a local server, with what the server saw."""

    def __init__(self, done: Finished, summary: RunSummary, requests: list[LoggedRequest]):
        self.done = done
        self.summary = summary
        self.requests = requests
        self.rerun: RunSummary | None = None
        self.rerun_requests: list[LoggedRequest] = []

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.requests)


def run_through_server(
    ws: Path, responder: Callable[[dict[str, Any]], Any], rerun: bool = False, **llm: Any
) -> ServerRun:
    with OpenAIServer(responder=responder) as server:
        settings = server_settings(ws, server.base_url, **llm)
        summary = run_pipeline([], settings, Workspace(ws))
        run = ServerRun(Finished.load(ws), summary, server.chat_requests())
        if rerun:
            server.reset_log()
            run.rerun = run_pipeline([], settings, Workspace(ws))
            run.rerun_requests = server.requests[:]
    return run


@pytest.fixture
def served(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> ServerRun:
    """The whole pipeline through the server with the oracle (redaction auto: off for localhost),
    then the same run again."""

    def make() -> ServerRun:
        ws = copy_ingested(ingested, tmp_path_factory.mktemp("served") / "ws")
        return run_through_server(ws, Oracle().responder, rerun=True)

    return once("served", make)


def test_server_run_completes_with_no_failures(served: ServerRun) -> None:
    summary = served.summary
    assert summary.ok and summary.pending is None
    assert [f for s in summary.steps for f in s.failures] == []
    by_step = {s.step: s for s in summary.steps}
    assert by_step["extract"].mode == "openai" and by_step["extract"].counts["failed"] == 0
    assert by_step["themes"].counts["llm_named"] == by_step["themes"].counts["themes"]
    assert by_step["draft"].counts["drafted"] == 4 and by_step["draft"].counts["failed"] == 0
    kinds = Counter(request_kind(r.body["messages"]) for r in served.requests)
    assert (
        kinds["extract"]
        == by_step["extract"].counts["calls"]
        == by_step["extract"].counts["requests"]
    )
    # One consolidation request holds every candidate of the sample corpus; it names them all.
    assert kinds["consolidate_themes"] == by_step["themes"].counts["consolidation_calls"] == 1
    # One grouping request per product sees the final themes and returns the findings.
    assert kinds["group_themes"] == by_step["themes"].counts["grouping_calls"] == 1
    assert kinds["draft_persona"] == kinds["draft_journey"] == 4
    assert all(r.body["model"] == "gpt-4o-mini" and r.body.get("tools") for r in served.requests)
    assert report_problems(served.done) == []


def test_server_run_groups_themes_into_findings_counted_over_their_union(
    served: ServerRun, truth: dict[str, Any]
) -> None:
    """The model groups the bank-feed and export themes into one finding; code counts it over
    the union of their people and tickets (a participant with both pains counts once) and
    leaves every other theme standing alone."""
    done = served.done
    planted = done.planted_themes(truth)
    points = {p["key"]: p for p in truth["pain_points"]}
    [finding] = done.themes["groups"]
    keys = ("bank_sync", "accounting_export")
    assert finding["label"] == "Data breaks between connected systems"
    assert finding["named_by"] == "openai" and finding["rank"] == 1
    assert set(finding["theme_ids"]) == {planted[k][0]["id"] for k in keys}
    people = {p for k in keys for p in points[k]["participants"]}
    tickets = {t for k in keys for t in points[k]["tickets"]}
    assert len(people) < sum(len(points[k]["participants"]) for k in keys)  # someone has both
    assert finding["frequency"]["participants"] == len(people)
    assert finding["frequency"]["tickets"] == len(tickets)
    both = [planted[k][0] for k in keys]
    assert finding["severity"]["max"] == max(t["severity"]["max"] for t in both)
    assert finding["score"] >= max(t["score"] for t in both)
    # The reports show it with its themes; report.json carries it for scripts.
    summary = (done.root / "reports" / "summary.md").read_text(encoding="utf-8")
    section = summary[summary.index("## Theme Groups") :]
    row = next(line for line in section.splitlines() if finding["label"] in line)
    assert all(points[k]["label"] in row for k in keys)
    assert f"| {len(people)} (" in row
    html = (done.root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Theme groups" in html and finding["label"] in html
    report = json.loads((done.root / "reports" / "report.json").read_text(encoding="utf-8"))
    assert report["themes"]["groups"] == done.themes["groups"]


def test_server_run_ranks_all_planted_pain_points_with_exact_frequencies(
    served: ServerRun, truth: dict[str, Any]
) -> None:
    """With a perfect model every planted pain point is one whole theme: exactly its planted
    participants and tickets, its label, in rank order. The ground truth ranks by pooled count;
    SCORE_FORMULA weighs interviews and tickets equally and by severity, so at most neighbours
    swap below the top 3 (receipt_ocr/onboarding_setup, permissions/seat_pricing here)."""
    done = served.done
    planted = done.planted_themes(truth)
    points = {p["key"]: p for p in truth["pain_points"]}
    assert set(planted) == set(points)
    assert len({theme["id"] for theme, _ in planted.values()}) == len(points), "themes merged"
    for key, (theme, held) in planted.items():
        point = points[key]
        assert held == len(point["tickets"]) + len(point["interview_quotes"]), key
        assert theme["frequency"]["participants"] == len(point["participants"]), key
        assert theme["frequency"]["tickets"] == len(point["tickets"]), key
        assert theme["severity"]["max"] == point["severity"], key
        assert theme["label"] == point["label"] and theme["named_by"] == "openai", key
    # Nothing else: noise tickets and unplanted turns produced no theme.
    assert len(done.themes["themes"]) == len(points)
    ranks = planted_ranks(done, truth)
    by_rank = sorted(ranks, key=ranks.__getitem__)
    expected = truth["expected_rank"]
    assert by_rank[:TOP] == expected[:TOP]
    totals = (done.themes["total_participants"], done.themes["total_tickets"])
    assert by_rank == formula_order(truth, *totals)
    assert all(abs(by_rank.index(k) - expected.index(k)) <= 1 for k in expected)
    summary = (done.root / "reports" / "summary.md").read_text(encoding="utf-8")
    table = summary[summary.index("## Top Pain Points") :]
    positions = [table.index(f"| {points[k]['label']}[^") for k in by_rank]
    assert positions == sorted(positions)


def test_server_run_quotes_are_verbatim_and_numbers_are_the_scorers(served: ServerRun) -> None:
    done = served.done
    assert len(done.quotes()) >= 30
    assert done.verbatim_problems() == []
    assert done.number_problems() == []
    stats = done.segments["stats"]
    keys = [r[5:] for _, refs, _ in done.stat_citations() for r in refs if r.startswith("stat:")]
    assert keys and [k for k in keys if k not in stats] == []
    # Every extracted quote is exact in its chunk (mentions.jsonl keeps the spans).
    for mention in done.mentions.values():
        for quote in mention["quotes"]:
            chunk = done.chunks[quote["chunk_id"]]
            assert chunk["text"][quote["start"] : quote["end"]] == quote["text"]


def test_server_run_personas_come_from_the_endpoint(served: ServerRun) -> None:
    done = served.done
    personas = done.personas["personas"]
    assert {p["document_info"]["mode"] for p in personas} == {"openai"}
    assert {p["document_info"]["model"] for p in personas} == {"gpt-4o-mini"}
    assert all("drafted by the oracle" in p["draft"]["name"] for p in personas)
    assert {j["document_info"]["mode"] for j in done.personas["journeys"]} == {"openai"}
    report = json.loads((done.root / "reports" / "report.json").read_text(encoding="utf-8"))
    assert report["offline"] is False and report["modes"] == ["openai"]
    calls = [json.loads(line) for line in (done.root / "calls.jsonl").read_text().splitlines()]
    assert {c["step"] for c in calls} == {
        "extract",
        "consolidate_themes",
        "group_themes",
        "draft_persona",
        "draft_journey",
    }
    assert all(c["ok"] and c["mode"] == "tools" and not c["redacted"] for c in calls)


def test_second_server_run_makes_no_requests(served: ServerRun) -> None:
    assert served.rerun is not None and served.rerun.ok
    assert served.rerun_requests == []
    by_step = {s.step: s for s in served.rerun.steps}
    assert by_step["extract"].counts["calls"] == 0
    assert by_step["extract"].counts["cached"] == by_step["extract"].counts["requests"]


def test_localhost_endpoint_sees_raw_text(served: ServerRun, truth: dict[str, Any]) -> None:
    pii = truth["pii"]
    seen = [v for v in (*pii["emails"], *pii["phones"], *pii["cards"]) if v in served.text]
    assert len(seen) == len(pii["emails"]) + len(pii["phones"]) + len(pii["cards"])
    assert "[EMAIL_" not in served.text


@pytest.fixture
def redacted(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> ServerRun:
    """The whole pipeline with llm.redact = "on" (JSON mode, as local servers default to)."""

    def make() -> ServerRun:
        ws = copy_ingested(ingested, tmp_path_factory.mktemp("redacted") / "ws")
        return run_through_server(ws, Oracle().responder, redact="on", mode="auto")

    return once("redacted", make)


def test_forced_redaction_hides_planted_pii_from_the_server(
    redacted: ServerRun, truth: dict[str, Any]
) -> None:
    assert redacted.summary.ok and redacted.summary.pending is None
    assert [f for s in redacted.summary.steps for f in s.failures] == []
    pii = truth["pii"]
    text = redacted.text
    assert [v for v in (*pii["emails"], *pii["phones"], *pii["cards"]) if v in text] == []
    assert "[EMAIL_1]" in text and "[PHONE_1]" in text and "[CARD_1]" in text
    assert all(r.body.get("response_format") == {"type": "json_object"} for r in redacted.requests)
    # The outputs are still the real words: quotes restored, verbatim, and the same themes.
    done = redacted.done
    assert done.verbatim_problems() == []
    assert done.number_problems() == []
    assert "[EMAIL_" not in (done.root / "personas.json").read_text(encoding="utf-8")
    assert frequency_by_key(done, truth) == planted_counts(truth)


# --------------------------------------------------------------------------- grounding re-asks


@pytest.fixture
def reasked(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ServerRun, Faulty]:
    """The whole pipeline with drafts that first invent a number or a quote."""

    def make() -> tuple[ServerRun, Faulty]:
        ws = copy_ingested(ingested, tmp_path_factory.mktemp("reasked") / "ws")
        faulty = Faulty(
            Oracle(),
            {
                "draft_persona": [with_invented_number, with_invented_quote],
                "draft_journey": [with_invented_number],
            },
        )
        return run_through_server(ws, faulty.responder), faulty

    return once("reasked", make)


def test_invented_numbers_and_quotes_are_reasked_and_corrected(
    reasked: tuple[ServerRun, Faulty],
) -> None:
    run, faulty = reasked
    assert faulty.faulted == {"draft_persona": 2, "draft_journey": 1}
    assert len(faulty.reasks) == 3
    feedback = [str(messages[-1].get("content")) for messages in faulty.reasks]
    number = [f for f in feedback if f"number '{INVENTED_NUMBER}'" in f]
    quote = [f for f in feedback if INVENTED_QUOTE in f and "is not verbatim" in f]
    assert len(number) == 2 and len(quote) == 1
    assert any("GroundedPersonaDraft" in f for f in number)
    assert any("GroundedJourneyDraft" in f for f in number)
    # The corrected answers were accepted: no failure, nothing invented in the outputs.
    assert run.summary.ok and [f for s in run.summary.steps for f in s.failures] == []
    text = (run.done.root / "personas.json").read_text(encoding="utf-8")
    assert INVENTED_NUMBER not in text and INVENTED_QUOTE not in text
    assert run.done.verbatim_problems() == [] and run.done.number_problems() == []
    calls = [json.loads(line) for line in (run.done.root / "calls.jsonl").read_text().splitlines()]
    drafts = [c for c in calls if c["step"].startswith("draft_")]
    assert sorted(c["attempts"] for c in drafts) == [1] * (len(drafts) - 3) + [2, 2, 2]


# --------------------------------------------------------------------------- the checks bite


def test_the_workspace_checks_catch_invented_numbers_and_quotes(
    served: ServerRun, tmp_path: Path
) -> None:
    """The checks above would fail on a workspace holding an invented number or quote."""
    source = served.done
    ws = tmp_path / "ws"
    for name in ("chunks.jsonl", "documents.jsonl", "mentions.jsonl", "themes.json"):
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_bytes((source.root / name).read_bytes())
    (ws / "segments.json").write_bytes((source.root / "segments.json").read_bytes())
    personas = json.loads(json.dumps(source.personas))
    draft = personas["personas"][0]["draft"]
    (draft["goals"] or [draft["summary"]])[0]["text"] += f" ({INVENTED_NUMBER} users)"
    draft["quotes"][0]["text"] = INVENTED_QUOTE
    (ws / "personas.json").write_text(json.dumps(personas), encoding="utf-8")
    broken = Finished.load(ws)
    assert any(INVENTED_NUMBER in p for p in broken.number_problems())
    assert any("not verbatim" in p for p in broken.verbatim_problems())


# --------------------------------------------------------------------------- reproducibility


OUTPUTS = (
    "chunks.jsonl",
    "mentions.jsonl",
    "themes.json",
    "segments.json",
    "segment_assignments.csv",
    "personas.json",
    "reports/summary.md",
    "reports/index.html",
    "reports/report.json",
)


def test_two_fresh_offline_runs_are_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same input, same seed, separate workspaces (each ingesting from scratch): every output is
    the same byte for byte. SOURCE_DATE_EPOCH pins the one wall-clock field (generated-at)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    runs = []
    for name in ("a", "b"):
        ws = tmp_path / name
        result = CliRunner().invoke(app, ["run", str(CORPUS), "-w", str(ws), "--json"])
        assert result.exit_code == 0, result.stderr[-2000:]
        runs.append(ws)
    different = [f for f in OUTPUTS if (runs[0] / f).read_bytes() != (runs[1] / f).read_bytes()]
    assert different == []
    assert "2026-01-01T00:00:00Z" in (runs[0] / "personas.json").read_text(encoding="utf-8")
