"""The decision store: what a human decided about each persona field, list item and theme.

`review/decisions.json` is the one file in a workspace that cannot be rebuilt from the inputs.
This module is the bottom layer every reader and writer shares (drafting, the reports, the CLI's
`persona review`, `persona serve`):

- the models, loaded through a list of versioned migrations (simonw/llm's migrations list is the
  model: MIGRATIONS[i] turns version i+1 into i+2, and every old file reads losslessly);
- addresses: a field (`goals`), one list item (`goals[c:1a2b3c4d]`, `pain_points[theme:t1]`) or
  a part of an item (`pain_points[theme:t1].workaround`); items are keyed by their content (a
  pain point by its theme), never by position, so a decision follows its item through re-drafts;
- `record` with an expected revision: an edit made against an older view of the same field or
  item is refused with what changed (optimistic concurrency; nothing is overwritten);
- per-decision provenance: reviewer, UTC time (SOURCE_DATE_EPOCH when set), comment, source;
- a pure `apply_decisions` (drafts + decisions -> the reviewed view, with a mark per field and
  item saying who wrote it), applied when reading: only drafting writes personas.json;
- `forget_sources`, so a withdrawn interview's words leave the decisions too;
- theme renames and merges keyed by theme id, followed through ThemeReport.lineage.
"""

from __future__ import annotations

import getpass
import os
import re
import threading
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from . import refs
from .errors import InputError, PersonaError
from .ids import content_hash
from .models import (
    Claim,
    JourneyDraft,
    JourneyMap,
    JourneyStageEntry,
    Persona,
    PersonaDraft,
    PersonaPainPoint,
    PersonaQuote,
    Recommendation,
    Strict,
)
from .workspace import Workspace, read_json, write_json, write_text_atomic

DecisionKind = Literal["confirmed", "corrected", "extended", "removed", "pending"]
KINDS = ("confirmed", "corrected", "extended", "removed")
STORE_FILE = "decisions.json"
LOCK_FILE = ".decisions.lock"
# Offline drafts write this where the evidence says nothing (offline_draft.NOT_IN_EVIDENCE);
# a reviewer who extends such a placeholder replaces it.
PLACEHOLDER_PREFIX = "Not in the evidence pack"


class ReviewError(PersonaError):
    """A review command cannot be carried out (unknown persona or field, bad value)."""


class MissingValue(ValueError):
    """A correction without its new value, or an extension without what to add."""


