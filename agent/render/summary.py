"""The executive summary across personas: segments, top pain points, findings, recommendations."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from ..models import Claim, Persona, Recommendation, SegmentStats, Theme
from .context import ReportData, pct
from .markdown import (
    Footnotes,
    claim_md,
    code,
    doc_basis,
    md,
    offline_banner,
    stale_banner,
    table,
)

TOP_THEMES_PER_PRODUCT = 5
TOP_THEMES = 10


@dataclass
class PersonaRow:
    persona: Persona
    slug: str
    segment: SegmentStats | None
    top_pain: str | None


@dataclass
class ExecutiveSummary:
    """What the summary says, shared by the Markdown and HTML renderers."""

    personas: list[PersonaRow]
    segments: list[SegmentStats]
    themes: list[Theme]
    findings: list[tuple[str, Claim]]
    recommendations: list[tuple[str, Recommendation]]
    warnings: list[str] = field(default_factory=list)
    score_formula: str = ""
    # Product -> its top themes, ranked within it, when the corpus has several products.
    by_product: dict[str, list[Theme]] = field(default_factory=dict)


def build_summary(data: ReportData) -> ExecutiveSummary:
    """Collect the cross-persona view; duplicates across journeys are listed once."""
    rows = []
    for persona in data.personas:
        pains = persona.draft.pain_points
        rows.append(
            PersonaRow(
                persona=persona,
                slug=data.slugs[persona.id],
                segment=data.segment(persona.segment),
                top_pain=pains[0].title if pains else None,
            )
        )
    themes = (
        sorted(data.themes.themes, key=lambda t: (t.rank, t.id))[:TOP_THEMES] if data.themes else []
    )
    by_product: dict[str, list[Theme]] = {}
    if data.themes and len({t.product for t in data.themes.themes}) > 1:
        for theme in sorted(data.themes.themes, key=lambda t: (t.product or "", t.rank, t.id)):
            group = by_product.setdefault(theme.product or "(no product)", [])
            if len(group) < TOP_THEMES_PER_PRODUCT:
                group.append(theme)
    findings: list[tuple[str, Claim]] = []
    seen_findings: set[str] = set()
    for persona in data.personas:
        journey = data.journey(persona)
        if journey is None:
            continue
        first_name = persona.draft.name.split(",")[0].strip()
        for claim in journey.draft.key_findings:
            if claim.text.casefold() not in seen_findings:
                seen_findings.add(claim.text.casefold())
                findings.append((first_name, claim))
    warnings = _warnings(data)
    return ExecutiveSummary(
        personas=rows,
        segments=list(data.segments.segments) if data.segments else [],
        themes=themes,
        findings=findings,
        recommendations=_recommendations(data),
        warnings=warnings,
        score_formula=data.themes.score_formula if data.themes else "",
        by_product=by_product,
    )


def _recommendations(data: ReportData) -> list[tuple[str, Recommendation]]:
    """Each action once, given to the persona whose segment raised its themes most.

    Several journeys recommend fixing the same theme; the summary keeps the one from the
    persona with the highest segment count for the cited themes (themes.json segment_counts),
    so a top pain is not credited to whichever persona happens to be listed first. Ties keep
    the persona order. Listed by persona, each in its journey's order.
    """
    offers: dict[str, list[tuple[int, int, int, str, Recommendation]]] = {}
    for p_index, persona in enumerate(data.personas):
        journey = data.journey(persona)
        if journey is None:
            continue
        first_name = persona.draft.name.split(",")[0].strip()
        for r_index, rec in enumerate(journey.draft.recommendations):
            weight = 0
            for ref in rec.evidence:
                kind, _, key = ref.partition(":")
                theme = data.theme(key) if kind == "theme" else None
                if theme:
                    weight += theme.segment_counts.get(persona.segment, 0)
            offer = (-weight, p_index, r_index, first_name, rec)
            offers.setdefault(rec.action.casefold(), []).append(offer)
    best = [min(group, key=lambda o: o[:3]) for group in offers.values()]
    return [(who, rec) for _, _, _, who, rec in sorted(best, key=lambda o: o[1:3])]


def _warnings(data: ReportData) -> list[str]:
    warnings = [data.stale_note] if data.stale else []
    if data.segments:
        warnings.extend(data.segments.warnings)
        warnings.extend(
            f"Segment {s.name}: {s.warning}" for s in data.segments.segments if s.warning
        )
    for persona in data.personas:
        claims = _all_claims(persona)
        assumed = sum(1 for c in claims if c.assumption)
        if assumed:
            warnings.append(
                f"{persona.draft.name}: {assumed} of {len(claims)} statements are assumptions "
                "without evidence"
            )
        refs = {r for c in claims for r in c.evidence}
        missing = sorted(r for r in refs if not data.resolve(r).found)
        if missing:
            warnings.append(f"{persona.draft.name}: evidence not found: {', '.join(missing)}")
    return warnings


def _all_claims(persona: Persona) -> list[Claim]:
    found: list[Claim] = []

    def walk(value: object) -> None:
        if isinstance(value, Claim):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))

    walk(persona.draft)
    return found


def status_text(persona: Persona) -> str:
    """'Draft', 'Reviewed', plus how it was drafted when no language model wrote it.

    The name never says so (a reviewer confirming the name would keep the marker), so the
    status column carries it.
    """
    status = persona.document_info.status.capitalize()
    return f"{status} (offline)" if persona.document_info.mode == "offline" else status


def render_summary_md(data: ReportData, summary: ExecutiveSummary) -> str:
    """summary.md: the page a product manager reads first."""
    notes = Footnotes(data)
    interviews, tickets, users = data.corpus_basis()
    out = ["# Executive Summary", "", *stale_banner(data)]
    if data.offline:
        out += [offline_banner(), ""]
    out += [f"Based on {doc_basis(interviews, tickets, users)}.", ""]
    statuses = [p.document_info.status for p in data.personas]
    out += [
        f"{len(data.personas)} persona{'' if len(data.personas) == 1 else 's'} "
        f"({statuses.count('reviewed')} reviewed, "
        f"{statuses.count('draft')} draft).",
        "",
        "## Personas",
        "",
    ]
    rows = []
    for row in summary.personas:
        seg = row.segment
        kind = " (anti-persona)" if row.persona.is_anti_persona else ""
        rows.append(
            [
                f"[{md(row.persona.draft.name)}](persona-{row.slug}.md){kind}",
                md(row.persona.segment),
                f"{seg.size:,}" if seg else "",
                pct(seg.share) if seg else "",
                status_text(row.persona),
                md(row.top_pain or ""),
                f"[journey](journey-{row.slug}.md)" if data.journey(row.persona) else "",
            ]
        )
    out += table(
        ["Persona", "Segment", "Users", "Share", "Status", "Top pain point", "Journey"], rows
    )
    if summary.segments:
        out += ["", "## Segments", ""]
        out += table(
            ["Segment", "Rule", "Users", "Share", "Note"],
            [
                [md(s.name), code(s.rule), f"{s.size:,}", pct(s.share), md(s.warning or "")]
                for s in summary.segments
            ],
        )

    def theme_rows(themes: list[Theme], within: bool) -> list[list[str]]:
        return [
            [
                str(t.product_rank if within and t.product_rank else t.rank),
                md(t.label) + notes.cite([f"theme:{t.id}"]),
                f"{t.frequency.participants} ({pct(t.frequency.participant_share)})",
                f"{t.frequency.tickets:,} ({pct(t.frequency.ticket_share)})",
                f"{t.severity.mean:.1f} / {t.severity.max}",
                f"{t.score:.2f}",
            ]
            for t in themes
        ]

    header = ["Rank", "Theme", "Participants", "Tickets", "Severity (mean / max)", "Score"]
    if summary.by_product:
        out += ["", "## Top Pain Points by Product", ""]
        out += [
            "Each product's themes are counted against its own participants and tickets, and "
            "ranked within it."
        ]
        for product, themes in summary.by_product.items():
            out += ["", f"### {md(product)}", ""]
            out += table(header, theme_rows(themes, within=True))
    elif summary.themes:
        out += ["", "## Top Pain Points", ""]
        out += table(header, theme_rows(summary.themes, within=False))
    if summary.themes and summary.score_formula:
        out += ["", f"Score: {md(summary.score_formula.rstrip('.'))}."]
    if summary.findings:
        out += ["", "## Key Findings", ""]
        out += [f"- **{md(who)}**: {claim_md(c, notes)}" for who, c in summary.findings]
    if summary.recommendations:
        out += ["", "## Recommendations", ""]
        out += table(
            ["#", "Action", "Goal", "Metric", "Persona"],
            [
                [
                    str(i),
                    md(rec.action) + notes.cite(rec.evidence),
                    md(rec.goal),
                    md(rec.metric),
                    md(who),
                ]
                for i, (who, rec) in enumerate(summary.recommendations, 1)
            ],
        )
    if summary.warnings:
        out += ["", "## Caveats", ""]
        out += [f"- {md(w)}" for w in summary.warnings]
    out += notes.section()
    return "\n".join(out).rstrip() + "\n"
