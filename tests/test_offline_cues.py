"""Offline cues for interviews and think-aloud sessions: struggle, suggestions, denials.

Every sentence here is written for this file (none is copied from a study). The README's
out-of-sample numbers come from `persona eval` on public studies (bench/eval_public.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.eval import EvalReport
from agent.offline_extract import THRESHOLD, _cues, extract_offline
from tests._llm_helpers import make_chunk


@pytest.mark.parametrize(
    "sentence",
    [
        # Not knowing, not finding, not understanding: struggle in the speaker's own words.
        "I'm not sure what this button is for.",
        "I am not 100% sure this is the right screen.",
        "I also do not know where the saved filters went.",
        "I can't find the export anywhere on this page.",
        "Honestly it took me a while to work out the date picker.",
        "I was expecting the totals to update straight away.",
        "The legend on the map is not very clear to me.",
        "I didn't even notice the second tab until now.",
        "These codes don't mean anything to me.",
        # A question that says the speaker is lost keeps its weight in an interview.
        "Where is the download button?",
        "How do I get the hidden columns back?",
        "Why is there no data for last week?",
        # Suggestions name what is missing, in the speaker's terms.
        "Maybe you could add a short description under each chart.",
        "It would be nice if the filters stayed after a refresh.",
        "I would put the most recent items at the top.",
        "I would personally get rid of the grey dots.",
        "The axis labels should be bigger.",
        "The heat map needs a proper legend.",
        "It may be better to group the options by topic.",
        # Praise on the other side of a contrast, in an embedded question or before a
        # suggestion leaves the pain standing.
        "The icons are hard to tell apart, but the tooltips are good.",
        "I'm not sure how it is useful for my reports.",
        "The tooltips are nice, maybe you could add one for the lag field.",
        # A negation that is not the state's own ("couldn't see the missing rows") denies nothing.
        "I couldn't see the missing rows anywhere.",
        # A modal's negation is a wish, a comparison a complaint: neither denies the state.
        "It shouldn't be this hard to find the export.",
        "It can't be that hard to see where the export went.",
        "Nothing is as annoying as the login timing out.",
        # An opinion cancels its own clause only; "no good" and "too quick" are no praise.
        "It looked nice, I just couldn't work out where to click.",
        "It was no good at all, the export failed.",
        "The message was too quick to read the error.",
        "Nothing comes to mind, except that the export is really slow.",
        "Even though it was slow, overall it is very intuitive.",
    ],
)
def test_struggle_and_suggestions_are_pain_cues(sentence: str) -> None:
    score, kinds = _cues(sentence, "interview")
    assert score >= THRESHOLD, (sentence, score, kinds)
    assert {"confusion", "suggestion", "frustration", "failure"} & set(kinds)


@pytest.mark.parametrize(
    "sentence",
    [
        # Denials: a problem said to be absent is no problem.
        "I downloaded the file without any problems.",
        "Okay, I don't think I got stuck at all.",
        "Nothing seems to be missing from this list.",
        "I don't think I would add anything else.",
        "Nothing comes to mind that could help here.",
        # A negated state is its absence.
        "It wasn't unclear at all, you explained it well.",
        "Users never got confused by the menu.",
        "I don't really think any step was unclear.",
        "The import isn't too slow for our files.",
        # A problem said not to have happened, or over.
        "We have never really had any issues with the importer.",
        "I didn't have any problems with it.",
        "People didn’t get confused by the menu.",  # a curly apostrophe
        "It wasn't too bad, and it was quickly fixed.",
        # ... or named and then denied.
        "That's a pain point I never had.",
        "The new parser doesn't really have that problem.",
        # Talk about the session, not the product.
        "I don't know if you can see my screen.",
        "I am not sure if this is the kind of answer you want.",
        "Sorry, I didn't quite understand what you were asking.",
        "I don't know if that answers your question.",
        # Praise that no negation turns around; value stated without a change wished for.
        "The layout is clear and easy to follow.",
        "This would be useful for my team.",
        # An opinion, not an expectation that failed.
        "I thought the report was good.",
        "The search felt fast enough for our files.",
        # Blaming oneself, asking the interviewer, narrating a step.
        "Sorry, I should have read the task first.",
        "What do you mean by a session?",
        "I am going to choose seven days with a lag of two days.",
        "Now I switch to the second tab.",
        # An interviewer's words inside a participant's paragraph.
        "MODERATOR: not a problem, maybe try another tab",
    ],
)
def test_denials_narration_and_interviewer_lines_are_not_pains(sentence: str) -> None:
    score, kinds = _cues(sentence, "interview")
    assert score < THRESHOLD, (sentence, score, kinds)


def test_negation_turns_praise_around() -> None:
    assert _cues("The chart is clear.")[0] < THRESHOLD
    assert _cues("The chart is not clear.")[0] >= THRESHOLD
    assert _cues("It is not obvious where the filter is.")[0] >= THRESHOLD


def test_struggle_and_suggestion_cues_read_interviews_only() -> None:
    """In a ticket, not knowing how to do something is the ticket's question (a need of nature
    "question", at the lowest severity), so those two kinds stay out of ticket sentences."""
    for sentence in ("I'm not sure where the export is.", "Maybe you could add dark mode."):
        assert {"confusion", "suggestion"} & set(_cues(sentence, "interview")[1])
        assert not {"confusion", "suggestion"} & set(_cues(sentence, "ticket")[1])
    ticket = make_chunk(
        "How do I add a second company?",
        doc="t",
        kind="ticket",
        role="customer",
        participant=None,
        ticket="T-9",
    )
    [need] = extract_offline([ticket])[0]
    assert (need.nature, need.severity) == ("question", 1)


def test_a_think_aloud_turn_yields_its_struggle_not_its_narration() -> None:
    narration = "I am going to pick Dublin and a window of fourteen days."
    lost = "Hmm, I am not sure what the colours in this table mean."
    plan = "Next I will open the plots tab."
    wish = "It would be good if the colours had a key."
    chunk = make_chunk(f"{narration} {lost} {plan} {wish}", participant="P7")
    mentions, _ = extract_offline([chunk])
    quoted = [q.text for m in mentions for q in m.quotes]
    assert quoted == [lost, wish]
    assert mentions[0].statement.startswith("Confusion or uncertainty")
    assert mentions[1].statement.startswith(("Suggests a change", "Unmet need"))


SESSION = """Moderator: 1 Open the reports page and export last month's totals.