class ConflictError(ReviewError):
    """Someone else decided the same field or item since the editor loaded it."""

    def __init__(self, message: str, current: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.current = current


# --------------------------------------------------------------------------- models


class Stamp(Strict):
    """Who did something to a decided value, when, and why."""

    by: str = ""
    at: str = ""
    comment: str = ""


class Extension(Stamp):
    """An earlier reviewer's extension that a later one extended again: their part of it."""

    addition: Any = None


class Decision(Strict):
    """A reviewer's word on one field or item; `value` is its final value, as JSON.

    `pending` is a reset kept as a record, so an editor who saw the earlier decision learns
    that it was withdrawn, and by whom.
    """

    decision: DecisionKind
    value: Any = None
    base: Any = None
    addition: Any = None
    source: str = ""
    by: str = ""
    at: str = ""
    comment: str = ""
    rev: int = 0
    # A colleague's confirmation of a reviewer's own words (a correction or an extension):
    # the words stay theirs, the confirmation is recorded on top.
    confirmation: Stamp | None = None
    # Extensions of the same field before this one, oldest first: `addition` holds every
    # reviewer's additions in order, and these say whose the first ones are.
    earlier: list[Extension] = Field(default_factory=list)
    # Colleagues' extensions of a reviewer's correction, oldest first: the corrected words stay
    # the corrector's, `addition` holds what the extenders added (in order) and these say whose.
    extensions: list[Extension] = Field(default_factory=list)


class PersonaDecisions(Strict):
    """All decisions on one persona; matched by id, else by segment on a re-draft."""

    segment: str
    name: str
    anti: bool = False
    marked_reviewed: bool = False
    marked_by: str = ""
    marked_at: str = ""
    fields: dict[str, Decision] = Field(default_factory=dict)

    def active(self) -> dict[str, Decision]:
        """The decisions in force (resets left out)."""
        return {a: d for a, d in self.fields.items() if d.decision != "pending"}


class ExportRecord(Strict):
    """What a review file said when it was written, to tell a reviewer's edits from the export."""

    persona_id: str
    sha256: str
    applied_sha256: str | None = None
    status: str = "draft"
    fields: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Revision of each block's field when exported: an edit to a field someone has changed
    # since is refused instead of overwriting their decision.
    revs: dict[str, int] = Field(default_factory=dict)
    # The journey's stage ids in the order exported: a block `journey.stages.3.emotion` means
    # the stage that was fourth then, even if a re-draft has changed the stages since.
    stages: list[str] = Field(default_factory=list)
    # Hash of the persona's and its journey's drafts (personas.json, before any decision) when
    # exported: a re-draft since changes it, a colleague's decisions do not.
    drafted: str = ""


class ThemeDecision(Strict):
    """A reviewer's rename of a theme, or its merge into another (by theme id)."""

    label: str | None = None
    merged_into: str | None = None
    by: str = ""
    at: str = ""
    comment: str = ""
    rev: int = 0


class DecisionStore(Strict):
    """review/decisions.json."""

    version: int = 3
    revision: int = 0
    personas: dict[str, PersonaDecisions] = Field(default_factory=dict)
    themes: dict[str, ThemeDecision] = Field(default_factory=dict)
    exports: dict[str, ExportRecord] = Field(default_factory=dict)


class ThemeDecisions(Strict):
    """Current theme renames and merges, keyed by current theme id (lineage followed)."""

    renames: dict[str, str] = Field(default_factory=dict)
    merges: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------------- migrations


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 kept field decisions without provenance; v2 adds reviewer, time, comment, a revision
    per decision and theme decisions. Nothing v1 held is dropped: provenance is unknown ('')."""
    rev = 0
    personas: dict[str, Any] = {}
    for pid in sorted(data.get("personas") or {}):
        entry = dict(data["personas"][pid])
        fields = {}
        for path in sorted(entry.get("fields") or {}):
            rev += 1
            fields[path] = {"by": "", "at": "", "comment": "", **entry["fields"][path], "rev": rev}
        entry["fields"] = fields
        personas[pid] = entry
    return {**data, "version": 2, "revision": rev, "personas": personas, "themes": {}}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v3 adds a confirmation on top of a reviewer's words, earlier extenders of an extended
    field and the `removed` decision; a v2 file has none of them, so it reads as it is. The
    number tells an older persona-agent that it cannot read what this one writes."""
    return {**data, "version": 3}


# MIGRATIONS[i] turns a version i+1 file into version i+2; append, never edit.
MIGRATIONS: list[Callable[[dict[str, Any]], dict[str, Any]]] = [_v1_to_v2, _v2_to_v3]
CURRENT_VERSION = len(MIGRATIONS) + 1


def migrate(data: dict[str, Any], where: str = STORE_FILE) -> dict[str, Any]:
    """Bring a stored store up to CURRENT_VERSION (a file without `version` is version 1)."""
    version = data.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise InputError(where, f"review decisions: unknown version {version!r}")
    if version > CURRENT_VERSION:
        raise InputError(
            where,
            f"review decisions are version {version}, written by a newer persona-agent "
            f"(this one reads up to {CURRENT_VERSION}); upgrade persona-agent",
        )
    for step in MIGRATIONS[version - 1 :]:
        data = step(data)
    return data


# --------------------------------------------------------------------------- load / save


def store_path(workspace: Workspace) -> Path:
    return workspace.review_dir / STORE_FILE


def load_store(workspace: Workspace) -> DecisionStore:
    """The stored decisions (an empty store when nobody has reviewed anything yet)."""
    path = store_path(workspace)
    if not path.exists():
        return DecisionStore()
    try:
        raw = read_json(path)
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        return DecisionStore.model_validate(migrate(raw, str(path)))
    except (ValueError, ValidationError) as exc:
        raise InputError(str(path), f"review decisions unreadable: {exc}") from exc


def save_store(workspace: Workspace, store: DecisionStore) -> None:
    store.version = CURRENT_VERSION
    write_json(store_path(workspace), store)


# One writer at a time: a thread lock for `persona serve`'s request threads, an advisory file
# lock for separate processes (the CLI next to a running server).
_THREAD_LOCK = threading.RLock()


@contextmanager
def _locked(workspace: Workspace) -> Iterator[None]:
    with _THREAD_LOCK:
        workspace.review_dir.mkdir(parents=True, exist_ok=True)
        with (workspace.review_dir / LOCK_FILE).open("a") as fh:
            try:
                import fcntl
            except ImportError:  # Windows: the thread lock still covers one server process
                yield
                return
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def edit_store(workspace: Workspace) -> Iterator[DecisionStore]:
    """Load, change and save the store under the lock; nothing is saved if the block raises."""
    with _locked(workspace):
        store = load_store(workspace)
        before = store.model_dump(mode="json")
        yield store
        if store.model_dump(mode="json") != before or store.version != CURRENT_VERSION:
            save_store(workspace, store)


# --------------------------------------------------------------------------- provenance


def now() -> str:
    """UTC now as ISO 8601 to the second; SOURCE_DATE_EPOCH when set (reproducible runs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def reviewer(name: str | None = None) -> str:
    """Who is deciding: the name given, else $PERSONA_REVIEWER, else the login name."""
    for candidate in (name, os.environ.get("PERSONA_REVIEWER")):
        if candidate and candidate.strip():
            return " ".join(candidate.split())
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """A reviewable target of PersonaDraft: a field, one list item, or a part of one item."""

    path: str
    annotation: Any
    kind: Literal["text", "claim", "list", "quote", "pain", "other"]
    item: Any = None
    optional: bool = False

    @property
    def adapter(self) -> TypeAdapter:
        return adapter(self.annotation)


_ADAPTERS: dict[str, TypeAdapter] = {}


def adapter(annotation: Any) -> TypeAdapter:
    key = repr(annotation)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


# Models reviewed as one value each (as a field); every other nested model is walked.
LEAF_MODELS: tuple[type[BaseModel], ...] = (Claim, PersonaQuote, PersonaPainPoint)


def _kind_of(annotation: Any) -> str:
    inner, _ = unwrap_optional(annotation)
    if typing.get_origin(inner) is list:
        return "list"
    if inner is str:
        return "text"
    if isinstance(inner, type) and issubclass(inner, Claim):
        return "claim"
    if isinstance(inner, type) and issubclass(inner, PersonaQuote):
        return "quote"
    if isinstance(inner, type) and issubclass(inner, PersonaPainPoint):
        return "pain"
    return "other"


def item_kind(spec: FieldSpec) -> str:
    """What a list field holds: 'pain' points, 'quote's, or 'claim's (text)."""
    item = spec.item
    if isinstance(item, type) and issubclass(item, PersonaPainPoint):
        return "pain"
    if isinstance(item, type) and issubclass(item, PersonaQuote):
        return "quote"
    return "claim"


def _walk_fields(model: type[BaseModel], prefix: str = "") -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        inner, optional = unwrap_optional(info.annotation)
        kind = _kind_of(info.annotation)
        if kind == "list":
            specs[path] = FieldSpec(path, info.annotation, "list", typing.get_args(inner)[0])
        elif (
            kind == "other"
            and isinstance(inner, type)
            and issubclass(inner, BaseModel)
            and not optional
        ):
            specs.update(_walk_fields(inner, f"{path}."))
        else:
            specs[path] = FieldSpec(path, info.annotation, kind, optional=optional)  # type: ignore[arg-type]
    return specs


# Derived from the model, so a field the drafter adds is reviewable without touching this file.
FIELDS: dict[str, FieldSpec] = _walk_fields(PersonaDraft)
# The parts of a list item that can be decided on their own.
ITEM_PARTS: dict[str, tuple[str, ...]] = {
    "pain": tuple(f for f in PersonaPainPoint.model_fields if f != "theme_id"),
}


# --------------------------------------------------------------------------- addresses

ADDRESS = re.compile(
    r"^(?P<field>[a-z_]+(?:\.[a-z_]+)*?)(?:\[(?P<item>[^\]]+)\](?:\.(?P<sub>[a-z_]+))?)?$"
)
POSITION = re.compile(r"^(?P<field>[a-z_]+(?:\.[a-z_]+)*?)\.(?P<index>\d+)(?:\.(?P<sub>[a-z_]+))?$")


@dataclass(frozen=True)
class Address:
    """A field, one of its list items (by content key), or a part of that item."""

    field: str
    item: str | None = None
    sub: str | None = None

    def __str__(self) -> str:
        text = self.field
        if self.item is not None:
            text += f"[{self.item}]"
        if self.sub is not None:
            text += f".{self.sub}"
        return text

    def overlaps(self, other: Address) -> bool:
        """Does one contain the other (a field and its items, an item and its parts)?"""
        if self.field != other.field:
            return False
        if self.item is None or other.item is None:
            return True
        if self.item != other.item:
            return False
        return self.sub is None or other.sub is None or self.sub == other.sub

    def normal(self, lineage: Mapping[str, str]) -> Address:
        """The same address with a theme item key followed through lineage."""
        if self.item is None:
            return self
        parsed = refs.parse(self.item)
        if parsed.kind != "theme":
            return self
        return replace(self, item=refs.theme(refs.follow(parsed.key, lineage)))


def parse_address(text: str) -> Address:
    """'pain_points[theme:t1].workaround' -> Address; a ReviewError naming the real fields."""
    match = ADDRESS.match(text.strip())
    if not match or match["field"] not in FIELDS:
        field = match["field"] if match else text
        raise ReviewError(f"unknown field '{text}'{suggest(field)}")
    address = Address(match["field"], match["item"], match["sub"])
    spec = FIELDS[address.field]
    if address.item is not None and spec.kind != "list":
        raise ReviewError(f"field '{address.field}' is not a list: it has no items")
    _check_part(text, address, ITEM_PARTS.get(_kind_of(spec.item), ()))
    return address


def _nth(target: str, field: str, items: Sequence[Any], index: int) -> Any:
    """Item `index` of a list field, or a ReviewError saying how the items are numbered."""
    if index >= len(items):
        if not items:
            raise ReviewError(f"'{target}': {field} has no items (decide the list as a whole)")
        raise ReviewError(
            f"'{target}': {field} has {len(items)} item(s), numbered from 0 to {len(items) - 1}"
        )
    return items[index]


def _check_part(text: str, address: Address, parts: Sequence[str]) -> None:
    """A ReviewError when the address names a part its items do not have."""
    if address.sub is not None and address.sub not in parts:
        allowed = ", ".join(parts) if parts else "none: decide the item as a whole"
        raise ReviewError(
            f"'{text}': {address.field} items have no part '{address.sub}' (parts: {allowed})"
        )


def suggest(path: str) -> str:
    """'; did you mean 'goals.0'?' for 'goal.0': the close field names, with the rest of the
    path the user typed (an item's position, key or part) kept."""
    import difflib

    head = re.match(r"[^.\[]*", path)
    name = head.group() if head else path
    rest = path[len(name) :]
    if name in FIELDS and rest:
        # The field is right: what follows it is not an item's number, key or part.
        if FIELDS[name].kind != "list":
            return f"; '{name}' is not a list: it has no items"
        return f"; {name} items are numbered from 0 ('{name}.0', '{name}.1', ...)"
    # An item (".0", "[theme:...]") only exists in a list field.
    names = [f for f, spec in FIELDS.items() if spec.kind == "list" or not rest]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(repr(c + rest) for c in close)}?"
    return f"; fields are: {', '.join(FIELDS)}"


def spec_for(address: Address) -> FieldSpec:
    """The spec of what an address names: the field, one of its items, or an item's part."""
    spec = FIELDS[address.field]
    if address.item is None:
        return spec
    if address.sub is None:
        return FieldSpec(str(address), spec.item, _kind_of(spec.item))  # type: ignore[arg-type]
    info = spec.item.model_fields[address.sub]
    _, optional = unwrap_optional(info.annotation)
    return FieldSpec(str(address), info.annotation, _kind_of(info.annotation), optional=optional)  # type: ignore[arg-type]


def item_key(item: Any, lineage: Mapping[str, str] | None = None) -> str:
    """The content key of a list item (JSON): a pain point by its theme, others by their text."""
    if isinstance(item, dict):
        theme_id = item.get("theme_id")
        if isinstance(theme_id, str) and theme_id:
            return refs.theme(refs.follow(theme_id, lineage or {}))
        if "chunk_id" in item:
            return "q:" + content_hash([item.get("chunk_id", ""), item.get("text", "")], 8)
        if "title" in item:
            return "p:" + content_hash(str(item.get("title", "")), 8)
        return "c:" + content_hash(str(item.get("text", "")), 8)
    return "s:" + content_hash(str(item), 8)


def _same_key(a: str, b: str, lineage: Mapping[str, str]) -> bool:
    if a == b:
        return True
    pa, pb = refs.parse(a), refs.parse(b)
    return pa.kind == pb.kind == "theme" and refs.follow(pa.key, lineage) == refs.follow(
        pb.key, lineage
    )


def get_path(data: Any, path: str) -> Any:
    """A value inside JSON by dotted path; list indexes are numbers ('goals.2.text')."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value


def resolve_target(
    draft: PersonaDraft | dict[str, Any], target: str, lineage: Mapping[str, str] | None = None
) -> tuple[Address, str]:
    """An address and the positional path it has in this draft, from either form.

    'pain_points.0.workaround' (a position in the draft as shown) and
    'pain_points[theme:t1].workaround' (the stored form) both work; the position is where the
    item sits now ('' when an addressed item is not in the draft).
    """
    data = draft.model_dump(mode="json") if isinstance(draft, BaseModel) else draft
    text = target.strip()
    if text in FIELDS:
        return Address(text), text
    match = POSITION.match(text)
    if match and match["field"] in FIELDS:
        field, index = match["field"], int(match["index"])
        spec = FIELDS[field]
        if spec.kind != "list":
            raise ReviewError(f"field '{field}' is not a list: it has no items")
        item = _nth(text, field, get_path(data, field) or [], index)
        # A part is checked as typed, so the message names it as the user wrote it.
        _check_part(text, Address(field, "", match["sub"]), ITEM_PARTS.get(_kind_of(spec.item), ()))
        address = parse_address(
            f"{field}[{item_key(item, lineage)}]" + (f".{match['sub']}" if match["sub"] else "")
        )
        return address, _position(address, index)
    address = parse_address(text)
    return address, position_of(data, address, lineage)


def _position(address: Address, index: int) -> str:
    return f"{address.field}.{index}" + (f".{address.sub}" if address.sub else "")


def position_of(data: dict[str, Any], address: Address, lineage: Mapping[str, str] | None) -> str:
    """Where an address sits in a draft (JSON): its positional path, or '' if absent."""
    if address.item is None:
        return address.field
    for i, item in enumerate(get_path(data, address.field) or []):
        if _same_key(item_key(item, lineage), address.item, lineage or {}):
            return _position(address, i)
    return ""


def marked_position(marks: Mapping[str, Mark], address: str) -> str:
    """Where the decision stored at `address` put its value in a reviewed view ('' if nowhere):
    an item a reviewer reworded no longer has the content key its decision is stored under."""
    return next((p for p, m in sorted(marks.items()) if m.address == address), "")


_Addressed = typing.TypeVar("_Addressed", "Address", "JourneyAddress")


def reworded_item(
    marks: Mapping[str, Mark],
    address: _Addressed,
    position: str,
    parse: Callable[[str], _Addressed],
) -> _Addressed:
    """The address a decision about the item at `position` belongs under.

    An item is found by the content key of its words, and a reviewer's correction (or
    extension) of the item changes its words: deciding on it again by position must replace
    that decision, not start a second one beside it under the new words' key.
    """
    sub = address.inner.sub if isinstance(address, JourneyAddress) else address.sub
    if not position or address.item is None:
        return address
    mark = marks.get(position.removesuffix(f".{sub}") if sub else position)
    if mark is None or mark.kind not in ("corrected", "extended"):
        return address
    found = parse(mark.address)
    inner = found.inner if isinstance(found, JourneyAddress) else found
    if inner.item is None or inner.sub is not None:
        return address  # a whole-field decision, or one about a part of the item
    return parse(mark.address + (f".{sub}" if sub else ""))


# --------------------------------------------------------------------------- values


def is_placeholder(value: Any) -> bool:
    """A drafted stand-in for missing evidence (JSON or model), which a reviewer's words replace."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return (
        isinstance(value, dict)
        and bool(value.get("assumption"))
        and not value.get("evidence")
        and str(value.get("text", "")).startswith(PLACEHOLDER_PREFIX)
    )


