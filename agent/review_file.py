"""The editable YAML review file: one per persona, every persona field and every part of its
journey map as a block a reviewer confirms, corrects or extends, then `persona review apply`.

Only what the reviewer changed since the export is recorded (the export record keeps what the
file said), and a block someone else decided after the export is refused with its file and line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import refs
from .decisions import (
    FIELDS,
    JOURNEY_FIELDS,
    JOURNEY_PREFIX,
    POSITION,
    STAGE_FIELDS,
    Address,
    Decision,
    DecisionStore,
    ExportRecord,
    FieldSpec,
    JourneyAddress,
    MissingValue,
    PersonaDecisions,
    Reviewed,
    ReviewedJourney,
    ReviewError,
    _stage_of,
    adapter,
    decide,
    dump_value,
    entry,
    entry_for,
    get_path,
    item_key,
    item_kind,
    journey_item_key,
    journey_position,
    journey_spec_for,
    last_hand,
    marked_position,
    now,
    parse_addition,
    parse_address,
    parse_journey_address,
    parse_value,
    position_of,
    put,
    reviewer,
    seen_revision,
    spec_for,
)
from .decisions import edit_store as _edit_store
from .errors import InputError
from .ids import content_hash
from .library import View, load_view
from .models import Persona, Recommendation
from .render.context import ReportData, load_report_data
from .review import (
    DECISIONS,
    PersonaReviewState,
    ReviewSummary,
    Target,
    _states,
    _theme_value,
    check_removable,
    locate_field,
    locate_journey,
    value_error,
)
from .workspace import Workspace, write_text_atomic
from .yamlsafe import NoAliasLoader

__all__ = ["apply_review_file", "export_review", "parse_review_text", "render_review_file"]

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# `removed` takes one list item out; it is not a state a field is counted in.
FILE_DECISIONS = (*DECISIONS, "removed")
HEADER_KEYS = ("persona_id", "segment", "name", "draft_hash", "status", "fields")
BLOCK_KEYS = ("current", "decision", "value", "addition", "comment", "by")


# --------------------------------------------------------------------------- the review file

HEADER = """\
# Review of {name} (segment: {segment})
#
# Every field below can be confirmed or corrected, and most can be extended (a hint says when
# one cannot). For each field set `decision:` to
#   pending    not reviewed yet: the next pipeline run may redraft it
#   confirmed  the current value is right: it is kept as it is from now on
#   corrected  replace it: write the new value under `value:` (a list for list fields)
#   extended   keep it and add to it: write the addition under `addition:`
#   removed    (one list item only) take it out, e.g. a block `pain_points.2:` or
#              `journey.stages.1.pain_points.0:` with `decision: removed`; a removed item
#              stays listed under its list, named by its address (`pain_points[theme:t1]:`):
#              set its `decision:` back to pending to bring it back
# Decided fields are never overwritten by later runs. `current:` shows the draft and is not
# read back: put changes under `value:` or `addition:`. Plain text is fine wherever a claim
# is expected. The comments above each field resolve its evidence ids.
# One list item can be decided on its own: add a block named by its place in `current:`,
# numbered from 0, e.g. `goals.1:` or `pain_points.0.workaround:` (parts of a pain point:
# title, impact, frequency, workaround), with the same keys.
# `comment:` (optional) is kept with the decision; `by:` names the reviewer (default:
# $PERSONA_REVIEWER, else your login name).
# Set `status: reviewed` to mark the whole persona reviewed before every field is decided.
{journey}# Then run:  persona review apply {file}
#   (a bare file name is looked up in the workspace's review folder; from anywhere:
#    persona review apply {path} -w {root})
"""
JOURNEY_HELP = """\
# The journey map follows the persona's fields, in blocks named `journey.`: each stage's parts
# (`journey.stages.0.actions`, stages numbered from 0 as the map shows them), then
# `journey.key_findings` and `journey.recommendations`, decided the same way. One item is
# `journey.stages.0.actions.1`, or a part of a recommendation, `journey.recommendations.0.metric`
# (parts: action, goal, metric). A stage's `pain_points` are themes: confirm them or correct
# them to other themes, by id or by label as the reports show it (an emotion and pain points
# cannot be extended). A journey decision follows its stage and item when the map is
# re-drafted; an extension is added on top of the new draft.
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


