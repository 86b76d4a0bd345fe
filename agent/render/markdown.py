"""Markdown persona documents (seed 002's structure) and journey maps with Mermaid diagrams.

Every claim carries footnotes that resolve its evidence: the quoted chunk with speaker and source,
the theme with its frequency and severity, or the stat with its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .. import refs
from ..decisions import JOURNEY_PREFIX, Mark
from ..models import Claim, DocumentInfo, JourneyMap, JourneyStageEntry, Persona
from ..review_redraft import COMMAND, REDRAFT
from ..stages import PRESET_SOURCES, STAGE_TITLES
from .context import (
    OFFLINE_NOTICE,
    ReportData,
    first_name,
    fmt_num,
    focus_texts,
    pct,
    theme_rank,
    theme_reach,
)

__all__ = ["STAGE_TITLES"]  # re-exported: every renderer titles columns from agent/stages.py
REVIEW_MARKS = {
    "confirmed": "✓ confirmed by reviewer",
    "corrected": "✎ corrected by reviewer",
    "extended": "+ extended by reviewer",
}
EMOTION_WORDS = {
    -2: "very negative",
    -1: "negative",
    0: "neutral",
    1: "positive",
    2: "very positive",
}


# Text from the inputs (quotes, names, file names, user-table values) must stay text in every
# common renderer, not only in CommonMark ones: Python-Markdown (MkDocs) does not honour `\<`, so
# a backslash escape left a live tag there. Numeric character references are shown as their
# character by every renderer and never read as syntax, so they are the one escape used.
_ALWAYS = {
    "<": "&lt;",
    ">": "&gt;",
    "\\": "&#92;",
    "`": "&#96;",
    "*": "&#42;",
    "{": "&#123;",
    "}": "&#125;",
    "|": "&#124;",
    "~": "&#126;",
    "#": "&#35;",
}
_ALWAYS_RE = re.compile("|".join(re.escape(ch) for ch in _ALWAYS))
# "&" is markup only where it starts a character reference ("&lt;", "&#91;"); elsewhere every
# renderer shows it as it is, and people quote code ("&mut self", "R&D") that reads badly as
# "&amp;mut self" in the raw file.
_AMP = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# Brackets make a link, image, footnote or reference only as "[^", "![", "^[" (an inline
# footnote), "[[" (a wiki link), "](", "][", "] [" or "]:",
# or a definition at the start of a line; a value's first and last bracket may meet the
# template's own ("[<name>](persona-x.md)"). Elsewhere, transcripts' "[organization]" and
# "[inaudible]" are text and stay readable in the raw file.
_BRACKET = re.compile(r"\[(?=[\^\[])|(?<=[!\^])\[|^\[|\[$|\](?=\s*[(\[:])|\]$")
# `_` emphasises only where it touches a non-word character; inside `feat_receipts` it is text.
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# No renderer makes a link of these by itself, but a link-making plugin or a reader's paste might.
_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data|file)(\s*):")
# A list marker, a definition (`: `), a setext underline or a numbered item at the start of a line.
# A number is an item only when a space or the end of the line follows its "." or ")": "1.0"
# and "3.5 hours" are text, and were shown as "1&#46;0" to everyone reading the file raw.
_LINE_START = re.compile(r"^(?:[-+=:]|\d+(?=[.)](?:\s|$)))")


def md(text: str) -> str:
    """Input text made inert for any Markdown renderer: one line, markup characters as entities."""
    flat = " ".join(str(text).split())
    flat = _AMP.sub("&amp;", flat)
    flat = _ALWAYS_RE.sub(lambda m: _ALWAYS[m.group()], flat)
    flat = _BRACKET.sub(lambda m: f"&#{ord(m.group())};", flat)
    flat = _UNDERSCORE.sub("&#95;", flat)
    flat = _SCHEME.sub(r"\1\2&#58;", flat)
    start = _LINE_START.match(flat)
    if start:
        first = start.group()
        # "12." keeps its digits; only the character that makes it a marker changes.
        if first[0].isdigit():
            end = len(first)
            return flat[:end] + f"&#{ord(flat[end])};" + flat[end + 1 :]
        return f"&#{ord(first)};" + flat[1:]
    return flat


def code(text: str) -> str:
    """A code span: shown literally by Markdown renderers, so only backticks need removing."""
    inner = " ".join(str(text).replace("`", "'").split())
    # An empty span would be a bare "``", which pairs with a later backtick run.
    return f"`{inner}`" if inner else ""


def plural(n: int, word: str) -> str:
    return f"{fmt_num(n)} {word}{'' if n == 1 else 's'}"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table; pipes inside cells are escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def doc_basis(interviews: int, tickets: int, users: int) -> str:
    parts = [
        f"{fmt_num(n)} {word}"
        for n, word in ((interviews, "interviews"), (tickets, "support tickets"), (users, "users"))
        if n
    ]
    return ", ".join(parts) if parts else "no recorded inputs"


def offline_banner() -> str:
    return f"> [!WARNING]\n> **OFFLINE DRAFT — no language model was used.** {OFFLINE_NOTICE}"


def md_code(text: str) -> str:
    """Our own sentence made inert, our command in it (review_redraft.REDRAFT) as a code span;
    any other backtick, e.g. a pain title's, stays text."""
    parts = text.split(REDRAFT)
    return code(COMMAND).join(
        (" " if part[:1].isspace() else "")
        + md(part)
        + (" " if part[-1:].isspace() and part.strip() else "")
        for part in parts
    )


