"""Human review on top of the decision store: CLI edits, editable YAML files, refresh diffs.

Decisions live in the store (agent/decisions.py), shared with `persona serve`; this module never
writes personas.json, which only drafting writes. Every field and every list item (one pain
point, one goal, one quote, or a part of a pain point) can be confirmed, corrected or extended,
with the reviewer's name, the time and an optional comment. `diff_personas` lists what a
re-draft moved.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from . import refs
from .decisions import (
    FIELDS,
    JOURNEY_PREFIX,
    POSITION,
    Address,
    ConflictError,
    Decision,
    DecisionStore,
    ExportRecord,
    FieldSpec,
    JourneyAddress,
    PersonaDecisions,
    Reviewed,
    ReviewedJourney,
    ReviewError,
    ThemeDecisions,
    apply_reviews,
    decide,
    dump_value,
    entry,
    entry_for,
    get_path,
    item_key,
    journey_items,
    journey_spec_for,
    load_store,
    now,
    parse_address,
    parse_value,
    position_of,
    put,
    record_theme,
    resolve_journey_target,
    resolve_target,
    reviewer,
    save_store,
    seen_revision,
    spec_for,
    store_path,
    suggest,
    theme_decisions,
)
from .decisions import edit_store as _edit_store
from .decisions import mark as _mark
from .errors import InputError
from .ids import canonical_json, content_hash
from .library import View, load_view
from .models import Claim, DocumentInfo, Persona, PersonaDraft, PersonaPainPoint, PersonaQuote
from .models import Strict as _Strict
from .render.context import ReportData, load_report_data, persona_slugs
from .workspace import Workspace, write_text_atomic
from .yamlsafe import NoAliasLoader

__all__ = [
    "FIELDS",
    "ConflictError",
    "FieldChange",
    "ReviewError",
    "ReviewSummary",
    "apply_review_file",
    "apply_reviews",
    "count_diff",
    "diff_personas",
    "export_review",
    "find_persona",
    "format_diff",
    "load_decisions",
    "mark_reviewed",
    "review_status",
    "save_decisions",
    "set_field",
    "store_path",
]

DECISIONS = ("pending", "confirmed", "corrected", "extended")
HEADER_KEYS = ("persona_id", "segment", "name", "draft_hash", "status", "fields")
BLOCK_KEYS = ("current", "decision", "value", "addition", "comment", "by")
# document_info fields worth showing in a refresh diff; generated_at changes on every run.
INFO_DIFF_FIELDS = tuple(f for f in DocumentInfo.model_fields if f != "generated_at")

# The store's names as this module has always exported them.
load_decisions = load_store
save_decisions = save_store
ReviewStore = DecisionStore
FieldDecision = Decision


class PersonaReviewState(_Strict):
    persona_id: str
    name: str
    segment: str
    status: Literal["draft", "reviewed"]
    total: int
    counts: dict[str, int]
    items: int = 0
    # Journey map parts a reviewer decided (fields and items; see decisions.JOURNEY_PREFIX).
    journey: int = 0
    changed: list[str] = Field(default_factory=list)
    file: str | None = None


class ReviewSummary(_Strict):
    """The `--json` payload of every `persona review` command."""

    personas: list[PersonaReviewState] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class FieldChange(_Strict):
    """One difference between two versions of a persona (seed 000's quarterly refresh)."""

    persona_id: str
    persona: str
    field: str
    change: Literal["added", "removed", "changed"]
    old: str | None = None
    new: str | None = None


# --------------------------------------------------------------------------- fields


def field_spec(path: str) -> FieldSpec:
    """The spec of a field path, or a ReviewError that suggests the nearest real path."""
    if path in FIELDS:
        return FIELDS[path]
    raise ReviewError(f"unknown field '{path}'{suggest(path)}")


def field_value(draft: PersonaDraft, spec: FieldSpec) -> Any:
    """The typed value of a field in a draft."""
    node: Any = draft
    for part in spec.path.split("."):
        node = getattr(node, part, None)
    return node


def value_at(draft: PersonaDraft, spec: FieldSpec, position: str) -> Any:
    """The typed value at a positional path of a draft (None when nothing is there)."""
    if not position:
        return None
    raw = get_path(draft.model_dump(mode="json"), position)
    return None if raw is None else spec.adapter.validate_python(raw)


# --------------------------------------------------------------------------- state


def _state(
    reviewed: Reviewed, file: str | None = None, journey: ReviewedJourney | None = None
) -> PersonaReviewState:
    persona = reviewed.persona
    counts = {kind: 0 for kind in DECISIONS}
    for path in FIELDS:
        found = reviewed.marks.get(path)
        counts[found.kind if found else "pending"] += 1
    return PersonaReviewState(
        persona_id=persona.id,
        name=persona.draft.name,
        segment=persona.segment,
        status=persona.document_info.status,
        total=len(FIELDS),
        counts=counts,
        items=reviewed.items_decided,
        # An item an extension added carries its own mark; the decision is the extension's.
        journey=len({m.address for m in journey.marks.values() if m.kind != "added"})
        if journey
        else 0,
        file=file,
    )


def _states(workspace: Workspace, ids: list[str] | None = None) -> list[PersonaReviewState]:
    view = load_view(workspace)
    return [
        _state(r, journey=view.journey_of(r.persona.id))
        for r in view.reviewed
        if ids is None or r.persona.id in ids
    ]


def find_persona(personas: list[Persona], query: str) -> Persona:
    """A persona by id, id prefix, slug, full name, first name or segment (case-insensitive)."""
    q = query.strip().casefold()
    slugs = persona_slugs(personas)

    def keys(p: Persona) -> list[str]:
        first = p.draft.name.split(",")[0].strip()
        return [p.id, slugs[p.id], p.draft.name, first, p.segment]

    for match in (
        lambda p: q in (k.casefold() for k in keys(p)),
        lambda p: len(q) >= 4 and p.id.casefold().startswith(q),
    ):
        hits = [p for p in personas if match(p)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            names = ", ".join(f"{p.draft.name} ({p.id})" for p in hits)
            raise ReviewError(f"'{query}' matches several personas: {names}; use the id")
    known = ", ".join(f"{p.draft.name} ({p.id})" for p in personas) or "none"
    raise ReviewError(f"no persona '{query}'; personas are: {known}")


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"invalid value ({where + ': ' if where else ''}{err['msg']})"
    return str(exc)


# --------------------------------------------------------------------------- one decision


@dataclass(frozen=True)
class Target:
    """What an edit is about, resolved against the reviewed view the editor saw."""

    persona: Persona
    address: Address | JourneyAddress
    position: str
    spec: FieldSpec
    current: Any
    # What is there instead, when an addressed item is not (listed in the error).
    missing: str = ""
    # A stage's pain points are theme ids: the ids a correction may name (None: not such a
    # target), and the lineage that maps an earlier id to its theme now.
    theme_ids: tuple[str, ...] | None = None
    lineage: Mapping[str, str] | None = None


def locate(view: View, persona: str, target: str) -> Target:
    """Find the persona and the field or item an edit names (by position or by address); a
    target starting with 'journey.' is a part of the persona's journey map."""
    found = find_persona(view.personas, persona)
    if target.strip().startswith(JOURNEY_PREFIX):
        return locate_journey(view, found, target)
    address, position = resolve_target(found.draft, target, view.lineage)
    spec = spec_for(address)
    return Target(found, address, position, spec, value_at(found.draft, spec, position))


def locate_journey(view: View, persona: Persona, target: str) -> Target:
    """A part of a persona's journey map, as the reviewed journey shows it."""
    reviewed = view.journey_of(persona.id)
    if reviewed is None:
        raise ReviewError(f"{persona.draft.name} has no journey map: run `persona draft` first")
    journey = reviewed.journey
    address, position = resolve_journey_target(journey.draft, target, view.lineage)
    if not position:
        # A reworded item reads differently now: find it by its decision's address.
        position = next(
            (p for p, m in sorted(reviewed.marks.items()) if m.address == str(address)), ""
        )
    missing = ""
    if address.inner.item is not None and not position:
        listed = journey_items(journey.draft, address, view.lineage)
        missing = (
            f"{address.inner.field} items are: {', '.join(listed)}"
            if listed
            else f"{address.inner.field} has no items"
        )
    spec = journey_spec_for(address)
    data = journey.draft.model_dump(mode="json")
    raw = get_path(data, position.removeprefix(JOURNEY_PREFIX)) if position else None
    current = None if raw is None else spec.adapter.validate_python(raw)
    theme_ids = None
    if address.stage is not None and address.inner.field == "pain_points":
        theme_ids = tuple(t.id for t in view.themes.themes) if view.themes else ()
    return Target(persona, address, position, spec, current, missing, theme_ids, view.lineage)


def _theme_value(target: Target, kind: str, value: Any) -> Any:
    """A stage pain point decision's value as current theme ids (ReviewError otherwise): these
    are references to themes, so a reviewer confirms or re-points them, never adds free text."""
    name = target.persona.draft.name
    if kind == "extended":
        raise ReviewError(
            f"{name}: '{target.address}': a stage's pain points are themes: confirm them or "
            "correct them to theme ids (--correct), they cannot be extended"
        )
    if kind != "corrected" or target.theme_ids is None:
        return value
    raw = value if isinstance(value, list) else [value]
    known = set(target.theme_ids)
    out = []
    for item in raw:
        text = str(item).strip().removeprefix("theme:")
        current = refs.follow(text, target.lineage or {})
        if current not in known:
            valid = ", ".join(target.theme_ids) or "none (run `persona themes`)"
            raise ReviewError(
                f"{name}: '{target.address}': '{item}' is not a theme id; valid theme ids: {valid}"
            )
        out.append(current)
    return out if isinstance(value, list) else out[0]


def decide_on(
    target: Target,
    kind: str,
    *,
    value: Any = None,
    addition: Any = None,
    source: str,
    by: str | None = None,
    comment: str = "",
) -> Decision:
    """The decision a reviewer's input makes on a target (ReviewError when it does not fit)."""
    if target.address.item is not None and not target.position and kind != "pending":
        raise ReviewError(
            f"{target.persona.draft.name}: '{target.address}' is not in the current draft"
            + (f"; {target.missing}" if target.missing else "")
        )
    if target.theme_ids is not None:
        value = _theme_value(target, kind, value)
    try:
        return decide(
            target.spec,
            kind,
            target.current,
            value=value,
            addition=addition,
            source=source,
            by=reviewer(by),
            at=now(),
            comment=comment,
        )
    except (ValueError, ValidationError) as exc:
        raise ReviewError(
            f"{target.persona.draft.name}: '{target.address}': {_first_error(exc)}"
        ) from exc


def set_field(
    workspace: Workspace,
    persona: str,
    field_path: str,
    *,
    confirm: bool = False,
    correct: str | list[str] | None = None,
    extend: str | list[str] | None = None,
    reset: bool = False,
    by: str | None = None,
    comment: str = "",
    expected: int | None = None,
) -> ReviewSummary:
    """Confirm, correct or extend one field or list item (or reset it to pending).

    `field_path`: a field ('goals'), an item by position as shown ('pain_points.0',
    'pain_points.0.workaround', numbered from 0) or by address ('pain_points[theme:t1]').
    `expected`: the revision the caller saw; a newer overlapping decision is a ConflictError.
    """
    actions = [confirm, correct is not None, extend is not None, reset]
    if sum(bool(a) for a in actions) != 1:
        raise ReviewError("give exactly one of --confirm, --correct TEXT, --extend TEXT, --reset")
    view = load_view(workspace)
    target = locate(view, persona, field_path)
    kind = (
        "pending"
        if reset
        else "confirmed"
        if confirm
        else "corrected"
        if correct is not None
        else "extended"
    )
    # Repeated CLI flags give lists; a single-valued target takes them as one text.
    if isinstance(correct, list) and target.spec.kind != "list":
        correct = " ".join(correct)
    if isinstance(extend, list) and target.spec.kind != "list":
        extend = " ".join(extend)
    decision = decide_on(
        target, kind, value=correct, addition=extend, source="cli", by=by, comment=comment
    )
    with _edit_store(workspace) as store:
        put(store, target.persona, target.address, decision, expected, view.lineage)
    (state,) = _states(workspace, [target.persona.id])
    state.changed = [str(target.address)]
    summary = ReviewSummary(personas=[state])
    if isinstance(target.address, JourneyAddress):
        # The counts above are the persona's fields: say what happened to the journey map.
        from .decisions import describe

        summary.notes.append(f"journey map: {describe(str(target.address), decision)}")
    return summary


def mark_reviewed(
    workspace: Workspace, persona: str, reviewed: bool = True, by: str | None = None
) -> ReviewSummary:
    """Mark a whole persona reviewed (or back to draft) whatever its fields' decisions."""
    target = find_persona(load_view(workspace).personas, persona)
    _mark(workspace, target, reviewed, by=reviewer(by), at=now())
    states = _states(workspace, [target.id])
    summary = ReviewSummary(personas=states)
    pending = states[0].counts["pending"] if states else 0
    if reviewed and pending:
        # Allowed (a reviewer may accept a draft wholesale), but never silently: the reports
        # say "marked reviewed; N of M fields decided" rather than just "Reviewed".
        summary.notes.append(
            f"{target.draft.name}: marked reviewed with {pending} of {len(FIELDS)} fields "
            "undecided; the next draft may still change those (confirm them with `persona "
            "review set` or a review file to keep them)"
        )
    return summary


def review_status(workspace: Workspace) -> ReviewSummary:
    """How far the review of each persona has got."""
    return ReviewSummary(personas=_states(workspace))


def find_theme(view: View, query: str) -> str:
    """A theme's current id from its id (current or earlier) or its label, as shown."""
    if view.themes is None:
        raise ReviewError("no themes yet: run `persona themes` first")
    ids = {t.id for t in view.themes.themes}
    current = refs.follow(query.strip(), view.lineage)
    if current in ids:
        return current
    q = query.strip().casefold()
    hits = [t for t in view.themes.themes if t.label.casefold() == q]
    if len(hits) == 1:
        return hits[0].id
    if len(hits) > 1:
        raise ReviewError(
            f"'{query}' names several themes: {', '.join(t.id for t in hits)}; use the id"
        )
    known = ", ".join(f"{t.label} ({t.id})" for t in view.themes.themes[:10])
    raise ReviewError(f"no theme '{query}'; themes include: {known}")


def decide_theme(
    workspace: Workspace,
    theme: str,
    *,
    rename: str | None = None,
    merge_into: str | None = None,
    reset: bool = False,
    by: str | None = None,
    comment: str = "",
    expected: int | None = None,
) -> ThemeDecisions:
    """Rename a theme, merge it into another, or reset both; returns every theme decision."""
    view = load_view(workspace)
    source = find_theme(view, theme)
    target = find_theme(view, merge_into) if merge_into else None
    record_theme(
        workspace,
        source,
        label=rename,
        merge_into=target,
        reset=reset,
        by=reviewer(by),
        at=now(),
        comment=comment,
        expected=expected,
        lineage=view.lineage,
    )
    return theme_decisions(workspace)


# --------------------------------------------------------------------------- the review file

HEADER = """\
# Review of {name} (segment: {segment})
#
# Every field below can be confirmed, corrected or extended. For each field set `decision:` to
#   pending    not reviewed yet: the next pipeline run may redraft it
#   confirmed  the current value is right: it is kept as it is from now on
#   corrected  replace it: write the new value under `value:` (a list for list fields)
#   extended   keep it and add to it: write the addition under `addition:`
# Decided fields are never overwritten by later runs. `current:` shows the draft and is not
# read back: put changes under `value:` or `addition:`. Plain text is fine wherever a claim
# is expected. The comments above each field resolve its evidence ids.
# One list item can be decided on its own: add a block named by its place in `current:`,
# numbered from 0, e.g. `goals.1:` or `pain_points.0.workaround:` (parts of a pain point:
# title, impact, frequency, workaround), with the same keys.
# `comment:` (optional) is kept with the decision; `by:` names the reviewer (default:
# $PERSONA_REVIEWER, else your login name).
# Set `status: reviewed` to mark the whole persona reviewed before every field is decided.
# Then run:  persona review apply {file}
#   (a bare file name is looked up in the workspace's review folder; from anywhere:
#    persona review apply {path} -w {root})
"""
PAIN_EXAMPLE = (
    '[{title: "Slow support", impact: "Waits two days for an answer", '
    'frequency: "Every week", workaround: "Phones the account manager"}]'
)
VALUE_HINTS = {
    "text": "# corrected: the new text",
    "claim": "# corrected: the new text",
    "quote": "# corrected: the quote as said",
    "pain": '# corrected: {title: "...", impact: "...", frequency: "...", workaround: "..."}',
    "other": "# corrected: the new value",
}
LIST_VALUE_HINTS = {
    "claim": '# corrected: the full new list, e.g. ["first", "second"]',
    "quote": '# corrected: the full new list of quotes, e.g. ["as said in the interview"]',
    "pain": f"# corrected: the full new list, e.g. {PAIN_EXAMPLE}",
}
ADDITION_HINTS = {
    "text": "# extended: text to append",
    "claim": "# extended: text to append",
    "quote": "# (a quote cannot be extended: correct it)",
    "pain": "# (extend one part instead, e.g. a block `pain_points.0.workaround:`)",
    "other": "# (this field cannot be extended)",
}
LIST_ADDITION_HINTS = {
    "claim": '# extended: items to add, e.g. ["another"]',
    "quote": '# extended: quotes to add, e.g. ["as said in the interview"]',
    "pain": f"# extended: pain points to add, e.g. {PAIN_EXAMPLE}",
}


def _item_kind(spec: FieldSpec) -> str:
    item = spec.item
    if isinstance(item, type) and issubclass(item, PersonaPainPoint):
        return "pain"
    if isinstance(item, type) and issubclass(item, PersonaQuote):
        return "quote"
    return "claim"


def value_hint(spec: FieldSpec) -> str:
    """The `value:` comment of a block: the shape a correction takes, one the parser accepts."""
    if spec.kind == "list":
        return LIST_VALUE_HINTS[_item_kind(spec)]
    return VALUE_HINTS[spec.kind]


def addition_hint(spec: FieldSpec) -> str:
    if spec.kind == "list":
        return LIST_ADDITION_HINTS[_item_kind(spec)]
    return ADDITION_HINTS[spec.kind]


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=96)


def _blocks(
    reviewed: Reviewed, held: PersonaDecisions | None, lineage: dict[str, str]
) -> list[tuple[str, Address, FieldSpec, Any]]:
    """The file's blocks: every field, each followed by its decided items (by position)."""
    data = reviewed.persona.draft.model_dump(mode="json")
    items: dict[str, list[tuple[str, Address]]] = {}
    for text in sorted(held.active() if held else {}):
        if text.startswith(JOURNEY_PREFIX):
            continue  # journey decisions are made with `persona review set` or the web app
        address = parse_address(text)
        if address.item is None:
            continue
        position = position_of(data, address, lineage)
        if position:
            items.setdefault(address.field, []).append((position, address))
    out = []
    for path, spec in FIELDS.items():
        out.append((path, Address(path), spec, get_path(data, path)))
        for position, address in sorted(items.get(path, []), key=lambda p: _sort_key(p[0])):
            item_spec = spec_for(address)
            out.append((position, address, item_spec, get_path(data, position)))
    return out


def _sort_key(position: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in position.split("."))


def render_review_file(
    reviewed: Reviewed,
    held: PersonaDecisions | None,
    data: ReportData,
    file_name: str,
    workspace: Workspace | None = None,
    lineage: dict[str, str] | None = None,
) -> str:
    """The editable YAML for one persona: header help, then one commented block per field."""
    persona = reviewed.persona
    root = workspace.root.absolute() if workspace else Path(".persona")
    path = (workspace.review_dir.absolute() if workspace else root / "review") / file_name
    lines = [
        HEADER.format(
            name=persona.draft.name,
            segment=persona.segment,
            file=file_name,
            path=path,
            root=root,
        ).rstrip(),
        "",
    ]
    header = {
        "persona_id": persona.id,
        "segment": persona.segment,
        "name": persona.draft.name,
        "draft_hash": content_hash(persona.draft.model_dump(mode="json")),
        "status": persona.document_info.status,
    }
    lines.append(_yaml(header).rstrip())
    lines.append("fields:")
    stored = held.active() if held else {}
    for name, address, spec, current in _blocks(reviewed, held, lineage or {}):
        decision = stored.get(str(address))
        lines.append("")
        lines.append(f"  # ---- {name} ({spec.kind}) ----")
        for ref in refs.refs_in(current):
            ev = data.resolve(ref)
            if ev.kind == "stat":
                described = ev.detail
            else:
                described = f"{ev.title}; {ev.detail}" + (f' "{ev.quote}"' if ev.quote else "")
            lines.append(f"  #   {ref}: {described}"[:300])
        if decision is not None:
            lines.append(f"  #   decided: {_provenance(decision)}"[:300])
        typed = None if current is None else spec.adapter.validate_python(current)
        block = {
            "current": dump_value(spec, typed, compact=True),
            "decision": decision.decision if decision else "pending",
            "value": decision.value if decision and decision.decision == "corrected" else None,
            "addition": decision.addition if decision and decision.decision == "extended" else None,
        }
        for text_line in _yaml({name: block}).rstrip().splitlines():
            # Only the block's own keys (indent 2) get hints, never lines inside a value.
            if text_line.startswith("  decision: "):
                text_line += "  # pending | confirmed | corrected | extended"
            elif text_line == "  value: null":
                text_line = "  value:  " + value_hint(spec)
            elif text_line == "  addition: null":
                text_line = "  addition:  " + addition_hint(spec)
            lines.append("  " + text_line)
    return "\n".join(lines) + "\n"


def _provenance(decision: Decision) -> str:
    who = decision.by or "unknown reviewer"
    text = f"{decision.decision} by {who}" + (f" at {decision.at}" if decision.at else "")
    return text + (f"; comment: {decision.comment}" if decision.comment else "")


@dataclass
class ParsedReview:
    header: dict[str, Any]
    fields: dict[str, dict[str, Any]]
    lines: dict[str, int]


def parse_review_text(text: str, path: Path) -> ParsedReview:
    """Parse a review file, keeping the line of every key for error messages."""
    # No aliases: a shared review file must not expand into gigabytes.
    loader = NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        raise InputError(str(path), f"not valid YAML: {problem}", line) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise InputError(str(path), "expected the review file's keys (persona_id, fields, ...)", 1)
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        lines[str(key_node.value)] = key_node.start_mark.line + 1
        if key_node.value == "fields" and isinstance(value_node, yaml.MappingNode):
            for fkey, fvalue in value_node.value:
                lines[f"fields.{fkey.value}"] = fkey.start_mark.line + 1
                if isinstance(fvalue, yaml.MappingNode):
                    for skey, _ in fvalue.value:
                        lines[f"fields.{fkey.value}.{skey.value}"] = skey.start_mark.line + 1
    for key in data:
        if key not in HEADER_KEYS:
            raise InputError(
                str(path), f"unknown key '{key}' (expected {', '.join(HEADER_KEYS)})", lines[key]
            )
    fields = data.get("fields") or {}
    if not isinstance(fields, dict):
        raise InputError(str(path), "`fields:` must be a mapping of field blocks", lines["fields"])
    for name, block in fields.items():
        line = lines.get(f"fields.{name}")
        if name not in FIELDS:
            try:
                _block_address(str(name))
            except ReviewError as exc:
                raise InputError(str(path), str(exc), line) from exc
        if not isinstance(block, dict):
            raise InputError(str(path), f"field '{name}' must have a `decision:` key", line)
        for sub in block:
            if sub not in BLOCK_KEYS:
                raise InputError(
                    str(path),
                    f"field '{name}': unknown key '{sub}' (expected {', '.join(BLOCK_KEYS)})",
                    lines.get(f"fields.{name}.{sub}", line),
                )
        if block.get("decision", "pending") not in DECISIONS:
            raise InputError(
                str(path),
                f"field '{name}': decision '{block.get('decision')}' is not one of "
                f"{', '.join(DECISIONS)}",
                lines.get(f"fields.{name}.decision", line),
            )
    header = {k: v for k, v in data.items() if k != "fields"}
    return ParsedReview(header=header, fields=fields, lines=lines)


def _block_address(name: str) -> None:
    """Check a block name that is not a plain field: an item by position or by address."""
    match = POSITION.match(name)
    if match and match["field"] in FIELDS:
        spec = FIELDS[match["field"]]
        if spec.kind != "list":
            raise ReviewError(f"field '{match['field']}' is not a list: it has no items")
        if match["sub"]:
            parse_address(f"{match['field']}[x].{match['sub']}")
        return
    parse_address(name)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_review(workspace: Workspace, force: bool = False) -> list[Path]:
    """Write one editable YAML review file per persona into the review folder.

    A file a reviewer has edited but not yet applied is never overwritten: that raises, and
    with `force` the file is first kept as `<name>.bak`.
    """
    data = load_report_data(workspace)
    view = load_view(workspace)
    written: list[Path] = []
    with _edit_store(workspace) as store:
        for reviewed in view.reviewed:
            persona = reviewed.persona
            name = f"{data.slugs[persona.id]}.yaml"
            path = workspace.review_dir / name
            found = entry_for(store, persona)
            held = found[1] if found else None
            text = render_review_file(reviewed, held, data, name, workspace, view.lineage)
            if path.exists():
                existing = path.read_text(encoding="utf-8")
                record = store.exports.get(name)
                known = {record.sha256, record.applied_sha256} if record else set()
                if existing != text and _sha(existing) not in known:
                    if not force:
                        raise ReviewError(
                            f"{path}: has edits that were not applied; run `persona review "
                            f"apply {path}` first, or export with --force (the file is kept "
                            f"as {name}.bak)"
                        )
                    write_text_atomic(path.with_name(name + ".bak"), existing)
            write_text_atomic(path, text)
            parsed = parse_review_text(text, path)
            store.exports[name] = ExportRecord(
                persona_id=persona.id,
                sha256=_sha(text),
                status=str(parsed.header.get("status", "draft")),
                fields=parsed.fields,
                revs={
                    block: seen_revision(held, address, view.lineage)
                    for block, address, _, _ in _blocks(reviewed, held, view.lineage)
                },
            )
            written.append(path)
    return written


def resolve_review_path(workspace: Workspace, path: Path | str) -> Path:
    """The review file a user named: as given when it exists, else a bare name in the review folder.

    The review file's header says `persona review apply dana.yaml`, which must work from the
    project folder, where the file itself sits in the workspace's review folder.
    """
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    inside = workspace.review_dir / given
    if inside.exists():
        return inside
    if len(given.parts) == 1 and not given.suffix:
        with_suffix = workspace.review_dir / f"{given}.yaml"
        if with_suffix.exists():
            return with_suffix
    return given


def apply_review_file(
    workspace: Workspace, path: Path | str | None = None, by: str | None = None
) -> ReviewSummary:
    """Read review file(s) back: only what the reviewer changed since export is recorded.

    With no path every file in the review folder is read; a file whose persona is no longer in
    personas.json (say an anti-persona a later run did not draft) is skipped with a note, so it
    cannot block the other personas' decisions. A file named explicitly must match a persona.
    A block changed in the file whose field someone else decided after the export is refused
    (naming file and line); nothing from that file is recorded then.
    """
    bulk = path is None
    if path is None:
        paths = sorted(workspace.review_dir.glob("*.yaml"))
        if not paths:
            raise ReviewError(
                f"no review files in {workspace.review_dir}: run `persona review export` first"
            )
    else:
        paths = [resolve_review_path(workspace, path)]
    view = load_view(workspace)
    summary = ReviewSummary()
    parsed_files = []
    # Parse and check every file before recording anything, so one bad file changes nothing.
    for file in paths:
        if not file.exists():
            raise InputError(
                str(file), f"review file not found (looked in {workspace.review_dir} too)"
            )
        text = file.read_text(encoding="utf-8")
        parsed = parse_review_text(text, file)
        if bulk and _find_for_file(view.personas, parsed) is None:
            summary.notes.append(
                f"{file.name}: skipped: persona '{parsed.header.get('persona_id')}' (segment "
                f"'{parsed.header.get('segment')}') is not in personas.json any more; "
                "decisions already recorded for it stay stored; delete the file or re-draft "
                "that persona"
            )
            continue
        parsed_files.append((file, text, parsed))
    changed: dict[str, list[str]] = {}
    with _edit_store(workspace) as store:
        for file, text, parsed in parsed_files:
            persona, names = _apply_parsed(store, view, file, parsed, by, summary)
            record = store.exports.get(file.name)
            if record and record.persona_id == persona.id:
                record.applied_sha256 = _sha(text)
            summary.files.append(str(file))
            changed[str(file)] = names
            summary.personas.append(
                PersonaReviewState(
                    persona_id=persona.id,
                    name=persona.draft.name,
                    segment=persona.segment,
                    status="draft",
                    total=len(FIELDS),
                    counts={},
                    file=str(file),
                )
            )
    states = {s.persona_id: s for s in _states(workspace)}
    summary.personas = [
        states[s.persona_id].model_copy(update={"changed": changed[s.file or ""], "file": s.file})
        for s in summary.personas
    ]
    return summary


def _block_target(
    name: str, persona: Persona, snapshot: dict[str, dict[str, Any]] | None, view: View
) -> tuple[Address, str]:
    """A block's address and its place in the reviewed draft.

    A position ('goals.1') counts in the list as exported (`current:` of the field's block in
    the export record), so a re-draft between export and apply cannot shift it onto another
    item; without a record it counts in the draft as it is now.
    """
    match = POSITION.match(name)
    if match and snapshot and match["field"] in snapshot:
        listed = snapshot[match["field"]].get("current")
        index = int(match["index"])
        if isinstance(listed, list) and index < len(listed):
            key = item_key(listed[index], view.lineage)
            sub = f".{match['sub']}" if match["sub"] else ""
            address = parse_address(f"{match['field']}[{key}]{sub}")
            data = persona.draft.model_dump(mode="json")
            return address, position_of(data, address, view.lineage)
    return resolve_target(persona.draft, name, view.lineage)


def _apply_parsed(
    store: DecisionStore,
    view: View,
    file: Path,
    parsed: ParsedReview,
    by: str | None,
    summary: ReviewSummary,
) -> tuple[Persona, list[str]]:
    line_of = parsed.lines.get
    persona = _persona_for_file(view.personas, parsed, file)
    record = store.exports.get(file.name)
    snapshot = record.fields if record and record.persona_id == persona.id else None
    if snapshot is not None and parsed.header.get("draft_hash") != content_hash(
        persona.draft.model_dump(mode="json")
    ):
        summary.notes.append(
            f"{file.name}: exported from an earlier draft; confirmed fields keep the value shown "
            "in the file"
        )
    found = entry_for(store, persona)
    held = found[1] if found else None
    decided: list[tuple[str, Address, Decision]] = []
    for name, block in parsed.fields.items():
        where = line_of(f"fields.{name}")
        if snapshot is not None and snapshot.get(name) == block:
            continue  # untouched since export: no decision expressed
        if (
            snapshot is not None
            and name in snapshot
            and snapshot[name].get("current") != block.get("current")
        ):
            raise InputError(
                str(file),
                f"field '{name}': `current:` was edited; it is not read back. Put the new value "
                "under `value:` and set `decision: corrected`",
                line_of(f"fields.{name}.current", where),
            )
        kind = block.get("decision") or "pending"
        if kind == "pending" and snapshot is None:
            continue  # a hand-written file's pending says nothing about earlier decisions
        try:
            address, position = _block_target(name, persona, snapshot, view)
        except ReviewError as exc:
            raise InputError(str(file), str(exc), where) from exc
        if address.item is not None and not position and kind != "pending":
            raise InputError(
                str(file), f"'{name}': that item is not in the current draft any more", where
            )
        expected = record.revs.get(name) if record and snapshot is not None else None
        if expected is not None:
            newer = [
                text
                for text, d in _related(held, address, view)
                if d.rev > expected and d.source != f"file:{file.name}"
            ]
            if newer:
                raise InputError(
                    str(file),
                    f"'{name}' was decided by someone else after this file was exported "
                    f"({'; '.join(newer)}); nothing from this file was recorded. Export again "
                    "(keep your edits with --force) and redo this field",
                    where,
                )
        spec = spec_for(address)
        try:
            base = (
                parse_value(spec, block["current"])
                if "current" in block
                else value_at(persona.draft, spec, position)
            )
            decision = decide(
                spec,
                kind,
                base,
                value=block.get("value"),
                addition=block.get("addition"),
                source=f"file:{file.name}",
                by=reviewer(block.get("by") or by),
                at=now(),
                comment=str(block.get("comment") or ""),
            )
        except (ValueError, ValidationError) as exc:
            key = {"corrected": "value", "extended": "addition"}.get(kind, "decision")
            raise InputError(
                str(file),
                f"field '{name}': {_first_error(exc)}",
                line_of(f"fields.{name}.{key}", where),
            ) from exc
        decided.append((name, address, decision))
    changed = []
    for name, address, decision in decided:
        before = store.revision
        put(store, persona, address, decision, None, view.lineage)
        if store.revision != before:
            changed.append(name)
    status = parsed.header.get("status")
    if status is not None and status not in ("draft", "reviewed"):
        raise InputError(str(file), "status must be 'draft' or 'reviewed'", line_of("status"))
    status_edited = status is not None and (record is None or status != record.status)
    if status_edited and (entry_for(store, persona) or status == "reviewed"):
        held_now = entry(store, persona)
        held_now.marked_reviewed = status == "reviewed"
        held_now.marked_by, held_now.marked_at = reviewer(by), now()
        changed.append("status")
    return persona, changed


def _related(
    held: PersonaDecisions | None, address: Address, view: View
) -> list[tuple[str, Decision]]:
    from .decisions import describe, related

    return [(describe(a, d), d) for a, d in related(held, address, view.lineage)]


def _find_for_file(personas: list[Persona], parsed: ParsedReview) -> Persona | None:
    """The persona a review file is about: by id, else by its segment when that is unique."""
    pid = parsed.header.get("persona_id")
    for persona in personas:
        if persona.id == pid:
            return persona
    segment = parsed.header.get("segment")
    same = [p for p in personas if p.segment == segment]
    return same[0] if len(same) == 1 else None


def _persona_for_file(personas: list[Persona], parsed: ParsedReview, file: Path) -> Persona:
    found = _find_for_file(personas, parsed)
    if found is not None:
        return found
    pid = parsed.header.get("persona_id")
    segment = parsed.header.get("segment")
    raise InputError(
        str(file),
        f"persona '{pid}' (segment '{segment}') is not in personas.json",
        parsed.lines.get("persona_id"),
    )


# --------------------------------------------------------------------------- diff


def _display(value: Any) -> str:
    if isinstance(value, Claim):
        return value.text + (" [assumption]" if value.assumption else "")
    if isinstance(value, PersonaQuote):
        return f'"{value.text}"'
    if isinstance(value, PersonaPainPoint):
        return value.title
    if isinstance(value, BaseModel):
        return canonical_json(value.model_dump(mode="json"))
    return str(value)


def _match(old: list[Persona], new: list[Persona]) -> list[tuple[Persona | None, Persona | None]]:
    pairs: list[tuple[Persona | None, Persona | None]] = []
    unmatched = list(old)
    for persona in new:
        same = next((o for o in unmatched if o.id == persona.id), None) or next(
            (
                o
                for o in unmatched
                if o.segment == persona.segment and o.is_anti_persona == persona.is_anti_persona
            ),
            None,
        )
        if same is not None:
            unmatched.remove(same)
        pairs.append((same, persona))
    pairs.extend((o, None) for o in unmatched)
    return pairs


def diff_personas(old: list[Persona], new: list[Persona]) -> list[FieldChange]:
    """What changed between two persona sets, field by field and list item by list item."""
    changes: list[FieldChange] = []
    for before, after in _match(old, new):
        ref = after or before
        assert ref is not None
        base = {"persona_id": ref.id, "persona": ref.draft.name}
        if before is None or after is None:
            kind = "added" if before is None else "removed"
            changes.append(FieldChange(**base, field="persona", change=kind, new=None, old=None))
            continue
        for spec in FIELDS.values():
            a, b = field_value(before.draft, spec), field_value(after.draft, spec)
            if a == b:
                continue
            if spec.kind == "list":
                olds = [_display(x) for x in a or []]
                news = [_display(x) for x in b or []]
                for item in news:
                    if item not in olds:
                        changes.append(
                            FieldChange(**base, field=spec.path, change="added", new=item)
                        )
                for item in olds:
                    if item not in news:
                        changes.append(
                            FieldChange(**base, field=spec.path, change="removed", old=item)
                        )
                if olds != news and sorted(olds) == sorted(news):
                    changes.append(
                        FieldChange(
                            **base,
                            field=spec.path,
                            change="changed",
                            old=" | ".join(olds),
                            new=" | ".join(news),
                        )
                    )
                continue
            old_text = None if a is None else _display(a)
            new_text = None if b is None else _display(b)
            if old_text == new_text:
                # Same text, different evidence: still a change a reviewer may care about.
                old_text = canonical_json(dump_value(spec, a))
                new_text = canonical_json(dump_value(spec, b))
            kind = "added" if a is None else "removed" if b is None else "changed"
            changes.append(
                FieldChange(**base, field=spec.path, change=kind, old=old_text, new=new_text)
            )
        for name in INFO_DIFF_FIELDS:
            a, b = getattr(before.document_info, name), getattr(after.document_info, name)
            if a != b:
                changes.append(
                    FieldChange(
                        **base,
                        field=f"document_info.{name}",
                        change="changed",
                        old=str(a),
                        new=str(b),
                    )
                )
    return changes


def count_diff(changes: list[FieldChange]) -> str:
    """Which fields changed, counted per persona, without their words: for a run's notes, which
    last_run.json keeps (a withdrawn participant's quote must not live on there)."""
    out: list[str] = []
    by_persona: dict[str, list[FieldChange]] = {}
    for change in changes:
        by_persona.setdefault(change.persona_id, []).append(change)
    for persona_id, items in by_persona.items():
        fields: dict[str, Counter[str]] = {}
        for change in items:
            fields.setdefault(change.field.split(".")[0], Counter())[change.change] += 1
        parts = []
        for field, kinds in fields.items():
            if field == "persona":
                parts.append(f"persona {next(iter(kinds))}")
                continue
            done = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            parts.append(f"{field} ({done})")
        out.append(f"{items[0].persona} ({persona_id}): " + "; ".join(parts))
    return "\n".join(out)


def format_diff(changes: list[FieldChange]) -> str:
    """Plain-text diff for the terminal: one persona heading, then +/-/~ lines."""
    if not changes:
        return "No changes."
    out: list[str] = []
    current = None
    for change in changes:
        if change.persona_id != current:
            current = change.persona_id
            out.append(f"{change.persona} ({change.persona_id})")
        if change.field == "persona":
            out.append(f"  {'+' if change.change == 'added' else '-'} persona {change.change}")
        elif change.change == "added":
            out.append(f"  + {change.field}: {change.new}")
        elif change.change == "removed":
            out.append(f"  - {change.field}: {change.old}")
        else:
            out.append(f"  ~ {change.field}: {change.old} -> {change.new}")
    return "\n".join(out)