def coerce(annotation: Any, raw: Any) -> Any:
    """Let a reviewer write plain text where a claim or quote is expected."""
    inner, _ = unwrap_optional(annotation)
    if raw is None:
        return None
    if typing.get_origin(inner) is list:
        item = typing.get_args(inner)[0]
        items = raw if isinstance(raw, list) else [raw]
        return [coerce(item, r) for r in items]
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        if isinstance(raw, str) and issubclass(inner, Claim):
            return {"text": raw}
        if isinstance(raw, str) and issubclass(inner, PersonaQuote):
            # A quote a reviewer adds has no chunk behind it; reports say so.
            return {"text": raw, "chunk_id": ""}
        if isinstance(raw, dict):
            out = {
                k: coerce(inner.model_fields[k].annotation, v) if k in inner.model_fields else v
                for k, v in raw.items()
            }
            if issubclass(inner, PersonaPainPoint):
                out.setdefault("theme_id", "")  # a reviewer's own pain point has no theme
            return out
    return raw


def parse_value(spec: FieldSpec, raw: Any) -> Any:
    """A reviewer's YAML/CLI/web value as the target's type (ValidationError if it does not fit)."""
    return spec.adapter.validate_python(coerce(spec.annotation, raw))


def dump_value(spec: FieldSpec, value: Any, compact: bool = False) -> Any:
    """JSON form of a value; `compact` drops defaults so the YAML stays readable."""
    return spec.adapter.dump_python(value, mode="json", exclude_defaults=compact)


def parse_addition(spec: FieldSpec, raw: Any) -> Any:
    """What `extended` adds: items for a list, text for a text or claim."""
    if spec.kind == "list":
        return adapter(list[spec.item]).validate_python(coerce(list[spec.item], raw))
    if spec.kind in ("text", "claim"):
        if isinstance(raw, dict) and isinstance(raw.get("text"), str):
            raw = raw["text"]
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("the addition must be text")
        return raw.strip()
    if spec.kind == "pain":
        parts = ", ".join(ITEM_PARTS["pain"])
        raise ValueError(f"extend one part of the pain point instead ({parts})")
    if spec.kind == "quote":
        raise ValueError("a quote is verbatim: correct it, or add a quote to the list")
    raise ValueError(f"'{spec.path}' cannot be extended: correct it instead")


def extend_value(spec: FieldSpec, base: Any, addition: Any) -> Any:
    """The value after the reviewer's addition; drafted parts keep their evidence, placeholders go."""
    if spec.kind == "list":
        kept = [item for item in (base or []) if not is_placeholder(item)]
        return [*kept, *addition]
    if spec.kind == "text":
        return f"{base or ''} {addition}".strip()
    if base is None or is_placeholder(base):
        return Claim(text=addition)
    return base.model_copy(update={"text": f"{base.text.rstrip()} {addition}"})


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def decide(
    spec: FieldSpec,
    kind: str,
    base: Any,
    *,
    value: Any = None,
    addition: Any = None,
    source: str = "",
    by: str = "",
    at: str = "",
    comment: str = "",
) -> Decision:
    """Build a decision from the target's current (typed) value and the reviewer's input.

    Raises ValueError/ValidationError on unusable input; `pending` gives a reset record.
    """
    stamp = {"source": source, "by": by, "at": at, "comment": " ".join(comment.split())}
    if kind == "pending":
        return Decision(decision="pending", **stamp)
    if kind == "removed":
        # The item as it read when removed, so a conflict message can say what went.
        return Decision(decision="removed", base=dump_value(spec, base), **stamp)
    if kind == "confirmed":
        final = base
    elif kind == "corrected":
        if _empty(value):
            raise MissingValue("a correction needs the new value")
        final = parse_value(spec, value)
    elif kind == "extended":
        if _empty(addition):
            raise MissingValue("an extension needs what to add")
        added = parse_addition(spec, addition)
        final = extend_value(spec, base, added)
        if spec.kind == "list":
            addition = adapter(list[spec.item]).dump_python(added, mode="json")
        elif is_placeholder(base):
            addition = None  # the reviewer's words replace the placeholder: all of it is theirs
        else:
            addition = added
    else:
        raise ValueError(f"decision '{kind}' is not one of pending, {', '.join(KINDS)}")
    return Decision(
        decision=kind,  # type: ignore[arg-type]
        value=dump_value(spec, final),
        base=dump_value(spec, base),
        addition=addition if kind == "extended" else None,
        **stamp,
    )


# --------------------------------------------------------------------------- recording


def entry_for(store: DecisionStore, persona: Persona) -> tuple[str, PersonaDecisions] | None:
    """Decisions for a persona: by id, else by segment (a re-draft may mint a new id)."""
    if persona.id in store.personas:
        return persona.id, store.personas[persona.id]
    matches = [
        (key, entry)
        for key, entry in store.personas.items()
        if entry.segment == persona.segment and entry.anti == persona.is_anti_persona
    ]
    return matches[0] if len(matches) == 1 else None


def entry(store: DecisionStore, persona: Persona) -> PersonaDecisions:
    """The persona's decisions, created if new and re-keyed under its current id."""
    found = entry_for(store, persona)
    held = found[1] if found else PersonaDecisions(segment=persona.segment, name="")
    if found and found[0] != persona.id:
        # A re-draft minted a new id: the entry follows the persona from now on.
        del store.personas[found[0]]
    held.segment, held.name, held.anti = (
        persona.segment,
        persona.draft.name,
        persona.is_anti_persona,
    )
    store.personas[persona.id] = held
    return held


def related(
    held: PersonaDecisions | None,
    address: Address | JourneyAddress,
    lineage: Mapping[str, str] | None = None,
) -> list[tuple[str, Decision]]:
    """Decisions on the address, the field holding it or the items inside it, newest first."""
    if held is None:
        return []
    lineage = lineage or {}
    mine = address.normal(lineage)
    out = []
    for text, decision in held.fields.items():
        try:
            other = parse_target(text)
        except ReviewError:
            continue
        if type(other) is type(mine) and other.normal(lineage).overlaps(mine):  # type: ignore[arg-type]
            out.append((text, decision))
    return sorted(out, key=lambda pair: -pair[1].rev)


def seen_revision(
    held: PersonaDecisions | None,
    address: Address | JourneyAddress,
    lineage: Mapping[str, str] | None = None,
) -> int:
    """The revision an editor of this address saw: the newest overlapping decision's (0: none)."""
    found = related(held, address, lineage)
    return found[0][1].rev if found else 0