def resting_md(note: str) -> str:
    """The marker of an item resting only on a pain point a reviewer removed ('' if none)."""
    return f" _(⚠ {md_code(note)})_" if note else ""


def redraft_banner(note: str) -> list[str]:
    """The re-draft-pending callout of a persona or journey page ('' when none is pending)."""
    return [f"> [!IMPORTANT]\n> **RE-DRAFT PENDING.** {md_code(note)}", ""] if note else []


def stale_banner(data: ReportData) -> list[str]:
    """The out-of-date warning as a Markdown callout, or nothing when the drafts are current."""
    if not data.stale:
        return []
    return [f"> [!CAUTION]\n> **OUT OF DATE.** {md(data.stale_note)}", ""]


ANOTHER_GROUP = "outside this persona's group"


class Footnotes:
    """Numbers evidence ids in order of first citation; one footnote per id per document."""

    def __init__(self, data: ReportData, persona: Persona | None = None) -> None:
        self.data = data
        self.numbers: dict[str, int] = {}
        self.focus: dict[str, list[str]] = {}
        # A persona page's group: a cited participant outside it is named as such.
        self.members = data.members(persona) if persona is not None else None

    def cite(self, refs: Iterable[str], focus: Iterable[str] = ()) -> str:
        """Footnote marks for `refs`; `focus`: the citing texts, to excerpt a chunk around them."""
        marks = []
        focus = list(focus)
        elsewhere = False
        for ref in dict.fromkeys(refs):
            number = self.numbers.setdefault(ref, len(self.numbers) + 1)
            self.focus.setdefault(ref, []).extend(focus)
            marks.append(f"[^{number}]")
            elsewhere = elsewhere or self.data.outsider(ref, self.members)
        # Said where the claim is read, not only in the evidence list at the page's end.
        return "".join(marks) + (f" _({ANOTHER_GROUP})_" if elsewhere else "")

    def support(self, refs: Iterable[str]) -> str:
        """Whose words a claim's cited chunks are, against the group it speaks for: a goal
        that rests on one of seven people reads as such, not as the whole group's."""
        said = self.data.support(refs, self.members)
        return f" _({said})_" if said else ""

    def section(self) -> list[str]:
        if not self.numbers:
            return []
        out = ["", "---", "", "## Evidence", ""]
        for ref, number in self.numbers.items():
            ev = self.data.resolve(ref, self.focus.get(ref, ()))
            if ev.kind == "chunk":
                elsewhere = f" _({ANOTHER_GROUP})_" if self.data.outsider(ref, self.members) else ""
                text = (
                    f"**Quote** — {md(ev.title)}{elsewhere}: “{md(ev.quote)}” "
                    f"({md(ev.detail)}; {code(ref)})"
                )
            elif ev.kind == "theme":
                text = f"**Theme: {md(ev.title)}** — {md(ev.detail)} ({code(ref)})"
            elif ev.kind == "stat" and ev.title != ev.ref.removeprefix("stat:"):
                text = f"**Stat** — {md(ev.title)} ({code(ev.detail)})"
            elif ev.kind == "stat":
                text = f"**Stat** — {code(ev.detail)}"
            else:
                text = f"**⚠ Unresolved evidence** — {code(ref)} is not in this workspace"
            out.append(f"[^{number}]: {text}")
        return out


ADDED_IN_REVIEW = "added in review"


def added_md(text: str) -> str:
    """A reviewer's addition, set apart from the drafted text and never given its footnotes."""
    return f"— _{ADDED_IN_REVIEW} (the reviewer's words, no evidence cited):_ {md(text)}"


def claim_md(
    claim: Claim | None,
    notes: Footnotes,
    mark: str | None = None,
    human: bool = False,
    added: str | None = None,
    missing: str = "_not stated_",
    counted: bool = False,
) -> str:
    """A claim's text with its footnotes and, where it applies, an assumption or review marker.

    `human`: a reviewer wrote (part of) the field, so a claim without evidence is theirs.
    `added`: what a reviewer's `extended` decision appended, shown after the drafted claim and
    its footnotes as the reviewer's (see ReportData.split_addition).
    `counted`: say how many of the group's people the cited words come from.
    """
    if claim is None:
        text = missing
    else:
        text = md(claim.text) + notes.cite(claim.evidence, focus_texts(claim.text))
        if counted:
            text += notes.support(claim.evidence)
        if claim.assumption:
            text += " **[Assumption — no evidence]**"
        elif not claim.evidence and human:
            text += " _(from reviewer)_"
        elif not claim.evidence and mark is None and not added:
            text += " _(no evidence cited)_"
    if added:
        text += " " + added_md(added)
    if mark in REVIEW_MARKS:
        text += f" _({REVIEW_MARKS[mark]})_"
    return text


