"""Personas from interviews alone: participants grouped by what they do, need and raise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli import app
from agent.cohorts import ParticipantGrouping, Profile, grouping_problems, propose_groups
from agent.config import Settings
from agent.errors import HostPending
from agent.workspace import Workspace
from tests._oracle import data_blocks, pending_records, write_answer
from tests.openai_server import OpenAIServer, Reply, ok

CORPUS = Path(__file__).resolve().parents[1] / "transcripts"


def _interviews_with_roster(tmp: Path) -> Path:
    """The sample corpus's interviews and roster, without its user table or tickets."""
    folder = tmp / "study"
    (folder / "interviews").mkdir(parents=True)
    for path in (CORPUS / "interviews").iterdir():
        (folder / "interviews" / path.name).write_bytes(path.read_bytes())
    (folder / "participants.csv").write_bytes((CORPUS / "participants.csv").read_bytes())
    return folder


def _env() -> dict[str, str]:
    return {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}


@pytest.fixture(scope="module")
def offline_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cohorts")
    ws = tmp / "ws"
    # Hash vectors keep the test fast; the grouping's other signals carry it.
    result = CliRunner().invoke(
        app, ["run", str(_interviews_with_roster(tmp)), "-w", str(ws), "--json"], env=_env()
    )
    assert result.exit_code == 0, result.output
    return ws


def test_interviews_alone_give_several_personas_none_sharing_a_participant(
    offline_study: Path,
) -> None:
    cohorts = json.loads((offline_study / "cohorts.json").read_text())
    assert "one_persona_reason" not in cohorts
    assert cohorts["basis"] == "interviews" and 2 <= len(cohorts["cohorts"]) <= 4
    members = [m for c in cohorts["cohorts"] for m in c["members"]]
    assert sorted(members) == sorted(set(members)) and len(members) == 12  # a partition
    # Sizes and shares are counted by code, and citable.
    for c in cohorts["cohorts"]:
        assert c["size"] == len(c["members"]) and c["share"] == round(c["size"] / 12, 4)
        assert cohorts["stats"][f"segment.{c['key']}.size"] == c["size"]
    personas = json.loads((offline_study / "personas.json").read_text())["personas"]
    assert len(personas) == len(cohorts["cohorts"])
    owner = {m: c["name"] for c in cohorts["cohorts"] for m in c["members"]}
    chunks = {
        row["id"]: row
        for row in map(json.loads, (offline_study / "chunks.jsonl").read_text().splitlines())
    }
    for persona in personas:
        for quote in persona["draft"]["quotes"]:
            speaker = chunks[quote["chunk_id"]]["participant_id"]
            # Every quote is one of the persona's own participants.
            assert owner[speaker] == persona["segment"], (persona["segment"], speaker)


def test_the_report_resolves_every_cohort_number(offline_study: Path) -> None:
    report = json.loads((offline_study / "reports" / "report.json").read_text())
    text = json.dumps(report)
    assert "Unresolved" not in text
    md = "\n".join(p.read_text() for p in (offline_study / "reports").glob("*.md"))
    assert "Unresolved evidence" not in md


def test_the_summary_counts_each_groups_participants(offline_study: Path) -> None:
    cohorts = json.loads((offline_study / "cohorts.json").read_text())["cohorts"]
    summary = (offline_study / "reports" / "summary.md").read_text()
    assert "| Persona | Segment | People | Share |" in summary
    for c in cohorts:
        # The group's size and share, as the persona pages give them (were empty cells).
        assert f" | {c['size']} participants | {round(c['share'] * 100)}% |" in summary, c["name"]


def test_the_summary_says_offline_groups_are_the_codes_proposal(offline_study: Path) -> None:
    cohorts = json.loads((offline_study / "cohorts.json").read_text())["cohorts"]
    caveats = (offline_study / "reports" / "summary.md").read_text().split("## Caveats")[1]
    assert f"the {len(cohorts)} groups were proposed by code, without a model" in caveats