def describe(address: str, decision: Decision) -> str:
    """'goals[c:1a2b] corrected by Ana at 2026-05-01T10:00:00Z to “…” (comment: …)'."""
    who = decision.by or "someone"
    when = f" at {decision.at}" if decision.at else ""
    verb = "reset to pending" if decision.decision == "pending" else decision.decision
    text = f"{address} {verb} by {who}{when}"
    if decision.decision == "removed" and _short(decision.base):
        text += f" (it read “{_short(decision.base)}”)"
    shown = _short(decision.addition if decision.decision == "extended" else decision.value)
    if decision.decision in ("corrected", "extended") and shown:
        text += f" {'adding' if decision.decision == 'extended' else 'to'} “{shown}”"
    if decision.comment:
        text += f" (comment: {decision.comment})"
    if decision.earlier:
        text += " after " + ", ".join(f"{e.by or 'someone'}'s extension" for e in decision.earlier)
    for extension in decision.extensions:
        text += f"; extended by {extension.by or 'someone'}"
        text += f" at {extension.at}" if extension.at else ""
        added = _short(extension.addition)
        text += f" adding “{added}”" if added else ""
        text += f" (comment: {extension.comment})" if extension.comment else ""
    if decision.confirmation is not None:
        c = decision.confirmation
        text += f"; confirmed by {c.by or 'someone'}" + (f" at {c.at}" if c.at else "")
        text += f" (comment: {c.comment})" if c.comment else ""
    return text