def claim_list(
    claims: list[Claim],
    notes: Footnotes,
    numbered: bool = False,
    human: bool = False,
    added: int = 0,
    counted: bool = False,
) -> list[str]:
    """One line per claim; the last `added` ones are a reviewer's own items and say so."""
    if not claims:
        return ["_None stated._"]
    first_added = len(claims) - added
    return [
        f"{f'{i}.' if numbered else '-'} "
        + claim_md(c, notes, human=human or i > first_added, counted=counted)
        for i, c in enumerate(claims, 1)
    ]


def info_table(info: DocumentInfo, extra: list[tuple[str, str]]) -> list[str]:
    """Seed 002's Document Information block; `extra` values are Markdown already."""
    mode = "Offline (template draft, no LLM)" if info.mode == "offline" else f"LLM ({info.mode})"
    rows = [
        ("Version", md(info.version)),
        ("Status", info.status.capitalize()),
        ("Mode", md(mode)),
        *extra,
        (
            "Based on",
            doc_basis(info.based_on_interviews, info.based_on_tickets, info.based_on_users),
        ),
        ("Generated at", md(info.generated_at or "unknown")),
        ("Model", md(info.model or "none")),
        ("Prompt version", md(info.prompt_version or "none")),
    ]
    return table(["Field", "Value"], [[f"**{k}**", v] for k, v in rows])


def validation_text(data: ReportData, persona: Persona) -> str:
    """How far a person has reviewed this persona, never claiming more than was decided."""
    decided = data.decisions.get(persona.id, {})
    counts = {k: list(decided.values()).count(k) for k in REVIEW_MARKS}
    detail = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    total = data.review_fields
    n_items = data.items_decided.get(persona.id, 0)
    items = f"; {plural(n_items, 'list item')} reviewed" if n_items else ""
    if persona.document_info.status == "reviewed" and total and len(decided) < total:
        text = f"marked reviewed; {len(decided)} of {total} fields decided"
        return text + (f" ({detail})" if detail else "") + items
    if decided:
        of = f" of {total}" if total else ""
        return f"{len(decided)}{of} fields reviewed ({detail}){items}"
    if n_items:
        return f"{plural(n_items, 'list item')} reviewed; no whole field yet"
    return "not yet reviewed by a person"


def heading(title: str, mark: str | None, found: Mark | None = None) -> str:
    return (
        title + (f" _({REVIEW_MARKS[mark]})_" if mark in REVIEW_MARKS else "") + colleagues(found)
    )


def colleagues(found: Mark | None) -> str:
    """What colleagues did to a reviewer's words: ' _(+ extended by Bob)_', ' _(✓ confirmed by
    Cy)_' (the words stay the first reviewer's)."""
    if found is None or not found.human:
        return ""
    out = ""
    if found.extended_by:
        out += f" _(+ extended by {md(', '.join(dict.fromkeys(found.extended_by)))})_"
    if found.confirmed_by:
        out += f" _(✓ confirmed by {md(found.confirmed_by)})_"
    return out


