"""A small, realistic workspace for the render and review tests, built by hand from the models.

Two personas (one offline draft, one LLM draft) with journeys, four themes, three segments and
six chunks. One quote carries markup and both kinds of quote marks, to prove it is escaped.
"""

from __future__ import annotations

from pathlib import Path

from agent.models import (
    Behaviors,
    CategoryShare,
    Chunk,
    Claim,
    Demographics,
    DocumentInfo,
    JourneyDraft,
    JourneyMap,
    JourneyStageEntry,
    Needs,
    NumericSummary,
    Persona,
    PersonaDraft,
    PersonaPainPoint,
    PersonaQuote,
    Quote,
    Recommendation,
    SegmentReport,
    SegmentStats,
    Theme,
    ThemeFrequency,
    ThemeReport,
    ThemeSeverity,
)
from agent.workspace import Workspace, write_json, write_models

EVIL_QUOTE = 'I typed <script>alert("x")</script> into the memo & it said "it\'s fine"'

CHUNKS = [
    (
        "c-sync",
        "P01",
        "interview",
        "transcripts/p01-dana.md",
        None,
        "Every month-end the bank sync drops half the transactions and I spend two days matching "
        "them by hand in a spreadsheet.",
    ),
    (
        "c-export",
        "P02",
        "interview",
        "transcripts/p02-lee.md",
        None,
        "The export to our accounting tool breaks whenever a category has a colon: in its name; "
        "so I rename them before every close.",
    ),
    ("c-evil", "P01", "interview", "transcripts/p01-dana.md", None, EVIL_QUOTE),
    (
        "c-price",
        "P03",
        "interview",
        "transcripts/p03-sam.md",
        None,
        "Honestly the price jump at renewal nearly made us leave, nobody explained what changed.",
    ),
    (
        "c-t101",
        "customer",
        "ticket",
        "tickets.csv",
        "T-101",
        "Bank feed disconnected again, third time this week. Please fix sync.",
    ),
    (
        "c-t202",
        "customer",
        "ticket",
        "tickets.csv",
        "T-202",
        "Invoice PDF shows the wrong tax rate for EU customers.",
    ),
]


def chunks() -> list[Chunk]:
    out = []
    for cid, who, kind, source, ticket, text in CHUNKS:
        out.append(
            Chunk(
                id=cid,
                document_id=f"doc-{who}-{kind}",
                text=text,
                token_count=len(text.split()),
                speaker=who if kind == "interview" else "customer",
                role="participant" if kind == "interview" else "customer",
                start=0,
                end=len(text),
                kind=kind,  # type: ignore[arg-type]
                source=source,
                participant_id=who if kind == "interview" else None,
                ticket_id=ticket,
            )
        )
    return out


def _theme(
    tid: str, rank: int, label: str, parts: int, tickets: int, sev: float, quote_chunk: str
) -> Theme:
    text = dict((c[0], c[5]) for c in CHUNKS)[quote_chunk]
    return Theme(
        id=tid,
        label=label,
        description=f"People report problems with {label.lower()}.",
        mention_ids=[f"m-{tid}-{i}" for i in range(parts + tickets)],
        frequency=ThemeFrequency(
            participants=parts,
            tickets=tickets,
            participant_share=round(parts / 3, 4),
            ticket_share=round(tickets / 40, 4),
        ),
        severity=ThemeSeverity(mean=sev, max=min(5, round(sev) + 1)),
        score=round((parts / 3 + tickets / 40) * sev, 4),
        rank=rank,
        representative_quotes=[
            Quote(text=text[:40], chunk_id=quote_chunk, start=0, end=40, source="x")
        ],
    )


def themes() -> ThemeReport:
    return ThemeReport(
        themes=[
            _theme("t-sync", 1, "Bank sync drops transactions", 2, 22, 4.2, "c-sync"),
            _theme("t-export", 2, "Export breaks on special characters", 1, 9, 3.5, "c-export"),
            _theme("t-price", 3, "Renewal price surprises", 1, 4, 4.0, "c-price"),
            _theme("t-tax", 4, "Wrong tax on invoices", 0, 5, 2.5, "c-t202"),
        ],
        total_participants=3,
        total_tickets=40,
        total_mentions=48,
        embedder="hash",
        score_formula="(participant share + ticket share) x mean severity",
    )


