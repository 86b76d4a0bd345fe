"""A self-contained HTML persona library: one file, inline CSS and SVG, no scripts, no network.

All user text goes through Jinja2's autoescape (template) or html.escape (SVG built here), so a
quote containing markup shows as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..decisions import Mark
from ..ids import content_hash
from ..models import Claim, JourneyMap, Persona, Theme, ThemeGroup, ThemeReport
from ..review_redraft import COMMAND, REDRAFT
from .context import (
    OFFLINE_NOTICE,
    Evidence,
    ReportData,
    Split,
    first_name,
    fmt_num,
    focus_texts,
    pct,
    theme_counts,
    theme_rank,
    theme_reach,
)
from .markdown import (
    ADDED_IN_REVIEW,
    CELL_PAINS,
    EMOTION_WORDS,
    REVIEW_MARKS,
    STAGE_TITLES,
    cell_overflows,
    doc_basis,
    emotion_basis,
    emotion_known,
    has_evidence,
    plural,
    stage_mentions,
    stage_pains,
    validation_text,
)
from .summary import RECOMMENDATIONS_NOTE, SEVERITY_SCALE, ExecutiveSummary

TEMPLATES = Path(__file__).parent / "templates"
MATRIX_THEMES = 12
# Half the room a rank number needs on the matrix: labels closer than twice this are moved.
LABEL_RADIUS = 9
AVATAR_COLOURS = ("#4f46e5", "#0891b2", "#059669", "#d97706", "#db2777", "#7c3aed", "#2563eb")


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["ticks"] = ticks
    env.filters["num"] = fmt_num
    env.filters["plural"] = plural
    return env


def reach(theme: Theme | ThemeGroup, report: ThemeReport | None = None) -> float:
    """How widespread a theme (or theme group) is (0-1): the same reach the theme score uses.

    The mean of its participant share and ticket share over the sources the corpus has, so a
    thousand tickets cannot drown a dozen interviews.
    """
    freq = theme.frequency
    shares = []
    if report is None or report.total_participants > 0:
        shares.append(freq.participant_share)
    if report is None or report.total_tickets > 0:
        shares.append(freq.ticket_share)
    return sum(shares) / len(shares) if shares else 0.0


class Cites:
    """Per-persona evidence numbering; called from the template as claims are rendered."""

    def __init__(self, data: ReportData, prefix: str, persona: Persona | None = None) -> None:
        self.data = data
        self.prefix = prefix
        self.numbers: dict[str, int] = {}
        self.focus: dict[str, list[str]] = {}
        # The persona's interview group: a cited participant outside it is named as such.
        self.members = data.members(persona) if persona is not None else None

    def outside(self, refs: Iterable[str] | str) -> bool:
        """Does any of `refs` quote a participant outside the persona's group?"""
        refs = [refs] if isinstance(refs, str) else refs
        return any(self.data.outsider(ref, self.members) for ref in refs)

    def __call__(self, refs: Iterable[str], focus: str | None = None) -> list[tuple[int, str]]:
        """Numbers for `refs`; `focus` is the citing text, to excerpt a chunk around it."""
        out = []
        said = focus_texts(focus) if focus else []
        for ref in dict.fromkeys(refs):
            number = self.numbers.setdefault(ref, len(self.numbers) + 1)
            self.focus.setdefault(ref, []).extend(said)
            out.append((number, f"{self.prefix}-ev-{number}"))
        return out

    def support(self, refs: Iterable[str]) -> str:
        """'2 of 7 participants': whose words a claim's evidence is (see ReportData.support)."""
        return self.data.support(refs, self.members)

    def items(self) -> list[tuple[int, str, Evidence]]:
        return [
            (n, f"{self.prefix}-ev-{n}", self.data.resolve(ref, self.focus.get(ref, ())))
            for ref, n in self.numbers.items()
        ]


