"""Persona and journey fields filled from the evidence: goals, tools, workarounds, touchpoints and
good moments from the persona's own people; open research questions where the evidence is
silent; configurable journey stages; the pack's token budget.

Packs are built by hand where a test controls exactly what the drafter sees; every draft is run
through the grounding validators, so a filled field never buys an ungrounded sentence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli import app
from agent.config import Settings, load_settings
from agent.draft import draft_personas
from agent.errors import ConfigError, HostPending
from agent.evidence import (
    EvidencePack,
    PackChunk,
    PackCorpus,
    PackJourney,
    PackObservation,
    PackQuote,
    PackSegment,
    PackTheme,
    build_evidence_packs,
    fit_pack,
    pack_tokens,
)
from agent.grounding import GroundedJourneyDraft, grounding_problems
from agent.models import Claim, CohortTrait
from agent.offline_draft import (
    NOT_IN_EVIDENCE,
    draft_journey_offline,
    draft_persona_offline,
    goal_phrases,
)
from agent.render import load_report_data, render_files
from agent.review import set_field
from agent.stages import USAGE, build_plan
from agent.workspace import Workspace, read_json
from tests._draft_fixtures import claims_of, grounded, pack_theme
from tests._draft_fixtures import make_workspace as drafting_workspace
from tests._oracle import pending_records, write_answer
from tests._render_helpers import journey as report_journey
from tests._render_helpers import make_workspace as report_workspace
from tests._render_helpers import personas as report_personas
from tests._render_helpers import write_personas

SLUG = "month_end_closers"
MEMBERS = ["P01", "P02", "P03", "P04", "P05", "P06"]
SENTENCES = {
    # chunk id: (participant, sentence)
    "c-goal": ("P01", "I want to close the books by the fifth working day every month."),
    "c-why": ("P02", "We moved every card onto Tallyflow so I can see where the money goes."),
    "c-sync": (
        "P02",
        "The bank feed drops transactions, so I end up importing the statement by hand.",
    ),
    "c-x1": ("P01", "Then I rebuild the report in Excel for the board."),
    "c-x2": ("P03", "Everything still ends up in Excel before the close."),
    "c-x3": ("P04", "Our controller checks Excel against the ledger."),
    "c-slack": ("P05", "We approve everything in Slack now."),
    "c-good1": ("P03", "Setting up the approval chains took ten minutes and just worked."),
    "c-good2": ("P04", "The onboarding call walked us through every policy, which was great."),
    "c-good3": ("P06", "Inviting the team was easy, everyone was in on day one."),
    "c-ire1": ("P01", "We picked the example events in Ireland for the first query."),
    "c-ire2": ("P02", "Then I looked at the events in Ireland again."),
    "c-miro1": ("P03", "We plan the close in Miro every month."),
    "c-miro2": ("P04", "I ended up using Miro to sketch the approval chain."),
    "c-uh": ("P01", "I was trying to sort, uh, by the the difference between the, um, two plots."),
    "c-long": (
        "P03",
        "As I said, I think the raw values, when it came to the plots, like showing the raw values"
        " is useful because I could see the outliers, but also showing the distribution side of"
        " that too could be useful, because I'd like to see where the points sit and how many"
        " of them there are in each bin of the chart.",
    ),
}


def note(kind: str, cid: str, text: str | None = None, stage: str = "unknown") -> PackObservation:
    """An observation as offline extraction stores it: its text is the speaker's sentence."""
    who, sentence = SENTENCES[cid]
    return PackObservation(
        kind=kind,
        text=text or sentence,
        chunk_id=cid,
        quote=sentence,
        participant_id=who,
        journey_stage=stage,
    )


def tool(cid: str, name: str, people: int, stage: str = "unknown") -> PackObservation:
    return note("tool", cid, f"{name}: {SENTENCES[cid][1]}", stage).model_copy(
        update={"people": people}
    )


def cohort_pack(
    observations: list[PackObservation],
    themes: list[Any] | None = None,
    stages: PackJourney | None = None,
    traits: list[CohortTrait] | None = None,
) -> EvidencePack:
    """A pack for a cohort of six interview participants (no user table)."""
    return EvidencePack(
        persona_id="persona-closers",
        segment=PackSegment(
            name="Month-end closers",
            slug=SLUG,
            rule="grouped by what they do, need and raise: " + ", ".join(MEMBERS),
            size=6,
            share=0.5,
            basis="interviews",
            description="Finance leads who own the monthly close at small companies.",
            traits=traits or [],
            members=MEMBERS,
        ),
        stats={f"segment.{SLUG}.size": 6, f"segment.{SLUG}.share": 0.5},
        themes=themes or [],
        observations=observations,
        journey=stages or PackJourney(),
        corpus=PackCorpus(interviews=12, participants=12),
    )