def _short(value: Any, limit: int = 120) -> str:
    if isinstance(value, dict):
        value = value.get("text") or value.get("title") or ""
    elif isinstance(value, list):
        value = "; ".join(_short(v, limit) for v in value)
    # 0 is a value (an emotion corrected to neutral), not nothing.
    text = " ".join(("" if value is None else str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def put(
    store: DecisionStore,
    persona: Persona,
    address: Address | JourneyAddress,
    decision: Decision,
    expected: int | None = None,
    lineage: Mapping[str, str] | None = None,
) -> Decision:
    """Record a decision in a loaded store, refusing it if the address moved on since `expected`.

    `expected` is the seen_revision the editor's view had (None: not checked, for edits that
    read the store under the same lock). Resetting an address that has no decision is a no-op.
    """
    found = entry_for(store, persona)
    same = found[1].fields.get(str(address)) if found else None
    decision = on_top(same, decision)
    if same is not None and _same_decision(same, decision):
        return same  # the same word again (a re-applied file, a double submit): nothing new
    held = entry(store, persona)
    if expected is not None:
        newer = [(a, d) for a, d in related(held, address, lineage) if d.rev > expected]
        if newer:
            changes = "; ".join(describe(a, d) for a, d in newer)
            raise ConflictError(
                f"{persona.draft.name}: '{address}' changed since you loaded it: {changes}. "
                "Nothing was saved: reload, then decide again.",
                [{"address": a, **d.model_dump(mode="json")} for a, d in newer],
            )
    key = str(address)
    if decision.decision == "pending" and held.fields.get(key, decision).decision == "pending":
        return held.fields.get(key, decision)
    store.revision += 1
    stored = decision.model_copy(update={"rev": store.revision})
    held.fields[key] = stored
    return stored


def _same_decision(a: Decision, b: Decision) -> bool:
    keys = ("decision", "value", "addition", "comment")
    if not all(getattr(a, k) == getattr(b, k) for k in keys):
        return False
    if [(e.by, e.addition, e.comment) for e in a.extensions] != [
        (e.by, e.addition, e.comment) for e in b.extensions
    ]:
        return False
    ca, cb = a.confirmation, b.confirmation
    return (ca is None) == (cb is None) and (
        ca is None or cb is None or (ca.by, ca.comment) == (cb.by, cb.comment)
    )


def _own_part(decision: Decision) -> Any:
    """What an extension added itself, without the earlier extenders' parts."""
    addition = decision.addition
    if isinstance(addition, list):
        return addition[sum(len(e.addition or []) for e in decision.earlier) :]
    if isinstance(addition, str):
        before = " ".join(str(e.addition) for e in decision.earlier if e.addition)
        return addition.removeprefix(before).strip() if before else addition
    return addition


def _joined(first: Any, then: Any) -> Any:
    """Two reviewers' additions as one: items after items, text after text (None: unjoinable)."""
    if first is None:
        return then
    if isinstance(first, list) and isinstance(then, list):
        return [*first, *then]
    if isinstance(first, str) and isinstance(then, str):
        return f"{first} {then}"
    return None


def last_hand(decision: Decision) -> tuple[str, str]:
    """(who, source) of the last change to a stored decision: a confirmation or an extension
    recorded on top of a reviewer's words is its author's, whose source the store does not
    keep ('')."""
    if decision.confirmation is not None:
        return decision.confirmation.by, ""
    if decision.extensions:
        return decision.extensions[-1].by, ""
    return decision.by, decision.source


def _without_suffix(value: Any, added: Any) -> Any:
    """A value (JSON) before `added` was appended to it by an extension (None: it was not)."""
    if isinstance(value, list) and isinstance(added, list):
        cut = len(value) - len(added)
        return value[:cut] if added and cut >= 0 and value[cut:] == added else None
    if isinstance(added, str) and added:
        if isinstance(value, str) and value.endswith(f" {added}"):
            return value[: -len(added) - 1]
        if isinstance(value, dict) and str(value.get("text", "")).endswith(f" {added}"):
            return {**value, "text": value["text"][: -len(added) - 1]}
    return None


def _peeled(held: Decision) -> Decision | None:
    """A corrected decision without its last extension (None when it cannot be taken apart)."""
    last = held.extensions[-1]
    value = _without_suffix(held.value, last.addition)
    if value is None:
        return None
    if len(held.extensions) == 1:
        addition = None
    else:
        addition = _without_suffix(held.addition, last.addition)
        if addition is None:
            return None
    return held.model_copy(
        update={"value": value, "addition": addition, "extensions": held.extensions[:-1]}
    )


def on_top(held: Decision | None, new: Decision) -> Decision:
    """A decision on a value another decision at the same address wrote: a confirmation of a
    reviewer's own words keeps them theirs (the confirmation is recorded on top), an extension
    of a correction keeps the corrected words the corrector's (the extension is recorded on
    top), and an extension of an extension keeps the first reviewer's additions, with their
    name. An extender correcting the field back to the words they extended withdraws their
    extension."""
    if held is None or held.decision not in ("corrected", "extended"):
        return new
    if (
        held.decision == "corrected"
        and new.decision == "extended"
        and held.extensions
        and held.extensions[-1].by == new.by
        and new.base != held.value
        and (peeled := _peeled(held)) is not None
        and new.base == peeled.value
    ):
        # The extender rewrites their own addition (a review file edited again): it replaces
        # their earlier one, on top of the same corrected words.
        return on_top(peeled, new)
    if (
        held.decision == "corrected"
        and new.decision == "corrected"
        and held.extensions
        and held.extensions[-1].by == new.by
        and held.by != new.by
        and (peeled := _peeled(held)) is not None
        and new.value == peeled.value
    ):
        # The extender sets the field back to the words they extended (a review file edited
        # again): that withdraws their addition; the correction stays its corrector's.
        return peeled.model_copy(update={"confirmation": None, "rev": 0})
    if new.decision == "confirmed" and new.value == held.value:
        stamp = Stamp(by=new.by, at=new.at, comment=new.comment)
        return held.model_copy(update={"confirmation": stamp, "rev": 0})
    if (
        held.decision == "corrected"
        and new.decision == "extended"
        and new.base == held.value
        and new.addition is not None
    ):
        addition = _joined(held.addition, new.addition)
        if addition is None:
            return new
        extension = Extension(by=new.by, at=new.at, comment=new.comment, addition=new.addition)
        # A confirmation was of the words before this addition: it does not cover the new ones.
        return held.model_copy(
            update={
                "value": new.value,
                "addition": addition,
                "extensions": [*held.extensions, extension],
                "confirmation": None,
                "rev": 0,
            }
        )
    if new.decision != "extended" or held.decision != "extended" or new.base != held.value:
        return new
    earlier = [
        *held.earlier,
        Extension(by=held.by, at=held.at, comment=held.comment, addition=_own_part(held)),
    ]
    if held.addition is None:
        addition: Any = None  # the first reviewer's words replaced a placeholder: all theirs
    else:
        addition = _joined(held.addition, new.addition)
        if addition is None:
            return new
    return new.model_copy(update={"base": held.base, "addition": addition, "earlier": earlier})


def record(
    workspace: Workspace,
    persona: Persona,
    target: str | Address | JourneyAddress,
    decision: Decision,
    expected: int | None = None,
    lineage: Mapping[str, str] | None = None,
) -> Decision:
    """Record one decision under the store's lock (see `put`); returns it with its revision."""
    address = parse_target(target) if isinstance(target, str) else target
    with edit_store(workspace) as store:
        return put(store, persona, address, decision, expected, lineage)


def mark(
    workspace: Workspace, persona: Persona, reviewed: bool, by: str = "", at: str = ""
) -> None:
    """Mark a whole persona reviewed (or back to draft), whatever its fields' decisions."""
    with edit_store(workspace) as store:
        held = entry(store, persona)
        if held.marked_reviewed != reviewed:
            store.revision += 1
        held.marked_reviewed, held.marked_by, held.marked_at = reviewed, by, at


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class Mark:
    """Who wrote a field or item of the reviewed view, and what they decided.

    kind: confirmed (the draft's words, endorsed), corrected / extended (a reviewer's words,
    all or in part) or added (an item a reviewer added to a list).
    """

    kind: str
    address: str
    by: str = ""
    at: str = ""
    comment: str = ""
    rev: int = 0
    addition: Any = None
    # A colleague's confirmation of a reviewer's words (see Decision.confirmation).
    confirmed_by: str = ""
    confirmed_at: str = ""
    confirmed_comment: str = ""
    # Who extended the field before `by` did, oldest first (see Decision.earlier).
    earlier_by: tuple[str, ...] = ()
    # Who added `addition` to the words `by` wrote (a correction, or an item they added),
    # oldest first (see Decision.extensions).
    extended_by: tuple[str, ...] = ()

    @property
    def human(self) -> bool:
        return self.kind in ("corrected", "extended", "added")

    @classmethod
    def of(
        cls, address: str, decision: Decision, kind: str | None = None, who: Stamp | None = None
    ) -> Mark:
        """The mark of a decision; `who`: the stamp of the reviewer who added this item."""
        confirmed = decision.confirmation or Stamp()
        author = who or Stamp(by=decision.by, at=decision.at, comment=decision.comment)
        return cls(
            kind=kind or decision.decision,
            address=address,
            by=author.by,
            at=author.at,
            comment=author.comment,
            rev=decision.rev,
            # An item added to a corrected list is whole: the additions are the list's.
            addition=decision.addition
            if decision.decision == "extended" or (decision.extensions and who is None)
            else None,
            confirmed_by=confirmed.by,
            confirmed_at=confirmed.at,
            confirmed_comment=confirmed.comment,
            earlier_by=tuple(e.by for e in decision.earlier) if who is None else (),
            extended_by=tuple(e.by for e in decision.extensions) if who is None else (),
        )

    def extended(self, decision: Decision) -> Mark:
        """This (reviewer-written) mark with a colleague's extension of the same words on top:
        the words stay the first reviewer's, the addition is shown apart as the extenders'."""
        return replace(
            self,
            addition=decision.addition,
            extended_by=(*self.extended_by, *(e.by for e in decision.earlier), decision.by),
            rev=max(self.rev, decision.rev),
        )

    def confirmed(self, decision: Decision) -> Mark:
        """This (reviewer-written) mark with a later confirmation of the same words on top."""
        return replace(
            self,
            confirmed_by=decision.by,
            confirmed_at=decision.at,
            confirmed_comment=decision.comment,
            rev=max(self.rev, decision.rev),
        )


def added_by(decision: Decision) -> list[Stamp]:
    """Who added each item of a list extension's `addition` (or of the extensions of a
    corrected list), in order."""
    own = Stamp(by=decision.by, at=decision.at, comment=decision.comment)
    out: list[Stamp] = []
    for earlier in [*decision.earlier, *decision.extensions]:
        out += [Stamp(by=earlier.by, at=earlier.at, comment=earlier.comment)] * len(
            earlier.addition or []
        )
    added = decision.addition if isinstance(decision.addition, list) else []
    return (out + [own] * len(added))[: len(added)]


@dataclass(frozen=True)
class Reviewed:
    """A persona with its decisions applied; `marks` maps positional paths ('goals.2') to marks."""

    persona: Persona
    marks: dict[str, Mark]
    fields_decided: int = 0
    items_decided: int = 0
    unapplied: tuple[str, ...] = ()


# Offline drafts once put their provenance in the name; confirming (or extending) such a name
# confirmed the persona's name, not the marker, which the document's mode line now carries.
LEGACY_OFFLINE_MARKER = re.compile(r" \((anti-persona, )?drafted offline\)")


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars), several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def _stored_value(address: Address, decision: Decision) -> Any:
    """A stored value, the old offline marker taken out of a confirmed or extended name."""
    if (
        address.field != "name"
        or decision.decision == "corrected"
        or not isinstance(decision.value, str)
    ):
        return json_copy(decision.value)
    return LEGACY_OFFLINE_MARKER.sub(
        lambda m: " (anti-persona)" if m.group(1) else "", decision.value
    )


@dataclass(frozen=True)
class Scope:
    """Where decisions apply: a persona draft, or one part of a journey map (see JOURNEY_*)."""

    specs: Mapping[str, FieldSpec]
    # The content key of an item of a field (the field decides how: a theme id, a text hash).
    key: Callable[[str, Any, Mapping[str, str]], str]
    addr_prefix: str = ""
    pos_prefix: str = ""
    # Re-drafted under its decisions (journey maps; persona fields a human decided are locked
    # instead): an extension is re-applied to the new draft's value, and a confirmation holds
    # only while the draft still says what was confirmed.
    redrafted: bool = False


PERSONA_SCOPE = Scope(FIELDS, lambda _field, item, lineage: item_key(item, lineage))


def _apply_one(
    data: dict[str, Any],
    address: Address,
    decision: Decision,
    marks: dict[str, Mark],
    lineage: Mapping[str, str],
    scope: Scope = PERSONA_SCOPE,
) -> bool:
    """Apply one decision to a draft (JSON) in place; False when its item is not there."""
    if decision.decision == "removed":
        return _remove_item(data, address, marks, lineage, scope)
    value = refs.remap_themes(_stored_value(address, decision), lineage)
    spec = scope.specs[address.field]
    key = scope.addr_prefix + str(address)
    if scope.redrafted and address.item is None:
        return _apply_redrafted_field(data, address, decision, value, marks, lineage, scope)
    if address.item is None:
        set_path(data, address.field, value)
        marks[scope.pos_prefix + address.field] = Mark.of(key, decision)
        if spec.kind == "list" and isinstance(value, list):
            _mark_list_items(address.field, value, decision, marks, lineage, scope)
        return True
    items = get_path(data, address.field)
    if not isinstance(items, list):
        return False
    index = next(
        (
            i
            for i, item in enumerate(items)
            if _same_key(scope.key(address.field, item, lineage), address.item or "", lineage)
        ),
        None,
    )
    if index is None:
        if address.sub is not None or decision.decision == "extended":
            return False
        if scope.redrafted and decision.decision == "confirmed":
            return False  # the confirmed words are gone from the new draft: nothing to endorse
        # A confirmed or corrected item the new draft left out stays: a human decided it.
        items.append(value)
        index = len(items) - 1
    if scope.redrafted and decision.decision == "extended" and decision.addition is not None:
        current = items[index] if address.sub is None else (items[index] or {}).get(address.sub)
        value = _reextend(current, decision.addition, value)
    before = items[index] if address.sub is None else (items[index] or {}).get(address.sub)
    if address.sub is None:
        items[index] = value
    else:
        if not isinstance(items[index], dict):
            return False
        items[index][address.sub] = value
    at = scope.pos_prefix + _position(address, index)
    prior = marks.get(at)
    if decision.decision == "confirmed" and prior is not None and prior.human and before == value:
        # Confirming an item a reviewer added (by extending its list): still their words.
        marks[at] = prior.confirmed(decision)
    elif (
        decision.decision == "extended"
        and decision.addition is not None
        and prior is not None
        and (prior.kind == "added" or (prior.kind == "corrected" and prior.addition is None))
        and before == decision.base
    ):
        # Extending words a reviewer wrote (an item they added, or a list they corrected):
        # the words stay theirs, the addition is the extender's.
        marks[at] = prior.extended(decision)
    else:
        marks[at] = Mark.of(key, decision)
    return True


def _remove_item(
    data: dict[str, Any],
    address: Address,
    marks: dict[str, Mark],
    lineage: Mapping[str, str],
    scope: Scope,
) -> bool:
    """Take a removed item out of its list (JSON, in place), moving the marks of the items
    after it up one place; an item the draft no longer has is removed already."""
    items = get_path(data, address.field)
    if address.item is None or address.sub is not None or not isinstance(items, list):
        return False
    index = next(
        (
            i
            for i, item in enumerate(items)
            if _same_key(scope.key(address.field, item, lineage), address.item, lineage)
        ),
        None,
    )
    if index is None:
        return True
    del items[index]
    base = f"{scope.pos_prefix}{address.field}."
    moved: dict[str, Mark] = {}
    for at, found in marks.items():
        head, dot, tail = at[len(base) :].partition(".") if at.startswith(base) else ("", "", "")
        if head.isdigit() and int(head) == index:
            continue
        if head.isdigit() and int(head) > index:
            at = f"{base}{int(head) - 1}{dot}{tail}"
        moved[at] = found
    marks.clear()
    marks.update(moved)
    return True


def _reextend(current: Any, addition: Any, stored: Any) -> Any:
    """A reviewer's text addition on top of the current draft's text or claim (JSON)."""
    if not isinstance(addition, str) or current is None or is_placeholder(current):
        return stored
    if isinstance(current, str):
        return f"{current} {addition}".strip()
    if isinstance(current, dict) and isinstance(current.get("text"), str):
        return {**current, "text": f"{current['text'].rstrip()} {addition}"}
    return stored


def _apply_redrafted_field(
    data: dict[str, Any],
    address: Address,
    decision: Decision,
    value: Any,
    marks: dict[str, Mark],
    lineage: Mapping[str, str],
    scope: Scope,
) -> bool:
    """A whole-field decision on a part that is re-drafted under it (see Scope.redrafted)."""
    spec = scope.specs[address.field]
    key = scope.addr_prefix + str(address)
    current = get_path(data, address.field)
    at = scope.pos_prefix + address.field
    if decision.decision == "confirmed":
        if refs.remap_themes(json_copy(current), lineage) != value:
            return False  # the draft says something else now: the confirmation no longer applies
        marks[at] = Mark.of(key, decision)
        return True
    if decision.decision == "extended" and spec.kind == "list":
        kept = [i for i in (current or []) if not is_placeholder(i)]
        have = {scope.key(address.field, i, lineage) for i in kept}
        added = [
            (i, who)
            for i, who in zip(
                refs.remap_themes(json_copy(decision.addition or []), lineage),
                added_by(decision),
                strict=False,
            )
            if scope.key(address.field, i, lineage) not in have
        ]
        set_path(data, address.field, [*kept, *(i for i, _ in added)])
        marks[at] = Mark.of(key, decision)
        for i, (item, who) in enumerate(added, len(kept)):
            item_at = (
                f"{scope.addr_prefix}{address.field}[{scope.key(address.field, item, lineage)}]"
            )
            marks[f"{at}.{i}"] = Mark.of(item_at, decision, "added", who)
        return True
    if decision.decision == "extended" and decision.addition is not None:
        value = _reextend(current, decision.addition, value)
    set_path(data, address.field, value)
    marks[at] = Mark.of(key, decision)
    if spec.kind == "list" and isinstance(value, list):
        _mark_list_items(address.field, value, decision, marks, lineage, scope)
    return True


def _mark_list_items(
    field: str,
    value: list[Any],
    decision: Decision,
    marks: dict[str, Mark],
    lineage: Mapping[str, str],
    scope: Scope = PERSONA_SCOPE,
) -> None:
    """Per-item marks for a decided list: which items a reviewer wrote, which the draft did."""
    drafted = Counter(scope.key(field, item, lineage) for item in decision.base or [])
    added = len(decision.addition) if isinstance(decision.addition, list) else 0
    authors = added_by(decision)
    for i, item in enumerate(value):
        key = scope.key(field, item, lineage)
        at = f"{scope.pos_prefix}{field}.{i}"
        address = f"{scope.addr_prefix}{field}[{key}]"
        if added and i >= len(value) - added:
            who = authors[i - (len(value) - added)] if authors else None
            marks[at] = Mark.of(address, decision, "added", who)
        elif drafted[key] > 0:
            drafted[key] -= 1  # the draft's own item, kept: model-written
        elif decision.decision == "corrected":
            # The corrector's own item: the list's later additions are other items.
            marks[at] = replace(Mark.of(address, decision), addition=None, extended_by=())


def _ordered(held: PersonaDecisions) -> list[tuple[Address, Decision]]:
    """Field decisions first, then item decisions, each oldest first (later ones win)."""
    out = []
    for text, decision in held.active().items():
        try:
            address = parse_address(text)
        except ReviewError:
            continue  # a field a later model dropped: the decision stays stored, unapplied
        out.append((address, decision))
    # Removals last: taking an item out moves the places of those after it.
    return sorted(
        out,
        key=lambda p: (p[1].decision == "removed", p[0].item is not None, p[1].rev, str(p[0])),
    )


_Draft = typing.TypeVar("_Draft", PersonaDraft, JourneyDraft)


def _apply_all(
    data: dict[str, Any],
    ordered: Sequence[tuple[Any, Decision]],
    apply: Callable[..., bool],
    model: type[_Draft],
    lineage: Mapping[str, str],
) -> tuple[_Draft, dict[str, Mark], list[str]]:
    """Apply decisions to a draft's JSON: (the validated draft, marks, addresses not applied).
    A stored value that no longer fits the model is skipped (and kept in the store)."""
    marks: dict[str, Mark] = {}
    trial = json_copy(data)
    unapplied = [str(a) for a, d in ordered if not apply(trial, a, d, marks, lineage)]
    try:
        return model.model_validate(trial), marks, unapplied
    except ValidationError:
        pass
    # Slow path: one decision at a time, each kept only if the draft still validates.
    marks, unapplied = {}, []
    for address, decision in ordered:
        attempt, attempt_marks = json_copy(data), dict(marks)
        ok = apply(attempt, address, decision, attempt_marks, lineage)
        try:
            model.model_validate(attempt)
        except ValidationError:
            ok = False
        if ok:
            data, marks = attempt, attempt_marks
        else:
            unapplied.append(str(address))
    return model.model_validate(data), marks, unapplied


def apply_persona(
    persona: Persona, held: PersonaDecisions | None, lineage: Mapping[str, str] | None = None
) -> Reviewed:
    """One persona with its decisions applied; a stored value that no longer fits the model is
    skipped (and kept in the store), never forced in."""
    lineage = lineage or {}
    data = refs.remap_themes(persona.draft.model_dump(mode="json"), lineage)
    if held is None:
        draft = PersonaDraft.model_validate(data) if lineage else persona.draft
        return Reviewed(persona.model_copy(update={"draft": draft}), {})
    ordered = _ordered(held)
    draft, marks, unapplied = _apply_all(data, ordered, _apply_one, PersonaDraft, lineage)
    fields = {a.field for a, _ in ordered if a.item is None}
    reviewed = held.marked_reviewed or all(p in fields for p in FIELDS)
    info = persona.document_info.model_copy(update={"status": "reviewed" if reviewed else "draft"})
    return Reviewed(
        persona.model_copy(update={"draft": draft, "document_info": info}),
        marks,
        fields_decided=len(fields),
        items_decided=sum(1 for a, _ in ordered if a.item is not None),
        unapplied=tuple(unapplied),
    )


def apply_decisions(
    personas: Iterable[Persona], store: DecisionStore, lineage: Mapping[str, str] | None = None
) -> list[Reviewed]:
    """Drafts + decisions -> the reviewed view, one Reviewed per persona, in the same order."""
    out = []
    for persona in personas:
        found = entry_for(store, persona)
        out.append(apply_persona(persona, found[1] if found else None, lineage))
    return out


def apply_reviews(
    personas: Iterable[Persona], store: DecisionStore, lineage: Mapping[str, str] | None = None
) -> list[Persona]:
    """The personas with every decision applied (see apply_decisions)."""
    return [r.persona for r in apply_decisions(personas, store, lineage)]


def removed_themes(
    store: DecisionStore, lineage: Mapping[str, str] | None = None
) -> dict[tuple[str, bool], set[str]]:
    """(segment, anti) -> the themes whose pain point a reviewer removed from that persona
    (current ids), so a re-draft leaves them out of its needs and journey map too."""
    out: dict[tuple[str, bool], set[str]] = {}
    for held in store.personas.values():
        for text, decision in held.active().items():
            if decision.decision != "removed" or not text.startswith("pain_points["):
                continue
            parsed = refs.parse(parse_address(text).item or "")
            if parsed.kind == "theme":
                key = (held.segment, held.anti)
                out.setdefault(key, set()).add(refs.follow(parsed.key, lineage or {}))
    return out


def locked_fields(personas: Iterable[Persona], store: DecisionStore) -> dict[str, list[str]]:
    """persona id -> the field paths a human decided, which the drafter keeps as they are."""
    out: dict[str, list[str]] = {}
    for persona in personas:
        found = entry_for(store, persona)
        if found:
            paths = sorted({a.field for a, _ in _ordered(found[1]) if a.item is None})
            if paths:
                out[persona.id] = paths
    return out


# --------------------------------------------------------------------------- journey maps

# A persona's journey map is reviewed through the persona's own decisions, under addresses
# that start with JOURNEY_PREFIX: `journey.key_findings[c:1a2b3c4d]`,
# `journey.recommendations[c:…].metric`, `journey.stages[stage:onboarding].customer_goal`,
# `journey.stages[stage:onboarding].actions[c:…]`, `journey.stages[stage:setup].pain_points[theme:t1]`.
# Stages are keyed by their stage id and items by content, as persona items are, so a decision
# follows its item through a re-draft. Older readers skip these keys (not persona fields), so
# the file format is unchanged.
JOURNEY_PREFIX = "journey."
STAGE_KEY = "stage:"
JOURNEY_ADDRESS = re.compile(r"^journey\.(?:stages\[stage:(?P<stage>[^\]]+)\]\.)?(?P<rest>.+)$")
JOURNEY_STAGE_POSITION = re.compile(r"^journey\.stages\.(?P<index>\d+)\.(?P<rest>.+)$")


def _journey_specs(model: type[BaseModel], skip: str) -> dict[str, FieldSpec]:
    """The reviewable fields of a journey part; a field's bounds (emotion's -2..2) go with it."""
    specs: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        if name == skip:
            continue
        inner, optional = unwrap_optional(info.annotation)
        annotation = (
            typing.Annotated[info.annotation, *info.metadata]  # type: ignore[valid-type]
            if info.metadata
            else info.annotation
        )
        kind = _kind_of(info.annotation)
        item = typing.get_args(inner)[0] if kind == "list" else None
        specs[name] = FieldSpec(name, annotation, kind, item, optional=optional)  # type: ignore[arg-type]
    return specs


JOURNEY_FIELDS: dict[str, FieldSpec] = _journey_specs(JourneyDraft, "stages")
STAGE_FIELDS: dict[str, FieldSpec] = _journey_specs(JourneyStageEntry, "stage")
JOURNEY_ITEM_PARTS: dict[str, tuple[str, ...]] = {
    "recommendations": tuple(f for f in Recommendation.model_fields if f != "evidence"),
}


def journey_item_key(field: str, item: Any, lineage: Mapping[str, str]) -> str:
    """A journey list item's content key: a stage's pain point by its theme, a recommendation
    by its action, a claim by its text."""
    if field == "pain_points" and isinstance(item, str):
        return refs.theme(refs.follow(item, lineage))
    if isinstance(item, dict) and "action" in item:
        return "c:" + content_hash(str(item.get("action", "")), 8)
    return item_key(item, lineage)


@dataclass(frozen=True)
class JourneyAddress:
    """A field, list item or item part of a persona's journey map, or of one of its stages."""

    stage: str | None
    inner: Address

    def __str__(self) -> str:
        return JOURNEY_PREFIX + self.stage_part + str(self.inner)

    @property
    def stage_part(self) -> str:
        return f"stages[{STAGE_KEY}{self.stage}]." if self.stage is not None else ""

    @property
    def item(self) -> str | None:
        """Set when the target sits in a list: an item, or anything in a stage (keyed by id)."""
        return self.inner.item if self.inner.item is not None else self.stage

    @property
    def specs(self) -> dict[str, FieldSpec]:
        return STAGE_FIELDS if self.stage is not None else JOURNEY_FIELDS

    def overlaps(self, other: JourneyAddress) -> bool:
        return self.stage == other.stage and self.inner.overlaps(other.inner)

    def normal(self, lineage: Mapping[str, str]) -> JourneyAddress:
        return replace(self, inner=self.inner.normal(lineage))


def journey_help(journey: Any = None) -> str:
    """Every journey address form, with this journey's stage ids when known."""
    stage_fields = ", ".join(STAGE_FIELDS)
    parts = "/".join(JOURNEY_ITEM_PARTS["recommendations"])
    text = (
        "journey addresses are journey.key_findings, journey.recommendations (an item: "
        f"journey.recommendations[c:<hash>] or journey.recommendations.0, parts {parts}) and "
        f"journey.stages[stage:<id>].<field> (or journey.stages.0.<field>) with <field> one of "
        f"{stage_fields}, items as <field>[<key>] or <field>.0"
    )
    stages = _journey_json(journey).get("stages") if journey is not None else None
    if stages:
        text += "; this journey's stages: " + ", ".join(str(s.get("stage")) for s in stages)
    return text


def _journey_json(journey: Any) -> dict[str, Any]:
    if isinstance(journey, BaseModel):
        dumped = journey.model_dump(mode="json")
        return dumped.get("draft", dumped) if "draft" in dumped else dumped
    return journey if isinstance(journey, dict) else {}


def parse_journey_address(text: str, journey: Any = None) -> JourneyAddress:
    """'journey.stages[stage:onboarding].actions[c:1a2b3c4d]' -> JourneyAddress (ReviewError
    listing the valid forms otherwise)."""
    match = JOURNEY_ADDRESS.match(text.strip())
    inner = ADDRESS.match(match["rest"]) if match else None
    stage = match["stage"] if match else None
    specs = STAGE_FIELDS if stage is not None else JOURNEY_FIELDS
    if match is None or inner is None or inner["field"] not in specs:
        raise ReviewError(f"unknown journey address '{text}'; {journey_help(journey)}")
    address = Address(inner["field"], inner["item"], inner["sub"])
    spec = specs[address.field]
    if address.item is not None and spec.kind != "list":
        raise ReviewError(f"'{text}': {address.field} is not a list: it has no items")
    _check_part(text, address, JOURNEY_ITEM_PARTS.get(address.field, ()))
    return JourneyAddress(stage, address)


def parse_target(text: str) -> Address | JourneyAddress:
    """A stored or typed address of a persona field or of a part of its journey map."""
    if text.strip().startswith(JOURNEY_PREFIX):
        return parse_journey_address(text)
    return parse_address(text)


def journey_spec_for(address: JourneyAddress) -> FieldSpec:
    """The spec of what a journey address names (a stage's pain point is a theme id: it can be
    confirmed or corrected to another theme, not extended)."""
    spec = address.specs[address.inner.field]
    path = str(address)
    if address.inner.item is None:
        return replace(spec, path=path)
    if address.inner.sub is None:
        kind = "other" if address.inner.field == "pain_points" else _kind_of(spec.item)
        return FieldSpec(path, spec.item, kind)  # type: ignore[arg-type]
    info = spec.item.model_fields[address.inner.sub]
    return FieldSpec(path, info.annotation, _kind_of(info.annotation))  # type: ignore[arg-type]


def _stage_of(data: dict[str, Any], stage: str | None) -> tuple[dict[str, Any] | None, str]:
    """The part of a journey draft (JSON) an address is in, and its positional prefix."""
    if stage is None:
        return data, JOURNEY_PREFIX
    for i, entry_ in enumerate(data.get("stages") or []):
        if isinstance(entry_, dict) and entry_.get("stage") == stage:
            return entry_, f"{JOURNEY_PREFIX}stages.{i}."
    return None, ""


def journey_position(
    data: dict[str, Any], address: JourneyAddress, lineage: Mapping[str, str] | None = None
) -> str:
    """Where a journey address sits in a journey draft (JSON): 'journey.stages.0.actions.2',
    or '' when its stage or item is not there."""
    container, prefix = _stage_of(data, address.stage)
    if container is None:
        return ""
    inner = address.inner
    if inner.item is None:
        return prefix + inner.field
    for i, item in enumerate(get_path(container, inner.field) or []):
        if _same_key(journey_item_key(inner.field, item, lineage or {}), inner.item, lineage or {}):
            return prefix + _position(inner, i)
    return ""


def resolve_journey_target(
    journey: Any, target: str, lineage: Mapping[str, str] | None = None
) -> tuple[JourneyAddress, str]:
    """A journey address and its positional path, from a position ('journey.stages.0.actions.1',
    'journey.key_findings.2') or an address; an item not in the draft lists the ones that are."""
    data = _journey_json(journey)
    lineage = lineage or {}
    text = target.strip()
    by_index = JOURNEY_STAGE_POSITION.match(text)
    if by_index:
        stages = data.get("stages") or []
        index = int(by_index["index"])
        if index >= len(stages):
            raise ReviewError(
                f"'{text}': the journey has {len(stages)} stage(s), numbered from 0"
                + (f" to {len(stages) - 1}" if stages else "")
            )
        text = f"{JOURNEY_PREFIX}stages[{STAGE_KEY}{stages[index]['stage']}].{by_index['rest']}"
    match = JOURNEY_ADDRESS.match(text)
    if match is None:
        raise ReviewError(f"unknown journey address '{target}'; {journey_help(data)}")
    stage = match["stage"]
    container, _ = _stage_of(data, stage)
    if stage is not None and container is None:
        raise ReviewError(f"'{target}': no stage '{stage}' in this journey; {journey_help(data)}")
    position = POSITION.match(match["rest"])
    specs = STAGE_FIELDS if stage is not None else JOURNEY_FIELDS
    if position and position["field"] in specs and container is not None:
        field, index = position["field"], int(position["index"])
        if specs[field].kind != "list":
            raise ReviewError(f"'{target}': {field} is not a list: it has no items")
        item = _nth(target, field, get_path(container, field) or [], index)
        key = journey_item_key(field, item, lineage)
        sub = f".{position['sub']}" if position["sub"] else ""
        prefix = (
            f"{JOURNEY_PREFIX}stages[{STAGE_KEY}{stage}]." if stage is not None else JOURNEY_PREFIX
        )
        text = f"{prefix}{field}[{key}]{sub}"
    try:
        address = parse_journey_address(text, data)
    except ReviewError as exc:
        # Named as the user typed it, not by the item's internal key.
        raise ReviewError(str(exc).replace(f"'{text}'", f"'{target.strip()}'")) from exc
    return address, journey_position(data, address, lineage)


def journey_items(journey: Any, address: JourneyAddress, lineage: Mapping[str, str]) -> list[str]:
    """The addresses of the items of the list an address points into (for error messages)."""
    data = _journey_json(journey)
    container, _ = _stage_of(data, address.stage)
    items = get_path(container, address.inner.field) if container is not None else None
    base = JOURNEY_PREFIX + address.stage_part + address.inner.field
    return [
        f"{base}[{journey_item_key(address.inner.field, item, lineage)}]"
        for item in (items if isinstance(items, list) else [])
    ]


@dataclass(frozen=True)
class ReviewedJourney:
    """A journey map with its persona's journey decisions applied; `marks` maps positional
    paths ('journey.stages.0.actions.1', 'journey.key_findings') to marks."""

    journey: JourneyMap
    marks: dict[str, Mark]
    items_decided: int = 0
    unapplied: tuple[str, ...] = ()


def _journey_ordered(held: PersonaDecisions) -> list[tuple[JourneyAddress, Decision]]:
    """Journey decisions: field decisions first, then item decisions, each oldest first."""
    out = []
    for text, decision in held.active().items():
        if not text.startswith(JOURNEY_PREFIX):
            continue
        try:
            address = parse_journey_address(text)
        except ReviewError:
            continue  # a field a later model dropped: the decision stays stored, unapplied
        out.append((address, decision))
    return sorted(
        out,
        key=lambda p: (
            p[1].decision == "removed",
            p[0].inner.item is not None,
            p[1].rev,
            str(p[0]),
        ),
    )


def _apply_journey_one(
    data: dict[str, Any],
    address: JourneyAddress,
    decision: Decision,
    marks: dict[str, Mark],
    lineage: Mapping[str, str],
) -> bool:
    container, prefix = _stage_of(data, address.stage)
    if container is None:
        return False  # the stage is not in this draft
    scope = Scope(
        address.specs, journey_item_key, JOURNEY_PREFIX + address.stage_part, prefix, True
    )
    return _apply_one(container, address.inner, decision, marks, lineage, scope)


def apply_journey(
    journey: JourneyMap, held: PersonaDecisions | None, lineage: Mapping[str, str] | None = None
) -> ReviewedJourney:
    """One journey map with its persona's journey decisions applied (a value that no longer
    fits is skipped and kept in the store, as for personas)."""
    lineage = lineage or {}
    ordered = _journey_ordered(held) if held is not None else []
    if not ordered:
        return ReviewedJourney(journey, {})
    data = journey.draft.model_dump(mode="json")
    draft, marks, unapplied = _apply_all(data, ordered, _apply_journey_one, JourneyDraft, lineage)
    return ReviewedJourney(
        journey.model_copy(update={"draft": draft}),
        marks,
        items_decided=sum(1 for a, _ in ordered if a.inner.item is not None),
        unapplied=tuple(unapplied),
    )


def apply_journeys(
    journeys: Iterable[JourneyMap],
    personas: Iterable[Persona],
    store: DecisionStore,
    lineage: Mapping[str, str] | None = None,
) -> list[ReviewedJourney]:
    """Journey drafts + their personas' decisions -> the reviewed journeys, in the same order."""
    by_id = {p.id: p for p in personas}
    out = []
    for journey in journeys:
        persona = by_id.get(journey.persona_id)
        found = entry_for(store, persona) if persona is not None else None
        out.append(apply_journey(journey, found[1] if found else None, lineage))
    return out


# --------------------------------------------------------------------------- withdrawal


def forget_sources(workspace: Workspace, chunk_ids: Iterable[str]) -> int:
    """Remove every decision content that quotes or cites a withdrawn chunk; returns how many
    decisions, export snapshots and review files were changed or removed.

    Quotes from those chunks leave every value; 'chunk:<id>' leaves evidence lists. A decision
    left with nothing to say goes: an item decision on a withdrawn quote, or a confirmed claim
    whose only evidence was withdrawn (the next draft writes it again from what is left).
    Review files (and their .bak copies) lose the text too: an unedited file is deleted (export
    again), an edited one is rewritten without it (its comments go; its decisions stay).
    """
    gone = frozenset(chunk_ids)
    review_dir = workspace.review_dir
    if not gone or not review_dir.is_dir():
        return 0
    changed = 0
    with edit_store(workspace) as store:
        for held in store.personas.values():
            for address in list(held.fields):
                decision = held.fields[address]
                parts = [decision.value, decision.base, decision.addition]
                if not refs.cites_any(parts, gone):
                    continue
                changed += 1
                cleaned = decision.model_copy(
                    update={
                        "value": refs.without_chunks(decision.value, gone),
                        "base": refs.without_chunks(decision.base, gone),
                        "addition": refs.without_chunks(decision.addition, gone),
                    }
                )
                store.revision += 1  # a changed decision: an editor who saw it must reload
                if _nothing_left(decision, cleaned):
                    del held.fields[address]
                else:
                    held.fields[address] = cleaned.model_copy(update={"rev": store.revision})
        for name in list(store.exports):
            record_ = store.exports[name]
            if refs.cites_any(record_.fields, gone):
                changed += 1
                record_.fields = refs.without_chunks(record_.fields, gone)
        for path in sorted([*review_dir.glob("*.yaml"), *review_dir.glob("*.yaml.bak")]):
            text = path.read_text(encoding="utf-8")
            if not any(cid in text for cid in gone):
                continue
            changed += 1
            record_ = store.exports.get(path.name)
            known = {record_.sha256, record_.applied_sha256} if record_ else set()
            if path.suffix == ".yaml" and _sha(text) in known:
                path.unlink()
                store.exports.pop(path.name, None)
            else:
                _rewrite_review_file(path, text, gone)
    return changed


def _nothing_left(before: Decision, after: Decision) -> bool:
    if after.value is None and before.value is not None:
        return True  # the decided item was a withdrawn quote
    if before.decision != "confirmed" or not isinstance(after.value, dict):
        return False
    return (
        "evidence" in after.value
        and not after.value["evidence"]
        and bool(before.value.get("evidence"))
        and not after.value.get("assumption")
    )


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


REWRITTEN = (
    "# Evidence withdrawn from the corpus was removed from this file (and its comments with\n"
    "# it); the decisions in it are kept. Export again for fresh comments.\n"
)


def _rewrite_review_file(path: Path, text: str, gone: frozenset[str]) -> None:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        path.unlink()  # unreadable: it cannot be cleaned, and it must not keep the words
        return
    cleaned = refs.without_chunks(data, gone)
    dumped = yaml.safe_dump(cleaned, sort_keys=False, allow_unicode=True, width=96)
    write_text_atomic(path, REWRITTEN + dumped)


# --------------------------------------------------------------------------- themes


def record_theme(
    workspace: Workspace,
    theme_id: str,
    *,
    label: str | None = None,
    merge_into: str | None = None,
    reset: bool = False,
    by: str = "",
    at: str = "",
    comment: str = "",
    expected: int | None = None,
    lineage: Mapping[str, str] | None = None,
) -> ThemeDecision:
    """Rename a theme, merge it into another, or forget both (keyed by current theme id)."""
    lineage = lineage or {}
    key = refs.follow(theme_id, lineage)
    if sum([label is not None, merge_into is not None, reset]) != 1:
        raise ReviewError("give exactly one of a new label, a theme to merge into, or reset")
    if label is not None and not label.strip():
        raise ReviewError("a theme's new label cannot be empty")
    target = refs.follow(merge_into, lineage) if merge_into else None
    if target == key:
        raise ReviewError("a theme cannot be merged into itself")
    with edit_store(workspace) as store:
        held = _theme_entry(store, key, lineage)
        if expected is not None and held is not None and held[1].rev > expected:
            current = held[1]
            what = (
                f"renamed to “{current.label}”"
                if current.label
                else f"merged into {current.merged_into}"
                if current.merged_into
                else "reset"
            )
            raise ConflictError(
                f"theme {key} changed since you loaded it: {what} by {current.by or 'someone'}"
                f"{' at ' + current.at if current.at else ''}. Nothing was saved: reload, then "
                "decide again.",
                [{"theme_id": held[0], **current.model_dump(mode="json")}],
            )
        if target is not None:
            _refuse_merge_loop(store, key, target, lineage)
        if held is not None and held[0] != key:
            del store.themes[held[0]]
        previous = held[1] if held else ThemeDecision()
        store.revision += 1
        stamp = {"by": by, "at": at, "comment": " ".join(comment.split()), "rev": store.revision}
        if reset:
            decision = ThemeDecision(**stamp)
        elif label is not None:
            decision = ThemeDecision(
                label=" ".join(label.split()), merged_into=previous.merged_into, **stamp
            )
        else:
            decision = ThemeDecision(label=previous.label, merged_into=target, **stamp)
        store.themes[key] = decision
        return decision


def _refuse_merge_loop(
    store: DecisionStore, key: str, target: str, lineage: Mapping[str, str]
) -> None:
    """A ReviewError when the target is (through earlier merges) merged into this theme."""
    merges = resolve_themes(store, lineage).merges
    end = merges.get(target, target)
    if end != key:
        return
    found = _theme_entry(store, target, lineage)
    who = ""
    if found is not None and found[1].merged_into:
        decided = found[1]
        who = f" by {decided.by or 'someone'}" + (f" at {decided.at}" if decided.at else "")
    raise ReviewError(
        f"theme {target} is already merged into {key}{who}: merging {key} into it would make "
        f"a loop. Nothing was saved. To merge the other way, reset that merge first "
        f"(`persona review theme {target} --reset`)"
    )


def _theme_entry(
    store: DecisionStore, key: str, lineage: Mapping[str, str]
) -> tuple[str, ThemeDecision] | None:
    found = [(k, d) for k, d in store.themes.items() if refs.follow(k, lineage) == key]
    return max(found, key=lambda pair: pair[1].rev) if found else None


def resolve_themes(
    store: DecisionStore, lineage: Mapping[str, str] | None = None
) -> ThemeDecisions:
    """The store's theme decisions against the current ids (a merge already done drops out)."""
    lineage = lineage or {}
    out = ThemeDecisions()
    newest: dict[str, int] = {}
    for stored_id, decision in sorted(store.themes.items(), key=lambda p: p[1].rev):
        key = refs.follow(stored_id, lineage)
        if decision.label:
            out.renames[key] = decision.label
            newest[key] = decision.rev
        if decision.merged_into:
            target = refs.follow(decision.merged_into, lineage)
            if target != key:
                out.merges[key] = target
            else:
                out.merges.pop(key, None)
    # Chains (a -> b, b -> c) resolve to their end, so the themes step merges each once.
    for source in list(out.merges):
        seen = {source}
        target = out.merges[source]
        while target in out.merges and target not in seen:
            seen.add(target)
            target = out.merges[target]
        out.merges[source] = target
    return out


def lineage_of(workspace: Workspace) -> dict[str, str]:
    """themes.json's map of earlier theme ids to current ones ({} without themes)."""
    if not workspace.themes.exists():
        return {}
    raw = read_json(workspace.themes)
    if isinstance(raw, dict) and isinstance(raw.get("lineage"), dict):
        return {str(k): str(v) for k, v in raw["lineage"].items()}
    return {}


def theme_decisions(workspace: Workspace) -> ThemeDecisions:
    """The current theme renames and merges, lineage followed (themes.json's when present)."""
    return resolve_themes(load_store(workspace), lineage_of(workspace))
