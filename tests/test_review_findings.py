"""Defects a new-user review found in offline drafts and reports, each pinned by a test.

1. A key finding put a segment's pains in the onboarding stage although the cited themes'
   mentions were almost all 'unknown' (and the one staged mention was 'retention').
3. A reviewer's `extended` words were glued to the drafted claim, its footnotes after them.
4. "(drafted offline)" sat in the persona's name, so confirming the name kept it.
5. Ticket footnotes ran the subject line into the body ("Sync failed The supplier sync…").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.evidence import EvidencePack, PackCorpus, PackSegment, PackTheme
from agent.grounding import GroundedJourneyDraft, GroundedPersonaDraft
from agent.models import Chunk, Document, Turn
from agent.offline_draft import (
    MIN_STAGED,
    OfflineDrafter,
    clear_stage,
    draft_journey_offline,
    draft_persona_offline,
)
from agent.render import load_report_data, render_files
from agent.render.context import SUBJECT_SEPARATOR, quote_window
from agent.render.markdown import emotion_text
from agent.review import apply_reviews, load_decisions, save_decisions, set_field
from agent.workspace import write_models

from ._draft_fixtures import pack_theme
from ._render_helpers import chunks as helper_chunks
from ._render_helpers import make_workspace

SEG = "Stock Counter"
SLUG = "stock_counter"


def theme(
    tid: str, label: str, rank: int, count: int, stages: dict[str, int], sev: float = 3.2
) -> PackTheme:
    return pack_theme(tid, label, rank, count, stages, sev=(sev, 4), freq=(2, 5), shares=(0.5, 0.2))


def pack(themes: list[PackTheme], anti: bool = False) -> EvidencePack:
    return EvidencePack(
        persona_id="persona-test",
        is_anti_persona=anti,
        segment=PackSegment(name=SEG, slug=SLUG, rule="feat_scan > 0", size=90, share=0.75),
        stats={f"segment.{SLUG}.size": 90, f"segment.{SLUG}.share": 0.75},
        themes=themes,
        corpus=PackCorpus(interviews=4, tickets=7, participants=4, users=120),
    )


def grounded(p: EvidencePack):
    """The offline persona and journey, each passed through the grounding validators."""
    persona, journey = draft_persona_offline(p), draft_journey_offline(p)
    GroundedPersonaDraft.model_validate(persona.model_dump(mode="json"), context=p.context())
    GroundedJourneyDraft.model_validate(journey.model_dump(mode="json"), context=p.context())
    return persona, journey


# --------------------------------------------------------------------------- 1. stage claims

# The reviewer's case: every cited theme mostly 'unknown', one stray 'retention' mention.
STRAY = [
    theme("t-import", "Import export / columns", 2, 2, {"retention": 1, "unknown": 6}),
    theme("t-sync", "Supplier sync fails", 1, 1, {"unknown": 9}),
    theme("t-scan", "Batches / crashes", 3, 1, {"unknown": 4}, sev=3.8),
]


def test_no_stage_finding_when_staged_mentions_are_too_few() -> None:
    _, journey = grounded(pack(STRAY))
    texts = [c.text for c in journey.key_findings]
    assert not any("onboarding" in t.lower() for t in texts), texts
    assert not any("stage is where" in t or "name the" in t for t in texts), texts
    # The map places none of them, so every stage is a gap: emotion 0, no pains.
    for stage in journey.stages:
        assert stage.pain_points == [] and stage.emotion == 0, stage.stage
    assert any(t.startswith("Not placed in a journey stage") for t in texts)


def test_stage_finding_names_the_stage_the_mentions_name_never_folded() -> None:
    themes = [
        theme("t-bank", "Bank sync", 1, 6, {"onboarding": 7, "retention": 22, "unknown": 98}),
        theme("t-crash", "App crashes", 2, 4, {"decision": 1, "retention": 11, "unknown": 71}),
    ]
    _, journey = grounded(pack(themes))
    finding = next(c for c in journey.key_findings if "journey stage" in c.text)
    assert finding.text.endswith("most name the retention stage")
    assert finding.evidence == ["theme:t-bank", "theme:t-crash"]
    # The Onboarding & Retention column names each stage's own count.
    column = next(s for s in journey.stages if s.stage == "onboarding")
    actions = " ".join(a.text for a in column.actions)
    assert "(7 onboarding mentions, 22 retention mentions)" in actions
    assert "(11 retention mentions)" in actions


def test_a_single_staged_mention_never_wins_the_stage_finding() -> None:
    # Before: 'unknown' scored like an empty stage, so one staged mention took the finding.
    themes = [
        theme("t-a", "Receipt scanning", 1, 17, {"retention": 1, "unknown": 61}),
        theme("t-b", "Bank feed gaps", 2, 3, {"unknown": 40}),
    ]
    persona, journey = grounded(pack(themes))
    assert all("stage" not in c.text or "Not placed" in c.text for c in journey.key_findings)
    assert all(s.pain_points == [] for s in journey.stages)
    assert persona.pain_points[0].theme_id == "t-a"


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"retention": 1, "unknown": 6}, None),  # too few staged mentions
        ({"retention": 2, "unknown": 60}, None),  # still too few: unknown never counts
        ({"onboarding": 3, "unknown": 10}, "onboarding"),
        ({"onboarding": 2, "retention": 2, "decision": 1}, None),  # a tie names none
        ({"awareness": 2, "decision": 2, "advocacy": 1, "retention": 1}, None),  # tie, 33%
        ({"awareness": 3, "decision": 2, "advocacy": 2, "retention": 1}, None),  # 37.5% < 40%
        ({"awareness": 4, "decision": 2, "advocacy": 2, "retention": 1}, "awareness"),
        ({"retention": 8, "onboarding": 7}, "retention"),  # the plurality, not folded
    ],
)
def test_clear_stage_rule(counts: dict[str, int], expected: str | None) -> None:
    assert MIN_STAGED == 3
    assert clear_stage(counts) == expected


def test_a_stage_without_evidence_renders_as_no_evidence(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    data = load_report_data(ws)
    journey = draft_journey_offline(pack(STRAY))
    assert [emotion_text(data, s) for s in journey.stages] == ["no evidence"] * 5


def test_drafter_counts_only_named_stages_for_the_map() -> None:
    drafter = OfflineDrafter(pack(STRAY))
    assert all(drafter.stage_themes(s) == [] for s in ("onboarding", "advocacy", "awareness"))


# --------------------------------------------------------------------------- 4. offline name


def test_offline_marker_is_not_in_the_name_but_reports_say_offline(tmp_path: Path) -> None:
    persona = draft_persona_offline(pack(STRAY))
    assert persona.name == SEG and "offline" not in persona.name.lower()
    assert persona.summary.text.endswith("(Offline template draft.)")
    assert draft_persona_offline(pack(STRAY, anti=True)).name == f"{SEG} (anti-persona)"

    ws = make_workspace(tmp_path / "ws")  # Dana is an offline draft, Sam an LLM one
    files = render_files(load_report_data(ws), ["md", "html"])
    dana = files["persona-dana.md"]
    assert "**OFFLINE DRAFT — no language model was used.**" in dana
    assert "| **Mode** | Offline (template draft, no LLM) |" in dana
    summary = files["summary.md"]
    rows = {
        line.split("|")[1].strip(): line for line in summary.splitlines() if "](persona-" in line
    }
    assert "| Draft (offline) |" in rows["[Dana, the Month-End Closer](persona-dana.md)"]
    assert "| Draft |" in rows["[Sam, the Budget Guardian](persona-sam.md)"]
    assert 'class="badge badge-offline">Offline draft' in files["index.html"]


def test_a_confirmed_legacy_offline_name_loses_the_marker(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    set_field(ws, "Dana", "name", confirm=True)
    store = load_decisions(ws)
    # A decision stored before the fix: the confirmed name carried the marker.
    store.personas["p-dana"].fields["name"].value = "Dana (drafted offline)"
    save_decisions(ws, store)
    persona = next(p for p in load_report_data(ws).personas if p.id == "p-dana")
    assert persona.draft.name == "Dana"
    store.personas["p-dana"].fields["name"].value = "Churned (anti-persona, drafted offline)"
    out = apply_reviews([persona], store)
    assert out[0].draft.name == "Churned (anti-persona)"


# --------------------------------------------------------------------------- 3. extended


def test_an_extended_claim_shows_the_addition_apart_without_footnotes(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    set_field(ws, "Dana", "role", extend="Pharmacists count fridge stock first thing Monday")
    files = render_files(load_report_data(ws), ["md", "html"])
    line = next(x for x in files["persona-dana.md"].splitlines() if x.startswith("**Role"))
    drafted, _, added = line.partition(" — _added in review")
    # The drafted claim keeps its footnote; the reviewer's words follow, marked, with none.
    assert re.search(r"owns the monthly close\[\^\d+\]$", drafted), line
    assert line.startswith("**Role _(+ extended by reviewer)_**: ")
    assert added.endswith("no evidence cited):_ Pharmacists count fridge stock first thing Monday")
    assert "[^" not in added and "no evidence cited" in added
    html = files["index.html"]
    at = html.index("Pharmacists count fridge stock")
    before, after = html[at - 400 : at], html[at : at + 200]
    assert 'owns the monthly close</span><sup class="cite">' in before
    assert "added in review</span>" in before and '<sup class="cite">' not in after.split("</p>")[0]
    # The stored value is untouched: the draft's text, then the addition, the draft's evidence.
    stored = load_decisions(ws).personas["p-dana"].fields["role"]
    assert stored.value["text"].endswith(
        "monthly close Pharmacists count fridge stock first thing Monday"
    )
    assert stored.value["evidence"] == ["chunk:c-sync"]


def test_an_extended_list_keeps_drafted_items_as_drafted(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    set_field(ws, "Dana", "goals", extend="Spend month-end evenings at home")
    text = render_files(load_report_data(ws), ["md"])["persona-dana.md"]
    assert "1. Close the books in under three days[^" in text
    assert "3. Spend month-end evenings at home _(from reviewer)_" in text


# --------------------------------------------------------------------------- 5. ticket subjects

SUBJECT = "Sync failed"
BODY = "The supplier sync failed again; order 5521 never reached the supplier."


def test_quote_window_separates_subject_and_body_for_display_only() -> None:
    text = f"{SUBJECT}\n\n{BODY}"
    assert quote_window(text, subject=SUBJECT) == f"{SUBJECT}{SUBJECT_SEPARATOR}{BODY}"
    assert quote_window(text) == f"{SUBJECT} {BODY}"  # no subject known: as before
    # A long ticket whose window starts in the body shows no separator.
    long_body = "Intro words here. " * 30 + "The order never reached the supplier at all."
    window = quote_window(f"{SUBJECT}\n\n{long_body}", ["never reached the supplier"], 120, SUBJECT)
    assert SUBJECT_SEPARATOR not in window and "never reached the supplier" in window


def test_ticket_footnote_separates_subject_from_body(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    text = f"{SUBJECT}\n\n{BODY}"
    doc = Document(
        id="doc-t101",
        source="tickets.csv",
        kind="ticket",
        ticket_id="T-101",
        turns=[
            Turn(speaker="customer", role="customer", text=SUBJECT, start=0),
            Turn(speaker="customer", role="customer", text=BODY, start=len(SUBJECT) + 2),
        ],
    )
    assert doc.text == text
    chunks = [
        c.model_copy(update={"text": text, "end": len(text), "document_id": doc.id})
        if c.id == "c-t101"
        else c
        for c in helper_chunks()
    ]
    write_models(ws.chunks, chunks)
    write_models(ws.documents, [doc])
    md = render_files(load_report_data(ws), ["md"])["persona-dana.md"]
    note = next(x for x in md.splitlines() if x.startswith("[^") and "`chunk:c-t101`" in x)
    assert f"“{SUBJECT} — {BODY}”" in note
    # The stored chunk text stays verbatim.
    stored = [Chunk.model_validate(r) for r in _jsonl(ws.chunks) if r["id"] == "c-t101"]
    assert stored[0].text == text


def _jsonl(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_report_is_byte_stable_with_review_additions(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    set_field(ws, "Dana", "role", extend="Counts stock on Mondays")
    first = render_files(load_report_data(ws), ["md", "html", "json"])
    second = render_files(load_report_data(ws), ["md", "html", "json"])
    assert first == second


# --------------------------------------------------------------------------- 2. small segments


def test_drafts_use_the_segment_reports_own_small_sample_threshold() -> None:
    """`persona segment` flags by the rules file's min_segment_size; drafting must agree.

    The decision lives in agent/evidence.py (not this helper's file): skipped until the
    proposed `is_small` lands there.
    """
    import agent.evidence as evidence
    from agent.config import DraftSettings
    from agent.models import SegmentReport, SegmentStats

    if not hasattr(evidence, "is_small"):
        pytest.skip("agent/evidence.py still uses draft.min_segment_size (see the report)")
    segments = [
        SegmentStats(name="Stock Counter", rule="a", size=90, share=0.75),
        SegmentStats(name="Reorder Planner", rule="b", size=10, share=0.0833),
        SegmentStats(
            name="Report Reader",
            rule="c",
            size=2,
            share=0.0167,
            warning="only 2 users (< 10): treat its numbers as indicative",
        ),
    ]
    report = SegmentReport(source="m.csv", config="rules.toml", total_users=102, segments=segments)
    sel = evidence.select_segments(report, DraftSettings(min_segment_size=30), False)
    assert [s.name for s in sel.primary] == ["Stock Counter", "Reorder Planner", "Report Reader"]
    assert sel.small == {"Report Reader"}
    joined = " ".join(sel.notes)
    assert "(< 10)" in joined and "(< 30)" not in joined and "Reorder Planner" not in joined


def test_quote_attributions_name_the_line_and_recording_time() -> None:
    from agent.models import Chunk
    from agent.render.context import chunk_place, chunk_source

    base = {
        "id": "c1",
        "document_id": "d1",
        "text": "It logs me out.",
        "token_count": 4,
        "speaker": "Kenji",
        "role": "participant",
        "start": 10,
        "end": 25,
        "source": "P06.srt",
        "participant_id": "P06",
    }
    srt = Chunk(**base, kind="interview", line=79, time="00:02:05,874")
    assert chunk_place(srt) == ", turn at line 79 (00:02:05,874)"
    assert chunk_source(srt) == "P06.srt, turn at line 79 (00:02:05,874), chars 10-25"
    ticket = Chunk(**{**base, "source": "t.csv"}, kind="ticket", ticket_id="T1", line=240)
    assert chunk_source(ticket) == "t.csv, ticket T1, row at line 240, chars 10-25"
    assert chunk_place(Chunk(**base, kind="interview")) == ""
