"""Offline drafts a product manager reads: the segment's own pains, interview voices, plain text.

Packs are built by hand so each test controls exactly what the drafter sees; every draft is
also run through the grounding validators, so polish never buys an ungrounded sentence.
"""

from __future__ import annotations

import re

from agent.evidence import (
    EvidencePack,
    PackChunk,
    PackCorpus,
    PackQuote,
    PackSegment,
    PackTheme,
    is_churned,
)
from agent.models import SegmentStats
from agent.offline_draft import (
    OfflineDrafter,
    archetype_for,
    first_sentence,
    quotable_sentence,
)
from tests._draft_fixtures import claims_of, grounded, pack_theme

SEG = "Expense Submitter"
SLUG = "expense_submitter"


theme = pack_theme


def quote(cid: str, text: str, inside: bool, ticket: str | None = None) -> PackQuote:
    return PackQuote(
        chunk_id=cid,
        text=text,
        participant_id=None if ticket else f"P-{cid}",
        ticket_id=ticket,
        in_segment=inside,
    )


def pack(themes: list[PackTheme], chunks: list[PackChunk] | None = None) -> EvidencePack:
    return EvidencePack(
        persona_id="persona-test",
        segment=PackSegment(
            name=SEG, slug=SLUG, rule="feat_receipts > 0 AND income <50k", size=816, share=0.34
        ),
        stats={f"segment.{SLUG}.size": 816, f"segment.{SLUG}.share": 0.34},
        themes=themes,
        chunks=chunks or [],
        corpus=PackCorpus(interviews=12, tickets=327, participants=12, users=2400),
    )


# Corpus-wide rank order in the pack; the segment's own counts say otherwise.
BANK = theme("t-bank", "Bank sync / feed", 1, 6, {"onboarding": 7, "retention": 22})
CRASH = theme("t-crash", "Mobile app crashes", 2, 4, {"decision": 1, "retention": 11})
SYNC = theme("t-sync", "Sync duplicates", 3, 0)
RECEIPT = theme(
    "t-receipt",
    "Receipt scanning",
    5,
    17,
    {"consideration": 1, "onboarding": 17, "retention": 1},
    sev=(3.0, 4),
    freq=(4, 35),
)


def test_a_segments_own_themes_rank_by_its_own_counts() -> None:
    p = pack([BANK, CRASH, SYNC, RECEIPT])
    drafter = OfflineDrafter(p)
    assert [t.id for t in drafter.own_themes] == ["t-receipt", "t-bank", "t-crash"]
    persona, journey = grounded(p)
    assert [pp.theme_id for pp in persona.pain_points][:3] == ["t-receipt", "t-bank", "t-crash"]
    assert "most raised pain is 'Receipt scanning' (17 of the segment's users" in (
        persona.summary.text
    )
    assert journey.recommendations[0].evidence == ["theme:t-receipt"]
    assert journey.key_findings[0].text.startswith("'Receipt scanning' is the most raised pain")


def test_recommendation_metrics_say_they_count_every_segment() -> None:
    _, journey = grounded(pack([BANK, RECEIPT]))
    metric = journey.recommendations[0].metric
    # The share is of all interview participants, not of this persona: the label says so.
    assert metric.startswith("Share of all interview participants (every segment) reporting it")
    assert "33.3%" in metric and "users of this segment raising it: now 17" in metric


def test_offline_text_is_plain_english() -> None:
    single = theme("t-one", "Export format", 9, 1, {"onboarding": 1}, freq=(1, 1), sev=(2.0, 2))
    persona, journey = grounded(pack([RECEIPT, single]))
    texts = [c.text for c in claims_of(persona) + claims_of(journey)]
    joined = "\n".join(texts)
    # Singular after 1, and "raised by" people / "in" tickets.
    assert not re.search(r"(?<![\d.,])1 (mentions|participants|tickets|users|features)\b", joined)
    assert (
        "Raised in 4 participants" not in joined and "Raised by 4 interview participants" in joined
    )
    # Each stage of the Onboarding & Retention column is named with its own count.
    assert "(17 onboarding mentions, 1 retention mention)" in joined
    # One staged mention places a pain nowhere (offline_draft.MIN_STAGED).
    assert "Not placed in a journey stage" in joined and "'Export format'" in joined
    for pain in persona.pain_points:
        # The impact says what the severity means, it does not repeat the description.
        assert not pain.impact.text.startswith(pain.title)
        assert pain.impact.text.endswith(".") and "Mean severity" in pain.impact.text
    assert persona.pain_points[0].impact.text == (
        "Mean severity 3.0/5: on average a real cost in time; at worst (4/5) blocked work "
        "or money at risk."
    )
    # The summary opens with substance; a short label closes it.
    assert not persona.summary.text.startswith("Drafted offline")
    assert persona.summary.text.endswith("(Offline template draft.)")
    # No good moment in the pack: no aha moment, and the gap is an open research question.
    assert persona.aha_moment is None
    assert any("value click" in q for q in persona.open_questions)
    assert not any(c.startswith("Not in the evidence pack") for c in texts)


def test_a_stray_mention_does_not_place_a_pain_at_a_stage() -> None:
    severe_once = theme(
        "t-leave", "Cancelled at renewal", 8, 1, {"advocacy": 3}, sev=(5.0, 5), freq=(1, 0)
    )
    _, journey = grounded(pack([RECEIPT, CRASH, severe_once]))
    stages = {s.stage: s for s in journey.stages}
    # One 'consideration' mention of an onboarding theme, one 'decision' mention of a crash
    # theme: neither stage shows them.
    assert stages["consideration"].pain_points == []
    assert stages["decision"].pain_points == []
    assert set(stages["onboarding"].pain_points) == {"t-receipt", "t-crash"}
    # A stage resting on few mentions (3 < STRONG_EVIDENCE) is negative, never "very negative".
    assert stages["advocacy"].pain_points == ["t-leave"] and stages["advocacy"].emotion == -1
    assert stages["onboarding"].emotion == -2  # 30 mentions, mean severity 3.2
    # No evidence: neutral score and empty lists (renderers show the stage as a gap).
    assert stages["awareness"].emotion == 0 and stages["awareness"].actions == []


