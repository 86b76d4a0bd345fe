"""Human review on top of the decision store: CLI edits, refresh diffs (the editable YAML files
are agent/review_file.py).

Decisions live in the store (agent/decisions.py), shared with `persona serve`; this module never
writes personas.json, which only drafting writes. Every field and every list item (one pain
point, one goal, one quote, or a part of a pain point) can be confirmed, corrected or extended,
with the reviewer's name, the time and an optional comment. `diff_personas` lists what a
re-draft moved.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from . import refs
from .decisions import (
    FIELDS,
    JOURNEY_PREFIX,
    Address,
    ConflictError,
    Decision,
    DecisionStore,
    FieldSpec,
    JourneyAddress,
    Reviewed,
    ReviewedJourney,
    ReviewError,
    ThemeDecisions,
    apply_reviews,
    decide,
    dump_value,
    get_path,
    journey_items,
    journey_spec_for,
    load_store,
    marked_position,
    now,
    parse_address,
    parse_journey_address,
    put,
    record_theme,
    resolve_journey_target,
    resolve_target,
    reviewer,
    reworded_item,
    save_store,
    spec_for,
    store_path,
    suggest,
    theme_decisions,
)
from .decisions import edit_store as _edit_store
from .decisions import mark as _mark
from .ids import canonical_json
from .library import View, load_view
from .models import Claim, DocumentInfo, Persona, PersonaDraft, PersonaPainPoint, PersonaQuote
from .models import Strict as _Strict
from .render.context import persona_slugs
from .workspace import Workspace

__all__ = [
    "FIELDS",
    "ConflictError",
    "FieldChange",
    "ReviewError",
    "ReviewSummary",
    "apply_reviews",
    "count_diff",
    "diff_personas",
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


def value_error(spec: FieldSpec, exc: Exception) -> str:
    """What is wrong with a reviewer's value, in the reviewer's words (not the validator's)."""
    if spec.path.endswith(".emotion") and isinstance(exc, ValidationError):
        return "an emotion is a whole number from -2 (very negative) to 2 (very positive)"
    return _first_error(exc)


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
    # Theme id -> label (rank order), so a reviewer may name a theme as the reports show it.
    theme_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


def locate(view: View, persona: str, target: str) -> Target:
    """Find the persona and the field or item an edit names (by position or by address); a
    target starting with 'journey.' is a part of the persona's journey map."""
    found = find_persona(view.personas, persona)
    if target.strip().startswith(JOURNEY_PREFIX):
        return locate_journey(view, found, target)
    return locate_field(view, found, target)


def locate_field(view: View, persona: Persona, target: str) -> Target:
    """A field or list item of a persona, as the reviewed persona shows it."""
    address, position = resolve_target(persona.draft, target, view.lineage)
    reviewed = next((r for r in view.reviewed if r.persona.id == persona.id), None)
    if reviewed is not None:
        if address.item is not None and not position:
            position = marked_position(reviewed.marks, str(address))
        address = reworded_item(reviewed.marks, address, position, parse_address)
    spec = spec_for(address)
    return Target(persona, address, position, spec, value_at(persona.draft, spec, position))


def locate_journey(view: View, persona: Persona, target: str) -> Target:
    """A part of a persona's journey map, as the reviewed journey shows it."""
    reviewed = view.journey_of(persona.id)
    if reviewed is None:
        raise ReviewError(f"{persona.draft.name} has no journey map: run `persona draft` first")
    journey = reviewed.journey
    address, position = resolve_journey_target(journey.draft, target, view.lineage)
    if not position:
        # A reworded item reads differently now: find it by its decision's address.
        position = marked_position(reviewed.marks, str(address))
    address = reworded_item(reviewed.marks, address, position, parse_journey_address)
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
    labels: dict[str, str] = {}
    if address.stage is not None and address.inner.field == "pain_points":
        themes = sorted(view.themes.themes, key=lambda t: (t.rank, t.id)) if view.themes else []
        theme_ids = tuple(t.id for t in themes)
        labels = {t.id: t.label for t in themes}
    return Target(
        persona, address, position, spec, current, missing, theme_ids, view.lineage, labels
    )


THEMES_LISTED = 10


def _theme_value(target: Target, kind: str, value: Any) -> Any:
    """A stage pain point decision's value as current theme ids (ReviewError otherwise): these
    are references to themes, so a reviewer confirms or re-points them, never adds free text.
    A theme is named by its id (current or earlier) or by its label as the reports show it."""
    name = target.persona.draft.name
    if kind == "removed":
        return value
    if kind == "extended":
        raise ReviewError(
            f"{name}: '{target.address}': a stage's pain points are themes: confirm them or "
            "correct them to other themes (ids or labels); they cannot be extended"
        )
    if kind != "corrected" or target.theme_ids is None:
        return value
    raw = value if isinstance(value, list) else [value]
    known = set(target.theme_ids)
    by_label = {label.casefold(): tid for tid, label in target.theme_labels.items()}
    out = []
    for item in raw:
        if item is None or not str(item).strip():
            raise ReviewError(f"{name}: '{target.address}': give the themes (ids or labels)")
        text = str(item).strip().removeprefix("theme:")
        current = refs.follow(text, target.lineage or {})
        current = current if current in known else by_label.get(text.casefold(), current)
        if current not in known:
            raise ReviewError(
                f"{name}: '{target.address}': '{item}' is not a theme id or label; "
                + _themes_listed(target)
            )
        out.append(current)
    return out if isinstance(value, list) else out[0]


def _themes_listed(target: Target) -> str:
    """The first themes by rank as 'label (id)', and how many there are in all."""
    ids = target.theme_ids or ()
    if not ids:
        return "there are no themes yet (run `persona themes`)"
    shown = [f"{target.theme_labels.get(t, t)} ({t})" for t in ids[:THEMES_LISTED]]
    more = (
        f", ... ({len(ids)} in all; `persona themes` lists them)"
        if len(ids) > THEMES_LISTED
        else ""
    )
    return "themes: " + "; ".join(shown) + more


def check_removable(target: Target) -> None:
    """Only a whole list item can be removed (a ReviewError saying what to do otherwise)."""
    inner = target.address.inner if isinstance(target.address, JourneyAddress) else target.address
    if inner.item is not None and inner.sub is None:
        return
    name = target.persona.draft.name
    if inner.item is not None:
        raise ReviewError(
            f"{name}: '{target.address}': a part of an item cannot be removed: remove the "
            "whole item, or correct this part"
        )
    if target.spec.kind == "list":
        raise ReviewError(
            f"{name}: '{target.address}' is a whole list: remove one item by its number "
            f"('{target.position or target.address}.0'), or correct the list"
        )
    raise ReviewError(
        f"{name}: '{target.address}' is not a list item: only list items can be removed; "
        "correct it instead"
    )


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
    if kind == "removed":
        check_removable(target)
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
            f"{target.persona.draft.name}: '{target.address}': {value_error(target.spec, exc)}"
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
    remove: bool = False,
    by: str | None = None,
    comment: str = "",
    expected: int | None = None,
) -> ReviewSummary:
    """Confirm, correct or extend one field or list item, remove a list item, or reset either
    to pending.

    `field_path`: a field ('goals'), an item by position as shown ('pain_points.0',
    'pain_points.0.workaround', numbered from 0) or by address ('pain_points[theme:t1]').
    `expected`: the revision the caller saw; a newer overlapping decision is a ConflictError.
    """
    actions = [confirm, correct is not None, extend is not None, reset, remove]
    if sum(bool(a) for a in actions) != 1:
        raise ReviewError(
            "give exactly one of --confirm, --correct TEXT, --extend TEXT, --remove, --reset"
        )
    view = load_view(workspace)
    target = locate(view, persona, field_path)
    kind = (
        "pending"
        if reset
        else "removed"
        if remove
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
    if reset:
        _decided_or_refuse(view, target.persona, persona, field_path, str(target.address))
    decision = decide_on(
        target, kind, value=correct, addition=extend, source="cli", by=by, comment=comment
    )
    with _edit_store(workspace) as store:
        put(store, target.persona, target.address, decision, expected, view.lineage)
    (state,) = _states(workspace, [target.persona.id])
    state.changed = [str(target.address)]
    summary = ReviewSummary(personas=[state])
    if kind == "removed" and not isinstance(target.address, JourneyAddress):
        from .decisions import describe

        # Positions shift once an item is out: only its address brings it back.
        summary.notes.append(
            f"{describe(str(target.address), decision)}; to bring it back: "
            f"{_reset_command(persona, str(target.address))}"
        )
    if isinstance(target.address, JourneyAddress):
        # The counts above are the persona's fields: say what happened to the journey map.
        from .decisions import describe

        summary.notes.append(f"journey map: {describe(str(target.address), decision)}")
    return summary


def _reset_command(persona: str, address: str) -> str:
    """The command that resets one decision, shell-quoted ('persona review set Dana …')."""
    return f"persona review set {shlex.quote(persona)} {shlex.quote(address)} --reset"


def _decided_or_refuse(
    view: View, persona: Persona, asked: str, field_path: str, address: str
) -> None:
    """A reset of a field or item nobody decided would do nothing: refuse it, naming the
    removed items (whose positions the list no longer has) and how to reset them."""
    from .decisions import entry_for

    found = entry_for(view.store, persona)
    active = found[1].active() if found else {}
    if address in active:
        return
    removed = [a for a, d in active.items() if d.decision == "removed"]
    hint = (
        "; removed items are reset by address: "
        + "; ".join(_reset_command(asked, a) for a in sorted(removed))
        if removed
        else ""
    )
    raise ReviewError(f"no decision at {field_path} ({address}) to reset{hint}")


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
