"""Grounding validators: invented numbers, quotes, ids and exact ages are rejected with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.config import Settings
from agent.evidence import EvidencePack, build_evidence_pack
from agent.grounding import (
    GroundedJourneyDraft,
    GroundedPersonaDraft,
    age_range_problem,
    exact_ages,
    fold_quote,
    number_matches,
    numbers_in,
)
from agent.offline_draft import draft_journey_offline, draft_persona_offline
from tests._draft_fixtures import BANK1, CHURNED, EXPORT1, FPU, make_workspace

ROLE_SHARE = "stat:segment.finance_power_user.role.accountant.share"  # 0.3833


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> EvidencePack:
    root = tmp_path_factory.mktemp("grounding")
    ws = make_workspace(root / "ws")
    return build_evidence_pack(Settings(workspace=root / "ws"), ws, FPU)


@pytest.fixture
def persona(pack: EvidencePack) -> dict[str, Any]:
    return draft_persona_offline(pack).model_dump(mode="json")


def validate(data: dict[str, Any], pack: EvidencePack) -> GroundedPersonaDraft:
    return GroundedPersonaDraft.model_validate(data, context=pack.context())


def errors_of(data: dict[str, Any], pack: EvidencePack, model: type = GroundedPersonaDraft) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data, context=pack.context())
    return str(info.value)


def claim(text: str, *evidence: str, assumption: bool = False) -> dict[str, Any]:
    return {"text": text, "evidence": list(evidence), "assumption": assumption}


# --------------------------------------------------------------------------- offline drafts


def test_offline_persona_and_journey_pass_the_validators(pack: EvidencePack) -> None:
    persona = validate(draft_persona_offline(pack).model_dump(mode="json"), pack)
    journey = GroundedJourneyDraft.model_validate(
        draft_journey_offline(pack).model_dump(mode="json"), context=pack.context()
    )
    assert persona.name == pack.segment.name  # offline status lives in document_info.mode
    assert persona.quotes and all(q.chunk_id for q in persona.quotes)
    assert [s.stage for s in journey.stages] == [
        "awareness",
        "consideration",
        "decision",
        "onboarding",
        "advocacy",
    ]


def test_without_context_nothing_is_checked(persona: dict[str, Any]) -> None:
    # personas.json loads (and reviewers edit) without a pack: the rules need one.
    persona["goals"].append(claim("Wants 99% uptime"))
    assert GroundedPersonaDraft.model_validate(persona).goals[-1].text == "Wants 99% uptime"


# --------------------------------------------------------------------------- numbers


def test_invented_number_is_rejected_with_the_number_named(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["goals"][0]["text"] += "; 73% of them say so"
    message = errors_of(persona, pack)
    assert "goals[0].text" in message
    assert "'73%'" in message
    assert "does not appear in the evidence pack" in message


def test_number_equal_to_a_cited_stat_is_accepted(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["role"] = claim("38% are accountants (38.3% exactly, 0.38 as a share)", ROLE_SHARE)
    assert validate(persona, pack).role.evidence == [ROLE_SHARE]


def test_number_from_an_uncited_stat_names_the_id_to_cite(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["role"] = claim("38% are accountants", "theme:t-bank")
    message = errors_of(persona, pack)
    assert "is not a value of the evidence this claim cites" in message
    assert ROLE_SHARE in message


def test_theme_numbers_and_chunk_numbers_are_allowed_when_cited(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["motivations"] = [
        claim("Severity averages 4.3/5 (rank 1, 33% of participants)", "theme:t-bank"),
        claim("Exports stop at 500 rows", f"chunk:{EXPORT1.id}"),
        claim("Keeps the top 3 pains in mind on a 1-5 scale", "theme:t-bank"),
    ]
    assert len(validate(persona, pack).motivations) == 3


def test_rounding_is_limited_to_the_shown_precision(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["role"] = claim("39% are accountants", ROLE_SHARE)  # 38.33% does not round to 39
    assert "'39%'" in errors_of(persona, pack)


def test_assumption_may_not_carry_numbers(persona: dict[str, Any], pack: EvidencePack) -> None:
    persona["aha_moment"] = claim("Clicks after 3 days", assumption=True)
    assert "an assumption may not contain numbers" in errors_of(persona, pack)


def test_number_parsing() -> None:
    found = {
        (n.text, n.value, n.decimals, n.percent)
        for n in numbers_in(
            "1,200 users, 38% and 4.25; 2FA, Q3 and theme:t-9 ignored; top 3; 3.8/5; 2x"
        )
    }
    assert found == {
        ("1,200", 1200.0, 0, False),
        ("38%", 38.0, 0, True),
        ("4.25", 4.25, 2, False),
        ("3.8", 3.8, 1, False),
        ("2x", 2.0, 0, False),
    }
    [pct] = numbers_in("38%")
    assert number_matches(pct, 0.3833) and number_matches(pct, 38.2)
    assert not number_matches(pct, 0.3951)
    [one] = numbers_in("1")
    assert not number_matches(one, 0.7)  # an integer never stands for a share


# --------------------------------------------------------------------------- quotes and ids


def test_invented_quote_is_rejected(persona: dict[str, Any], pack: EvidencePack) -> None:
    persona["quotes"][0] = {"text": "The bank sync is a total disaster", "chunk_id": BANK1.id}
    message = errors_of(persona, pack)
    assert "is not verbatim in chunk" in message
    assert BANK1.id in message


def test_quote_matching_folds_case_whitespace_and_curly_quotes(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["quotes"][0] = {
        "text": "\u201cthe BANK sync  failed again\nthis morning\u2026\u201d",
        "chunk_id": f"chunk:{BANK1.id}",
    }
    draft = validate(persona, pack)
    assert draft.quotes[0].chunk_id == BANK1.id  # the 'chunk:' prefix is normalised away
    assert fold_quote("\u201cI\u2019m  Done\u2026\u201d") == "i'm done"


def test_quoted_passage_inside_a_claim_must_be_verbatim(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["goals"][0] = claim('Says "sync is broken every single day"', f"chunk:{BANK1.id}")
    assert "quoted passage" in errors_of(persona, pack)
    persona["goals"][0] = claim('Says "bank sync failed again this morning"', f"chunk:{BANK1.id}")
    assert validate(persona, pack).goals[0].evidence == [f"chunk:{BANK1.id}"]


def test_unknown_evidence_id_is_rejected_with_the_valid_ones(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["goals"][0]["evidence"] = ["stat:segment.finance_power_user.nps"]
    message = errors_of(persona, pack)
    assert "unknown evidence id 'stat:segment.finance_power_user.nps'" in message
    assert "stat:segment.finance_power_user.size" in message
    persona["goals"][0]["evidence"] = ["quote:abc"]
    assert "is not an evidence id" in errors_of(persona, pack)


def test_another_segments_stat_is_not_in_the_pack(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["goals"][0]["evidence"] = ["stat:segment.casual_tracker.size"]
    assert "unknown evidence id" in errors_of(persona, pack)


def test_unknown_theme_reference_is_rejected(persona: dict[str, Any], pack: EvidencePack) -> None:
    persona["pain_points"][0]["theme_id"] = "t-made-up"
    assert "unknown theme id 't-made-up'" in errors_of(persona, pack)


# --------------------------------------------------------------------------- claims and ages


def test_assumption_without_evidence_is_accepted(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["motivations"] = [claim("Wants to look competent at month end", assumption=True)]
    assert validate(persona, pack).motivations[0].assumption is True


def test_unsupported_claim_must_be_marked_as_assumption(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    persona["motivations"] = [claim("Wants to look competent at month end")]
    message = errors_of(persona, pack)
    assert "motivations[0]: claim cites no evidence" in message
    assert "assumption to true" in message


def test_exact_age_is_rejected(persona: dict[str, Any], pack: EvidencePack) -> None:
    persona["demographics"]["age_range"] = claim(
        "30", "stat:segment.finance_power_user.age_range.low"
    )
    assert "age must be a range" in errors_of(persona, pack)
    persona["demographics"]["age_range"] = claim(
        "30-44",
        "stat:segment.finance_power_user.age_range.low",
        "stat:segment.finance_power_user.age_range.high",
    )
    persona["summary"]["text"] += " Typically aged 30."
    assert "states an exact age" in errors_of(persona, pack)


def test_age_helpers() -> None:
    assert age_range_problem("30-44") is None
    assert age_range_problem("55+") is None
    assert age_range_problem("no age data") is None
    assert age_range_problem("34") is not None
    assert age_range_problem("44-30") is not None
    assert exact_ages("a 32-year-old analyst") == ["32-year-old"]
    assert exact_ages("30 to 44 years old") == []
    assert exact_ages("aged 30-44") == []


def test_locked_fields_are_not_judged(persona: dict[str, Any], pack: EvidencePack) -> None:
    persona["motivations"] = [claim("A reviewer wrote: 7 of 10 want this")]
    context = pack.context(locked=["motivations"])
    assert GroundedPersonaDraft.model_validate(persona, context=context).motivations


def test_journey_rejects_invented_targets_and_unknown_stage_themes(pack: EvidencePack) -> None:
    journey = draft_journey_offline(pack).model_dump(mode="json")
    journey["recommendations"][0]["goal"] = "Reduce churn by 20%"
    journey["stages"][0]["pain_points"] = ["t-nope"]
    message = errors_of(journey, pack, GroundedJourneyDraft)
    assert "recommendations[0].goal" in message and "'20%'" in message
    assert "stages[0].pain_points[0]" in message


def test_anti_persona_pack_drafts_and_validates(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    anti = build_evidence_pack(Settings(workspace=tmp_path / "ws"), ws, CHURNED, True)
    draft = validate(draft_persona_offline(anti).model_dump(mode="json"), anti)
    assert "anti-persona" in draft.name
    assert "t-price" in [p.theme_id for p in draft.pain_points]


# --------------------------------------------------------------------------- review fixes


def test_drafts_reject_unknown_keys_at_every_level(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    validate(persona, pack)
    persona["pain_points"][0]["workarround"] = "spreadsheets"
    persona["summary"]["notes"] = "x"
    persona["quotes"][0]["speaker"] = "P1"
    persona["mood"] = "calm"
    with pytest.raises(ValidationError, match="Extra inputs") as info:
        validate(persona, pack)
    assert sorted(".".join(map(str, e["loc"])) for e in info.value.errors()) == [
        "mood",
        "pain_points.0.workarround",
        "quotes.0.speaker",
        "summary.notes",
    ]
    journey = draft_journey_offline(pack).model_dump(mode="json")
    GroundedJourneyDraft.model_validate(journey, context=pack.context())
    journey["stages"][0]["mood"] = 1
    journey["recommendations"][0]["owner"] = "PM"
    with pytest.raises(ValidationError, match="Extra inputs"):
        GroundedJourneyDraft.model_validate(journey, context=pack.context())


QUOTE_CASES = [
    ("Sync broke \u2013 again \u2014 today", "sync broke - again - today"),
    ("Sync broke - again - today", "Sync broke \u2013 again \u2014 today"),
    ("it costs \u22122 hours", "It costs -2 hours"),
    ("\u201cjust spins\u201d", '"just spins"'),
    ("\u00abjust spins\u00bb", '"just spins"'),
    ("I can\u2019t   export", "i can't export"),
    ("wait\u2026 what", "wait... what"),
    ("Stra\u00dfe sync", "STRASSE sync"),
    ("sync broke again", "sync broke, again"),
    ("the export is slow", "the export is so slow"),
]


@pytest.mark.parametrize(("text", "quote"), QUOTE_CASES)
def test_extraction_and_grounding_share_one_verbatim_rule(text: str, quote: str) -> None:
    from agent.grounding import fold
    from agent.verbatim import find_span

    by_extraction = find_span(text, quote) is not None
    by_grounding = fold(quote) in fold(text)
    assert by_extraction == by_grounding
    assert by_extraction is (quote not in ("sync broke, again", "the export is so slow"))
    from agent.verbatim import is_verbatim

    assert is_verbatim(quote, text) is by_extraction


def test_the_span_map_agrees_with_the_normaliser() -> None:
    from agent.verbatim import _normalise_with_map, normalise

    for text, quote in QUOTE_CASES:
        for sample in (text, quote, f"  {text}\n\t{quote}  "):
            assert _normalise_with_map(sample)[0] == normalise(sample)


def test_two_pain_points_on_one_theme_are_rejected(
    persona: dict[str, Any], pack: EvidencePack
) -> None:
    pains = persona["pain_points"]
    assert len(pains) >= 2
    # A second title over the first pain point's theme: the report would show that theme's
    # name, numbers and quotes under a title about something else.
    pains[1] = {**pains[1], "theme_id": pains[0]["theme_id"], "title": "Something else"}
    message = errors_of(persona, pack)
    assert "pain_points[1].theme_id" in message and "is already pain_points[0]" in message