def test_the_roster_names_offline_groups_by_what_their_members_are(offline_study: Path) -> None:
    cohorts = json.loads((offline_study / "cohorts.json").read_text())["cohorts"]
    roster = {
        line.split(",")[0]: line.split(",")[3]
        for line in (CORPUS / "participants.csv").read_text().splitlines()[1:]
    }
    for c in cohorts:
        roles = {roster[m].replace("_", " ") for m in c["members"]}
        # The name lists the most common roles of its own members, never another group's.
        named = [r for r in roles if r in c["name"].lower()]
        assert named, (c["name"], roles)


def test_fewer_than_four_participants_give_one_persona_and_say_why(tmp_path: Path) -> None:
    folder = tmp_path / "three"
    folder.mkdir()
    for path in sorted((CORPUS / "interviews").iterdir())[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["run", str(folder), "-w", str(ws), "--json"], env=_env())
    assert result.exit_code == 0, result.output
    cohorts = json.loads((ws / "cohorts.json").read_text())
    assert cohorts["basis"] == "everyone" and len(cohorts["cohorts"]) == 1
    assert "a group of one or two people is a person, not a persona" in cohorts["notes"][0]
    assert cohorts["one_persona_reason"] == cohorts["notes"][0]
    summary = (ws / "reports" / "summary.md").read_text().split("## Caveats")[1]
    assert cohorts["notes"][0] in summary
    draft = next(s for s in json.loads(result.stdout)["steps"] if s["step"] == "draft")
    assert draft["counts"]["personas"] == 1
    assert draft["notes"].count(cohorts["notes"][0]) == 1


def test_interviews_with_no_split_give_one_persona_and_say_why(tmp_path: Path) -> None:
    """Four participants who all say the same thing and one who says little: every split sets
    a single person apart, so there is one persona, named as all participants, with the
    reason and the remedy in the notes."""
    folder = tmp_path / "same"
    folder.mkdir()
    said = (
        "The export to our ledger breaks every month and I fix the rows by hand. "
        "It takes me a whole afternoon each time and I worry about the numbers."
    )
    for n in range(1, 5):
        (folder / f"P{n}.txt").write_text(
            f"Interviewer: How do month-end exports go?\nP{n}: {said}\n", encoding="utf-8"
        )
    (folder / "P5.txt").write_text(
        "Interviewer: How do month-end exports go?\nP5: Fine, thanks.\n", encoding="utf-8"
    )
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["run", str(folder), "-w", str(ws), "--json"], env=_env())
    assert result.exit_code == 0, result.output
    cohorts = json.loads((ws / "cohorts.json").read_text())
    assert cohorts["basis"] == "interviews"
    [cohort] = cohorts["cohorts"]
    assert cohort["name"] == "All participants" and cohort["size"] == 5
    why = next(n for n in cohorts["notes"] if n.startswith("one persona for all 5"))
    assert cohorts["one_persona_reason"] == why
    assert "a roster CSV" in why and "--llm" in why
    md = "\n".join(p.read_text() for p in (ws / "reports").glob("*.md"))
    assert "Unresolved evidence" not in md and "All participants" in md
    # The reason reaches the user: the run's draft step and the summary's caveats say it.
    draft = next(s for s in json.loads(result.stdout)["steps"] if s["step"] == "draft")
    assert draft["notes"].count(why) == 1
    caveats = (ws / "reports" / "summary.md").read_text().split("## Caveats")[1]
    assert why in caveats


def _profile(pid: str, themes: dict[str, float], role: str) -> Profile:
    return Profile(participant=pid, themes=themes, attributes={"role": role})


def test_the_proposal_separates_people_who_raise_different_things() -> None:
    a = {"t-sync": 5.0, "t-export": 3.0}
    b = {"t-mobile": 4.0, "t-approval": 4.0}
    profiles = [_profile(f"A{i}", a, "controller") for i in range(3)]
    profiles += [_profile(f"B{i}", b, "manager") for i in range(3)]
    assert propose_groups(profiles) == [["A0", "A1", "A2"], ["B0", "B1", "B2"]]
    # Deterministic: the same evidence in another order gives the same groups.
    assert propose_groups(list(reversed(profiles))) == [["A0", "A1", "A2"], ["B0", "B1", "B2"]]
    assert propose_groups(profiles[:3]) == [["A0", "A1", "A2"]]  # too few to group


EVIDENCE = {
    "P1": ["theme:t1", "chunk:c1"],
    "P2": ["theme:t1", "chunk:c2"],
    "P3": ["theme:t2", "chunk:c3"],
    "P4": ["theme:t2", "chunk:c4"],
}