RECOMMENDATION_EXAMPLE = '{action: "...", goal: "...", metric: "..."}'
# Journey parts whose shape the persona hints do not describe: (value hint, addition hint).
JOURNEY_HINTS = {
    "themes": (
        '# corrected: themes by id or label, e.g. ["Bank feed drops transactions"]',
        "# (themes cannot be added: correct the list)",
    ),
    "theme": ("# corrected: another theme, by id or label", "# (a theme cannot be extended)"),
    "recommendations": (
        f"# corrected: the full new list, e.g. [{RECOMMENDATION_EXAMPLE}]",
        f"# extended: recommendations to add, e.g. [{RECOMMENDATION_EXAMPLE}]",
    ),
    "recommendation": (
        f"# corrected: {RECOMMENDATION_EXAMPLE}",
        "# (extend one part instead, e.g. a block `journey.recommendations.0.metric:`)",
    ),
    "emotion": ("# corrected: -2 (very negative) to 2 (very positive)", "# (a number: correct it)"),
}


def _journey_hint_kind(spec: FieldSpec) -> str | None:
    """Which JOURNEY_HINTS a journey block takes (None: the persona hints fit)."""
    path = spec.path
    if not path.startswith(JOURNEY_PREFIX):
        return None
    if path.endswith(".pain_points"):
        return "themes"
    if ".pain_points[" in path:
        return "theme"
    if path.endswith(".emotion"):
        return "emotion"
    if spec.kind == "list" and spec.item is Recommendation:
        return "recommendations"
    if spec.annotation is Recommendation:
        return "recommendation"
    return None


def _shown_kind(spec: FieldSpec) -> str:
    """The kind named in a block's title."""
    return {"themes": "themes", "theme": "theme", "emotion": "number"}.get(
        _journey_hint_kind(spec) or "", spec.kind
    )


def hints(spec: FieldSpec) -> tuple[str, str]:
    """The `value:` and `addition:` comments of a block: the shapes a correction and an
    extension take, ones the parser accepts."""
    journey = _journey_hint_kind(spec)
    if journey:
        return JOURNEY_HINTS[journey]
    if spec.kind == "list":
        kind = item_kind(spec)
        return LIST_VALUE_HINTS[kind], LIST_ADDITION_HINTS[kind]
    return VALUE_HINTS[spec.kind], ADDITION_HINTS[spec.kind]


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=96)


Block = tuple[str, Address | JourneyAddress, FieldSpec, Any]
# A journey block's positional name: its list ('journey.stages.0.actions') and the item's index.
JOURNEY_ITEM = re.compile(r"^(?P<field>journey\..+)\.(?P<index>\d+)(?:\.(?P<sub>[a-z_]+))?$")


def _blocks(
    reviewed: Reviewed,
    held: PersonaDecisions | None,
    lineage: dict[str, str],
    journey: ReviewedJourney | None = None,
) -> list[Block]:
    """The file's blocks: every field, each followed by its decided items (by position), then
    the same for every part of the persona's journey map."""
    data = reviewed.persona.draft.model_dump(mode="json")
    items: dict[str, list[Block]] = {}
    removed: dict[str, list[Block]] = {}
    stored = held.active() if held else {}
    for text in sorted(stored):
        if text.startswith(JOURNEY_PREFIX):
            continue  # _journey_blocks
        address = parse_address(text)
        if stored[text].decision == "removed" and address.item is not None:
            # Out of the list, so it has no position: named by its address, shown as it read.
            spec = spec_for(address)
            removed.setdefault(address.field, []).append((text, address, spec, stored[text].base))
            continue
        position = (
            position_of(data, address, lineage) or marked_position(reviewed.marks, text)
            if address.item is not None
            else ""
        )
        if position:
            block = (position, address, spec_for(address), get_path(data, position))
            items.setdefault(address.field, []).append(block)
    fields: list[Block] = [
        (path, Address(path), spec, get_path(data, path)) for path, spec in FIELDS.items()
    ]
    return _with_items(fields, items, removed) + _journey_blocks(journey, held, lineage)