def render_persona_md(data: ReportData, persona: Persona) -> str:
    """persona-<slug>.md in seed 002's order of sections."""
    notes = Footnotes(data, persona)
    d = persona.draft
    slug = data.slugs[persona.id]

    def mark(path: str) -> str | None:
        return data.review_mark(persona, path)

    def label(title: str, path: str) -> str:
        return f"**{heading(title, mark(path))}**{colleagues(data.mark(persona, path))}"

    def human(path: str) -> bool:
        # An extended field's addition is shown apart as the reviewer's (see `field`, `items`).
        return data.human(persona, path, split=True)

    # An empty field says where its gap went, rather than a bare "not stated".
    gap = "_not in the evidence (see Open research questions)_" if d.open_questions else None

    def silent(path: str, value: object) -> bool:
        """An empty field nobody reviewed, whose gap the open questions already name: it is
        left out rather than shown as one more placeholder."""
        return gap is not None and not value and mark(path) is None

    def gaps(titles: list[str], lead: str = "") -> list[str]:
        """One line for the fields left out (the open questions say what to ask)."""
        if not titles:
            return []
        return [f"{lead}_Not in the evidence: {', '.join(titles)} (see Open research questions)_"]

    def field(path: str, claim: Claim | None) -> str:
        """A claim field, a reviewer's addition set apart from the drafted claim."""
        drafted, added = data.split_addition(persona, path, claim)
        human_text = data.human(persona, path, split=added is not None)
        return claim_md(
            drafted, notes, human=human_text, added=added, missing=gap or "_not stated_"
        ) + resting_md(data.resting(persona, path))

    def item(
        path: str, claim: Claim | None, human_list: bool = False, counted: bool = False
    ) -> str:
        """One list item (or pain point part): the draft's, or marked as a reviewer's."""
        found = data.mark(persona, path)
        if found is None:
            return claim_md(claim, notes, human=human_list, counted=counted) + resting_md(
                data.resting(persona, path)
            )
        if found.kind == "extended":
            drafted, added = data.split_addition(persona, path, claim)
            return claim_md(
                drafted, notes, mark="extended", human=added is None, added=added, counted=counted
            )
        if found.kind == "confirmed":
            return claim_md(claim, notes, mark="confirmed", counted=counted)
        # Added or corrected: the reviewer's words (and who confirmed them, if anyone did).
        return claim_md(claim, notes, human=True) + colleagues(found)

    def items(
        path: str, claims: list[Claim], numbered: bool = False, counted: bool = True
    ) -> list[str]:
        """A list field; `counted`: each item says how many of the group it rests on (tools
        say it in their own words)."""
        extra = data.added_items(persona, path, claims)
        human_text = data.human(persona, path, split=bool(extra))
        if not claims or not any(
            data.mark(persona, f"{path}.{i}") or data.resting(persona, f"{path}.{i}")
            for i in range(len(claims))
        ):
            return claim_list(
                claims, notes, numbered=numbered, human=human_text, added=extra, counted=counted
            )
        return [
            f"{f'{i}.' if numbered else '-'} {item(f'{path}.{i - 1}', c, human_text, counted)}"
            for i, c in enumerate(claims, 1)
        ]

    def item_note(path: str) -> str:
        """The marker after a pain point's title or a quote that a reviewer decided."""
        found = data.mark(persona, path)
        if found is None:
            return ""
        if found.kind == "added":
            return f" _({ADDED_IN_REVIEW})_"
        return f" _({REVIEW_MARKS[found.kind]})_" if found.kind in REVIEW_MARKS else ""

    kind = "Anti-persona" if persona.is_anti_persona else "Persona"
    out = [f"# {kind}: {md(d.name)}", "", *stale_banner(data)]
    out += redraft_banner(data.redraft_note(persona))
    if persona.document_info.mode == "offline":
        out += [offline_banner(), ""]
    if persona.is_anti_persona:
        out += ["> Who the product is **not** for, drawn from the same evidence.", ""]
    segment = data.segment(persona.segment)
    seg_text = md(persona.segment)
    if segment:
        seg_text += (
            f" — {plural(segment.size, 'user')} ({pct(segment.share)}), rule {code(segment.rule)}"
        )
    elif (people := data.people(persona)) is not None:
        seg_text += (
            f" — {fmt_num(people.size)} {people.noun} ({pct(people.share)}), {md(people.rule)}"
        )
    validation = validation_text(data, persona)
    extra = [("Segment" if segment else "Group", seg_text), ("Validation", validation)]
    if data.journey(persona):
        extra.append(("Journey map", f"[journey-{slug}.md](journey-{slug}.md)"))
    out += ["## Document Information", "", *info_table(persona.document_info, extra)]

    out += ["", f"## {md(d.name)} — “{md(d.archetype)}”", ""]
    if mark("name") or mark("archetype"):
        out += [
            f"_Name: {REVIEW_MARKS.get(mark('name') or '', 'draft')}; archetype: "
            f"{REVIEW_MARKS.get(mark('archetype') or '', 'draft')}._",
            "",
        ]
    out += [
        label("Summary", "summary") + ": " + field("summary", d.summary),
        "",
    ]

    out += ["### Role and Responsibilities", ""]
    out += [label("Role", "role") + ": " + field("role", d.role), ""]
    demo = d.demographics
    shown: list[str] = []
    absent: list[str] = []
    for title, path, value in (
        ("Age range", "demographics.age_range", demo.age_range),
        ("Income range", "demographics.income_range", demo.income_range),
        ("Company size", "demographics.company_size", demo.company_size),
    ):
        if silent(path, value):
            absent.append(title.lower())
        else:
            shown.append(f"- {label(title, path)}: " + field(path, value))
    if shown:
        out += ["**Demographics**:", "", *shown, *gaps(absent, "- "), ""]
    else:
        out += ["**Demographics**: " + gaps(absent)[0], ""]

    out += ["### Goals and Motivations", ""]
    if notes.members:
        out += [
            f"_(n of {len(notes.members)} participants)_ after an item: how many of this "
            "persona's people the evidence it cites comes from (their own words, or a theme "
            "they raise).",
            "",
        ]
    out += [label("Primary goals", "goals"), ""]
    out += items("goals", d.goals, numbered=True)
    out += ["", label("Motivations", "motivations"), ""]
    out += items("motivations", d.motivations)

    out += ["", "### " + heading("Pain Points and Frustrations", mark("pain_points")), ""]
    if not d.pain_points:
        out += ["_None stated._"]
    for i, pain in enumerate(d.pain_points, 1):
        at = f"pain_points.{i - 1}"
        theme = data.theme(pain.theme_id)
        cite = notes.cite([refs.theme(pain.theme_id)]) if pain.theme_id else ""
        by_reviewer = data.item_human(persona, at)
        title_note = item_note(f"{at}.title")
        out.append(f"{i}. **{md(pain.title)}**{cite}{item_note(at)}{title_note}")
        pain_human = by_reviewer or human("pain_points")
        if theme:
            reach = ", ".join(md(part) for part in theme_reach(theme, data.themes))
            out.append(
                f"   - **Theme**: {md(theme.label)} — {reach}, "
                f"severity {theme.severity.mean:.1f}/5 (max {theme.severity.max}), "
                f"{md(theme_rank(theme))}"
            )
            # Offline, the "definition" is the theme's most central statement, a quote.
            what = "Theme definition" if theme.named_by != "offline" else "Most typical statement"
            out.append(f"   - **{what}** (the whole study's): {md(theme.description)}")
        out.append(f"   - **Impact**: {item(f'{at}.impact', pain.impact, pain_human)}")
        out.append(f"   - **Frequency**: {item(f'{at}.frequency', pain.frequency, pain_human)}")
        out.append(
            f"   - **Current workaround**: {item(f'{at}.workaround', pain.workaround, pain_human)}"
        )

    out += ["", "### Tools and Channels", "", label("Tools", "tools"), ""]
    out += items("tools", d.tools, counted=False)
    out += ["", label("Channels and information sources", "channels"), ""]
    out += items("channels", d.channels)

    out += ["", "### Technical Skill Level", ""]
    out += [
        label("Overall technical proficiency", "tech_proficiency")
        + ": "
        + field("tech_proficiency", d.tech_proficiency)
    ]

    out += ["", "### " + heading("Quotes from Research", mark("quotes")), ""]
    if not d.quotes:
        out += ["_No quotes._"]
    for i, quote in enumerate(d.quotes, 1):
        cite = notes.cite([refs.chunk(quote.chunk_id)], [quote.text]) if quote.chunk_id else ""
        source = md(data.quote_source(quote.chunk_id))
        found = data.mark(persona, f"quotes.{i - 1}")
        if found is not None and (quote.chunk_id or not found.human):
            # A reviewer's quote without a chunk says so in its source already.
            source += item_note(f"quotes.{i - 1}")
        out += [f"> “{md(quote.text)}”{cite}", f"> — {source}", ""]

    out += ["", "### Behaviors and Preferences", ""]
    absent = []
    for title, path, claims in (
        ("Discovery", "behaviors.discovery", d.behaviors.discovery),
        ("Evaluation", "behaviors.evaluation", d.behaviors.evaluation),
        ("Purchase triggers", "behaviors.purchase_triggers", d.behaviors.purchase_triggers),
    ):
        if silent(path, claims) and not data.added_items(persona, path, claims):
            absent.append(title.lower())
        else:
            out += [label(title, path), "", *items(path, claims), ""]
    if absent:
        out += [*gaps(absent), ""]

    out += ["### Needs", ""]
    for title, path, claims in (
        ("Must have", "needs.must", d.needs.must),
        ("Should have", "needs.should", d.needs.should),
        ("Nice to have", "needs.nice", d.needs.nice),
    ):
        numbered = items(path, claims, numbered=True)
        out += [label(title, path), "", *numbered, ""]

    out += [
        "### " + heading("Aha Moment", mark("aha_moment")),
        "",
        field("aha_moment", d.aha_moment),
    ]

    out += ["", "### " + heading("Open Research Questions", mark("open_questions")), ""]
    if d.open_questions:
        out += [
            "What the evidence does not answer yet: ask these before relying on the fields "
            "they concern.",
            "",
        ]
        reviewer_added = data.added_items(persona, "open_questions", d.open_questions)
        first_added = len(d.open_questions) - reviewer_added
        for i, question in enumerate(d.open_questions, 1):
            note = (
                f" _({ADDED_IN_REVIEW})_"
                if i > first_added
                else item_note(f"open_questions.{i - 1}")
            )
            out.append(f"{i}. {md(question)}{note}")
    else:
        out += ["_None: the evidence covers every field._"]

    journey = data.journey(persona)
    if journey:
        out += ["", "### Journey Touchpoints", ""]
        for stage in journey.draft.stages:
            points = "; ".join(
                md(c.text) + notes.cite(c.evidence, focus_texts(c.text)) for c in stage.touchpoints
            )
            out.append(f"- **{STAGE_TITLES[stage.stage]}**: {points or '_none stated_'}")
        out += ["", f"Full journey map: [journey-{slug}.md](journey-{slug}.md)"]
    out += notes.section()
    return "\n".join(out).rstrip() + "\n"