def _group(name: str, members: list[str], evidence: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": "They do similar work.",
        "members": members,
        "traits": [{"text": "They raise the same thing", "evidence": evidence}],
    }


def test_a_grouping_must_be_a_grounded_partition() -> None:
    def problems(groups: list[dict[str, Any]]) -> str:
        answer = ParticipantGrouping.model_validate({"groups": groups})
        return "; ".join(grouping_problems(answer, EVIDENCE, 2))

    good = [
        _group("Month end closers", ["P1", "P2"], ["theme:t1"]),
        _group("Mobile approvers", ["P3", "P4"], ["chunk:c3"]),
    ]
    assert problems(good) == ""
    assert "P4 in no group" in problems([good[0], _group("Mobile approvers", ["P3"], ["chunk:c3"])])
    twice = _group("Mobile approvers", ["P2", "P3", "P4"], ["chunk:c3"])
    assert "P2 in more than one group" in problems([good[0], twice])
    assert "make 2-4 groups" in problems(
        [_group("Everyone here", EVIDENCE and list(EVIDENCE), ["theme:t1"])]
    )
    stray = _group("Mobile approvers", ["P3", "P4"], ["theme:t1"])
    assert "not evidence from this group's own members" in problems([good[0], stray])
    with pytest.raises(ValidationError, match="2-8 words"):
        ParticipantGrouping.model_validate({"groups": [_group("Closers", ["P1"], ["theme:t1"])]})


def researcher(body: dict[str, Any]) -> Reply:
    """Groups participants by their roster role, citing each group's first member's evidence."""
    people = data_blocks(body["messages"])["participants"]
    by_role: dict[str, list[dict[str, Any]]] = {}
    for p in people:
        role = (p.get("attributes") or {}).get("role", "other")
        key = "approvers" if "approver" in role or role == "employee" else "finance"
        by_role.setdefault(key, []).append(p)
    groups = []
    for key, members in sorted(by_role.items()):
        cite = next(
            (x["theme"] for m in members for x in m.get("raises", [])),
            next(s["chunk"] for m in members for s in m.get("says", [])),
        )
        name = "Approvers on the go" if key == "approvers" else "Finance teams closing the books"
        groups.append(_group(name, [m["id"] for m in members], [cite]))
    return ok({"groups": groups})


def test_host_mode_refines_the_grouping_and_resumes(tmp_path: Path) -> None:
    from agent.cohorts import build_cohorts
    from agent.host import resume_host

    folder = _interviews_with_roster(tmp_path)
    ws = tmp_path / "ws"
    assert CliRunner().invoke(app, ["run", str(folder), "-w", str(ws)], env=_env()).exit_code == 0
    settings = Settings.model_validate({"workspace": str(ws), "embeddings": {"provider": "hash"}})
    workspace = Workspace(ws)
    _, failures, pending = build_cohorts(settings, workspace, "host")
    assert isinstance(pending, HostPending) and not failures
    (record,) = [r for r in pending_records(workspace) if r["step"] == "group_participants"]
    assert record["response_model"] == "group_participants"
    write_answer(record, researcher({"messages": record["messages"]}).answer)
    assert resume_host(settings, workspace).accepted == [record["id"]]
    report, failures, pending = build_cohorts(settings, workspace, "host")
    assert pending is None and not failures
    assert [c.name for c in report.cohorts] == [
        "Finance teams closing the books",
        "Approvers on the go",
    ]
    assert all(c.named_by == "host" and c.traits for c in report.cohorts)


def test_a_failed_grouping_call_keeps_the_proposal_and_says_so(tmp_path: Path) -> None:
    from agent.cohorts import build_cohorts
    from tests._llm_helpers import make_settings
    from tests.openai_server import error

    folder = _interviews_with_roster(tmp_path)
    ws = tmp_path / "ws"
    assert CliRunner().invoke(app, ["run", str(folder), "-w", str(ws)], env=_env()).exit_code == 0
    with OpenAIServer(responder=lambda body: error(500)) as down:
        settings = make_settings(tmp_path, down.base_url)
        settings.workspace = ws
        settings.embeddings.provider = "hash"
        report, failures, _ = build_cohorts(settings, Workspace(ws), "openai")
    assert failures and failures[0].step == "group_participants"
    assert report.basis == "interviews" and all(c.named_by == "offline" for c in report.cohorts)
    assert any("refinement failed" in note for note in report.notes)