@dataclass
class PersonaView:
    persona: Persona
    slug: str
    journey: JourneyMap | None
    cites: Cites
    colour: str
    initials: str
    marks: dict[str, str] = field(default_factory=dict)
    emotion_svg: Markup | None = None
    validation: str = ""
    # Per stage: (emotion word, mentions it rests on), or None where there is no evidence.
    emotions: list[tuple[str, int] | None] = field(default_factory=list)

    report: ReportData | None = None

    def mark(self, path: str) -> str | None:
        return self.marks.get(path)

    def human(self, path: str) -> bool:
        """True when a reviewer wrote text of this field that is not shown apart as theirs."""
        if self.report is None:
            return self.marks.get(path) in ("corrected", "extended")
        split = path in self.report.additions.get(self.persona.id, {})
        return self.report.human(self.persona, path, split=split)

    def split(self, path: str, claim: Claim | None) -> Split:
        """(drafted claim, reviewer's addition) of a claim field; see ReportData.split_addition."""
        if self.report is None:
            return claim, None
        return self.report.split_addition(self.persona, path, claim)

    def added(self, path: str, items: list[object]) -> int:
        """How many of a list field's last items a reviewer added."""
        return self.report.added_items(self.persona, path, items) if self.report else 0

    def silent(self, path: str, value: object) -> bool:
        """An empty field nobody reviewed whose gap the open questions name: left out (the
        Markdown persona page does the same)."""
        draft = self.persona.draft
        return bool(draft.open_questions) and not value and self.item_mark(path) is None

    def gaps(self, fields: list[tuple[str, str, object]]) -> str:
        """'age, income' for the (title, path, value) fields left out, '' when none is."""
        return ", ".join(title for title, path, value in fields if self.silent(path, value))

    def item_mark(self, path: str) -> Mark | None:
        """The review mark of a field, list item or item part (positional path)."""
        return self.report.mark(self.persona, path) if self.report else None

    def item_human(self, path: str) -> bool:
        return self.report.item_human(self.persona, path) if self.report else False

    def who(self, path: str) -> str:
        """'Ana, 2026-05-01T10:00:00Z: comment' for a decided field or item ('' if none)."""
        found = self.item_mark(path)
        return provenance(found) if found else ""

    @property
    def first_name(self) -> str:
        return first_name(self.persona)

    def resting(self, path: str) -> Markup:
        """Why an item no longer stands until the next draft, as HTML ('' when it does)."""
        return ticks(self.report.resting(self.persona, path) if self.report else "")

    def redraft_headline(self) -> str:
        """'Ana removed the pain point “…”' while a re-draft is pending, else ''."""
        found = self.report.redraft.get(self.persona.id) if self.report else None
        return found.headline() if found else ""

    def redraft_note(self, journey: bool = False) -> Markup:
        """The persona's (or journey map's) re-draft notice, as HTML ('' when none)."""
        return ticks(self.report.redraft_note(self.persona, journey) if self.report else "")


def ticks(text: str) -> Markup:
    """Our own sentence, escaped, our command in it (review_redraft.REDRAFT) as <code>; any
    other backtick, e.g. a pain title's, stays text."""
    # Markup.join escapes each part.
    return Markup(f"<code>{COMMAND}</code>").join(str(text).split(REDRAFT))


def provenance(mark: Mark) -> str:
    """Who decided, when and why, in one line (a pill's tooltip)."""
    kind = {"added": "added"}.get(mark.kind, mark.kind)
    text = f"{kind} by {mark.by or 'a reviewer'}" + (f", {mark.at}" if mark.at else "")
    text += f": {mark.comment}" if mark.comment else ""
    if mark.human and mark.confirmed_by:
        text += f"; confirmed by {mark.confirmed_by}" + (
            f", {mark.confirmed_at}" if mark.confirmed_at else ""
        )
        text += f": {mark.confirmed_comment}" if mark.confirmed_comment else ""
    return text


def _initials(name: str) -> str:
    words = [w for w in name.split(",")[0].split() if w[:1].isalpha()]
    return "".join(w[0].upper() for w in words[:2]) or "?"