# Inside a Mermaid block: `:` and `;` are journey syntax, `#` starts an entity, `%%` a comment or
# an `%%{init}` directive, `{}` a directive body; `<>&"'` would reach an HTML label, and backticks
# and `~` could only matter to the Markdown fence around the block. Newlines go too, so the text
# never starts a line of its own.
MERMAID_UNSAFE = re.compile(r"[:;#%{}<>&\"'`~\\\n\r\t\x00-\x1f]+")
# Words Mermaid reads as a statement when a line starts with them (case-insensitively).
MERMAID_KEYWORDS = frozenset(
    {"title", "section", "acctitle", "accdescr", "journey", "click", "call", "href", "style"}
    | {"classdef", "class", "linkstyle", "direction", "init", "config"}
)


def mermaid_text(text: str, limit: int = 60) -> str:
    """Text safe inside a Mermaid journey line: no syntax, directive, HTML or fence characters."""
    # An apostrophe could close a quoted directive value; the typographic one reads the same
    # ("Rust’s", not "Rust s").
    # A colon separates a task from its score; a dash keeps the sentence's pause.
    text = re.sub(r"\s*:\s+", " - ", str(text)).replace("'", "’")
    flat = " ".join(MERMAID_UNSAFE.sub(" ", text).split())
    if len(flat) > limit:
        flat = flat[:limit].rsplit(" ", 1)[0] + "…"
    first = re.match(r"[A-Za-z]+", flat)
    if first and first.group().lower() in MERMAID_KEYWORDS:
        # A task named "Title of ..." would otherwise become the diagram's title.
        flat = "· " + flat
    return flat or "-"