def test_a_cited_participant_from_another_group_is_named_as_such(
    offline_study: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(offline_study, ws)
    cohorts = json.loads((ws / "cohorts.json").read_text())["cohorts"]
    raw = json.loads((ws / "personas.json").read_text())
    persona = raw["personas"][0]
    members = next(c["members"] for c in cohorts if c["name"] == persona["segment"])
    chunks = [json.loads(line) for line in (ws / "chunks.jsonl").read_text().splitlines()]
    said = [c for c in chunks if c.get("role") == "participant" and c.get("participant_id")]
    own = next(c for c in said if c["participant_id"] in members)
    other = next(c for c in said if c["participant_id"] not in members)
    persona["draft"]["goals"] = [
        {"text": "Close the month fast", "evidence": [f"chunk:{own['id']}"]},
        {"text": "Keep approvals simple", "evidence": [f"chunk:{other['id']}"]},
    ]
    (ws / "personas.json").write_text(json.dumps(raw))
    result = CliRunner().invoke(app, ["report", "-w", str(ws), "--format", "md,html"], env=_env())
    assert result.exit_code == 0, result.output
    page = next(
        p for p in (ws / "reports").glob("persona-*.md") if "Keep approvals simple" in p.read_text()
    )
    notes = [line for line in page.read_text().splitlines() if "**Quote**" in line]
    flagged = [line for line in notes if "outside this persona's group" in line]
    assert len(flagged) == 1 and other["id"] in flagged[0]
    # And where the claim is read, not only in the evidence list.
    body = page.read_text().split("## Evidence")[0].splitlines()
    assert "outside this persona's group" in next(x for x in body if "Keep approvals" in x)
    assert "outside this persona's group" not in next(x for x in body if "Close the month" in x)
    # The HTML library says it beside the claim and in the evidence list too.
    html = (ws / "reports" / "index.html").read_text()
    claim = html.split("Keep approvals simple")[1].split("</li>")[0]
    assert "(outside this persona's group)" in claim
    assert html.count("(outside this persona's group)") == 2
    assert any(own["id"] in line for line in notes)


def test_an_offline_group_is_named_after_what_most_of_it_raises() -> None:
    """The theme only 3 of 7 raise (and nobody outside) is a trait; the name comes from the
    most distinctive theme at least half the group raises, shown among the traits."""
    from agent.cohorts import describe_group
    from agent.models import ThemeReport

    def labelled(tid: str, label: str) -> dict[str, Any]:
        return {
            "id": tid, "label": label, "description": label, "mention_ids": [f"m-{tid}"],
            "frequency": {"participants": 1, "tickets": 0, "participant_share": 0.1,
                          "ticket_share": 0.0},
            "severity": {"mean": 2.0, "max": 2}, "score": 0.2, "rank": 1,
            "representative_quotes": [],
        }  # fmt: skip

    report = ThemeReport.model_validate(
        {
            "themes": [labelled("rare", "Sort order"), labelled("common", "Missing values")],
            "total_participants": 12,
            "total_tickets": 0,
            "total_mentions": 2,
            "embedder": "hash",
            "score_formula": "x",
        }
    )
    inside = [f"G{i}" for i in range(7)]
    profiles = {
        pid: Profile(
            participant=pid,
            themes={"rare": 1.0} if i < 3 else {"common": 1.0} if i < 7 else {},
            chunks=[f"c-{pid}"],
        )
        for i, pid in enumerate(inside)
    }
    # One outsider raises the common theme too: its gap (4/7 - 1/5) is below the rare one's.
    profiles |= {
        f"O{i}": Profile(participant=f"O{i}", themes={"common": 1.0} if i == 0 else {})
        for i in range(5)
    }
    named = describe_group(inside, profiles, report)
    assert named.name == "Participants who raise 'Missing values'"
    texts = [t.text for t in named.traits]
    assert "Raise 'Sort order' (3 of 7: G0, G1, G2)" in texts
    assert "Raise 'Missing values' (4 of 7: G3, G4, G5, G6)" in texts


def test_each_claim_says_how_many_of_its_group_it_rests_on(
    offline_study: Path, tmp_path: Path
) -> None:
    """A goal cited from one person's words reads '1 of N', not as the whole group's; a need
    citing a theme counts the group's people who raise it."""
    ws = tmp_path / "ws"
    shutil.copytree(offline_study, ws)
    cohorts = json.loads((ws / "cohorts.json").read_text())["cohorts"]
    raw = json.loads((ws / "personas.json").read_text())
    persona = raw["personas"][0]
    members = set(next(c["members"] for c in cohorts if c["name"] == persona["segment"]))
    assert len(members) >= 2
    chunks = [json.loads(line) for line in (ws / "chunks.jsonl").read_text().splitlines()]
    said = [c for c in chunks if c.get("role") == "participant" and c.get("participant_id")]
    own = [c for c in said if c["participant_id"] in members]
    first = own[0]
    second = next(c for c in own if c["participant_id"] != first["participant_id"])
    other = next(c for c in said if c["participant_id"] not in members)
    themes = json.loads((ws / "themes.json").read_text())["themes"]
    mentions = [json.loads(line) for line in (ws / "mentions.jsonl").read_text().splitlines()]
    raised = {m["id"]: m.get("participant_id") for m in mentions}
    theme = themes[0]
    theme_people = {raised[m] for m in theme["mention_ids"] if raised.get(m)} & members
    assert theme_people
    persona["draft"]["goals"] = [
        {"text": "Close the month fast", "evidence": [f"chunk:{first['id']}"]},
        {
            "text": "Keep approvals simple",
            "evidence": [f"chunk:{c['id']}" for c in (first, second, other)],
        },
    ]
    persona["draft"]["needs"]["must"] = [
        {"text": "Feeds that stay connected", "evidence": [f"theme:{theme['id']}"]}
    ]
    (ws / "personas.json").write_text(json.dumps(raw))
    result = CliRunner().invoke(app, ["report", "-w", str(ws), "--format", "md,html"], env=_env())
    assert result.exit_code == 0, result.output
    page = next(
        p for p in (ws / "reports").glob("persona-*.md") if "Keep approvals simple" in p.read_text()
    )
    body = page.read_text().split("## Evidence")[0].splitlines()
    n = len(members)
    assert next(x for x in body if "Close the month" in x).endswith(f"_(1 of {n} participants)_")
    # The outsider is flagged, not counted.
    assert f"_(2 of {n} participants)_" in next(x for x in body if "Keep approvals" in x)
    need = next(x for x in body if "Feeds that stay connected" in x)
    assert need.endswith(f"_({len(theme_people)} of {n} participants)_"), need
    # The HTML library says the same beside each item.
    html = (ws / "reports" / "index.html").read_text()
    claim = html.split("Close the month fast")[1].split("</li>")[0]
    assert f"(1 of {n} participants)" in claim
    # Journey items are not counted (the Markdown journey pages do not count them either).
    journeys = html.split('class="journey')[1:]
    assert journeys and not any("note support" in j.split("</section>")[0] for j in journeys)
    # So does the review web app, the same counts beside the same items.
    from tests._serve_helpers import running

    slug = page.stem.removeprefix("persona-")
    with running(Workspace(ws)) as site:
        status, _, web = site.get(f"/p/{slug}")
    assert status == 200
    for text, count in (
        ("Close the month fast", 1),
        ("Keep approvals simple", 2),
        ("Feeds that stay connected", len(theme_people)),
    ):
        assert f"({count} of {n} participants)" in web.split(text)[1].split("</li>")[0], text


def test_the_summary_says_what_sets_each_group_apart(offline_study: Path) -> None:
    """Groups drafted apart often share a top pain; the summary names, per persona, the theme
    its people raise most often relative to the whole study, with both counts."""
    import re

    summary = (offline_study / "reports" / "summary.md").read_text()
    table = summary.split("## Personas")[1].split("\n\n")[1].splitlines()
    head = [c.strip() for c in table[0].strip("|").split("|")]
    assert "Sets them apart" in head
    column = head.index("Sets them apart")
    cohorts = json.loads((offline_study / "cohorts.json").read_text())
    themes = json.loads((offline_study / "themes.json").read_text())["themes"]
    mentions = [json.loads(line) for line in (offline_study / "mentions.jsonl").open()]
    who = {m["id"]: m.get("participant_id") for m in mentions}
    raised = {t["label"]: {who[m] for m in t["mention_ids"] if who.get(m)} for t in themes}
    cells = [[c.strip() for c in row.strip("|").split("|")][column] for row in table[2:]]
    assert any(cells)
    for row, cell in zip(table[2:], cells, strict=True):
        if not cell:
            continue
        found = re.fullmatch(r"(.+) \((\d+) of (\d+); (\d+) of 12 in the study\)", cell)
        assert found, cell
        label, k, n, everyone = found.group(1), *map(int, found.groups()[1:])
        group = next(c for c in cohorts["cohorts"] if f"| {c['name']} |" in row)
        members = set(group["members"])
        # The counts are the code's: who raised the theme, within the group and overall.
        assert n == len(members) and k == len(raised[label] & members) >= 2 and 2 * k >= n
        assert everyone == len(raised[label])
        # The most over-represented of the themes that qualify.
        lifts = {
            lab: (len(ids & members) / n) / (len(ids) / 12)
            for lab, ids in raised.items()
            if len(ids & members) >= 2 and 2 * len(ids & members) >= n
        }
        assert max(lifts.values()) == pytest.approx(lifts[label])
    assert "Severity: each mention is rated 1-5 (1 a minor annoyance;" in summary
    # The HTML library's persona cards say the same, and its score note gives the scale.
    html = (offline_study / "reports" / "index.html").read_text()
    shown = [c for c in cells if c]
    assert all(f"Sets them apart: <strong>{c}</strong>" in html for c in shown if "&" not in c)
    assert "Severity: each mention is rated 1-5" in html


def test_ticket_customers_are_not_counted_as_study_participants(
    offline_study: Path, tmp_path: Path
) -> None:
    """A ticket's customer id is no interview participant: what sets a group apart and the
    support counts read interview participants only."""
    ws = tmp_path / "ws"
    shutil.copytree(offline_study, ws)
    before = (ws / "reports" / "summary.md").read_text().split("## Personas")[1].split("##")[0]
    report = json.loads((ws / "themes.json").read_text())
    mentions = [json.loads(line) for line in (ws / "mentions.jsonl").open()]
    template = mentions[0]
    for theme in report["themes"]:
        for i in range(6):
            extra = {**template, "id": f"t-{theme['id']}-{i}", "kind": "ticket"}
            extra["participant_id"] = f"C{i}"
            mentions.append(extra)
            theme["mention_ids"].append(extra["id"])
    (ws / "themes.json").write_text(json.dumps(report))
    (ws / "mentions.jsonl").write_text("".join(json.dumps(m) + "\n" for m in mentions))
    result = CliRunner().invoke(app, ["report", "-w", str(ws)], env=_env())
    assert result.exit_code == 0, result.output
    after = (ws / "reports" / "summary.md").read_text().split("## Personas")[1].split("##")[0]
    assert after == before


def test_the_summary_says_how_the_synthesis_was_made(offline_study: Path) -> None:
    """A Method section from the workspace's own files: what the evidence is, how themes and
    groups were made, who drafted and how many drafts a researcher reviewed."""
    summary = (offline_study / "reports" / "summary.md").read_text()
    method = summary.split("## Method")[1].split("\n## ")[0]
    themes = json.loads((offline_study / "themes.json").read_text())
    cohorts = json.loads((offline_study / "cohorts.json").read_text())["cohorts"]
    assert (
        f"- Evidence: {themes['total_mentions']} pain-point mentions from "
        f"{themes['total_participants']} interview participants;"
    ) in method
    assert f"into {len(themes['themes'])} themes, named by code" in method
    assert "Counts are distinct participants, counted by code" in method
    assert f"- Personas: {len(cohorts)} groups of participants proposed by code" in method
    assert "not refined by a model" in method
    drafted = json.loads((offline_study / "personas.json").read_text())["personas"]
    assert "written by offline templates" in method and f"0 of {len(drafted)} reviewed" in method
    html = (offline_study / "reports" / "index.html").read_text()
    assert "<h2>Method</h2>" in html and "not refined by a model" in html
