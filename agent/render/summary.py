"""The executive summary across personas: segments, top pain points, findings, recommendations."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from ..decisions import JOURNEY_PREFIX, Mark
from ..models import Claim, Persona, Recommendation, SegmentStats, Theme, ThemeGroup, ThemeReport
from ..offline_draft import SEVERITY_WORDS
from ..review_redraft import REDRAFT
from ..stages import FUNNEL, funnel_hint
from .context import People, ReportData, first_name, pct
from .markdown import (
    ADDED_IN_REVIEW,
    REVIEW_MARKS,
    Footnotes,
    claim_md,
    code,
    doc_basis,
    md,
    md_code,
    offline_banner,
    plural,
    stale_banner,
    table,
)

TOP_THEMES_PER_PRODUCT = 5
TOP_THEMES = 10


@dataclass
class PersonaRow:
    persona: Persona
    slug: str
    top_pain: str | None
    # The theme most over-represented among the persona's people against the study, with
    # its counts ("Miri cannot run real programs (6 of 7; 9 of 19 in the study)").
    distinctive: str = ""


# A distinctive theme is raised by at least this many of the group's people, and by at least
# half of them: one person's theme is not what sets a group apart.
DISTINCT_MIN = 2


def distinctive_theme(data: ReportData, persona: Persona) -> str:
    """The theme the persona's people raise most often relative to the whole study ('' when
    the persona is not a group of listed participants or none qualifies)."""
    members = data.members(persona)
    report = data.themes
    if not members or report is None or not report.total_participants or not data.theme_people:
        return ""
    best: tuple[float, int, int, str] | None = None
    for theme in report.themes:
        raised = data.theme_people.get(theme.id, set())
        k = len(raised & members)
        if k < DISTINCT_MIN or 2 * k < len(members) or not theme.frequency.participants:
            continue
        lift = (k / len(members)) / (theme.frequency.participants / report.total_participants)
        key = (round(lift, 6), k, -theme.rank, theme.id)
        if best is None or key > best:
            best = key
    if best is None:
        return ""
    theme = next(t for t in report.themes if t.id == best[3])
    k = best[1]
    everyone = theme.frequency.participants
    return (
        f"{theme.label} ({k} of {len(members)}; {everyone} of {report.total_participants} in "
        "the study)"
    )


@dataclass
class ExecutiveSummary:
    """What the summary says, shared by the Markdown and HTML renderers."""

    personas: list[PersonaRow]
    segments: list[SegmentStats]
    themes: list[Theme]
    findings: list[tuple[str, Claim]]
    recommendations: list[tuple[str, Recommendation]]
    warnings: list[str] = field(default_factory=list)
    # How the synthesis was made, in plain sentences (what a report's Method section says).
    method: list[str] = field(default_factory=list)
    score_formula: str = ""
    # Product -> its top themes, ranked within it, when the corpus has several products.
    by_product: dict[str, list[Theme]] = field(default_factory=dict)
    # Review marks, in the order of `findings` / `recommendations` (a recommendation's by part:
    # '' for the item, 'action', 'goal', 'metric'), so reviewer-written text says so here too.
    finding_marks: list[Mark | None] = field(default_factory=list)
    recommendation_marks: list[dict[str, Mark]] = field(default_factory=list)
    # Theme groups (themes.json `groups`), each with its themes, most important first.
    groups: list[tuple[ThemeGroup, list[Theme]]] = field(default_factory=list)


def build_summary(data: ReportData) -> ExecutiveSummary:
    """Collect the cross-persona view; duplicates across journeys are listed once."""
    rows = []
    for persona in data.personas:
        pains = persona.draft.pain_points
        rows.append(
            PersonaRow(
                persona=persona,
                slug=data.slugs[persona.id],
                # The study's name for the theme, so two personas' shared pain reads the same.
                top_pain=(
                    (theme.label if (theme := data.theme(pains[0].theme_id)) else pains[0].title)
                    if pains
                    else None
                ),
                distinctive=distinctive_theme(data, persona),
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
    finding_marks: list[Mark | None] = []
    seen_findings: set[str] = set()
    for persona in data.personas:
        journey = data.journey(persona)
        if journey is None:
            continue
        first_name = data.short_name(persona)
        for i, claim in enumerate(journey.draft.key_findings):
            if data.resting(persona, f"{JOURNEY_PREFIX}key_findings.{i}"):
                continue  # drafted from a removed pain point: on the journey page, marked
            if claim.text.casefold() not in seen_findings:
                seen_findings.add(claim.text.casefold())
                findings.append((first_name, claim))
                finding_marks.append(data.mark(persona, f"{JOURNEY_PREFIX}key_findings.{i}"))
    warnings = _warnings(data)
    recommendations = _recommendations(data)
    groups = groups_with_themes(data.themes)
    return ExecutiveSummary(
        personas=rows,
        segments=list(data.segments.segments) if data.segments else [],
        themes=themes,
        findings=findings,
        recommendations=[(who, rec) for who, rec, _ in recommendations],
        warnings=warnings,
        method=_method(data),
        score_formula=data.themes.score_formula if data.themes else "",
        by_product=by_product,
        finding_marks=finding_marks,
        recommendation_marks=[marks for _, _, marks in recommendations],
        groups=groups,
    )


def review_note(mark: Mark | None) -> str:
    """The Markdown marker of a decided journey part, as the journey page writes it."""
    if mark is None:
        return ""
    if mark.kind == "added":
        return f" _({ADDED_IN_REVIEW})_"
    return f" _({REVIEW_MARKS[mark.kind]})_" if mark.kind in REVIEW_MARKS else ""


SEVERITY_SCALE = (
    "Severity: each mention is rated 1-5 ("
    + "; ".join(f"{n} {words}" for n, words in SEVERITY_WORDS.items())
    + "); a theme's is the mean and the maximum of its mentions'."
)
RECOMMENDATIONS_NOTE = (
    "One row per pain point, in the themes' rank order; where several personas recommend a "
    "fix for it, the action shown is from the persona whose people raise it most, and each "
    "persona's own actions are on its journey page."
)


def _recommendations(data: ReportData) -> list[tuple[str, Recommendation, dict[str, Mark]]]:
    """One row per pain point, ranked as its theme is; each persona that recommends a fix for
    it is named.

    Several journeys recommend fixing the same theme, in different words; a row is keyed by
    the first theme an action cites (else by its words) and shows the action of the persona
    whose people raise that theme most (themes.json segment_counts, or the group's members
    who raise it), so a top pain is not credited to whichever persona happens to be listed
    first; ties keep the persona order. Rows follow their theme's rank; actions citing no
    theme come last, in persona order. Every persona's own actions stay on its journey page.
    """
    offers: dict[str, list[tuple[int, int, int, str, Recommendation, dict[str, Mark]]]] = {}
    rank: dict[str, int] = {}
    for p_index, persona in enumerate(data.personas):
        journey = data.journey(persona)
        if journey is None:
            continue
        first_name = data.short_name(persona)
        members = data.members(persona)
        for r_index, rec in enumerate(journey.draft.recommendations):
            if data.resting(persona, f"{JOURNEY_PREFIX}recommendations.{r_index}"):
                continue  # drafted from a removed pain point: on the journey page, marked
            # The row's theme: the first one the action cites; it alone weighs the offer.
            weight = 0
            key = ""
            for ref in rec.evidence:
                kind, _, ref_key = ref.partition(":")
                theme = data.theme(ref_key) if kind == "theme" else None
                if theme is None:
                    continue
                key = f"theme:{theme.id}"
                rank.setdefault(key, theme.rank)
                if members:
                    weight = len(data.theme_people.get(theme.id, set()) & members)
                else:
                    weight = theme.segment_counts.get(persona.segment, 0)
                break
            at = f"{JOURNEY_PREFIX}recommendations.{r_index}"
            marks = {
                part: found
                for part in ("", "action", "goal", "metric")
                if (found := data.mark(persona, f"{at}.{part}" if part else at)) is not None
            }
            offer = (-weight, p_index, r_index, first_name, rec, marks)
            offers.setdefault(key or rec.action.casefold(), []).append(offer)
    rows = []
    for key, group in offers.items():
        _, p_index, r_index, who, rec, marks = min(group, key=lambda o: o[:3])
        others = [o[3] for o in sorted(group, key=lambda o: o[1:3]) if o[3] != who]
        if others:
            # Full names hold commas ("Kai, the Boundary Binder").
            who += f" (also {'; '.join(dict.fromkeys(others))})"
        order = (0, rank[key], p_index, r_index) if key in rank else (1, 0, p_index, r_index)
        rows.append((order, who, rec, marks))
    return [(who, rec, marks) for _, who, rec, marks in sorted(rows, key=lambda r: r[0])]


def _method(data: ReportData) -> list[str]:
    """How the evidence, themes, personas and drafts were made: facts from the workspace's
    files, so a reader can judge the findings without the tool's documentation."""
    out: list[str] = []
    report = data.themes
    if report is not None:
        present = [
            (n, noun)
            for n, noun in (
                (report.total_participants, "participant"),
                (report.total_tickets, "ticket"),
            )
            if n
        ]
        sources = " and ".join(
            plural(n, "interview participant" if noun == "participant" else noun)
            for n, noun in present
        )
        out.append(
            f"Evidence: {plural(report.total_mentions, 'pain-point mention')} from "
            f"{sources or 'no sources'}; every extracted quote is checked word for "
            "word against its transcript or ticket."
        )
        named = {t.named_by for t in report.themes} or {"offline"}
        said = "statements and ticket subjects" if report.total_tickets else "statements"
        how = (
            f"named by code from their most typical {said}, without a model"
            if named == {"offline"}
            else "named and consolidated by the model"
        )
        counted = " and ".join(f"{noun}s" for _, noun in present)
        out.append(
            f"Themes: the mentions were clustered by code into {plural(len(report.themes), 'theme')}"
            f", {how}. Counts are distinct {counted or 'sources'}, counted by code; severity is "
            "the mean and maximum of the mentions' 1-5 ratings."
        )
    out += _personas_method(data)
    if data.personas:
        modes = {p.document_info.mode for p in data.personas}
        drafted = (
            "offline templates"
            if modes == {"offline"}
            else "the model"
            if "offline" not in modes
            else "the model and offline templates"
        )
        reviewed = sum(p.document_info.status == "reviewed" for p in data.personas)
        out.append(
            f"Drafts: written by {drafted}; each claim cites its evidence or is marked an "
            "assumption, and every number is taken from the code's counts; "
            f"{reviewed} of {len(data.personas)} reviewed by a researcher."
        )
    return out


