"""Human review: every persona field can be confirmed, corrected or extended, and stays that way.

Decisions live in `review/decisions.json`, the one file in the workspace that cannot be rebuilt
from the inputs; the pipeline only reads it. A re-draft on new data goes through
`apply_reviews`, which puts every decided field back exactly as the reviewer left it, so only
undecided fields take the new draft; `diff_personas` then lists what moved.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from .errors import InputError, PersonaError
from .ids import canonical_json, content_hash
from .models import (
    Claim,
    DocumentInfo,
    Persona,
    PersonaDraft,
    PersonaPainPoint,
    PersonaQuote,
    Strict,
)
from .render.context import ReportData, load_report_data, persona_slugs
from .workspace import Workspace, read_json, write_json, write_text_atomic
from .yamlsafe import NoAliasLoader

DecisionKind = Literal["confirmed", "corrected", "extended"]
DECISIONS = ("pending", "confirmed", "corrected", "extended")
STORE_FILE = "decisions.json"
# Models reviewed as one value each; every other nested model is walked field by field.
LEAF_MODELS: tuple[type[BaseModel], ...] = (Claim, PersonaQuote, PersonaPainPoint)
HEADER_KEYS = ("persona_id", "segment", "name", "draft_hash", "status", "fields")
BLOCK_KEYS = ("current", "decision", "value", "addition")
# document_info fields worth showing in a refresh diff; generated_at changes on every run.
INFO_DIFF_FIELDS = tuple(f for f in DocumentInfo.model_fields if f != "generated_at")


class ReviewError(PersonaError):
    """A review command cannot be carried out (unknown persona or field, bad value)."""


# --------------------------------------------------------------------------- the store


class FieldDecision(Strict):
    """A reviewer's word on one field; `value` is the field's final value, as JSON."""

    decision: DecisionKind
    value: Any = None
    base: Any = None
    addition: Any = None
    source: str = ""


class PersonaDecisions(Strict):
    """All decisions on one persona; matched by id, else by segment on a re-draft."""

    segment: str
    name: str
    anti: bool = False
    marked_reviewed: bool = False
    fields: dict[str, FieldDecision] = Field(default_factory=dict)


class ExportRecord(Strict):
    """What a review file said when it was written, to tell a reviewer's edits from the export."""

    persona_id: str
    sha256: str
    applied_sha256: str | None = None
    status: str = "draft"
    fields: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ReviewStore(Strict):
    version: int = 1
    personas: dict[str, PersonaDecisions] = Field(default_factory=dict)
    exports: dict[str, ExportRecord] = Field(default_factory=dict)


class PersonaReviewState(Strict):
    persona_id: str
    name: str
    segment: str
    status: Literal["draft", "reviewed"]
    total: int
    counts: dict[str, int]
    changed: list[str] = Field(default_factory=list)
    file: str | None = None


class ReviewSummary(Strict):
    """The `--json` payload of every `persona review` command."""

    personas: list[PersonaReviewState] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class FieldChange(Strict):
    """One difference between two versions of a persona (seed 000's quarterly refresh)."""

    persona_id: str
    persona: str
    field: str
    change: Literal["added", "removed", "changed"]
    old: str | None = None
    new: str | None = None


def store_path(workspace: Workspace) -> Path:
    return workspace.review_dir / STORE_FILE


def load_decisions(workspace: Workspace) -> ReviewStore:
    """The stored decisions (an empty store when nobody has reviewed anything yet)."""
    path = store_path(workspace)
    if not path.exists():
        return ReviewStore()
    try:
        return ReviewStore.model_validate(read_json(path))
    except (ValueError, ValidationError) as exc:
        raise InputError(str(path), f"review decisions unreadable: {exc}") from exc


def save_decisions(workspace: Workspace, store: ReviewStore) -> None:
    write_json(store_path(workspace), store)


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """One reviewable field of PersonaDraft, addressed by a dotted path."""

    path: str
    annotation: Any
    kind: Literal["text", "claim", "list", "other"]
    item: Any = None
    optional: bool = False

    @property
    def adapter(self) -> TypeAdapter:
        return _adapter(self.annotation)


_ADAPTERS: dict[str, TypeAdapter] = {}