def test_persona_quotes_are_the_personas_own_people_interview_voices_first() -> None:
    tickets = [
        quote(f"c-t{i}", f"The receipt scan picked the wrong total {i}.", True, f"T{i}")
        for i in range(4)
    ]
    outside = quote("c-p9", "Gas receipts are the worst, it reads the pump number.", False)
    own = quote("c-p6", "I retype the total on almost every fuel receipt.", True)
    p = pack([theme("t-r", "Receipts", 1, 17, quotes=[*tickets, outside])])
    persona, _ = grounded(p)
    texts = [q.text for q in persona.quotes]
    # Only tickets in the segment: they are its voice; nobody from outside speaks for it.
    assert outside.text not in texts and len(texts) == 4
    p = pack([theme("t-r", "Receipts", 1, 17, quotes=[*tickets, outside, own])])
    persona, _ = grounded(p)
    assert persona.quotes[0].text == own.text
    assert outside.text not in [q.text for q in persona.quotes]


def test_ticket_subjects_are_never_chunk_quotes() -> None:
    ticket = (
        "Receipt scan wrong amount\n\nThe scan picked up the card number as the amount. "
        "Had to correct it manually.\n\nThanks,\nRachel"
    )
    assert quotable_sentence(ticket, ticket=True) == (
        "The scan picked up the card number as the amount."
    )
    # A sentence never runs across the blank line after a subject.
    assert first_sentence(ticket) == ""
    chunk = PackChunk(id="c-1", text=ticket, kind="ticket", role="customer", in_segment=True)
    persona, _ = grounded(pack([], [chunk]))
    assert [q.text for q in persona.quotes] == ["The scan picked up the card number as the amount."]


def test_churn_is_a_whole_word_of_the_segment_name() -> None:
    def seg(name: str, rule: str = "TRUE") -> SegmentStats:
        return SegmentStats(name=name, rule=rule, size=40, share=0.1)

    for name in ("Churned", "Churn risk", "Lapsed users", "lapsed_users", "Canceled", "Dormant"):
        assert is_churned(seg(name)), name
    for name in ("Inactive", "Lost accounts", "Cancelled plans"):
        assert is_churned(seg(name)), name
    assert not is_churned(seg("High Performers"))  # "former" inside a word
    assert not is_churned(seg("Cart Watchers", "cart_abandon_rate > 0.5"))
    assert not is_churned(seg("Team Admins", "inactive_seats > 3"))
    assert not is_churned(seg("Former customers"))  # not one of the churn words


def test_a_group_named_for_its_people_gets_an_archetype_that_reads() -> None:
    assert archetype_for("All participants") == "A participant in the study"
    assert archetype_for("Participants who raise 'Setup takes weeks'") == (
        "A participant who raises 'Setup takes weeks'"
    )
    assert archetype_for("Participants who use Xero") == "A participant who uses Xero"
    assert archetype_for("Finance Power User") == "The Finance Power User"


def test_unplaced_pains_are_named_up_to_five_not_thirty() -> None:
    """A finding listing every unplaced theme ran to 28 names and footnotes on a real study."""
    themes = [
        theme(f"t-{i}", f"Pain number {i}", i + 1, 1, {"onboarding": 1}, freq=(1, 1), sev=(2.0, 2))
        for i in range(7)
    ]
    _, journey = grounded(pack(themes))
    [finding] = [c for c in journey.key_findings if c.text.startswith("Not placed")]
    named = re.findall(r"'Pain number (\d)'", finding.text)
    assert named == ["0", "1", "2", "3", "4"]
    assert finding.text.endswith(", and lower-ranked ones (see the themes table)")
    assert finding.evidence == [f"theme:t-{i}" for i in range(5)]


def test_a_recommendation_goal_never_says_users_twice() -> None:
    from agent.offline_draft import users_of

    assert users_of("New User") == "New Users"
    assert users_of("Finance Power Users") == "Finance Power Users"
    assert users_of("Expense Submitter") == "Expense Submitter users"


def test_a_request_is_decided_on_and_a_question_answered_not_fixed_at_its_root() -> None:
    def asked_in_tickets(tid: str, label: str, rank: int, *said: str) -> PackTheme:
        quotes = [
            quote(f"c-{tid}{n}", text, True, ticket=f"T-{tid}{n}") for n, text in enumerate(said)
        ]
        return theme(
            tid, label, rank, 3, {"retention": 3}, freq=(0, 3), sev=(1.0, 1), quotes=quotes
        )

    asks = asked_in_tickets(
        "t-ask", "Dark mode for the app", 1,
        "Please add a dark mode to the app.", "Could you add a dark mode for night shifts?",
    )  # fmt: skip
    how = asked_in_tickets(
        "t-how", "Change the default currency", 2,
        "How do I change the default currency for one user?", "Where do I set a user's currency?",
    )  # fmt: skip
    _, journey = grounded(pack([asks, how, BANK]))
    actions = {r.evidence[0]: r for r in journey.recommendations}
    assert actions["theme:t-ask"].action.startswith("Decide on the request 'Dark mode for the app'")
    assert actions["theme:t-how"].action.startswith("Answer 'Change the default currency'")
    assert actions["theme:t-how"].goal.endswith("have to ask 'Change the default currency'")
    assert actions[f"theme:{BANK.id}"].action.startswith("Fix the root cause of")