def said_theme(tid: str, label: str, cid: str) -> PackTheme:
    """A theme raised by two of the persona's people, quoting one sentence of SENTENCES."""
    who, text = SENTENCES[cid]
    quote = PackQuote(chunk_id=cid, text=text, participant_id=who, in_segment=True)
    return pack_theme(tid, label, 1, 2, {"retention": 4}, quotes=[quote], freq=(2, 0))


SYNC_THEME = said_theme("t-sync", "Bank feed drops transactions", "c-sync")
OBSERVED = [
    note("goal", "c-goal"),
    note("goal", "c-why"),
    note("workaround", "c-sync"),
    tool("c-x1", "Excel", 3),
    tool("c-x2", "Excel", 3),
    tool("c-x3", "Excel", 3),
    tool("c-slack", "Slack", 1, stage="onboarding"),
    note("positive", "c-good1", stage="onboarding"),
    note("positive", "c-good2", stage="onboarding"),
    note("positive", "c-good3", stage="onboarding"),
]


# --------------------------------------------------------------------------- fields from evidence


def test_goals_tools_workarounds_and_touchpoints_come_from_the_personas_own_words() -> None:
    persona, journey = grounded(cohort_pack(OBSERVED, [SYNC_THEME]))
    # A goal in the speaker's own words, citing the sentence it comes from.
    assert [(g.text, g.evidence) for g in persona.goals] == [
        ("Close the books by the fifth working day every month", ["chunk:c-goal"])
    ]
    # The reason they give is a motivation.
    assert persona.motivations[0].text == "Being able to see where the money goes"
    assert persona.motivations[0].evidence == ["chunk:c-why"]
    # Each tool with how many of the persona's people name it; the count is cited.
    excel = persona.tools[0]
    assert excel.text == "Excel: named by 3 of the 6 participants"
    assert excel.evidence == ["chunk:c-x1", "chunk:c-x2", "chunk:c-x3", f"stat:segment.{SLUG}.size"]
    # A channel is a channel, not a tool.
    assert [c.text for c in persona.channels] == ["Slack: named by one of the 6 participants"]
    # The pain's workaround is what the same person said about it, quoted from their sentence.
    [pain] = persona.pain_points
    assert pain.workaround is not None
    assert pain.workaround.text == (
        'Reported workaround: "I end up importing the statement by hand."'
    )
    assert pain.workaround.evidence == ["chunk:c-sync", "theme:t-sync"]
    stages = {s.stage: s for s in journey.stages}
    # Touchpoints: a tool named at the stage, and the persona's tools named in its quotes.
    assert [t.text for t in stages["onboarding"].touchpoints][:1] == ["Slack"]
    assert stages["onboarding"].touchpoints[0].evidence == ["chunk:c-slack"]
    # Participants, never users, for a group of interviewees.
    texts = " ".join(c.text for c in claims_of(persona) + claims_of(journey))
    assert " users" not in texts


def test_a_stage_where_good_moments_outnumber_pains_is_positive() -> None:
    once = pack_theme("t-wiz", "Setup wizard stalls", 2, 1, {"onboarding": 3}, sev=(2.0, 2))
    _, journey = grounded(cohort_pack(OBSERVED, [once]))
    stages = {s.stage: s for s in journey.stages}
    onboarding = stages["onboarding"]
    # Three people describe a good moment, one raises the pain placed there.
    assert onboarding.pain_points == ["t-wiz"]
    assert onboarding.emotion > 0
    assert [p.evidence for p in onboarding.positives] == [
        ["chunk:c-good1"],
        ["chunk:c-good2"],
        ["chunk:c-good3"],
    ]
    # Without the good moments the same stage is negative: pains alone pull it down.
    _, bare = grounded(cohort_pack([], [once]))
    assert next(s for s in bare.stages if s.stage == "onboarding").emotion < 0