def _adapter(annotation: Any) -> TypeAdapter:
    key = repr(annotation)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _walk_fields(model: type[BaseModel], prefix: str = "") -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        inner, optional = _unwrap_optional(info.annotation)
        if typing.get_origin(inner) is list:
            specs[path] = FieldSpec(
                path, info.annotation, "list", typing.get_args(inner)[0], optional
            )
        elif inner is str:
            specs[path] = FieldSpec(path, info.annotation, "text", optional=optional)
        elif isinstance(inner, type) and issubclass(inner, Claim):
            specs[path] = FieldSpec(path, info.annotation, "claim", optional=optional)
        elif (
            isinstance(inner, type)
            and issubclass(inner, BaseModel)
            and not issubclass(inner, LEAF_MODELS)
            and not optional
        ):
            specs.update(_walk_fields(inner, f"{path}."))
        else:
            specs[path] = FieldSpec(path, info.annotation, "other", optional=optional)
    return specs


# Derived from the model, so a field the drafter adds is reviewable without touching this file.
FIELDS: dict[str, FieldSpec] = _walk_fields(PersonaDraft)


def field_spec(path: str) -> FieldSpec:
    """The spec of a field path, or a ReviewError that suggests the nearest real path."""
    if path in FIELDS:
        return FIELDS[path]
    raise ReviewError(f"unknown field '{path}'{_suggest(path)}")


def _suggest(path: str) -> str:
    close = difflib.get_close_matches(path, list(FIELDS), n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(repr(c) for c in close)}?"
    return f"; fields are: {', '.join(FIELDS)}"


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _coerce(annotation: Any, raw: Any) -> Any:
    """Let a reviewer write plain text where a Claim or quote is expected."""
    inner, _ = _unwrap_optional(annotation)
    if raw is None:
        return None
    if typing.get_origin(inner) is list:
        item = typing.get_args(inner)[0]
        items = raw if isinstance(raw, list) else [raw]
        return [_coerce(item, r) for r in items]
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        if isinstance(raw, str) and issubclass(inner, Claim):
            return {"text": raw}
        if isinstance(raw, str) and issubclass(inner, PersonaQuote):
            # A quote a reviewer adds has no chunk behind it; reports say so.
            return {"text": raw, "chunk_id": ""}
        if isinstance(raw, dict):
            return {
                k: _coerce(inner.model_fields[k].annotation, v) if k in inner.model_fields else v
                for k, v in raw.items()
            }
    return raw


def parse_value(spec: FieldSpec, raw: Any) -> Any:
    """A reviewer's YAML/CLI value as the field's type (ValidationError if it does not fit)."""
    return spec.adapter.validate_python(_coerce(spec.annotation, raw))


def parse_addition(spec: FieldSpec, raw: Any) -> Any:
    """What `extended` adds: items for a list, text for a text or claim field."""
    if spec.kind == "list":
        return _adapter(list[spec.item]).validate_python(_coerce(list[spec.item], raw))
    if spec.kind in ("text", "claim"):
        if isinstance(raw, dict) and isinstance(raw.get("text"), str):
            raw = raw["text"]
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("the addition must be text")
        return raw.strip()
    raise ValueError(f"field '{spec.path}' cannot be extended; use `corrected` instead")


def extend_value(spec: FieldSpec, base: Any, addition: Any) -> Any:
    """The field after the reviewer's addition; the drafted part keeps its evidence."""
    if spec.kind == "list":
        return [*(base or []), *addition]
    if spec.kind == "text":
        return f"{base or ''} {addition}".strip()
    if base is None:
        return Claim(text=addition)
    return base.model_copy(update={"text": f"{base.text.rstrip()} {addition}"})


def dump_value(spec: FieldSpec, value: Any, compact: bool = False) -> Any:
    """JSON form of a field value; `compact` drops defaults so the YAML stays readable."""
    return spec.adapter.dump_python(value, mode="json", exclude_defaults=compact)


def field_value(draft: PersonaDraft, spec: FieldSpec) -> Any:
    """The typed value of a field in a draft."""
    node: Any = draft
    for part in spec.path.split("."):
        node = getattr(node, part, None)
    return node


# --------------------------------------------------------------------------- applying


def _entry_for(store: ReviewStore, persona: Persona) -> tuple[str, PersonaDecisions] | None:
    """Decisions for a persona: by id, else by segment (a re-draft may mint a new id)."""
    if persona.id in store.personas:
        return persona.id, store.personas[persona.id]
    matches = [
        (key, entry)
        for key, entry in store.personas.items()
        if entry.segment == persona.segment and entry.anti == persona.is_anti_persona
    ]
    return matches[0] if len(matches) == 1 else None