def _personas_method(data: ReportData) -> list[str]:
    """Where the personas come from: the user table's segments, or what the grouping did."""
    drafted = plural(len(data.personas), "persona")
    if data.segments is not None:
        return [
            f"Personas: {drafted} for segments of the user table, which the scorer assigns with "
            "the configured thresholds and first-match rules "
            f"({plural(len(data.segments.segments), 'segment')} in all)."
        ]
    cohorts = data.cohorts
    if cohorts is None:
        return []
    if len(cohorts.cohorts) == 1 and cohorts.basis in ("interviews", "everyone"):
        why = "; the reason is among the caveats" if cohorts.one_persona_reason else ""
        return [f"Personas: one persona for everyone in the study{why}."]
    if cohorts.basis == "interviews":
        refined = any(c.named_by != "offline" for c in cohorts.cohorts)
        return [
            f"Personas: {plural(len(cohorts.cohorts), 'group')} of participants proposed by code "
            "from who raised which themes, what they said about their work and any roster "
            f"attributes, {'then refined by the model' if refined else 'not refined by a model'}"
            "; each participant is in exactly one group."
        ]
    if cohorts.basis == "metadata":
        return [f"Personas: {drafted}, one for each value of the documents' segment field."]
    if cohorts.basis == "products":
        return [f"Personas: {drafted}, one for each product the evidence names."]
    why = "; the reason is among the caveats" if cohorts.one_persona_reason else ""
    return [f"Personas: one persona for everyone in the study{why}."]