Participant: Okay, I am on the home page now.

Participant: I will click on reports at the top.

Participant: Hmm, I can't find the export button anywhere.

Participant: Let me scroll down a bit.

Moderator: 1.a Was the layout clear to you?

Participant: The layout is clear. The date filter took me a while to understand though.

Participant: I am choosing the first of March as the start date.

Participant: Maybe you could put the export next to the title.

Participant: Right, I have the file now and it opened without any problems.
"""


def test_offline_run_quotes_the_struggle_and_beats_chance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `persona run --llm offline` and `persona eval` on a hand-written think-aloud
    session: the coded struggle passages are quoted, the narration is not, so coverage is well
    above what the same amount of quoted text would score at random places."""
    monkeypatch.setenv("PERSONA_EMBEDDER", "hash")
    data = tmp_path / "in"
    data.mkdir()
    (data / "P1.txt").write_text(SESSION)
    ws = tmp_path / "ws"
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(data), "--llm", "offline", "-w", str(ws), "--json"])
    assert ran.exit_code in (0, 2), ran.output
    quoted = sorted(
        q["text"]
        for line in (ws / "mentions.jsonl").read_text().splitlines()
        for q in json.loads(line)["quotes"]
    )
    assert quoted == [
        "Hmm, I can't find the export button anywhere.",
        "Maybe you could put the export next to the title.",
        "The date filter took me a while to understand though.",
    ]
    codes = tmp_path / "codes.csv"
    codes.write_text(
        "participant,code,excerpt\n"
        'P1,Navigation,"Hmm, I can\'t find the export button anywhere."\n'
        "P1,Wording,The date filter took me a while to understand though.\n"
        "P1,Suggestion,Maybe you could put the export next to the title.\n"
    )
    out = runner.invoke(app, ["eval", "-w", str(ws), "--coding", str(codes), "--json"])
    assert out.exit_code == 0, out.output
    coding = EvalReport.model_validate_json(out.stdout).coding
    assert coding is not None and coding.coverage == 1.0
    # Chance is high on a session this short (each passage is a fifth of the participant's
    # text), and still well below the coverage.
    assert coding.chance_coverage is not None and coding.coverage - coding.chance_coverage > 0.25
    # The same run read back: deterministic, byte for byte.
    again = tmp_path / "ws2"
    runner.invoke(app, ["run", str(data), "--llm", "offline", "-w", str(again), "--json"])
    assert (again / "mentions.jsonl").read_bytes() == (ws / "mentions.jsonl").read_bytes()


def test_a_mail_signature_names_no_tool() -> None:
    from agent.offline_extract import tools_in

    assert tools_in("The app logs me out every morning. Sent from my iPhone") == []
    assert tools_in("I use my iPhone to snap every receipt.") == ["iPhone"]