def test_gaps_become_open_questions_never_placeholders() -> None:
    quiet = pack_theme("t-quiet", "Approvals stall", 1, 2, {"retention": 4}, freq=(2, 0))
    persona, journey = grounded(cohort_pack([], [quiet]))
    claims = claims_of(persona) + claims_of(journey)
    assert not any(c.text.startswith(NOT_IN_EVIDENCE) for c in claims)
    assert not any(c.assumption for c in claims)
    assert persona.goals == [] and persona.tools == [] and persona.motivations == []
    assert persona.role is None and persona.aha_moment is None
    assert persona.tech_proficiency is None and persona.demographics.age_range is None
    questions = "\n".join(persona.open_questions)
    for gap in ("trying to achieve", "Which tools", "value click", "role", "workaround"):
        assert gap in questions, gap
    # A stage with nothing placed in it is named in one question, not filled with text.
    assert "'Awareness'" in questions and all(
        s.customer_goal is None and not s.actions for s in journey.stages if s.stage == "awareness"
    )
    # With the evidence there, those questions are gone.
    filled, _ = grounded(cohort_pack(OBSERVED, [SYNC_THEME]))
    asked = "\n".join(filled.open_questions)
    assert "trying to achieve" not in asked and "Which tools" not in asked


def test_a_cohort_summary_uses_its_description_and_cited_traits() -> None:
    trait = CohortTrait(
        text="Raise 'Bank feed drops transactions' (2 of 6: P02, P04)", evidence=["theme:t-sync"]
    )
    persona, _ = grounded(cohort_pack(OBSERVED, [SYNC_THEME], traits=[trait]))
    text = persona.summary.text
    assert text.startswith("Finance leads who own the monthly close at small companies.")
    assert "6 participants (50% of all participants)" in text
    assert "What sets them apart: Raise 'Bank feed drops transactions' (2 of 6: P02, P04)" in text
    assert {"theme:t-sync", f"stat:segment.{SLUG}.size"} <= set(persona.summary.evidence)


def test_goal_phrases_are_the_speakers_clause_never_a_question_or_a_pronoun() -> None:
    assert goal_phrases("I want to close the books by day five, but the sync breaks.") == [
        ("goal", "close the books by day five")
    ]
    assert goal_phrases("Setup question: do I need to create every GL account manually?") == []
    assert goal_phrases("I want to raise this formally because it happened 6 times.") == []
    # A goal said in passing, inside a pain, is still the speaker's goal.
    assert goal_phrases(
        "I spent a whole weekend trying to set up categories, policies and approval chains, "
        "the import kept rejecting my file."
    ) == [("goal", "set up categories, policies and approval chains")]
    assert goal_phrases("It keeps trying to reconnect the feed.") == []
    assert goal_phrases("I'm responsible for payroll and the monthly close.") == [
        ("role", "responsible for payroll and the monthly close")
    ]


def test_a_workaround_goes_to_the_pain_it_was_said_about() -> None:
    # P02 speaks on both themes; the workaround sentence is quoted on the second one.
    export = pack_theme(
        "t-export",
        "CSV export breaks",
        1,
        3,
        quotes=[
            PackQuote(
                chunk_id="c-x1", text=SENTENCES["c-x1"][1], participant_id="P02", in_segment=True
            )
        ],
    )
    persona, _ = grounded(cohort_pack([note("workaround", "c-sync")], [export, SYNC_THEME]))
    by_theme = {p.theme_id: p.workaround for p in persona.pain_points}
    assert by_theme["t-export"] is None
    assert by_theme["t-sync"] is not None and "chunk:c-sync" in by_theme["t-sync"].evidence


# --------------------------------------------------------------------------- grounding


def test_a_quote_from_outside_the_personas_people_must_say_so() -> None:
    outside = PackQuote(
        chunk_id="c-out", text="Our auditors hate the export format.", in_segment=False
    )
    theme = pack_theme("t-x", "Export format", 1, 1, quotes=[outside])
    pack = cohort_pack(OBSERVED, [theme])
    persona = draft_persona_offline(pack)
    persona.motivations = [
        Claim(text='Says "Our auditors hate the export format."', evidence=["theme:t-x"])
    ]
    problems = grounding_problems(persona, pack.context())
    assert any("not from this persona's own people" in p for p in problems)
    persona.motivations[
        0
    ].text = 'From outside this persona: "Our auditors hate the export format."'
    assert grounding_problems(persona, pack.context()) == []


def test_an_llm_journey_must_have_the_configured_stages() -> None:
    usage = PackJourney.model_validate(build_plan("usage").as_dict())
    pack = cohort_pack(OBSERVED, [SYNC_THEME], stages=usage)
    funnel = draft_journey_offline(cohort_pack(OBSERVED, [SYNC_THEME])).model_dump(mode="json")
    with pytest.raises(ValidationError, match="the journey's stages are getting_started, learning"):
        GroundedJourneyDraft.model_validate(funnel, context=pack.context())
    ok = draft_journey_offline(pack).model_dump(mode="json")
    assert [s["stage"] for s in ok["stages"]] == list(USAGE)
    GroundedJourneyDraft.model_validate(ok, context=pack.context())