# Where a long task may be cut and still read as a phrase (a clause's end).
_CLAUSE_END = re.compile(r"\s*(?:[,;:()]|\s[-–]\s|\s(?:and|but|because|so|which|when|while)\s)")


def mermaid_task(text: str, limit: int = 60) -> str:
    """A task line for the chart: whole when it fits, else up to the last clause end that
    fits (three words at least), else cut at a word with '…'."""
    flat = " ".join(str(text).split()).rstrip(".")
    if len(flat) > limit:
        ends = [m.start() for m in _CLAUSE_END.finditer(flat) if m.start() <= limit]
        ends = [e for e in ends if len(flat[:e].split()) >= 3]
        if ends:
            flat = flat[: ends[-1]]
    return mermaid_text(flat, limit)


def mermaid_score(emotion: int) -> int:
    """Emotion -2..+2 onto Mermaid's 1..5 satisfaction scale."""
    return max(1, min(5, emotion + 3))


def has_evidence(stage: JourneyStageEntry) -> bool:
    """Does the stage's emotion rest on evidence: pains placed there, good moments, or cited
    thoughts? (Actions and touchpoints say what they do, not how it feels; an emotion without
    such evidence is a placeholder, shown as a gap.)"""
    claims = [*stage.thoughts, *stage.positives]
    return bool(stage.pain_points) or any(c.evidence and not c.assumption for c in claims)


def _journey_holding(data: ReportData, stage: JourneyStageEntry) -> JourneyMap | None:
    return next(
        (j for j in data.journeys.values() if any(s is stage for s in j.draft.stages)), None
    )


def stage_sources(data: ReportData, stage: JourneyStageEntry) -> tuple[str, ...]:
    """The extracted stages a column shows: as its journey map recorded them when drafted, else
    the funnel's (maps drafted before stages were configurable), else the column's own name."""
    journey = _journey_holding(data, stage)
    if journey is not None and journey.stage_sources:
        return tuple(journey.stage_sources.get(stage.stage, ()))
    return PRESET_SOURCES["funnel"].get(stage.stage, (stage.stage,))


# A stage's pain-point cell lists this many, most-mentioned first, and the rest below the table
# (a model may place 30+ themes in one stage, and a 38-line cell reads as nothing); a cell
# with up to CELL_PAINS + 2 lists them all, rather than hide one or two.
CELL_PAINS = 5


def cell_overflows(stage: JourneyStageEntry) -> bool:
    return len(stage.pain_points) > CELL_PAINS + 2


def _pain_counter(data: ReportData, stage: JourneyStageEntry) -> tuple[Callable[[str], int], bool]:
    """How many mentions a pain theme has at this stage, and whether they are the persona's own
    people's (from the counts its map was drafted with) or, on maps drafted before those were
    kept, the whole study's."""
    journey = _journey_holding(data, stage)
    sources = stage_sources(data, stage)
    own = journey.own_stage_counts if journey is not None else {}
    if own:
        return (lambda tid: sum(own.get(tid, {}).get(src, 0) for src in sources)), True

    def study(tid: str) -> int:
        theme = data.theme(tid)
        return sum(theme.journey_stages.get(src, 0) for src in sources) if theme else 0

    return study, False


def stage_pains(data: ReportData, stage: JourneyStageEntry) -> list[tuple[int, str, int]]:
    """(position, theme id, mentions at this stage) of a stage's pains, most mentioned first;
    ties keep the drafted order."""
    count, _ = _pain_counter(data, stage)
    rows = [(i, tid, count(tid)) for i, tid in enumerate(stage.pain_points)]
    return sorted(rows, key=lambda row: (-row[2], row[0]))


def _stage_total(data: ReportData, stage: JourneyStageEntry) -> tuple[int, bool]:
    """Mentions the stage's pains rest on, as shown now (a reviewer may have changed them; each
    theme counted once), and whether they are the persona's own."""
    count, own = _pain_counter(data, stage)
    return sum(count(tid) for tid in dict.fromkeys(stage.pain_points)), own


