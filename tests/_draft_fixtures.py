"""A small workspace with segments, themes, mentions and chunks, for the drafting tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.evidence import EvidencePack, PackQuote, PackTheme
from agent.ids import content_hash
from agent.models import (
    CategoryShare,
    Chunk,
    Claim,
    JourneyDraft,
    Observation,
    PainPointMention,
    PersonaDraft,
    Quote,
    SegmentReport,
    SegmentStats,
    Theme,
    ThemeFrequency,
    ThemeReport,
    ThemeSeverity,
)
from agent.workspace import Workspace, write_json, write_models

FPU, CASUAL, ADMIN, TINY, CHURNED, OTHER = (
    "Finance Power User",
    "Casual Tracker",
    "Team Admin",
    "Tiny Segment",
    "Churned",
    "Other",
)
SIZES = {FPU: 120, CASUAL: 90, ADMIN: 60, TINY: 10, CHURNED: 15, OTHER: 5}
TOTAL = sum(SIZES.values())
USERS = {
    "u1": FPU,
    "u2": FPU,
    "u3": FPU,
    "u4": CASUAL,
    "u5": CASUAL,
    "u6": ADMIN,
    "u7": CHURNED,
    "u8": CHURNED,
    "u9": TINY,
}

# (user, kind, role, text): the speaker's words; chunk ids are content hashes.
TEXTS = [
    (
        "u1",
        "ticket",
        "customer",
        "The bank sync failed again this morning and I had to re-import 3 statements by hand.",
    ),
    (
        "u2",
        "ticket",
        "customer",
        "Bank sync keeps disconnecting from my credit union. Every week I reconnect it manually.",
    ),
    (
        "u3",
        "interview",
        "participant",
        "Month end is brutal. The CSV export caps at 500 rows so I split every report in pieces.",
    ),
    ("u3", "interview", "interviewer", "How do you handle the month-end close today?"),
    (
        "u4",
        "ticket",
        "customer",
        "I only log receipts now and then, and the app logs me out every time.",
    ),
    (
        "u5",
        "ticket",
        "customer",
        "Export to CSV is limited, I wanted all my transactions in one file.",
    ),
    (
        "u6",
        "ticket",
        "customer",
        "Adding my team took forever because every invite expired after a day.",
    ),
    (
        "u7",
        "ticket",
        "customer",
        "Cancelled my plan. The price went up twice this year and bank sync never worked.",
    ),
    (
        "u8",
        "interview",
        "participant",
        "We switched to a cheaper tool. Paying that much for broken syncing made no sense.",
    ),
    ("u9", "ticket", "customer", "The mobile app crashes when I scan receipts on my phone."),
    (
        None,
        "ticket",
        "agent",
        "Thanks for reaching out, we are looking into the bank sync problem.",
    ),
]


def _chunk(i: int, user: str | None, kind: str, role: str, text: str) -> Chunk:
    doc = f"doc{i}"
    return Chunk(
        id=content_hash(["chunk", doc, text]),
        document_id=doc,
        text=text,
        token_count=len(text.split()),
        speaker=role,
        role=role,  # type: ignore[arg-type]
        start=0,
        end=len(text),
        kind=kind,  # type: ignore[arg-type]
        source=f"{kind}s/{doc}.txt",
        participant_id=f"P{i}" if kind == "interview" else None,
        ticket_id=f"T{i}" if kind == "ticket" else None,
        user_id=user,
    )


CHUNKS = [_chunk(i, *row) for i, row in enumerate(TEXTS)]


def chunk_of(fragment: str) -> Chunk:
    """The fixture chunk whose text contains `fragment`."""
    return next(c for c in CHUNKS if fragment in c.text)


def _quote(chunk: Chunk, text: str) -> Quote:
    start = chunk.text.index(text)
    return Quote(
        text=text,
        chunk_id=chunk.id,
        start=start,
        end=start + len(text),
        participant_id=chunk.participant_id,
        ticket_id=chunk.ticket_id,
        source=chunk.source,
    )


def _mention(
    mid: str, chunk: Chunk, quote: str, severity: int, stage: str, workaround: str | None = None
) -> PainPointMention:
    return PainPointMention(
        id=mid,
        statement=f"statement {mid}",
        category="x",
        severity=severity,
        severity_rationale="because",
        journey_stage=stage,  # type: ignore[arg-type]
        workaround=workaround,
        quotes=[_quote(chunk, quote)],
        kind=chunk.kind,
        **chunk.origin(),
    )


BANK1 = chunk_of("bank sync failed")
BANK2 = chunk_of("credit union")
EXPORT1 = chunk_of("500 rows")
EXPORT2 = chunk_of("Export to CSV")
LOGOUT = chunk_of("logs me out")
INVITE = chunk_of("invite expired")
PRICE1 = chunk_of("Cancelled my plan")
PRICE2 = chunk_of("cheaper tool")
CRASH = chunk_of("crashes")

MENTIONS = [
    _mention(
        "m1",
        BANK1,
        "The bank sync failed again this morning",
        5,
        "retention",
        "re-imports 3 statements by hand",
    ),
    _mention(
        "m2",
        BANK2,
        "Bank sync keeps disconnecting from my credit union",
        4,
        "onboarding",
        "reconnects it manually every week",
    ),
    _mention(
        "m3",
        EXPORT1,
        "The CSV export caps at 500 rows",
        3,
        "retention",
        "splits every report in pieces",
    ),
    _mention("m4", EXPORT2, "Export to CSV is limited", 2, "retention"),
    _mention("m5", LOGOUT, "the app logs me out every time", 2, "unknown"),
    _mention("m6", INVITE, "every invite expired after a day", 3, "onboarding"),
    _mention("m7", PRICE1, "The price went up twice this year", 4, "decision"),
    _mention("m8", PRICE2, "Paying that much for broken syncing made no sense", 4, "decision"),
    _mention("m9", CRASH, "The mobile app crashes when I scan receipts", 3, "retention"),
]


def _observation(
    oid: str, kind: str, chunk: Chunk, quote: str, text: str, stage: str = "unknown"
) -> Observation:
    """An observation as a model would report it: its own words, the speaker's verbatim quote."""
    return Observation(
        id=oid,
        kind=kind,  # type: ignore[arg-type]
        text=text,
        journey_stage=stage,  # type: ignore[arg-type]
        quotes=[_quote(chunk, quote)],
        source_kind=chunk.kind,
        **chunk.origin(),
    )