# --------------------------------------------------------------------------- the token budget


def test_a_pack_over_its_token_budget_drops_the_least_relevant_evidence_first() -> None:
    def quotes(tid: str, n: int) -> list[PackQuote]:
        return [
            PackQuote(
                chunk_id=f"c-{tid}-{i}",
                text=f"Quote {i} about {tid}: " + "the ledger never balances on the first try " * 4,
                in_segment=True,
            )
            for i in range(n)
        ]

    themes = [
        pack_theme(f"t{i}", f"Theme {i}", i + 1, 10 - i, quotes=quotes(f"t{i}", 6))
        for i in range(8)
    ]
    chunks = [
        PackChunk(
            id=f"c-out-{i}", text="Unrelated words " * 40, kind="interview", role="participant"
        )
        for i in range(4)
    ]
    pack = cohort_pack(OBSERVED, themes).model_copy(update={"chunks": chunks})
    full = pack_tokens(pack)
    assert fit_pack(pack, full + 10) is pack  # within budget: untouched
    budget = full // 2
    fitted = fit_pack(pack, budget)
    assert pack_tokens(fitted) <= budget
    # Outside voices go first, then the lowest-ranked themes' extra quotes; the top theme and
    # every theme's first quote stay, and the pack says it was trimmed.
    assert fitted.chunks == []
    assert [q.chunk_id for q in fitted.themes[0].quotes] == [q.chunk_id for q in themes[0].quotes]
    assert all(t.quotes and t.quotes[0].chunk_id == f"c-{t.id}-0" for t in fitted.themes)
    assert len(fitted.themes[-1].quotes) < len(themes[-1].quotes)
    assert any("pack budget" in n for n in fitted.notes)
    # The original pack is never changed.
    assert pack_tokens(pack) == full
    # A theme whose first quote is a ticket keeps its interviewee's quote instead.
    ticket = PackQuote(chunk_id="c-t", text="Ticket words " * 30, ticket_id="T1", in_segment=True)
    voice = PackQuote(
        chunk_id="c-v", text="Interview words " * 30, participant_id="P1", in_segment=True
    )
    mixed = [*themes[:-1], themes[-1].model_copy(update={"quotes": [ticket, voice]})]
    trimmed = fit_pack(pack.model_copy(update={"themes": mixed}), budget)
    assert [q.chunk_id for q in trimmed.themes[-1].quotes] == ["c-v"]


def test_the_budget_setting_reaches_the_packs(tmp_path: Path) -> None:
    ws = drafting_workspace(tmp_path / "ws")
    roomy = build_evidence_packs(Settings(workspace=ws.root), ws)[0]
    assert not any("pack budget" in n for p in roomy for n in p.notes)
    tight = Settings.model_validate({"workspace": str(ws.root), "draft": {"pack_tokens": 2000}})
    packs = build_evidence_packs(tight, ws)[0]
    assert all(pack_tokens(p) <= 2000 or p.notes[-1].endswith("minimum kept") for p in packs)


# --------------------------------------------------------------------------- configured stages