def segments() -> SegmentReport:
    def seg(name: str, rule: str, size: int, warning: str | None = None) -> SegmentStats:
        return SegmentStats(
            name=name,
            rule=rule,
            size=size,
            share=round(size / 200, 4),
            numeric={
                "sessions_per_week": NumericSummary(
                    mean=9.5, median=8.0, q1=5.0, q3=12.0, min=1.0, max=30.0
                )
            },
            categorical={"channel": [CategoryShare(value="web", count=size // 2, share=0.5)]},
            age_range="30-39",
            warning=warning,
        )

    return SegmentReport(
        source="users.csv",
        config="weekly",
        total_users=200,
        segments=[
            seg("power_users", "sessions_per_week >= 10", 120),
            seg("casual", "sessions_per_week < 10", 62),
            seg("churn_risk", "days_since_last_seen > 30", 18, "only 18 users: below 30"),
        ],
        stats={
            "power_users.size": 120,
            "power_users.share": 0.6,
            "power_users.sessions_per_week.median": 8.0,
            "casual.size": 62,
        },
    )


def c(text: str, *evidence: str, assumption: bool = False) -> Claim:
    return Claim(text=text, evidence=list(evidence), assumption=assumption)


def _draft_dana(summary: str = "A finance lead who closes the books every month.") -> PersonaDraft:
    return PersonaDraft(
        name="Dana, the Month-End Closer",
        archetype="Month-end closer",
        summary=c(summary, "stat:power_users.size", "theme:t-sync"),
        role=c("Finance lead at a small company; owns the monthly close", "chunk:c-sync"),
        demographics=Demographics(
            age_range=c("30-39", "stat:power_users.share"),
            company_size=c("10-50 employees", assumption=True),
        ),
        goals=[
            c("Close the books in under three days", "chunk:c-sync"),
            c("Trust the bank balance without re-checking", "theme:t-sync"),
        ],
        motivations=[c("Fewer late nights at month-end", "chunk:c-sync")],
        behaviors=Behaviors(
            discovery=[c("Asks peers in finance communities", assumption=True)],
            evaluation=[c("Tests the bank sync on real accounts first", "theme:t-sync")],
            purchase_triggers=[c("A failed close after a sync outage", "chunk:c-t101")],
        ),
        channels=[c("Accounting forums and peer Slack groups", assumption=True)],
        tools=[c("Spreadsheets for matching transactions", "chunk:c-sync")],
        tech_proficiency=c("Intermediate: comfortable with spreadsheets", "chunk:c-sync"),
        pain_points=[
            PersonaPainPoint(
                theme_id="t-sync",
                title="Bank sync drops transactions",
                impact=c("Two days of manual matching each month", "chunk:c-sync"),
                frequency=c("Every month-end; 22 tickets", "theme:t-sync"),
                workaround=c("Matches transactions by hand in a spreadsheet", "chunk:c-sync"),
            ),
            PersonaPainPoint(
                theme_id="t-export",
                title="Export breaks on category names",
                impact=c("Renames categories before every close", "chunk:c-export"),
                frequency=c("Every close", "theme:t-export"),
            ),
        ],
        quotes=[
            PersonaQuote(
                text="I spend two days matching them by hand in a spreadsheet", chunk_id="c-sync"
            ),
            PersonaQuote(text=EVIL_QUOTE, chunk_id="c-evil"),
        ],
        needs=Needs(
            must=[c("Reliable bank sync", "theme:t-sync")],
            should=[c("Exports that accept any category name", "theme:t-export")],
            nice=[c("A close checklist", assumption=True)],
        ),
        aha_moment=c("The first month the sync matched every transaction", "theme:t-sync"),
    )


def _draft_sam() -> PersonaDraft:
    return PersonaDraft(
        name="Sam, the Budget Guardian",
        archetype="Cost-conscious owner",
        summary=c("An owner who watches every subscription.", "chunk:c-price"),
        role=c("Owner-operator of a services firm", "chunk:c-price"),
        demographics=Demographics(age_range=c("40-49", assumption=True)),
        goals=[c("Keep software costs predictable", "theme:t-price")],
        motivations=[c("Protect thin margins", "chunk:c-price")],
        behaviors=Behaviors(evaluation=[c("Compares renewal quotes", "chunk:c-price")]),
        channels=[c("Email from the vendor", assumption=True)],
        tools=[],
        tech_proficiency=c("Basic", assumption=True),
        pain_points=[
            PersonaPainPoint(
                theme_id="t-price",
                title="Renewal price surprises",
                impact=c("Nearly churned at renewal", "chunk:c-price"),
                frequency=c("At each renewal", "theme:t-price"),
            )
        ],
        quotes=[
            PersonaQuote(text="the price jump at renewal nearly made us leave", chunk_id="c-price")
        ],
        needs=Needs(must=[c("Clear renewal pricing", "theme:t-price")]),
        aha_moment=c("Seeing the yearly cost up front", assumption=True),
    )


STAGES = ("awareness", "consideration", "decision", "onboarding", "advocacy")


def journey(persona_id: str, emotions: tuple[int, ...] = (0, 1, 1, -2, 1)) -> JourneyMap:
    stages = []
    for stage, emotion in zip(STAGES, emotions, strict=True):
        stages.append(
            JourneyStageEntry(
                stage=stage,  # type: ignore[arg-type]
                customer_goal=c(f"Goal at {stage}: get it done; no surprises", "theme:t-sync"),
                actions=[c(f"Does the {stage} thing", "chunk:c-sync")],
                touchpoints=[c(f"{stage.title()} touchpoint", assumption=True)],
                thoughts=[c(f"Thinks about {stage}", "chunk:c-sync")],
                emotion=emotion,
                pain_points=["t-sync"] if stage == "onboarding" else [],
                opportunities=[c(f"Improve {stage}", "theme:t-sync")],
                metrics=[f"{stage} conversion"],
            )
        )
    return JourneyMap(
        id=f"j-{persona_id}",
        persona_id=persona_id,
        draft=JourneyDraft(
            stages=stages,
            key_findings=[
                c("Onboarding is where bank sync hurts most", "theme:t-sync"),
                c("Advocacy depends on a clean first close", "chunk:c-sync"),
            ],
            recommendations=[
                Recommendation(
                    action="Add a sync health check to onboarding",
                    goal="Cut first-month sync tickets",
                    metric="Sync tickets per new account",
                    evidence=["theme:t-sync"],
                )
            ],
        ),
        document_info=DocumentInfo(generated_at="2026-01-05T10:00:00Z", mode="offline"),
    )


def personas(dana_summary: str | None = None) -> list[Persona]:
    dana = Persona(
        id="p-dana",
        segment="power_users",
        draft=_draft_dana(dana_summary) if dana_summary else _draft_dana(),
        document_info=DocumentInfo(
            based_on_interviews=3,
            based_on_tickets=40,
            based_on_users=200,
            generated_at="2026-01-05T10:00:00Z",
            model="offline-templates",
            prompt_version="draft-v1",
            mode="offline",
        ),
    )
    sam = Persona(
        id="p-sam",
        segment="casual",
        draft=_draft_sam(),
        document_info=DocumentInfo(
            based_on_interviews=1,
            based_on_tickets=4,
            based_on_users=62,
            generated_at="2026-01-05T10:00:00Z",
            model="gpt-4o-mini",
            prompt_version="draft-v1",
            mode="openai",
        ),
    )
    return [dana, sam]


def write_personas(ws: Workspace, items: list[Persona], journeys: list[JourneyMap]) -> None:
    write_json(
        ws.personas,
        {
            "personas": [p.model_dump(mode="json") for p in items],
            "journeys": [j.model_dump(mode="json") for j in journeys],
        },
    )


def make_workspace(root: Path) -> Workspace:
    """A complete workspace: chunks, themes, segments, personas and journeys."""
    ws = Workspace(root).ensure()
    write_models(ws.chunks, chunks())
    write_json(ws.themes, themes())
    write_json(ws.segments, segments())
    write_personas(ws, personas(), [journey("p-dana"), journey("p-sam", (-1, 0, 1, 1, 2))])
    return ws