def _journey_blocks(
    journey: ReviewedJourney | None, held: PersonaDecisions | None, lineage: dict[str, str]
) -> list[Block]:
    """Each stage's parts in stage order, then key findings and recommendations, each followed
    by its decided items; names are positions ('journey.stages.0.actions'), as `review set`
    takes them."""
    if journey is None:
        return []
    data = journey.journey.draft.model_dump(mode="json")

    def block(path: str, address: JourneyAddress) -> Block:
        return (
            path,
            address,
            journey_spec_for(address),
            get_path(data, path[len(JOURNEY_PREFIX) :]),
        )

    items: dict[str, list[Block]] = {}
    removed: dict[str, list[Block]] = {}
    stored = held.active() if held else {}
    for text in sorted(stored):
        if not text.startswith(JOURNEY_PREFIX):
            continue
        try:
            address = parse_journey_address(text)
        except ReviewError:
            continue  # a field a later model dropped: stored, not shown
        if stored[text].decision == "removed" and address.inner.item is not None:
            _, prefix = _stage_of(data, address.stage)
            if prefix:  # a stage the map no longer has: its items are not shown either
                spec = journey_spec_for(address)
                removed.setdefault(prefix + address.inner.field, []).append(
                    (text, address, spec, stored[text].base)
                )
            continue
        position = (
            journey_position(data, address, lineage) or marked_position(journey.marks, text)
            if address.inner.item
            else ""
        )
        match = JOURNEY_ITEM.match(position)
        if match:
            items.setdefault(match["field"], []).append(block(position, address))
    addresses = [
        (f"{JOURNEY_PREFIX}stages.{i}.{name}", JourneyAddress(stage["stage"], Address(name)))
        for i, stage in enumerate(data.get("stages") or [])
        for name in STAGE_FIELDS
    ] + [(JOURNEY_PREFIX + name, JourneyAddress(None, Address(name))) for name in JOURNEY_FIELDS]
    return _with_items([block(path, address) for path, address in addresses], items, removed)