def apply_reviews(personas: list[Persona], decisions: ReviewStore) -> list[Persona]:
    """Put every decided field back as the reviewer left it; undecided fields keep the draft."""
    result = []
    for persona in personas:
        found = _entry_for(decisions, persona)
        if found is None:
            result.append(persona)
            continue
        entry = found[1]
        data = persona.draft.model_dump(mode="json")
        for path, decision in sorted(entry.fields.items()):
            if path in FIELDS:
                _set(data, path, _without_legacy_marker(path, decision))
        try:
            draft = PersonaDraft.model_validate(data)
        except ValidationError:
            # A stored value that no longer fits a changed model is kept in the store, not lost.
            draft = _apply_fieldwise(persona.draft, entry)
        reviewed = entry.marked_reviewed or all(p in entry.fields for p in FIELDS)
        info = persona.document_info.model_copy(
            update={"status": "reviewed" if reviewed else "draft"}
        )
        result.append(persona.model_copy(update={"draft": draft, "document_info": info}))
    return result


# Offline drafts once put their provenance in the name; confirming (or extending) such a name
# confirmed the persona's name, not the marker, which the document's mode line now carries.
LEGACY_OFFLINE_MARKER = re.compile(r" \((anti-persona, )?drafted offline\)")


def _without_legacy_marker(path: str, decision: FieldDecision) -> Any:
    """A stored name decision without the old offline marker; every other value as stored."""
    if path != "name" or decision.decision == "corrected" or not isinstance(decision.value, str):
        return decision.value
    return LEGACY_OFFLINE_MARKER.sub(
        lambda m: " (anti-persona)" if m.group(1) else "", decision.value
    )


def _apply_fieldwise(draft: PersonaDraft, entry: PersonaDecisions) -> PersonaDraft:
    data = draft.model_dump(mode="json")
    for path, decision in sorted(entry.fields.items()):
        if path not in FIELDS:
            continue
        trial = draft.model_dump(mode="json")
        _set(trial, path, _without_legacy_marker(path, decision))
        try:
            PersonaDraft.model_validate(trial)
        except ValidationError:
            continue
        _set(data, path, _without_legacy_marker(path, decision))
    return PersonaDraft.model_validate(data)


def decision_marks(personas: list[Persona], store: ReviewStore) -> dict[str, dict[str, str]]:
    """persona id -> field path -> decision, for the reports' review markers."""
    marks: dict[str, dict[str, str]] = {}
    for persona in personas:
        found = _entry_for(store, persona)
        if found:
            marks[persona.id] = {p: d.decision for p, d in found[1].fields.items()}
    return marks


def decision_additions(personas: list[Persona], store: ReviewStore) -> dict[str, dict[str, Any]]:
    """persona id -> field path -> what an `extended` decision added (text, or the list items).

    Reports show an addition as the reviewer's, apart from the drafted text and its evidence.
    """
    added: dict[str, dict[str, Any]] = {}
    for persona in personas:
        found = _entry_for(store, persona)
        if found:
            extended = {
                p: d.addition
                for p, d in sorted(found[1].fields.items())
                if d.decision == "extended" and d.addition not in (None, "", [])
            }
            if extended:
                added[persona.id] = extended
    return added


def _state(persona: Persona, store: ReviewStore, file: str | None = None) -> PersonaReviewState:
    found = _entry_for(store, persona)
    fields = found[1].fields if found else {}
    counts = {kind: 0 for kind in DECISIONS}
    for path in FIELDS:
        counts[fields[path].decision if path in fields else "pending"] += 1
    return PersonaReviewState(
        persona_id=persona.id,
        name=persona.draft.name,
        segment=persona.segment,
        status=persona.document_info.status,
        total=len(FIELDS),
        counts=counts,
        file=file,
    )


# --------------------------------------------------------------------------- workspace I/O


def _load_personas(workspace: Workspace) -> tuple[dict[str, Any], list[Persona]]:
    if not workspace.personas.exists():
        raise InputError(str(workspace.personas), "no personas yet: run `persona draft` first")
    raw = read_json(workspace.personas)
    if not isinstance(raw, dict):
        raise InputError(str(workspace.personas), "expected an object with a 'personas' list")
    return raw, [Persona.model_validate(p) for p in raw.get("personas", [])]