# What the Finance Power Users state besides pains (the other segments state nothing: their
# drafts show the gaps as open questions).
OBSERVATIONS = [
    _observation(
        "o1",
        "goal",
        BANK1,
        "I had to re-import 3 statements by hand",
        "Keep the bank feed complete without re-importing statements",
        "retention",
    ),
    _observation(
        "o2",
        "workaround",
        BANK2,
        "Every week I reconnect it manually.",
        "Reconnects the bank feed by hand every week",
        "retention",
    ),
    _observation(
        "o3",
        "tool",
        EXPORT1,
        "The CSV export caps at 500 rows so I split every report in pieces.",
        "CSV export: splits every report to fit its row cap",
    ),
]


def _theme(
    tid: str,
    label: str,
    desc: str,
    mids: list[str],
    rank: int,
    sev: tuple[float, int],
    freq: tuple[int, int],
    segs: dict[str, int],
    stages: dict[str, int],
) -> Theme:
    members = [m for m in MENTIONS if m.id in mids]
    return Theme(
        id=tid,
        label=label,
        description=desc,
        mention_ids=mids,
        frequency=ThemeFrequency(
            participants=freq[0],
            tickets=freq[1],
            participant_share=round(freq[0] / 3, 4),
            ticket_share=round(freq[1] / 8, 4),
        ),
        severity=ThemeSeverity(mean=sev[0], max=sev[1]),
        score=round(sev[0] * (freq[0] / 3 + freq[1] / 8) / 2, 4),
        rank=rank,
        representative_quotes=[m.quotes[0] for m in members],
        segment_counts=segs,
        journey_stages=stages,
    )