def stage_mentions(data: ReportData, stage: JourneyStageEntry) -> int:
    """Mentions the stage's pains rest on: the persona's own, else (older maps) the study's."""
    return _stage_total(data, stage)[0]


def emotion_basis(data: ReportData, stage: JourneyStageEntry) -> str:
    """'3 good moments, 12 pain mentions by this persona's people': what a stage's emotion weighs ('' when
    neither); an older map's count is the whole study's, and says so."""
    n, own = _stage_total(data, stage)
    parts = [plural(len(stage.positives), "good moment")] if stage.positives else []
    if n:
        whose = "by this persona's people" if own else "study-wide"
        parts.append(f"{plural(n, 'pain mention')} {whose}")
    return ", ".join(parts)


def emotion_known(
    data: ReportData | None, persona_id: str, index: int, stage: JourneyStageEntry
) -> bool:
    """Is there an emotion to show at this stage: evidence under it, or a reviewer's value?"""
    if has_evidence(stage):
        return True
    marks = data.marks.get(persona_id, {}) if data is not None else {}
    found = marks.get(f"{JOURNEY_PREFIX}stages.{index}.emotion")
    return found is not None and found.kind in ("confirmed", "corrected")


def emotion_text(
    data: ReportData, stage: JourneyStageEntry, persona_id: str = "", index: int = 0
) -> str:
    """'-1 (negative; 12 mentions)', '+1 (positive; set by reviewer)', or 'no evidence' where
    the score is only a placeholder."""
    if not emotion_known(data, persona_id, index, stage):
        return "no evidence"
    word = EMOTION_WORDS.get(stage.emotion, "")
    basis = emotion_basis(data, stage) or ("" if has_evidence(stage) else "the reviewer's value")
    value = f"{stage.emotion:+d}" if stage.emotion else "0"
    return f"{value} ({word}{'; ' + basis if basis else ''})"


MERMAID_SCALE = (
    "The chart's scores run from 1 (very negative) to 5 (very positive): the table's emotion "
    "-2..+2 plus 3. A stage with no evidence is drawn at 3 and says so."
)


def mermaid_journey(
    persona: Persona, journey: JourneyMap, data: ReportData | None = None
) -> list[str]:
    actor = mermaid_text(first_name(persona), 30)
    lines = ["```mermaid", "journey", f"    title {mermaid_text(persona.draft.name, 80)} journey"]
    for index, stage in enumerate(journey.draft.stages):
        lines.append(f"    section {STAGE_TITLES[stage.stage]}")
        if not has_evidence(stage) and emotion_known(data, persona.id, index, stage):
            # A reviewer's value for a stage the draft had no evidence for.
            score = mermaid_score(stage.emotion)
            lines.append(f"      Emotion set by a reviewer: {score}: {actor}")
            continue
        if not has_evidence(stage):
            # Mermaid needs a score; the neutral one, said to be a gap, not a measured feeling.
            lines.append(f"      No evidence for this stage: 3: {actor}")
            continue
        score = mermaid_score(stage.emotion)
        goal = [stage.customer_goal.text] if stage.customer_goal else []
        tasks = goal + [a.text for a in stage.actions[:2]]
        tasks = tasks or (
            [] if stage.positives else [f"{STAGE_TITLES[stage.stage]} (see the table)"]
        )
        lines += [f"      {mermaid_task(t)}: {score}: {actor}" for t in tasks]
        # A good moment is drawn as good, whatever the stage's balance.
        good = mermaid_score(max(1, stage.emotion))
        lines += [f"      {mermaid_task(p.text)}: {good}: {actor}" for p in stage.positives[:1]]
    lines.append("```")
    return lines