def _save_personas(workspace: Workspace, raw: dict[str, Any], personas: list[Persona]) -> None:
    # personas.json is rebuildable; rewriting it lets every reader see decisions at once.
    raw = {**raw, "personas": [p.model_dump(mode="json") for p in personas]}
    write_json(workspace.personas, raw)


def _commit(
    workspace: Workspace, raw: dict[str, Any], drafted: list[Persona], store: ReviewStore
) -> list[Persona]:
    """Save the decisions and the personas with them applied; returns the applied personas."""
    personas = apply_reviews(drafted, store)
    for persona in personas:
        found = _entry_for(store, persona)
        if found:
            found[1].name = persona.draft.name
    save_decisions(workspace, store)
    _save_personas(workspace, raw, personas)
    return personas


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


def _entry(store: ReviewStore, persona: Persona) -> PersonaDecisions:
    """The persona's decisions, created if new and re-keyed under its current id."""
    found = _entry_for(store, persona)
    entry = found[1] if found else PersonaDecisions(segment=persona.segment, name="")
    if found and found[0] != persona.id:
        # A re-draft minted a new id: the entry follows the persona from now on.
        del store.personas[found[0]]
    entry.segment, entry.name, entry.anti = (
        persona.segment,
        persona.draft.name,
        persona.is_anti_persona,
    )
    store.personas[persona.id] = entry
    return entry


def _record(
    store: ReviewStore, persona: Persona, path: str, decision: FieldDecision | None
) -> None:
    entry = _entry(store, persona)
    if decision is None:
        entry.fields.pop(path, None)
    else:
        entry.fields[path] = decision


def _decide(
    spec: FieldSpec, kind: str, base: Any, value: Any, addition: Any, source: str
) -> FieldDecision | None:
    """Build the stored decision; raises ValueError/ValidationError on unusable input."""
    if kind == "pending":
        return None
    if kind == "confirmed":
        final = base
    elif kind == "corrected":
        if value is None or value == "" or value == []:
            raise ValueError("`corrected` needs the new value under `value:`")
        final = parse_value(spec, value)
    else:
        if addition is None or addition == "" or addition == []:
            raise ValueError("`extended` needs what to add under `addition:`")
        added = parse_addition(spec, addition)
        final = extend_value(spec, base, added)
        addition = (
            _adapter(list[spec.item]).dump_python(added, mode="json")
            if spec.kind == "list"
            else added
        )
    return FieldDecision(
        decision=kind,  # type: ignore[arg-type]
        value=dump_value(spec, final),
        base=dump_value(spec, base),
        addition=addition if kind == "extended" else None,
        source=source,
    )


def set_field(
    workspace: Workspace,
    persona: str,
    field_path: str,
    *,
    confirm: bool = False,
    correct: str | list[str] | None = None,
    extend: str | list[str] | None = None,
    reset: bool = False,
) -> ReviewSummary:
    """Quick edit from the CLI: confirm, correct or extend one field (or reset it to pending)."""
    actions = [confirm, correct is not None, extend is not None, reset]
    if sum(bool(a) for a in actions) != 1:
        raise ReviewError("give exactly one of --confirm, --correct TEXT, --extend TEXT, --reset")
    spec = field_spec(field_path)
    raw, drafted = _load_personas(workspace)
    store = load_decisions(workspace)
    personas = apply_reviews(drafted, store)
    target = find_persona(personas, persona)
    kind = "confirmed" if confirm else "corrected" if correct is not None else "extended"
    if reset:
        kind = "pending"
    # Repeated CLI flags give lists; a single-valued field takes them as one text.
    if isinstance(correct, list) and spec.kind != "list":
        correct = " ".join(correct)
    if isinstance(extend, list) and spec.kind != "list":
        extend = " ".join(extend)
    try:
        decision = _decide(
            spec, kind, field_value(target.draft, spec), correct, extend, source="cli"
        )
    except (ValueError, ValidationError) as exc:
        raise ReviewError(
            f"{target.draft.name}: field '{field_path}': {_first_error(exc)}"
        ) from exc
    _record(store, target, field_path, decision)
    personas = _commit(workspace, raw, drafted, store)
    updated = next(p for p in personas if p.id == target.id)
    state = _state(updated, store)
    state.changed = [field_path]
    return ReviewSummary(personas=[state])