def _funnel_warning(data: ReportData) -> list[str]:
    """The draft step's note that interviews alone crowd the funnel's Onboarding & Retention
    column, where the deliverable's reader sees it too."""
    if data.segments or not data.journeys:
        return []
    if any(tuple(s.stage for s in j.draft.stages) != FUNNEL for j in data.journeys.values()):
        return []
    hint = funnel_hint(data.themes)
    return [hint[:1].upper() + hint[1:]] if hint else []


def _warnings(data: ReportData) -> list[str]:
    warnings = [data.stale_note] if data.stale else []
    warnings += _funnel_warning(data)
    named: dict[str, list[Persona]] = {}
    for persona in data.personas:
        named.setdefault(first_name(persona), []).append(persona)
    for first, same in named.items():
        if len(same) > 1:
            # Drafted apart, two personas can pick the same first name; readers mix them up.
            # The id, not the name, picks one out (two full names can be the same too).
            names = "; ".join(p.draft.name for p in same)
            warnings.append(
                f"{len(same)} personas are named {first} ({names}): rename one in review "
                f'(persona review set {same[-1].id} name --correct "...")'
            )
    for persona in data.personas:
        found = data.redraft.get(persona.id)
        if found is None:
            continue
        held = sum(
            1
            for path in found.resting
            if path.startswith(
                (f"{JOURNEY_PREFIX}key_findings.", f"{JOURNEY_PREFIX}recommendations.")
            )
        )
        left = (
            f"; {held} of its key findings and recommendations rest only on "
            f"{'it' if len(found.removed) == 1 else 'them'} and are left out of this summary "
            "(its pages show them, marked)"
            if held
            else ""
        )
        warnings.append(
            f"{persona.draft.name}: re-draft pending: {found.headline()} after this draft "
            f"was written{left}; {REDRAFT} re-drafts it"
        )
    if data.cohorts and data.cohorts.one_persona_reason:
        warnings.append(data.cohorts.one_persona_reason)
    elif (
        data.cohorts
        and data.cohorts.basis == "interviews"
        and all(c.named_by == "offline" for c in data.cohorts.cohorts)
    ):
        warnings.append(
            f"the {len(data.cohorts.cohorts)} groups were proposed by code, without a model, from "
            "who raised which themes, what they said and any roster attributes: check that a "
            "researcher would draw them before relying on how the personas differ"
        )
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