def _with_items(
    fields: list[Block], items: dict[str, list[Block]], removed: dict[str, list[Block]]
) -> list[Block]:
    """Each field's block followed by the blocks of its decided items, in list order, then
    those of the items removed from it (by address)."""
    out: list[Block] = []
    for field_block in fields:
        out.append(field_block)
        out.extend(sorted(items.get(field_block[0], []), key=lambda b: _sort_key(b[0])))
        out.extend(removed.get(field_block[0], []))
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
    journey: ReviewedJourney | None = None,
    blocks: list[Block] | None = None,
    pending_only: bool = False,
) -> str:
    """The editable YAML for one persona: header help, then one commented block per field and
    per part of its journey map (`blocks`, when the caller has them already)."""
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
            journey=JOURNEY_HELP if journey else "",
        ).rstrip(),
        "",
    ]
    if pending_only:
        lines[-1:-1] = [
            "# Only the blocks nobody has decided yet are here (`persona review export --pending`);",
            "# decided ones keep their decisions. `persona review export` writes every block.",
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
    if blocks is None:
        blocks = _blocks(reviewed, held, lineage or {}, journey)
    for name, address, spec, current in blocks:
        decision = stored.get(str(address))
        lines.append("")
        stage = (
            f"; stage: {address.stage}"
            if isinstance(address, JourneyAddress) and address.stage is not None
            else ""
        )
        gone = decision is not None and decision.decision == "removed"
        title = f"{_shown_kind(spec)}{stage}" + ("; removed from its list" if gone else "")
        lines.append(f"  # ---- {name} ({title}) ----")
        shown = refs.refs_in(current)
        if _journey_hint_kind(spec) in ("themes", "theme"):
            # A stage's pain points are bare theme ids, not references by shape.
            ids = current if isinstance(current, list) else [current]
            shown = [f"theme:{t}" for t in ids if isinstance(t, str)]
        for ref in shown:
            ev = data.resolve(ref)
            if ev.kind == "stat":
                described = ev.detail
            else:
                described = f"{ev.title}; {ev.detail}" + (f' "{ev.quote}"' if ev.quote else "")
            lines.append(f"  #   {ref}: {described}"[:300])
        if decision is not None:
            lines.append(f"  #   decided: {_provenance(decision)}"[:300])
        if gone:
            # `current:` is the item as it read when removed; `pending` brings it back.
            shown = _typed(spec, current)
            block = {
                "current": current if shown is None else dump_value(spec, shown, compact=True),
                "decision": "removed",
            }
            for text_line in _yaml({name: block}).rstrip().splitlines():
                if text_line.startswith("  decision: "):
                    text_line += "  # removed | pending (brings the item back)"
                lines.append("  " + text_line)
            continue
        typed = None if current is None else spec.adapter.validate_python(current)
        block = {
            "current": dump_value(spec, typed, compact=True),
            "decision": decision.decision if decision else "pending",
            "value": _compact(spec, decision.value)
            if decision and decision.decision == "corrected"
            else None,
            "addition": (
                _compact(spec, decision.addition) if spec.kind == "list" else decision.addition
            )
            if decision and decision.decision == "extended"
            else None,
        }
        for text_line in _yaml({name: block}).rstrip().splitlines():
            # Only the block's own keys (indent 2) get hints, never lines inside a value.
            if text_line.startswith("  decision: "):
                text_line += "  # pending | confirmed | corrected | extended"
            elif text_line == "  value: null":
                text_line = "  value:  " + hints(spec)[0]
            elif text_line == "  addition: null":
                text_line = "  addition:  " + hints(spec)[1]
            lines.append("  " + text_line)
    return "\n".join(lines) + "\n"


def _typed(spec: FieldSpec, value: Any) -> Any:
    """A stored value as its type; one that no longer fits (a removed item whose model changed
    since) is shown as stored."""
    try:
        return spec.adapter.validate_python(value)
    except ValidationError:
        return None


def _compact(spec: FieldSpec, value: Any) -> Any:
    """A stored value as `current:` shows values (defaults left out), when it still fits."""
    try:
        return dump_value(spec, spec.adapter.validate_python(value), compact=True)
    except ValidationError:
        return value


def _provenance(decision: Decision) -> str:
    who = decision.by or "unknown reviewer"
    text = f"{decision.decision} by {who}" + (f" at {decision.at}" if decision.at else "")
    return text + (f"; comment: {decision.comment}" if decision.comment else "")


@dataclass
class ParsedReview:
    header: dict[str, Any]
    fields: dict[str, dict[str, Any]]
    lines: dict[str, int]


def _yaml_hint(problem: str) -> str:
    """What a reviewer editing by hand most likely did, for the parser's two commonest
    complaints."""
    if "mapping values are not allowed" in problem:
        return ' (a value with a colon in it needs quotes: value: "Goal: close by day 3")'
    if "expected <block end>" in problem or "could not find expected ':'" in problem:
        return " (check the indentation: keys of one block start in the same column)"
    return ""


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
        raise InputError(
            str(path), f"not valid YAML: {problem}{_yaml_hint(problem)}", line
        ) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise InputError(str(path), "expected the review file's keys (persona_id, fields, ...)", 1)
    _refuse_duplicate_keys(node, path)
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
        if block.get("decision", "pending") not in FILE_DECISIONS:
            raise InputError(
                str(path),
                f"field '{name}': decision '{block.get('decision')}' is not one of "
                f"{', '.join(FILE_DECISIONS)}",
                lines.get(f"fields.{name}.decision", line),
            )
    header = {k: v for k, v in data.items() if k != "fields"}
    return ParsedReview(header=header, fields=fields, lines=lines)


def _refuse_duplicate_keys(node: yaml.Node, path: Path) -> None:
    """YAML keeps the last of two equal keys; in a review file the first is usually the edit
    (a `decision: corrected` typed above the exported `decision: pending`), so both are refused."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                raise InputError(
                    str(path),
                    f"'{name}' appears twice in one block (lines {seen[name]} and {line}); "
                    "keep one",
                    line,
                )
            seen[name] = line
            _refuse_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, path)


def _block_address(name: str) -> None:
    """Check a block name that is not a plain field: an item by position or by address, or a
    part of the journey map (its stages and items are checked against the map on apply)."""
    if name.startswith(JOURNEY_PREFIX):
        text = re.sub(r"^journey\.stages\.\d+\.", f"{JOURNEY_PREFIX}stages[stage:x].", name)
        text = re.sub(r"\.\d+(?=\.[a-z_]+$|$)", "[x]", text)
        try:
            parse_journey_address(text)
        except ReviewError as exc:
            # Say it with the name as typed, not the placeholder form checked above.
            raise ReviewError(str(exc).replace(f"'{text}'", f"'{name}'")) from exc
        return
    match = POSITION.match(name)
    if match and match["field"] in FIELDS:
        spec = FIELDS[match["field"]]
        if spec.kind != "list":
            raise ReviewError(f"field '{match['field']}' is not a list: it has no items")
        if match["sub"]:
            try:
                parse_address(f"{match['field']}[x].{match['sub']}")
            except ReviewError as exc:
                # Say it with the name as typed, not the placeholder form checked above.
                text = f"'{match['field']}[x].{match['sub']}'"
                raise ReviewError(str(exc).replace(text, f"'{name}'")) from exc
        return
    parse_address(name)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_review(
    workspace: Workspace, force: bool = False, pending_only: bool = False
) -> list[Path]:
    """Write one editable YAML review file per persona into the review folder.

    A file a reviewer has edited but not yet applied is never overwritten: that raises, and
    with `force` the file is first kept as `<name>.bak`. `pending_only` leaves out the blocks
    somebody has decided (apply reads a file with fewer blocks the same way: a block that is
    not there changes nothing).
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
            journey = view.journey_of(persona.id)
            blocks = _blocks(reviewed, held, view.lineage, journey)
            if pending_only:
                stored = held.active() if held else {}
                blocks = [
                    b
                    for b in blocks
                    if (d := stored.get(str(b[1]))) is None or d.decision == "pending"
                ]
            text = render_review_file(
                reviewed, held, data, name, workspace, view.lineage, journey, blocks, pending_only
            )
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
            # The record is what apply compares edits against. This text is our own, so the C
            # loader reads it (the checked, line-keeping parse is for what a person edited):
            # 0.3 s of pure-Python YAML per persona otherwise.
            exported = yaml.load(text, Loader=_FAST_LOADER)
            store.exports[name] = ExportRecord(
                persona_id=persona.id,
                sha256=_sha(text),
                status=str(exported.get("status", "draft")),
                fields=exported.get("fields") or {},
                revs={
                    block: seen_revision(held, address, view.lineage)
                    for block, address, _, _ in blocks
                },
                stages=[s.stage for s in journey.journey.draft.stages] if journey else [],
                drafted=drafted_hash(view, persona.id),
            )
            written.append(path)
    return written


def drafted_hash(view: View, persona_id: str) -> str:
    """A hash of a persona's draft and its journey's as drafted (no decision applied)."""
    persona = next((p for p in view.drafts if p.id == persona_id), None)
    journey = next(
        (
            j
            for j in view.raw.get("journeys") or []
            if isinstance(j, dict) and j.get("persona_id") == persona_id
        ),
        None,
    )
    drafted = persona.draft.model_dump(mode="json") if persona is not None else None
    return content_hash([drafted, journey.get("draft") if journey else None])


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
    name: str,
    persona: Persona,
    snapshot: dict[str, dict[str, Any]] | None,
    view: View,
    stages: list[str] | None = None,
) -> Target:
    """What a block is about: its address, its place in the reviewed draft or journey map, and
    its value there.

    A position ('goals.1', 'journey.stages.0.actions.1') counts in the list as exported
    (`current:` of the list's block in the export record), and a stage number in the stages as
    exported, so a re-draft between export and apply cannot shift it onto another item or
    stage; without a record it counts in the draft as it is now.
    """
    journey = name.startswith(JOURNEY_PREFIX)
    match = (JOURNEY_ITEM if journey else POSITION).match(name)
    if match and snapshot and match["field"] in snapshot:
        listed = snapshot[match["field"]].get("current")
        index = int(match["index"])
        if isinstance(listed, list) and index < len(listed):
            field = match["field"].rsplit(".", 1)[-1]
            key = (
                journey_item_key(field, listed[index], view.lineage)
                if journey
                else item_key(listed[index], view.lineage)
            )
            name = f"{match['field']}[{key}]" + (f".{match['sub']}" if match["sub"] else "")
    if journey:
        stage = re.match(r"^journey\.stages\.(\d+)\.", name)
        if stage and stages and int(stage[1]) < len(stages):
            # The stage as exported, by id: a re-draft may have added or dropped stages since.
            name = f"{JOURNEY_PREFIX}stages[stage:{stages[int(stage[1])]}].{name[stage.end() :]}"
        return locate_journey(view, persona, name)
    return locate_field(view, persona, name)


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
    record = _export_record(store, file, parsed, persona)
    snapshot = record.fields if record is not None else None
    # The header's draft_hash is of the reviewed persona, which a colleague's decisions change
    # too; the record knows the drafts themselves (records from before it: the header).
    redrafted = (
        record.drafted != drafted_hash(view, persona.id)
        if record is not None and record.drafted
        else parsed.header.get("draft_hash") != content_hash(persona.draft.model_dump(mode="json"))
    )
    if snapshot is not None and redrafted:
        summary.notes.append(
            f"{file.name}: exported from an earlier draft; confirmed fields keep the value shown "
            "in the file"
        )
    found = entry_for(store, persona)
    held = found[1] if found else None
    decided: list[tuple[str, Address | JourneyAddress, Decision]] = []
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
        given = [k for k in ("value", "addition") if block.get(k) is not None]
        if kind in ("pending", "confirmed", "removed") and given:
            what = {
                "pending": "empty it to reset the field",
                "confirmed": "empty it to keep the value shown under `current:`",
                "removed": "empty it to remove the item",
            }[kind]
            raise InputError(
                str(file),
                f"field '{name}': `{given[0]}:` is filled in but `decision:` is {kind}, so it "
                "would be ignored: set `decision: corrected` (for value) or `extended` (for "
                f"addition), or {what}",
                line_of(f"fields.{name}.{given[0]}", where),
            )
        if kind == "pending" and snapshot is None:
            continue  # a hand-written file's pending says nothing about earlier decisions
        try:
            target = _block_target(
                name, persona, snapshot, view, record.stages if record is not None else None
            )
        except ReviewError as exc:
            raise InputError(str(file), str(exc), where) from exc
        address, position, spec = target.address, target.position, target.spec
        stored_now = held.fields.get(str(address)) if held is not None else None
        expected = record.revs.get(name) if record is not None else None
        who = reviewer(block.get("by") or by)
        if address.item is not None and not position and kind != "pending":
            gone = stored_now is not None and stored_now.decision == "removed"
            newer = _someone_elses(held, address, view, expected, file, who)
            if gone and newer:
                raise _conflict(file, name, newer, where)
            raise InputError(
                str(file),
                f"'{name}': that item was removed from its list; set `decision: pending` to "
                "bring it back, apply, then decide it"
                if gone
                else f"'{name}': that item is not in the current draft any more",
                line_of(f"fields.{name}.decision", where) if gone else where,
            )
        key = {"corrected": "value", "extended": "addition"}.get(kind, "decision")
        try:
            # `current:` is read only from a block this file was exported with (the value the
            # reviewer saw); in a block they wrote themselves it is not the draft's.
            exported = snapshot is not None and name in snapshot and "current" in block
            base = parse_value(spec, block["current"]) if exported else target.current
            addition = block.get("addition")
            stored = held.fields.get(str(address)) if held is not None else None
            if (
                kind == "extended"
                and exported
                and snapshot is not None
                and snapshot[name].get("decision") == "extended"
                and stored is not None
                and stored.decision == "extended"
            ):
                # The block showed the earlier additions under `addition:` and its `current:`
                # includes them: what is added is what the reviewer wrote after them.
                base, addition = _past_earlier_additions(spec, stored, addition)
                if _empty_addition(addition):
                    continue  # nothing added to what the store holds already
            value = block.get("value")
            if kind == "removed":
                check_removable(target)
            if target.theme_ids is not None:
                value = _theme_value(target, kind, value)
            decision = decide(
                spec,
                kind,
                base,
                value=value,
                addition=addition,
                source=f"file:{file.name}",
                by=who,
                at=now(),
                comment=str(block.get("comment") or ""),
            )
        except ReviewError as exc:
            raise InputError(str(file), str(exc), line_of(f"fields.{name}.{key}", where)) from exc
        except MissingValue as exc:
            wanted = "the new value" if kind == "corrected" else "what to add"
            raise InputError(
                str(file),
                f"field '{name}': `{kind}` needs {wanted} under `{key}:`",
                line_of(f"fields.{name}.{key}", where),
            ) from exc
        except (ValueError, ValidationError) as exc:
            raise InputError(
                str(file),
                f"field '{name}': {value_error(spec, exc)}",
                line_of(f"fields.{name}.{key}", where),
            ) from exc
        stored = held.fields.get(str(address)) if held is not None else None
        if _unchanged(stored, decision, block):
            continue  # what the store holds already (a re-applied file, or a copy of one)
        newer = _someone_elses(held, address, view, expected, file, who)
        if newer:
            raise _conflict(file, name, newer, where)
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