def _svg_text(x: float, y: float, text: str, cls: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _place_labels(
    dots: list[tuple[float, float, float]], frame: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """A spot for each dot's rank number: its own centre when free, else just outside the dot.

    Dots never move (their position is the data); a label that would overlap an earlier label
    goes to the first free place on rings around its dot, clear of every other dot and inside
    the frame (x0, y0, x1, y1). Earlier dots (higher rank) keep their centre first.
    """
    placed: list[tuple[float, float]] = []
    gap = 2 * LABEL_RADIUS

    def free(x: float, y: float, own: int, centre: bool) -> bool:
        if not (frame[0] + LABEL_RADIUS <= x <= frame[2] - LABEL_RADIUS):
            return False
        if not (frame[1] + LABEL_RADIUS <= y <= frame[3] - LABEL_RADIUS):
            return False
        if any((x - px) ** 2 + (y - py) ** 2 < gap**2 for px, py in placed):
            return False
        if centre:
            return True
        return all(
            (x - dx) ** 2 + (y - dy) ** 2 >= (dr + LABEL_RADIUS) ** 2
            for i, (dx, dy, dr) in enumerate(dots)
            if i != own
        )

    for i, (x0, y0, r) in enumerate(dots):
        spot = (x0, y0)
        if not free(x0, y0, i, centre=True):
            spot = next(
                (
                    (x0 + dist * math.cos(a), y0 - dist * math.sin(a))
                    for ring in range(6)
                    for dist in [r + LABEL_RADIUS + 3 + ring * gap]
                    for k in range(12)
                    for a in [math.pi / 6 * k]
                    if free(x0 + dist * math.cos(a), y0 - dist * math.sin(a), i, centre=False)
                ),
                (x0, y0),
            )
        placed.append(spot)
    return placed


def matrix_svg(themes: list[Theme], report: ThemeReport | None = None) -> Markup:
    """Frequency x severity scatter: x = reach, y = mean severity, one numbered dot per theme."""
    width, height = 600, 460
    left, right, top, bottom = 70, 20, 44, 64
    pad = 18  # keeps dots at the axis limits inside the frame
    plot_w, plot_h = width - left - right, height - top - bottom
    top_reach = max([reach(t, report) for t in themes] or [0.1])
    # Round the axis up to a tidy step so ticks read 0%, 10%, 20%...
    step = 0.05 if top_reach <= 0.25 else 0.1 if top_reach <= 0.6 else 0.2
    x_max = max(step, math.ceil(top_reach / step - 1e-9) * step)
    ticks = [round(i * step, 4) for i in range(round(x_max / step) + 1)]

    def px(r: float) -> float:
        return left + pad + (plot_w - 2 * pad) * (r / x_max)

    def py(sev: float) -> float:
        return top + pad + (plot_h - 2 * pad) * (1 - (sev - 1) / 4)

    mid_x, mid_y = px(x_max / 2), py(3)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" class="matrix" '
        'role="img" aria-labelledby="matrix-title">',
        '<title id="matrix-title">Pain points by reach and severity</title>',
        f'<rect x="{mid_x:.1f}" y="{top}" width="{left + plot_w - mid_x:.1f}" '
        f'height="{mid_y - top:.1f}" class="quad-hot"/>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="plot-frame"/>',
    ]
    for tick in ticks:
        x = px(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" class="grid"/>'
        )
        parts.append(_svg_text(x, top + plot_h + 22, pct(tick), "tick"))
    for sev in range(1, 6):
        y = py(sev)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(_svg_text(left - 10, y + 4, str(sev), "tick", "end"))
    parts.append(
        f'<line x1="{mid_x:.1f}" y1="{top}" x2="{mid_x:.1f}" y2="{top + plot_h}" class="divider"/>'
    )
    parts.append(
        f'<line x1="{left}" y1="{mid_y:.1f}" x2="{left + plot_w}" y2="{mid_y:.1f}" class="divider"/>'
    )
    # Quadrant names sit above the frame so they never hide a dot.
    parts.append(_svg_text(left + plot_w, top - 12, "Fix first →", "quad-label", "end"))
    parts.append(_svg_text(left, top - 12, "← Severe but rare", "quad-label", "start"))
    parts.append(
        _svg_text(
            left + plot_w / 2, height - 10, "Reach — share of participants and tickets", "axis"
        )
    )
    parts.append(
        f'<text x="20" y="{top + plot_h / 2:.1f}" class="axis" text-anchor="middle" '
        f'transform="rotate(-90 20 {top + plot_h / 2:.1f})">Mean severity (1-5)</text>'
    )
    top_score = max([t.score for t in themes] or [1.0]) or 1.0
    ordered = sorted(themes, key=lambda t: (t.rank, t.id))
    radii = [11 + 8 * (t.score / top_score) for t in ordered]
    # Dots sit exactly at their values (a 3.0 is never drawn below a 2.9); only the rank labels
    # move apart when they would overlap, with a leader line back to their dot.
    spots = [(px(reach(t, report)), py(t.severity.mean)) for t in ordered]
    labels = _place_labels(
        [(x, y, r) for (x, y), r in zip(spots, radii, strict=True)],
        (left, top, left + plot_w, top + plot_h),
    )
    # Largest first so small dots stay visible on top of big ones.
    drawn = sorted(zip(ordered, radii, spots, strict=True), key=lambda d: -d[1])
    for theme, radius, (x, y) in drawn:
        tip = (
            f"#{theme.rank} {theme.label}: reach {pct(reach(theme, report))}, "
            f"severity {theme.severity.mean:.1f}, score {theme.score:.2f}"
        )
        parts.append(
            f'<g class="dot"><title>{escape(tip)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}"/></g>'
        )
    # Labels after every dot, so no dot covers a number.
    for theme, (x, y), (lx, ly) in zip(ordered, spots, labels, strict=True):
        moved = abs(lx - x) > 0.5 or abs(ly - y) > 0.5
        if moved:
            parts.append(
                f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{lx:.1f}" y2="{ly:.1f}" class="leader"/>'
                f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="{LABEL_RADIUS - 1}" class="label-bg"/>'
            )
        cls = "dot-label moved" if moved else "dot-label"
        parts.append(_svg_text(lx, ly + 4.5, str(theme.rank), cls))
    parts.append("</svg>")
    return Markup("".join(parts))


def emotion_svg(journey: JourneyMap, label: str, data: ReportData | None = None) -> Markup:
    """The persona's emotion (-2..+2) across its journey's stages as a line, with its evidence.

    A stage with no evidence is a gap in the line (a hollow marker on the axis, labelled
    "no evidence"), never a measured "neutral"; each point says how many mentions it rests on.
    """
    width, height = 1000, 270
    left, right, top, bottom = 70, 80, 20, 66
    plot_w, plot_h = width - left - right, height - top - bottom
    stages = journey.draft.stages
    n = len(stages)

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(e: int) -> float:
        return top + plot_h * (1 - (e + 2) / 4)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" class="curve" '
        f'role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h / 2:.1f}" class="band-pos"/>',
        f'<rect x="{left}" y="{py(0):.1f}" width="{plot_w}" height="{plot_h / 2:.1f}" class="band-neg"/>',
    ]
    for e in range(-2, 3):
        y = py(e)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'class="{"zero" if e == 0 else "grid"}"/>'
        )
        parts.append(_svg_text(left - 10, y + 4, f"{e:+d}" if e else "0", "tick", "end"))
    known = [emotion_known(data, journey.persona_id, i, s) for i, s in enumerate(stages)]
    # One polyline per run of stages with evidence: no line is drawn across a gap.
    run: list[str] = []
    for i, stage in enumerate([*stages, None]):
        if stage is not None and known[i]:
            run.append(f"{px(i):.1f},{py(stage.emotion):.1f}")
            continue
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" class="line"/>')
        run = []
    for i, stage in enumerate(stages):
        x = px(i)
        title = STAGE_TITLES[stage.stage]
        if not known[i]:
            parts.append(
                f'<g class="pt none"><title>{escape(title)}: no evidence at this stage</title>'
                f'<circle cx="{x:.1f}" cy="{py(0):.1f}" r="6"/></g>'
            )
            parts.append(_svg_text(x, height - 22, "no evidence", "basis"))
        else:
            y = py(stage.emotion)
            tone = "pos" if stage.emotion > 0 else "neg" if stage.emotion < 0 else "neu"
            word = EMOTION_WORDS.get(stage.emotion, "")
            basis = (emotion_basis(data, stage) if data is not None else "") or (
                "from the draft's claims" if has_evidence(stage) else "the reviewer's value"
            )
            parts.append(
                f'<g class="pt {tone}"><title>{escape(title)}: {word} ({basis})</title>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7"/></g>'
            )
            parts.append(_svg_text(x, height - 22, basis, "basis"))
        parts.append(_svg_text(x, height - 40, title, "stage"))
    parts.append("</svg>")
    return Markup("".join(parts))