def mark_reviewed(workspace: Workspace, persona: str, reviewed: bool = True) -> ReviewSummary:
    """Mark a whole persona reviewed (or back to draft) whatever its fields' decisions."""
    raw, drafted = _load_personas(workspace)
    store = load_decisions(workspace)
    target = find_persona(apply_reviews(drafted, store), persona)
    _entry(store, target).marked_reviewed = reviewed
    personas = _commit(workspace, raw, drafted, store)
    states = [_state(p, store) for p in personas if p.id == target.id]
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
    _, drafted = _load_personas(workspace)
    store = load_decisions(workspace)
    return ReviewSummary(personas=[_state(p, store) for p in apply_reviews(drafted, store)])


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"invalid value ({where + ': ' if where else ''}{err['msg']})"
    return str(exc)


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
# Set `status: reviewed` to mark the whole persona reviewed before every field is decided.
# Then run:  persona review apply {file}
#   (a bare file name is looked up in the workspace's review folder; from anywhere:
#    persona review apply {path} -w {root})
"""
VALUE_HINT = {
    "list": '# corrected: the full new list, e.g. ["first", "second"]',
    "text": "# corrected: the new text",
    "claim": "# corrected: the new text",
    "other": "# corrected: the new value",
}
ADDITION_HINT = {
    "list": '# extended: items to add, e.g. ["another"]',
    "text": "# extended: text to append",
    "claim": "# extended: text to append",
    "other": "# (this field cannot be extended)",
}


def _evidence_refs(value: Any) -> list[str]:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key == "evidence" and isinstance(item, list):
                    refs.extend(r for r in item if isinstance(r, str))
                elif key == "chunk_id" and item:
                    refs.append(f"chunk:{item}")
                elif key == "theme_id" and item:
                    refs.append(f"theme:{item}")
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return list(dict.fromkeys(refs))


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=96)


def render_review_file(
    persona: Persona,
    entry: PersonaDecisions | None,
    data: ReportData,
    file_name: str,
    workspace: Workspace | None = None,
) -> str:
    """The editable YAML for one persona: header help, then one commented block per field."""
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
    for spec in FIELDS.values():
        current = field_value(persona.draft, spec)
        decision = entry.fields.get(spec.path) if entry else None
        lines.append("")
        lines.append(f"  # ---- {spec.path} ({spec.kind}) ----")
        for ref in _evidence_refs(dump_value(spec, current)):
            ev = data.resolve(ref)
            if ev.kind == "stat":
                described = ev.detail
            else:
                described = f"{ev.title}; {ev.detail}" + (f' "{ev.quote}"' if ev.quote else "")
            lines.append(f"  #   {ref}: {described}"[:300])
        block = {
            "current": dump_value(spec, current, compact=True),
            "decision": decision.decision if decision else "pending",
            "value": decision.value if decision and decision.decision == "corrected" else None,
            "addition": decision.addition if decision and decision.decision == "extended" else None,
        }
        for text_line in _yaml({spec.path: block}).rstrip().splitlines():
            # Only the block's own keys (indent 2) get hints, never lines inside a value.
            if text_line.startswith("  decision: "):
                text_line += "  # pending | confirmed | corrected | extended"
            elif text_line == "  value: null":
                text_line = "  value:  " + VALUE_HINT[spec.kind]
            elif text_line == "  addition: null":
                text_line = "  addition:  " + ADDITION_HINT[spec.kind]
            lines.append("  " + text_line)
    return "\n".join(lines) + "\n"


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
            raise InputError(str(path), f"unknown field '{name}'{_suggest(str(name))}", line)
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


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_review(workspace: Workspace, force: bool = False) -> list[Path]:
    """Write one editable YAML review file per persona into the review folder.

    A file a reviewer has edited but not yet applied is never overwritten: that raises, and
    with `force` the file is first kept as `<name>.bak`.
    """
    data = load_report_data(workspace)
    store = load_decisions(workspace)
    written: list[Path] = []
    for persona in data.personas:
        name = f"{data.slugs[persona.id]}.yaml"
        path = workspace.review_dir / name
        found = _entry_for(store, persona)
        text = render_review_file(persona, found[1] if found else None, data, name, workspace)
        if path.exists():
            existing = path.read_text(encoding="utf-8")
            record = store.exports.get(name)
            known = {record.sha256, record.applied_sha256} if record else set()
            if existing != text and _sha(existing) not in known:
                if not force:
                    raise ReviewError(
                        f"{path}: has edits that were not applied; run `persona review apply "
                        f"{path}` first, or export with --force (the file is kept as {name}.bak)"
                    )
                write_text_atomic(path.with_name(name + ".bak"), existing)
        write_text_atomic(path, text)
        parsed = parse_review_text(text, path)
        store.exports[name] = ExportRecord(
            persona_id=persona.id,
            sha256=_sha(text),
            status=str(parsed.header.get("status", "draft")),
            fields=parsed.fields,
        )
        written.append(path)
    save_decisions(workspace, store)
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


def apply_review_file(workspace: Workspace, path: Path | str | None = None) -> ReviewSummary:
    """Read review file(s) back: only what the reviewer changed since export is recorded.

    With no path every file in the review folder is read; a file whose persona is no longer in
    personas.json (say an anti-persona a later run did not draft) is skipped with a note, so it
    cannot block the other personas' decisions. A file named explicitly must match a persona.
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
    raw, drafted = _load_personas(workspace)
    store = load_decisions(workspace)
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
        if bulk and _find_for_file(drafted, parsed) is None:
            summary.notes.append(
                f"{file.name}: skipped: persona '{parsed.header.get('persona_id')}' (segment "
                f"'{parsed.header.get('segment')}') is not in personas.json any more; "
                "decisions already recorded for it stay stored; delete the file or re-draft "
                "that persona"
            )
            continue
        parsed_files.append((file, text, parsed))
    for file, text, parsed in parsed_files:
        personas = apply_reviews(drafted, store)
        state = _apply_parsed(store, personas, file, parsed, summary)
        record = store.exports.get(file.name)
        if record and record.persona_id == state.persona_id:
            record.applied_sha256 = _sha(text)
        summary.files.append(str(file))
        summary.personas.append(state)
    personas = _commit(workspace, raw, drafted, store)
    by_id = {p.id: p for p in personas}
    summary.personas = [
        _state(by_id[s.persona_id], store, s.file).model_copy(update={"changed": s.changed})
        for s in summary.personas
    ]
    return summary