def _past_earlier_additions(spec: FieldSpec, stored: Decision, raw: Any) -> tuple[Any, Any]:
    """(base, addition) of an extended block whose `addition:` the export filled in with the
    store's additions: items or text written after those are added on top of them (and stay
    theirs); an `addition:` that drops or rewrites them replaces the extension, on the draft."""
    if _empty_addition(raw):
        return parse_value(spec, stored.base), raw  # decide says what is missing
    added = parse_addition(spec, raw)
    before = stored.addition
    if spec.kind == "list":
        added = adapter(list[spec.item]).dump_python(added, mode="json")
        if isinstance(before, list) and added[: len(before)] == before:
            return parse_value(spec, stored.value), added[len(before) :]
    elif isinstance(before, str) and added.startswith(before):
        return parse_value(spec, stored.value), added[len(before) :].strip()
    return parse_value(spec, stored.base), added


def _empty_addition(value: Any) -> bool:
    return value is None or value == "" or value == []


def _export_record(
    store: DecisionStore, file: Path, parsed: ParsedReview, persona: Persona
) -> ExportRecord | None:
    """The export a review file was written by: its own name's, else (a renamed or copied
    file) the persona's export whose blocks show the same `current:` values."""
    named = store.exports.get(file.name)
    if named is not None and named.persona_id == persona.id:
        return named
    for name in sorted(store.exports):
        found = store.exports[name]
        if found.persona_id != persona.id:
            continue
        shared = [n for n in parsed.fields if n in found.fields]
        if shared and all(
            found.fields[n].get("current") == parsed.fields[n].get("current") for n in shared
        ):
            return found
    return None


