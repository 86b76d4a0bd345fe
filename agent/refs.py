"""Evidence references, `kind:key`, parsed and written in one place.

A draft cites its evidence as 'theme:<id>', 'chunk:<id>' or 'stat:<key>'; quotes and pain points
name a bare chunk or theme id in `chunk_id` / `theme_id`. Theme ids hash their members, so a
re-run that changes a theme gives it a new id; `follow` maps an old id through
ThemeReport.lineage to the theme that holds its mentions now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

RefKind = Literal["theme", "chunk", "stat"]
KINDS: tuple[RefKind, ...] = ("theme", "chunk", "stat")
# Keys of a JSON object that hold a bare id of a known kind.
ID_KEYS: dict[str, RefKind] = {"chunk_id": "chunk", "theme_id": "theme"}


@dataclass(frozen=True)
class Ref:
    """One parsed reference; `kind` is '' when the text names no known kind."""

    kind: RefKind | Literal[""]
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}" if self.kind else self.key


def parse(text: str) -> Ref:
    """'theme:t1' -> Ref('theme', 't1'); text with no known kind keeps its whole text as key."""
    kind, sep, key = str(text).partition(":")
    if sep and kind in KINDS:
        return Ref(kind, key)  # type: ignore[arg-type]
    return Ref("", str(text))


def fmt(kind: RefKind, key: str) -> str:
    """The reference text for a kind and key."""
    return f"{kind}:{key}"


def theme(theme_id: str) -> str:
    return fmt("theme", theme_id)


def chunk(chunk_id: str) -> str:
    return fmt("chunk", chunk_id)


def stat(key: str) -> str:
    return fmt("stat", key)


def follow(theme_id: str, lineage: Mapping[str, str]) -> str:
    """The current id of a theme, following lineage chains (old -> newer -> current)."""
    seen = {theme_id}
    current = theme_id
    while current in lineage:
        nxt = lineage[current]
        if nxt in seen:
            break  # a cycle is a broken map; stop where we are rather than loop
        seen.add(nxt)
        current = nxt
    return current


def walk(value: Any, visit: Callable[[Ref, Any], None]) -> None:
    """Call `visit(ref, holder)` for every reference in a JSON value, in document order.

    References are the strings of `evidence` lists and the bare ids under `chunk_id`/`theme_id`
    (empty ids name nothing and are skipped); `holder` is the object that holds the reference.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "evidence" and isinstance(item, list):
                for ref in item:
                    if isinstance(ref, str):
                        visit(parse(ref), value)
            elif key in ID_KEYS and isinstance(item, str):
                if item:
                    visit(Ref(ID_KEYS[key], item), value)
            else:
                walk(item, visit)
    elif isinstance(value, list):
        for item in value:
            walk(item, visit)


def refs_in(value: Any) -> list[str]:
    """Every reference in a JSON value, once each, in order of first appearance."""
    found: list[str] = []
    walk(value, lambda ref, _: found.append(str(ref)))
    return list(dict.fromkeys(found))


def ids_in(value: Any, kind: RefKind) -> set[str]:
    """The keys of every reference of one kind in a JSON value."""
    found: set[str] = set()
    walk(value, lambda ref, _: found.add(ref.key) if ref.kind == kind else None)
    return found


def remap_themes(value: Any, lineage: Mapping[str, str]) -> Any:
    """A copy of a JSON value with every theme id (refs and `theme_id`) followed through lineage.

    Lists of bare theme ids (a journey stage's `pain_points`) are not references by shape, so
    callers pass those through `follow` themselves.
    """
    if not lineage:
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "evidence" and isinstance(item, list):
                out[key] = list(dict.fromkeys(_remap_ref(r, lineage) for r in item))
            elif key == "theme_id" and isinstance(item, str) and item:
                out[key] = follow(item, lineage)
            else:
                out[key] = remap_themes(item, lineage)
        return out
    if isinstance(value, list):
        return [remap_themes(item, lineage) for item in value]
    return value


def _remap_ref(ref: Any, lineage: Mapping[str, str]) -> Any:
    if not isinstance(ref, str):
        return ref
    parsed = parse(ref)
    return theme(follow(parsed.key, lineage)) if parsed.kind == "theme" else ref


def without_chunks(value: Any, gone: Iterable[str]) -> Any:
    """A copy of a JSON value without what quotes or cites the chunks in `gone`.

    Objects that name a gone chunk in `chunk_id` (quotes) are dropped from lists (or become
    None elsewhere); 'chunk:<id>' entries leave `evidence` lists.
    """
    drop = frozenset(gone)
    if not drop:
        return value

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("chunk_id") in drop:
                return None
            out = {}
            for key, item in node.items():
                if key == "evidence" and isinstance(item, list):
                    out[key] = [r for r in item if not _names_chunk(r, drop)]
                else:
                    out[key] = strip(item)
            return out
        if isinstance(node, list):
            kept = [strip(item) for item in node]
            return [
                k
                for k, item in zip(kept, node, strict=True)
                if not (k is None and isinstance(item, dict))
            ]
        return node

    return strip(value)


def _names_chunk(ref: Any, chunk_ids: frozenset[str]) -> bool:
    if not isinstance(ref, str):
        return False
    parsed = parse(ref)
    return parsed.kind == "chunk" and parsed.key in chunk_ids


def cites_any(value: Any, chunk_ids: Iterable[str]) -> bool:
    """Does a JSON value quote or cite any of these chunks?"""
    wanted = frozenset(chunk_ids)
    return bool(wanted) and not wanted.isdisjoint(ids_in(value, "chunk"))