def _apply_parsed(
    store: ReviewStore,
    personas: list[Persona],
    file: Path,
    parsed: ParsedReview,
    summary: ReviewSummary,
) -> PersonaReviewState:
    line_of = parsed.lines.get
    persona = _persona_for_file(personas, parsed, file)
    record = store.exports.get(file.name)
    snapshot = record.fields if record and record.persona_id == persona.id else None
    if snapshot is not None and parsed.header.get("draft_hash") != content_hash(
        persona.draft.model_dump(mode="json")
    ):
        summary.notes.append(
            f"{file.name}: exported from an earlier draft; confirmed fields keep the value shown "
            "in the file"
        )
    changed: list[str] = []
    for name, block in parsed.fields.items():
        spec = FIELDS[name]
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
                line_of(f"fields.{name}.current", line_of(f"fields.{name}")),
            )
        kind = block.get("decision") or "pending"
        if kind == "pending" and snapshot is None:
            continue  # a hand-written file's pending says nothing about earlier decisions
        try:
            base = (
                parse_value(spec, block["current"])
                if "current" in block
                else field_value(persona.draft, spec)
            )
            decision = _decide(
                spec, kind, base, block.get("value"), block.get("addition"), f"file:{file.name}"
            )
        except (ValueError, ValidationError) as exc:
            key = {"corrected": "value", "extended": "addition"}.get(kind, "decision")
            raise InputError(
                str(file),
                f"field '{name}': {_first_error(exc)}",
                line_of(f"fields.{name}.{key}", line_of(f"fields.{name}")),
            ) from exc
        _record(store, persona, name, decision)
        changed.append(name)
    status = parsed.header.get("status")
    if status is not None and status not in ("draft", "reviewed"):
        raise InputError(str(file), "status must be 'draft' or 'reviewed'", line_of("status"))
    status_edited = status is not None and (record is None or status != record.status)
    if status_edited and (_entry_for(store, persona) or status == "reviewed"):
        _entry(store, persona).marked_reviewed = status == "reviewed"
        changed.append("status")
    state = _state(persona, store, str(file))
    state.changed = changed
    return state


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
