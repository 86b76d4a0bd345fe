"""Host mode: pending request files, a scripted answerer, and resume with the same validators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import Settings
from agent.errors import ConfigError, HostPending
from agent.extract import PainPointExtraction, extract_mentions
from agent.host import lookup_response_model, model_name, resume_host
from agent.models import Chunk, PainPointMention
from agent.workspace import Workspace, read_models, write_models
from tests._llm_helpers import first_sentence, make_chunk, mention

TEXTS = [
    "Payroll export fails every month. I rebuild the file in a spreadsheet.",
    "The mobile app logs me out constantly. It is maddening on the road.",
    "Approvals get stuck for days. Nobody tells me who has to sign off.",
]


PADDING = " ".join(["Month end is the week I dread most of all, every single time."] * 12)


def host_setup(tmp_path: Path) -> tuple[Settings, Workspace]:
    settings = Settings(workspace=tmp_path / "ws")
    settings.llm.provider = "host"
    settings.llm.redact = "off"
    settings.llm.max_output_tokens = 200  # ~300 source tokens per request: one interview each
    workspace = Workspace(settings.workspace).ensure()
    chunks = [make_chunk("How was month end?", role="interviewer", doc="d0")]
    chunks += [
        make_chunk(f"{t} {PADDING}", doc=f"d{i}", participant=f"P{i}", start=40)
        for i, t in enumerate(TEXTS)
    ]
    write_models(workspace.chunks, chunks)
    return settings, workspace


def pending(workspace: Workspace) -> list[dict]:
    folder = workspace.host_dir / "pending"
    return [
        json.loads(p.read_text())
        for p in sorted(folder.glob("*.json"))
        if not p.name.endswith(".errors.json")
    ]


def answer(record: dict, payload: object) -> None:
    path = Path(record["answer_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))


def good(record: dict) -> dict:
    alias, text = next(iter(record["context"]["chunks"].items()))
    return {"mentions": [mention(alias, first_sentence(text), "The export job is unreliable")]}


def test_host_mode_writes_pending_requests_and_stops(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending, match="persona resume") as info:
        extract_mentions(settings, workspace)
    assert str(workspace.host_dir / "pending") in str(info.value)
    records = pending(workspace)
    assert len(records) == 3
    for record in records:
        assert set(record) >= {"id", "step", "messages", "json_schema", "context", "answer_path"}
        assert record["step"] == "extract"
        assert record["json_schema"] == PainPointExtraction.model_json_schema()
        assert record["answer_path"].endswith(f"answers/{record['id']}.json")
        json.dumps(record["context"])  # must survive a round trip through a file
    assert (workspace.host_dir / "README.md").exists()
    assert not workspace.mentions.exists()


def test_scripted_answerer_good_and_bad_answers(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    first, second, third = pending(workspace)
    answer(first, good(first))
    invented = good(second)
    invented["mentions"][0]["quotes"][0]["text"] = "I love this product, it never fails."
    answer(second, invented)
    answer(third, '{"mentions": [ {"statement": "cut off')

    report = resume_host(settings, workspace)
    assert not report.ok
    assert report.accepted == [first["id"]] and report.steps == ["extract"]
    rejected = {r.id: r for r in report.rejected}
    assert set(rejected) == {second["id"], third["id"]}
    assert any("does not appear verbatim" in e for e in rejected[second["id"]].errors)
    assert any("mentions.0.quotes.0" in e for e in rejected[second["id"]].errors)
    assert any("json" in e.lower() for e in rejected[third["id"]].errors)
    errors_file = Path(rejected[second["id"]].errors_path)
    assert json.loads(errors_file.read_text())["errors"] == rejected[second["id"]].errors

    # The step still waits for the two rejected answers, and says so.
    with pytest.raises(HostPending, match="2 LLM request"):
        extract_mentions(settings, workspace)

    answer(second, good(second))
    answer(third, good(third))
    report = resume_host(settings, workspace)
    assert report.ok and sorted(report.accepted) == sorted([second["id"], third["id"]])
    assert not errors_file.exists()

    summary = extract_mentions(settings, workspace)
    assert summary.ok and summary.counts["cached"] == 3 and summary.counts["calls"] == 0
    mentions = read_models(workspace.mentions, PainPointMention)
    assert len(mentions) == 3 and {m.origin for m in mentions} == {"host"}
    assert {m.quotes[0].text for m in mentions} == {first_sentence(t) for t in TEXTS}
    assert pending(workspace) == []


def test_answers_are_picked_up_by_rerunning_the_step_without_resume(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    for record in pending(workspace):
        answer(record, good(record))
    summary = extract_mentions(settings, workspace)
    assert summary.ok and summary.counts["mentions"] == 3


def test_host_answer_quoting_the_interviewer_is_rejected(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    record = pending(workspace)[0]
    payload = good(record)
    payload["mentions"][0]["quotes"][0]["text"] = "How was month end?"
    answer(record, payload)
    report = resume_host(settings, workspace)
    [rejected] = report.rejected
    assert any("does not appear verbatim" in e for e in rejected.errors)


def test_missing_answers_are_reported(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    report = resume_host(settings, workspace)
    assert not report.ok and len(report.missing) == 3 and report.accepted == []


def test_response_models_resolve_by_name():
    name = model_name(PainPointExtraction)
    # A stable name, not the import path: pending requests survive a refactor.
    assert name == "extract_pain_points"
    assert lookup_response_model(name) is PainPointExtraction
    assert lookup_response_model("agent.extract.PainPointExtraction") is PainPointExtraction
    with pytest.raises(ConfigError, match="never registered"):
        lookup_response_model("os.system")


def test_host_mode_redacts_by_default_and_restores_accepted_quotes(tmp_path):
    settings = Settings(workspace=tmp_path / "ws")
    settings.llm.provider = "host"  # redact stays "auto": the host's model is not on this machine
    workspace = Workspace(settings.workspace).ensure()
    text = "Invoices to ap@acme-corp.com bounce every time. I resend them by hand."
    write_models(workspace.chunks, [make_chunk(text)])
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    [record] = pending(workspace)
    assert "ap@acme-corp.com" not in json.dumps(record)
    answer(record, good(record))
    assert resume_host(settings, workspace).ok
    extract_mentions(settings, workspace)
    [stored] = read_models(workspace.mentions, PainPointMention)
    assert stored.quotes[0].text == "Invoices to ap@acme-corp.com bounce every time."


def test_pending_requests_the_inputs_no_longer_need_are_retired(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    before = {r["id"] for r in pending(workspace)}
    chunks = read_models(workspace.chunks, Chunk)
    write_models(workspace.chunks, chunks[:-1])  # one interview dropped from the inputs
    with pytest.raises(HostPending, match="2 LLM request"):
        extract_mentions(settings, workspace)
    after = {r["id"] for r in pending(workspace)}
    assert after < before and len(after) == 2
    assert len(list((workspace.host_dir / "stale").glob("*.json"))) == 1


# --------------------------------------------------------------------------- review fixes


def test_unknown_keys_in_a_host_answer_are_rejected(tmp_path):
    settings, workspace = host_setup(tmp_path)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    record = pending(workspace)[0]
    payload = good(record)
    item = payload["mentions"][0]
    item["workarround"] = item.pop("workaround") or "re-keys the file"
    item["quotes"][0]["speaker"] = "P0"
    payload["notes"] = "nothing else"
    answer(record, payload)
    [rejected] = resume_host(settings, workspace).rejected
    wrong = sorted(e.split(":")[0] for e in rejected.errors if "Extra inputs" in e)
    assert wrong == ["mentions.0.quotes.0.speaker", "mentions.0.workarround", "notes"]


def test_host_mode_doc_names_the_real_step_names():
    """references/host-mode.md lists the `step` values a request file really carries."""
    import re

    from agent import cohorts, consolidate, draft, extract, theme_groups

    doc = (
        Path(__file__).resolve().parent.parent
        / ".agents/skills/persona-synthesis/references/host-mode.md"
    ).read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `step`"))
    documented = set(re.findall(r"`([a-z_]+)`", row)) - {"step"}
    source = Path(draft.__file__).read_text()
    drafted = {"draft_persona", "draft_journey"}
    assert all(f'"{step}"' in source for step in drafted)  # the step= values draft.py sends
    steps = {extract.STEP, consolidate.STEP, theme_groups.STEP, cohorts.STEP, *drafted}
    assert documented == steps


def test_host_answer_that_breaks_once_restored_is_rejected_without_revealing_pii(tmp_path):
    """With redaction on, a host answer is checked again with the tokens put back; failing that
    is a rejection like any other (not cached, not failing on every run), in token form."""
    settings = Settings(workspace=tmp_path / "ws")
    settings.llm.provider = "host"
    settings.llm.redact = "on"
    workspace = Workspace(settings.workspace).ensure()
    text = "Support never answers at dana.kim@example.com for days. The export is broken."
    write_models(workspace.chunks, [make_chunk(text)])
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)
    [record] = pending(workspace)
    assert "dana.kim" not in json.dumps(record) and record["restore_tokens"] == ["[EMAIL_1]"]
    broken = mention("c1", "answers at [EMAIL_1", "Support is unreachable")
    fine = mention("c1", "never answers at [EMAIL_1] for days", "Support is unreachable")
    exports = mention("c1", "The export is broken.", "Exports fail")
    answer(record, {"mentions": [broken, exports]})
    [rejected] = resume_host(settings, workspace).rejected
    assert rejected.errors[0].startswith("mentions.0.quotes.0") and "verbatim" in rejected.errors[0]
    written = (workspace.host_dir / "pending" / f"{record['id']}.errors.json").read_text()
    assert "dana.kim" not in written + json.dumps(rejected.errors)
    with pytest.raises(HostPending):
        extract_mentions(settings, workspace)  # still pending, nothing cached
    answer(record, {"mentions": [fine, exports]})
    assert resume_host(settings, workspace).accepted == [record["id"]]
    summary = extract_mentions(settings, workspace)
    assert summary.ok and summary.counts["mentions"] == 2
    quotes = {m.quotes[0].text for m in read_models(workspace.mentions, PainPointMention)}
    assert quotes == {"never answers at dana.kim@example.com for days", "The export is broken."}


def test_every_response_model_resolves_by_name_in_a_fresh_process() -> None:
    # `persona resume` runs in a new process: a model registered only when a request was made
    # (the first run's process) would be unknown there.
    import subprocess
    import sys

    names = {
        "extract_pain_points": "PainPointExtraction",
        "consolidate_themes": "ThemeConsolidation",
        "group_themes": "ThemeGrouping",
        "draft_persona": "GroundedPersonaDraft",
        "draft_journey": "GroundedJourneyDraft",
        # Files written before stable names: their import paths still resolve.
        "agent.extract.PainPointExtraction": "PainPointExtraction",
        "agent.grounding.GroundedJourneyDraft": "GroundedJourneyDraft",
    }
    code = (
        "from agent.host import lookup_response_model\n"
        f"for name, cls in {names!r}.items():\n"
        "    assert lookup_response_model(name).__name__ == cls, name\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