def render_journey_md(data: ReportData, persona: Persona, journey: JourneyMap) -> str:
    """journey-<slug>.md: stage table, Mermaid diagram, findings and recommendations."""
    notes = Footnotes(data, persona)
    slug = data.slugs[persona.id]
    out = [f"# Journey Map: {md(persona.draft.name)}", "", *stale_banner(data)]
    out += redraft_banner(data.redraft_note(persona, journey=True))
    if journey.document_info.mode == "offline":
        out += [offline_banner(), ""]
    extra = [("Persona", f"[{md(persona.draft.name)}](persona-{slug}.md)")]
    out += ["## Document Information", "", *info_table(journey.document_info, extra), ""]
    out += ["## Emotion Across the Journey", "", *mermaid_journey(persona, journey, data)]
    out += ["", f"_{MERMAID_SCALE}_", ""]

    stages = journey.draft.stages

    # Reviewed parts are marked as persona items are, by positional path under `journey.`.
    def note(path: str) -> str:
        """The marker of a decided journey part (a whole list, an emotion, a theme, a text)."""
        found = data.mark(persona, JOURNEY_PREFIX + path)
        if found is None:
            return ""
        if found.kind == "added":
            return f" _({ADDED_IN_REVIEW})_"
        return f" _({REVIEW_MARKS[found.kind]})_" if found.kind in REVIEW_MARKS else ""

    def resting(path: str) -> str:
        return resting_md(data.resting(persona, JOURNEY_PREFIX + path))

    def item(path: str, claim: Claim | None) -> str:
        found = data.mark(persona, JOURNEY_PREFIX + path)
        if found is None:
            return claim_md(claim, notes) + resting(path)
        if found.kind == "extended":
            drafted, added = data.split_addition(persona, JOURNEY_PREFIX + path, claim)
            return claim_md(drafted, notes, mark="extended", human=added is None, added=added)
        if found.kind == "confirmed":
            return claim_md(claim, notes, mark="confirmed")
        if found.kind == "added":
            return claim_md(claim, notes, mark="added") + note(path)
        return claim_md(claim, notes, mark="corrected")  # the reviewer's words, marked once

    def list_note(path: str, count: int) -> str:
        """A decided list's marker, unless its items carry their own (one mark per item)."""
        itemised = any(
            data.mark(persona, f"{JOURNEY_PREFIX}{path}.{i}") is not None for i in range(count)
        )
        return "" if itemised else note(path)

    def join(path: str, claims: list[Claim]) -> str:
        cell = "<br>".join(item(f"{path}.{i}", c) for i, c in enumerate(claims)) or "—"
        return cell + list_note(path, len(claims))

    def texts(path: str, values: list[str], show: Callable[[str], str] = md) -> str:
        cell = "<br>".join(show(v) + note(f"{path}.{i}") for i, v in enumerate(values)) or "—"
        return cell + list_note(path, len(values))

    def theme_cell(tid: str) -> str:
        return md(data.theme_label(tid)) + notes.cite([refs.theme(tid)])

    def pain_cell(i: int, s: JourneyStageEntry) -> str:
        path = f"stages.{i}.pain_points"
        rows = stage_pains(data, s)
        shown = rows[:CELL_PAINS] if cell_overflows(s) else rows
        cell = "<br>".join(
            theme_cell(tid) + note(f"{path}.{j}") + resting(f"{path}.{j}") for j, tid, _ in shown
        )
        if len(shown) < len(rows):
            cell += f"<br>_… and {len(rows) - len(shown)} more (see Pain Points by Stage)_"
        return (cell or "—") + list_note(path, len(rows))

    def goal(i: int, s: JourneyStageEntry) -> str:
        at = f"stages.{i}.customer_goal"
        return item(at, s.customer_goal) if s.customer_goal else "—" + note(at)

    rows = [
        ["**Customer goal**", *[goal(i, s) for i, s in enumerate(stages)]],
        *[
            [
                f"**{title}**",
                *[join(f"stages.{i}.{key}", getattr(s, key)) for i, s in enumerate(stages)],
            ]
            for title, key in (
                ("Actions", "actions"),
                ("Touchpoints", "touchpoints"),
                ("Thoughts", "thoughts"),
                ("Good moments", "positives"),
            )
        ],
        [
            "**Emotion**",
            *[
                emotion_text(data, s, persona.id, i) + note(f"stages.{i}.emotion")
                for i, s in enumerate(stages)
            ],
        ],
        [
            "**Pain points**",
            *[pain_cell(i, s) for i, s in enumerate(stages)],
        ],
        [
            "**Opportunities**",
            *[join(f"stages.{i}.opportunities", s.opportunities) for i, s in enumerate(stages)],
        ],
        ["**Metrics**", *[texts(f"stages.{i}.metrics", s.metrics) for i, s in enumerate(stages)]],
    ]
    out += ["## Stages", "", *table(["", *[STAGE_TITLES[s.stage] for s in stages]], rows)]
    long = [(i, s) for i, s in enumerate(stages) if cell_overflows(s)]
    if long:
        whose = "by this persona's people" if journey.own_stage_counts else "study-wide"
        out += ["", "## Pain Points by Stage", ""]
        for i, s in long:
            out += [f"### {STAGE_TITLES[s.stage]} ({len(s.pain_points)})", ""]
            out += [
                f"{n}. {theme_cell(tid)} — {plural(count, 'mention')} {whose}"
                + note(f"stages.{i}.pain_points.{j}")
                + resting(f"stages.{i}.pain_points.{j}")
                for n, (j, tid, count) in enumerate(stage_pains(data, s), 1)
            ]
            out.append("")
        out.pop()
    findings = journey.draft.key_findings
    out += ["", "## Key Findings" + note("key_findings"), ""]
    out += [f"- {item(f'key_findings.{i}', c)}" for i, c in enumerate(findings)] or [
        "_None stated._"
    ]
    out += ["", "## Recommendations" + note("recommendations"), ""]
    out += table(
        ["#", "Action", "Goal", "Metric"],
        [
            [
                str(i + 1) + note(f"recommendations.{i}"),
                md(r.action)
                + notes.cite(r.evidence)
                + note(f"recommendations.{i}.action")
                + resting(f"recommendations.{i}"),
                md(r.goal) + note(f"recommendations.{i}.goal"),
                md(r.metric) + note(f"recommendations.{i}.metric"),
            ]
            for i, r in enumerate(journey.draft.recommendations)
        ],
    )
    out += notes.section()
    return "\n".join(out).rstrip() + "\n"