def _count_of(people: People) -> str:
    """'7 participants', '2,400 users', '1 person'."""
    noun = people.noun
    if people.size == 1:
        noun = "person" if noun == "people" else noun.removesuffix("s")
    return f"{people.size:,} {noun}"


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
        # A scored segment's users, or the participants of a group from the interviews.
        people = data.people(row.persona)
        kind = " (anti-persona)" if row.persona.is_anti_persona else ""
        rows.append(
            [
                f"[{md(row.persona.draft.name)}](persona-{row.slug}.md){kind}",
                md(row.persona.segment),
                _count_of(people) if people else "",
                pct(people.share) if people else "",
                status_text(row.persona),
                md(row.top_pain or ""),
                md(row.distinctive),
                f"[journey](journey-{row.slug}.md)" if data.journey(row.persona) else "",
            ]
        )
    head = ["Persona", "Segment", "People", "Share", "Status", "Top pain point"]
    head += ["Sets them apart", "Journey"]
    if len(summary.personas) < 2 or not any(r.distinctive for r in summary.personas):
        head.remove("Sets them apart")
        rows = [row[:6] + row[7:] for row in rows]
    out += table(head, rows)
    if len(head) == 8:
        out += [
            "",
            "_Sets them apart_: the theme this persona's people raise most often relative to "
            f"the whole study, among themes at least {DISTINCT_MIN} and half of them raise.",
        ]
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

    header = ["Rank", "Theme", "Participants", "Tickets", "Severity 1-5 (mean / max)", "Score"]
    # A source the corpus does not have is a column of zeros: it is left out.
    report = data.themes if isinstance(data.themes, ThemeReport) else None
    absent = (
        {"Participants"} if report is not None and not report.total_participants else set()
    ) | ({"Tickets"} if report is not None and not report.total_tickets else set())

    def theme_table(head: list[str], rows: list[list[str]]) -> list[str]:
        keep = [i for i, name in enumerate(head) if name not in absent]
        return table([head[i] for i in keep], [[row[i] for i in keep] for row in rows])

    if summary.by_product:
        out += ["", "## Top Pain Points by Product", ""]
        out += [
            "Each product's themes are counted against its own participants and tickets, and "
            "ranked within it."
        ]
        for product, themes in summary.by_product.items():
            out += ["", f"### {md(product)}", ""]
            out += theme_table(header, theme_rows(themes, within=True))
    elif summary.themes:
        out += ["", "## Top Pain Points", ""]
        out += theme_table(header, theme_rows(summary.themes, within=False))
    if summary.themes and summary.score_formula:
        out += ["", f"Score: {md(summary.score_formula.rstrip('.'))}."]
        out += ["", SEVERITY_SCALE]
    if summary.groups:
        out += ["", "## Theme Groups", ""]
        out += [
            "Related themes under one heading, as a report's findings name them; a group counts "
            "each person and ticket once however many of its themes they raised.",
            "",
        ]
        out += theme_table(
            [
                "Rank",
                "Group",
                "Themes",
                "Participants",
                "Tickets",
                "Severity 1-5 (mean / max)",
                "Score",
            ],
            [
                [
                    str(g.rank),
                    (f"{md(g.product)}: " if g.product and summary.by_product else "")
                    + f"**{md(g.label)}**: {md(g.description)}",
                    "; ".join(
                        f"{t.product_rank or t.rank}. {md(t.label)}" + notes.cite([f"theme:{t.id}"])
                        for t in held
                    ),
                    f"{g.frequency.participants} ({pct(g.frequency.participant_share)})",
                    f"{g.frequency.tickets:,} ({pct(g.frequency.ticket_share)})",
                    f"{g.severity.mean:.1f} / {g.severity.max}",
                    f"{g.score:.2f}",
                ]
                for g, held in summary.groups
            ],
        )
    if summary.findings:
        out += ["", "## Key Findings", ""]
        out += [
            f"- **{md(who)}**: {_finding_md(c, notes, mark)}"
            for (who, c), mark in zip(summary.findings, _marks(summary), strict=True)
        ]
    if summary.recommendations:
        out += ["", "## Recommendations", "", RECOMMENDATIONS_NOTE, ""]
        out += table(
            ["#", "Action", "Goal", "Metric", "Persona"],
            [
                [
                    str(i) + review_note(marks.get("")),
                    md(rec.action) + notes.cite(rec.evidence) + review_note(marks.get("action")),
                    md(rec.goal) + review_note(marks.get("goal")),
                    md(rec.metric) + review_note(marks.get("metric")),
                    md(who),
                ]
                for i, ((who, rec), marks) in enumerate(
                    zip(summary.recommendations, _rec_marks(summary), strict=True), 1
                )
            ],
        )
    if summary.method:
        out += ["", "## Method", ""]
        out += [f"- {md(line)}" for line in summary.method]
    if summary.warnings:
        out += ["", "## Caveats", ""]
        out += [f"- {md_code(w)}" for w in summary.warnings]
    out += notes.section()
    return "\n".join(out).rstrip() + "\n"


def _marks(summary: ExecutiveSummary) -> list[Mark | None]:
    return summary.finding_marks or [None] * len(summary.findings)


def _rec_marks(summary: ExecutiveSummary) -> list[dict[str, Mark]]:
    return summary.recommendation_marks or [{} for _ in summary.recommendations]


def _finding_md(claim: Claim, notes: Footnotes, mark: Mark | None) -> str:
    """A key finding with its review marker (the reviewer's words say whose they are)."""
    if mark is None:
        return claim_md(claim, notes)
    if mark.kind in ("confirmed", "corrected", "extended"):
        return claim_md(claim, notes, mark=mark.kind)
    return claim_md(claim, notes, mark="added") + review_note(mark)


def groups_with_themes(report: ThemeReport | None) -> list[tuple[ThemeGroup, list[Theme]]]:
    """Theme groups in rank order, each with its themes (most important first)."""
    if report is None:
        return []
    held = {t.id: t for t in report.themes}
    return [
        (g, [held[t] for t in g.theme_ids if t in held])
        for g in sorted(report.groups, key=lambda g: (g.rank, g.id))
    ]