def _unchanged(stored: Decision | None, new: Decision, block: dict[str, Any]) -> bool:
    """Does a block say what the store holds already (its decision and value; a comment only
    when the block gives one)?"""
    if stored is None or stored.decision != new.decision:
        return False
    if new.decision == "extended":
        same = stored.addition == new.addition
    elif new.decision == "pending":
        same = True
    else:
        same = stored.value == new.value
    comment = str(block.get("comment") or "")
    return same and (not comment or " ".join(comment.split()) == stored.comment)


def _someone_elses(
    held: PersonaDecisions | None,
    address: Address | JourneyAddress,
    view: View,
    expected: int | None,
    file: Path,
    who: str,
) -> list[str]:
    """The decisions on or around a block made since its export by anyone but this reviewer
    working from this very file (applied, edited again, applied again), described.

    A copy of the file applied by another reviewer has the same name, so the name alone does
    not tell. A confirmation or extension recorded on top of a colleague's words is the last
    hand on that decision: it counts as this reviewer's when they made it (the store keeps no
    source for it, only who).
    """
    if expected is None:
        return []
    out = []
    for text, d in _related(held, address, view):
        if d.rev <= expected:
            continue
        hand, source = last_hand(d)
        if hand == who and source in (f"file:{file.name}", ""):
            continue
        out.append(text)
    return out


def _conflict(file: Path, name: str, newer: list[str], where: int | None) -> InputError:
    """The refusal of a block someone else decided after the export (file and line named)."""
    return InputError(
        str(file),
        f"'{name}' was decided by someone else after this file was exported "
        f"({'; '.join(newer)}); nothing from this file was recorded. Export again "
        "(keep your edits with --force) and redo this field",
        where,
    )


def _related(
    held: PersonaDecisions | None, address: Address | JourneyAddress, view: View
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