def stage_emotions(data: ReportData, journey: JourneyMap) -> list[tuple[str, int] | None]:
    """Per stage: (emotion word, mentions it rests on), or None where nothing shows one."""
    return [
        (EMOTION_WORDS.get(s.emotion, ""), stage_mentions(data, s))
        if emotion_known(data, journey.persona_id, i, s)
        else None
        for i, s in enumerate(journey.draft.stages)
    ]


def render_html(data: ReportData, summary: ExecutiveSummary) -> str:
    """index.html: overview, persona cards, matrix, then one section per persona."""
    views = []
    for i, persona in enumerate(data.personas):
        slug = data.slugs[persona.id]
        journey = data.journey(persona)
        colour = AVATAR_COLOURS[int(content_hash(persona.id, 8), 16) % len(AVATAR_COLOURS)]
        if persona.is_anti_persona:
            colour = "#be123c"
        view = PersonaView(
            persona=persona,
            slug=slug,
            journey=journey,
            cites=Cites(data, f"p{i + 1}", persona),
            colour=colour,
            initials=_initials(persona.draft.name),
            marks=data.decisions.get(persona.id, {}),
            validation=validation_text(data, persona),
            report=data,
        )
        if journey:
            view.emotion_svg = emotion_svg(
                journey, f"Emotion across {view.first_name}'s journey", data
            )
            view.emotions = stage_emotions(data, journey)
        views.append(view)
    themes: list[Theme] = (
        sorted(data.themes.themes, key=lambda t: (t.rank, t.id)) if data.themes else []
    )
    plotted = themes[:MATRIX_THEMES]
    interviews, tickets, users = data.corpus_basis()
    generated = max((p.document_info.generated_at for p in data.personas), default="")
    template = _env().get_template("library.html.j2")
    return template.render(
        data=data,
        summary=summary,
        views=views,
        themes=themes,
        plotted=plotted,
        matrix=matrix_svg(plotted, data.themes) if plotted else None,
        reach=lambda t: reach(t, data.themes),
        basis=doc_basis(interviews, tickets, users),
        doc_basis=doc_basis,
        counts={"interviews": interviews, "tickets": tickets, "users": users},
        theme_report=data.themes if isinstance(data.themes, ThemeReport) else None,
        offline=data.offline,
        offline_notice=OFFLINE_NOTICE,
        recommendations_note=RECOMMENDATIONS_NOTE,
        severity_scale=SEVERITY_SCALE,
        persona_rows={row.persona.id: row for row in summary.personas},
        stale_note=data.stale_note,
        generated=generated,
        stage_titles=STAGE_TITLES,
        stage_pains=lambda stage: stage_pains(data, stage),
        cell_pains=CELL_PAINS,
        cell_overflows=cell_overflows,
        emotion_words=EMOTION_WORDS,
        review_marks=REVIEW_MARKS,
        added_in_review=ADDED_IN_REVIEW,
        provenance=provenance,
        multi_product=len({t.product for t in themes}) > 1,
        theme_reach=lambda t: theme_reach(t, data.themes),
        theme_counts=lambda t: theme_counts(t, data.themes),
        theme_rank=theme_rank,
    )