def _config(tmp: Path, text: str) -> Path:
    path = tmp / "persona.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_usage_preset_journeys_validate_and_render(tmp_path: Path) -> None:
    ws = drafting_workspace(tmp_path / "ws")
    config = _config(tmp_path, '[draft]\njourney = "usage"\n')
    runner = CliRunner()
    env = {"PERSONA_LLM": "offline", "PERSONA_EMBEDDER": "hash"}
    result = runner.invoke(app, ["draft", "-w", str(ws.root), "-c", str(config)], env=env)
    assert result.exit_code == 0, result.output
    data = read_json(ws.personas)
    for journey in data["journeys"]:
        assert [s["stage"] for s in journey["draft"]["stages"]] == list(USAGE)
        assert journey["stage_sources"]["everyday_use"] == ["retention"]
    result = runner.invoke(app, ["report", "-w", str(ws.root), "-c", str(config)], env=env)
    assert result.exit_code == 0, result.output
    text = (ws.reports_dir / "journey-finance-power-user.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("|  |"))
    assert (
        header == "|  | Getting started | Learning | Everyday use | Troubleshooting | Expanding |"
    )
    sources = data["journeys"][0]["stage_sources"]
    assert set(sources["getting_started"]) >= {"decision", "onboarding"}
    # The bank-sync theme's decision mention is a churned customer's: the Finance Power User's
    # map never counts it (it once read "1 decision mention, 1 onboarding mention").
    assert "decision mention" not in text
    html = (ws.reports_dir / "index.html").read_text()
    assert "Getting started" in html and "Troubleshooting" in html


def test_a_custom_stage_list_maps_extracted_stages_through_stage_sources(tmp_path: Path) -> None:
    ws = drafting_workspace(tmp_path / "ws")
    config = _config(
        tmp_path,
        '[draft]\njourney_stages = ["setup", "monthly_close", "renewal"]\n'
        '[draft.stage_sources]\nsetup = ["onboarding"]\nmonthly_close = ["retention"]\n'
        'renewal = ["decision"]\n',
    )
    settings = load_settings(config, {"workspace": str(ws.root)}, env={})
    summary = draft_personas(settings, ws, provider="offline")
    assert summary.ok
    data = read_json(ws.personas)
    stages = [s["stage"] for s in data["journeys"][0]["draft"]["stages"]]
    assert stages == ["setup", "monthly_close", "renewal"]
    text = render_files(load_report_data(ws))["journey-finance-power-user.md"]
    assert "|  | Setup | Monthly close | Renewal |" in text


def test_a_bad_stage_list_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    config = _config(tmp_path, '[draft]\njourney_stages = ["Sign Up", "use"]\n')
    with pytest.raises(ConfigError, match=r"invalid setting draft\.journey_stages"):
        load_settings(config, env={})
    config = _config(
        tmp_path, '[draft]\njourney = "usage"\n[draft.stage_sources]\nawareness = ["awareness"]\n'
    )
    with pytest.raises(ConfigError, match="'awareness', which is not a journey stage"):
        load_settings(config, env={})
    result = CliRunner().invoke(app, ["draft", "-w", str(tmp_path / "ws"), "-c", str(config)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def _answer(ws: Workspace, step: str, make: Any) -> None:
    """Answer every pending host request of `step` with `make(pack)`."""
    for record in pending_records(ws):
        if record["step"] == step:
            write_answer(record, make(EvidencePack.model_validate(record["context"])))


def test_a_host_journey_with_a_stage_outside_the_configured_list_is_rejected(
    tmp_path: Path,
) -> None:
    ws = drafting_workspace(tmp_path / "ws")
    settings = Settings.model_validate(
        {"workspace": str(ws.root), "draft": {"personas": 1, "journey": "usage"}}
    )
    with pytest.raises(HostPending):
        draft_personas(settings, ws, provider="host")
    _answer(ws, "draft_persona", lambda pack: draft_persona_offline(pack).model_dump(mode="json"))
    with pytest.raises(HostPending):
        draft_personas(settings, ws, provider="host")

    def funnel_journey(pack: EvidencePack) -> dict[str, Any]:
        funnel = pack.model_copy(update={"journey": PackJourney()})
        return draft_journey_offline(funnel).model_dump(mode="json")

    _answer(ws, "draft_journey", funnel_journey)
    with pytest.raises(HostPending):
        draft_personas(settings, ws, provider="host")
    errors = "".join(
        p.read_text(encoding="utf-8") for p in (ws.host_dir / "pending").glob("*.errors.json")
    )
    assert "the journey's stages are getting_started, learning, everyday_use" in errors
    assert "awareness" in errors
    # The answer with the configured stages is accepted.
    _answer(ws, "draft_journey", lambda pack: draft_journey_offline(pack).model_dump(mode="json"))
    summary = draft_personas(settings, ws, provider="host")
    assert summary.ok and summary.counts["journeys"] == 1


# --------------------------------------------------------------------------- reports and review


def _questions_workspace(tmp: Path) -> Workspace:
    ws = report_workspace(tmp / "ws")
    items = report_personas()
    items[0].draft.open_questions = [
        "How do they choose a tool like this? Nothing they say covers it.",
        "When did the product's value click for them, if it did?",
    ]
    items[0].draft.aha_moment = None
    write_personas(ws, items, [report_journey("p-dana"), report_journey("p-sam", (-1, 0, 1, 1, 2))])
    return ws


def test_reports_show_the_open_questions(tmp_path: Path) -> None:
    ws = _questions_workspace(tmp_path)
    files = render_files(load_report_data(ws))
    md = files["persona-dana.md"]
    section = md.split("### Open Research Questions", 1)[1].split("###", 1)[0]
    assert "1. How do they choose a tool like this? Nothing they say covers it." in section
    assert "not in the evidence (see Open research questions)" in md  # the empty aha moment
    html = files["index.html"]
    assert "Open research questions" in html and "How do they choose a tool like this?" in html
    assert "2 open research questions" in html  # on the persona's card
    report = json.loads(files["report.json"])
    assert report["personas"][0]["draft"]["open_questions"][1].startswith("When did")


def test_a_reviewer_can_add_an_open_question_and_it_shows_as_theirs(tmp_path: Path) -> None:
    ws = _questions_workspace(tmp_path)
    set_field(
        ws, "Dana", "open_questions", extend="Do they close alone or with an accountant?", by="Ana"
    )
    md = render_files(load_report_data(ws))["persona-dana.md"]
    assert "3. Do they close alone or with an accountant? _(added in review)_" in md


def test_the_review_site_shows_the_questions_with_a_review_control(tmp_path: Path) -> None:
    from tests._serve_helpers import running

    ws = _questions_workspace(tmp_path)
    with running(ws) as site:
        status, _, page = site.get("/p/dana")
    assert status == 200
    assert "Open research questions" in page and "How do they choose a tool like this?" in page
    assert 'data-target="open_questions.0"' in page


def test_goals_read_as_cited_and_run_on_praise_is_no_motivation() -> None:
    """A goal leaves out hesitations and restarted words; a positive sentence too long to quote
    whole does not become a motivation."""
    persona, _ = grounded(cohort_pack([note("goal", "c-uh"), note("positive", "c-long")]))
    assert persona.goals[0].text == "Sort by the difference between the two plots"
    assert not any("raw values" in m.text for m in persona.motivations)


def test_a_cohorts_count_names_its_size_and_good_moments_alone_are_not_weighed_against_pains() -> (
    None
):
    persona, _ = grounded(cohort_pack(OBSERVED, [SYNC_THEME]))
    # "2 of these participants" left the reader to find how many "these" are.
    frequency = persona.pain_points[0].frequency
    assert frequency.text.endswith("; 2 of this persona's 6 among them.")
    assert frequency.evidence == ["theme:t-sync", f"stat:segment.{SLUG}.size"]
    # Good moments at a stage where no pain is placed do not "outweigh the pains".
    _, journey = grounded(cohort_pack(OBSERVED, []))
    assert [c.text for c in journey.key_findings] == [
        "Only good moments at the 'Onboarding & Retention' stage"
    ]


@pytest.mark.parametrize(
    ("notes", "named"),
    [
        # "Notebooks" is "Notebook" said of several: one tool, its people counted once each.
        (
            [("c-x1", "Notebook", 2), ("c-x2", "Notebook", 2), ("c-x3", "Notebooks", 1),
             ("c-slack", "Notebooks", 1)],
            ["Notebook: named by 4 of the 6 participants"],
        ),
        # "in Ireland", said by two people, names a place; "using Miro" names a tool.
        (
            [("c-ire1", "Ireland", 2), ("c-ire2", "Ireland", 2), ("c-miro1", "Miro", 2),
             ("c-miro2", "Miro", 2)],
            ["Miro: named by 2 of the 6 participants"],
        ),
    ],
    ids=["plural", "place"],
)  # fmt: skip
def test_tools_are_what_people_say_they_use_counted_once_per_person(
    notes: list[tuple[str, str, int]], named: list[str]
) -> None:
    persona, _ = grounded(cohort_pack([tool(*n) for n in notes], [SYNC_THEME]))
    assert [t.text for t in persona.tools] == named


@pytest.mark.parametrize(
    ("coping", "kept"),
    [
        # Same chunk, another problem: no workaround for this pain.
        ("I just typed the Xero categories in myself.", False),
        # Same chunk, about this pain: its workaround.
        ("I copy the board report out of Excel cell by cell.", True),
    ],
)
def test_a_workaround_from_the_same_chunk_must_be_about_the_pain(coping: str, kept: bool) -> None:
    """A ticket or a long turn can hold several problems."""
    board = said_theme("t-board", "Board report rebuilt in Excel", "c-x1")
    note = PackObservation(
        kind="workaround", text=coping, chunk_id="c-x1", quote=coping, participant_id="P09"
    )
    persona, _ = grounded(cohort_pack([note], [board]))
    [pain] = persona.pain_points
    assert (pain.workaround is not None) is kept