THEMES = [
    _theme(
        "t-bank",
        "Bank sync failures",
        "Bank connections drop and imports fail.",
        ["m1", "m2", "m8"],
        1,
        (4.33, 5),
        (1, 2),
        {FPU: 2, CHURNED: 1},
        {"decision": 1, "onboarding": 1, "retention": 1},
    ),
    _theme(
        "t-export",
        "CSV export limits",
        "Exports are capped and split across files.",
        ["m3", "m4"],
        2,
        (2.5, 3),
        (1, 1),
        {FPU: 1, CASUAL: 1},
        {"retention": 2},
    ),
    _theme(
        "t-price",
        "Price increases",
        "Price rises push customers to cheaper tools.",
        ["m7"],
        3,
        (4.0, 4),
        (0, 1),
        {CHURNED: 1},
        {"decision": 1},
    ),
    _theme(
        "t-invite",
        "Team invites expire",
        "Invitations expire before teammates accept.",
        ["m6"],
        4,
        (3.0, 3),
        (0, 1),
        {ADMIN: 1},
        {"onboarding": 1},
    ),
    _theme(
        "t-logout",
        "Frequent logouts",
        "The app signs users out.",
        ["m5"],
        5,
        (2.0, 2),
        (0, 1),
        {CASUAL: 1},
        {"unknown": 1},
    ),
    _theme(
        "t-crash",
        "Mobile crashes",
        "The mobile app crashes while scanning.",
        ["m9"],
        6,
        (3.0, 3),
        (0, 1),
        {TINY: 1},
        {"retention": 1},
    ),
]


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def segment_report() -> SegmentReport:
    stats: dict[str, float | int] = {
        "total_users": TOTAL,
        "overall.sessions_30d.median": 9,
        "overall.feature_breadth.median": 3,
    }
    segments = []
    for name, size in SIZES.items():
        slug = _slug(name)
        share = round(size / TOTAL, 4)
        stats[f"segment.{slug}.size"] = size
        stats[f"segment.{slug}.share"] = share
        stats[f"distribution.persona.{slug}.share"] = share
        categorical = {}
        age = None
        if name == FPU:
            stats[f"segment.{slug}.sessions_30d.median"] = 22
            stats[f"segment.{slug}.feature_breadth.median"] = 5
            stats[f"segment.{slug}.age_range.low"] = 30
            stats[f"segment.{slug}.age_range.high"] = 44
            stats[f"segment.{slug}.role.accountant.count"] = 46
            stats[f"segment.{slug}.role.accountant.share"] = 0.3833
            stats[f"segment.{slug}.role.controller.count"] = 30
            stats[f"segment.{slug}.role.controller.share"] = 0.25
            categorical = {
                "role": [
                    CategoryShare(value="Accountant", count=46, share=0.3833),
                    CategoryShare(value="Controller", count=30, share=0.25),
                ]
            }
            age = "30-44"
        rule = (
            "TRUE (catch-all: no earlier rule matched)" if name == OTHER else f"segment = '{name}'"
        )
        warning = (
            f"only {size} users (< 30): treat its numbers as indicative" if size < 30 else None
        )
        segments.append(
            SegmentStats(
                name=name,
                rule=rule,
                size=size,
                share=share,
                categorical=categorical,
                age_range=age,
                warning=warning,
            )
        )
    return SegmentReport(
        source="users.csv",
        config="test",
        total_users=TOTAL,
        segments=segments,
        stats=dict(sorted(stats.items())),
    )


def theme_report() -> ThemeReport:
    return ThemeReport(
        themes=THEMES,
        total_participants=3,
        total_tickets=8,
        total_mentions=len(MENTIONS),
        embedder="hash",
        score_formula="reach x severity",
    )


def make_workspace(root: Path, with_segments: bool = True) -> Workspace:
    """Write the fixture files into a fresh workspace folder."""
    ws = Workspace(root).ensure()
    write_models(ws.chunks, CHUNKS)
    write_models(ws.mentions, MENTIONS)
    write_models(ws.observations, OBSERVATIONS)
    write_json(ws.themes, theme_report())
    if with_segments:
        write_json(ws.segments, segment_report())
        lines = ["user_id,persona"] + [f"{u},{s}" for u, s in USERS.items()]
        ws.assignments.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ws


def pack_theme(
    tid: str,
    label: str,
    rank: int,
    count: int,
    stages: dict[str, int] | None = None,
    quotes: list[PackQuote] | None = None,
    sev: tuple[float, int] = (3.2, 5),
    freq: tuple[int, int] = (7, 63),
    shares: tuple[float, float] | None = None,
    own: dict[str, int] | None = None,
) -> PackTheme:
    """A theme as an evidence pack holds it; shares default to freq over the sample corpus.
    `own`: the persona's own mentions per stage (default: all of `stages` when its people
    raised the theme, none when they did not)."""
    participant_share, ticket_share = shares or (round(freq[0] / 12, 4), round(freq[1] / 327, 4))
    return PackTheme(
        id=tid,
        label=label,
        description=f"{label} happens",
        rank=rank,
        score=1.0,
        mentions=sum((stages or {"unknown": 3}).values()),
        frequency=ThemeFrequency(
            participants=freq[0],
            tickets=freq[1],
            participant_share=participant_share,
            ticket_share=ticket_share,
        ),
        severity=ThemeSeverity(mean=sev[0], max=sev[1]),
        segment_count=count,
        journey_stages=stages or {"unknown": 3},
        segment_journey_stages=own
        if own is not None
        else (stages or {"unknown": 3})
        if count
        else {},
        quotes=quotes or [],
    )


def grounded(pack: EvidencePack) -> tuple[PersonaDraft, JourneyDraft]:
    """The offline persona and journey, each checked by the grounding validators."""
    from agent.grounding import GroundedJourneyDraft, GroundedPersonaDraft
    from agent.offline_draft import draft_journey_offline, draft_persona_offline

    persona, journey = draft_persona_offline(pack), draft_journey_offline(pack)
    context = pack.context()
    GroundedPersonaDraft.model_validate(persona.model_dump(mode="json"), context=context)
    GroundedJourneyDraft.model_validate(journey.model_dump(mode="json"), context=context)
    return persona, journey


def claims_of(value: Any) -> list[Claim]:
    """Every Claim inside a draft, depth first."""
    found: list[Claim] = []

    def walk(node: Any) -> None:
        if isinstance(node, Claim):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif hasattr(type(node), "model_fields"):
            for name in type(node).model_fields:
                walk(getattr(node, name))

    walk(value)
    return found
