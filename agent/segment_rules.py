"""Segment config: dimensions and first-match persona rules written as SQL expressions.

A config is a TOML (or YAML) file; the presets in agent/presets/ are complete, commented examples.

    name = "weekly"                 # shown in reports
    catch_all = "Other"             # persona for users no rule matches (appended if absent)
    min_segment_size = 30           # below this a segment carries a sample-size warning
    top_values = 5                  # top categorical values kept per segment
    top_complaints = 5              # top complaint themes kept per segment

    [table]
    id = "user_id"                  # optional; auto-detects user_id, id, customer_id, ...
    features = ["feat_*"]           # feature-usage columns (globs): feature_breadth = how many
                                    # are > 0, feature_total = their sum, feature_max = the
                                    # largest (NULL counts as 0)
    numeric = ["sessions_30d"]      # columns (globs) summarised per segment
    categorical = ["role", "plan"]  # columns (globs) whose top values are reported per segment
    age = "age"                     # optional; reported only as a range, never an exact age

    [derived]                       # optional: name = SQL expression, in order; usable below
    approval_share = "feat_approvals / NULLIF(events_30d, 0)"

    [[dimensions]]                  # ordered levels, first match wins, else `default`
    name = "engagement"
    default = "Churned"
    levels = [{label = "Very Active", when = "events_30d >= 20"}]

    [[personas]]                    # ordered, first match wins; may use dimension labels
    name = "Power User"
    when = "engagement = 'Very Active' AND feature_breadth >= 4"

Every `when` is one DuckDB SQL boolean expression over the table's columns, the derived
columns, `feature_breadth`, `feature_total`, `feature_max`, earlier dimensions (for a dimension) or all dimensions (for a
persona), so the same rules can be pasted into a warehouse CASE expression. A comparison with
NULL never matches: wrap nullable columns in coalesce() where that matters.
"""

from __future__ import annotations

import atexit
import difflib
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .models import Strict
from .yamlsafe import load_yaml

PRESET_DIR = Path(__file__).parent / "presets"
BREADTH_COLUMN = "feature_breadth"
TOTAL_COLUMN = "feature_total"
MAX_COLUMN = "feature_max"
FEATURE_COLUMNS = (BREADTH_COLUMN, TOTAL_COLUMN, MAX_COLUMN)
# Output column names the scorer owns; a dimension or derived column may not take them.
RESERVED = {"persona", "segment", *FEATURE_COLUMNS}
CATCH_ALL_RULE = "TRUE"


def slugify(name: str) -> str:
    """Stable key fragment: ASCII, lowercase, runs of other characters become one underscore."""
    ascii_text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return slug or "x"


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes, so any column name (spaces, case) is safe."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def norm_sql(expr: str) -> str:
    """One-line form of an expression, as shown in reports."""
    return " ".join(expr.split())


# --------------------------------------------------------------------------- config models


class Level(Strict):
    label: str = Field(min_length=1)
    when: str = Field(min_length=1)


class Dimension(Strict):
    """One behavioural dimension: labelled thresholds, first match wins."""

    name: str = Field(min_length=1)
    description: str = ""
    levels: list[Level] = Field(min_length=1)
    default: str = "Other"

    @property
    def labels(self) -> list[str]:
        """Every label a user can get, in order; the default last unless a level already has it."""
        labels = [lv.label for lv in self.levels]
        return labels if self.default in labels else [*labels, self.default]


class PersonaRule(Strict):
    name: str = Field(min_length=1)
    when: str = Field(min_length=1)
    description: str = ""

    @property
    def is_catch_all(self) -> bool:
        return norm_sql(self.when).upper() == CATCH_ALL_RULE


class TableSpec(Strict):
    id: str | None = None
    features: list[str] = Field(default_factory=lambda: ["feat_*"])
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    age: str | None = None


class SegmentConfig(Strict):
    """A validated segment config; `origin` says where it came from (preset or file)."""

    name: str = "custom"
    description: str = ""
    catch_all: str = "Other"
    min_segment_size: int = Field(default=30, ge=1)
    top_values: int = Field(default=5, ge=1)
    top_complaints: int = Field(default=5, ge=1)
    table: TableSpec = Field(default_factory=TableSpec)
    derived: dict[str, str] = Field(default_factory=dict)
    dimensions: list[Dimension] = Field(default_factory=list)
    # The scorer keeps one bit per rule in a 64-bit integer: 63 rules plus the catch-all.
    personas: list[PersonaRule] = Field(min_length=1, max_length=63)
    origin: str = ""

    _refs: dict[str, set[str]] = PrivateAttr(default_factory=dict)

    @field_validator("personas")
    @classmethod
    def _catch_all_last(cls, personas: list[PersonaRule]) -> list[PersonaRule]:
        for rule in personas[:-1]:
            if rule.is_catch_all:
                raise ValueError(
                    f"persona {rule.name!r} matches everyone, so the rules after it never run"
                )
        return personas

    @model_validator(mode="after")
    def _complete(self) -> SegmentConfig:
        if not self.personas[-1].is_catch_all:
            self.personas.append(PersonaRule(name=self.catch_all, when=CATCH_ALL_RULE))
        _check_names(self)
        self._refs = _check_expressions(self)
        return self

    def rules(self) -> Iterator[tuple[str, str]]:
        """(rule title, expression) for every expression, in evaluation order."""
        for name, expr in self.derived.items():
            yield f"derived column {name!r}", expr
        for dim in self.dimensions:
            for level in dim.levels:
                yield f"dimension {dim.name!r} level {level.label!r}", level.when
        for rule in self.personas:
            yield f"persona {rule.name!r}", rule.when

    def column_refs(self, title: str) -> set[str]:
        """Column names an expression refers to (from DuckDB's parse tree)."""
        return self._refs.get(title, set())


def _check_names(config: SegmentConfig) -> None:
    seen: dict[str, str] = {}

    def claim(name: str, what: str) -> None:
        key = name.lower()
        if key in RESERVED:
            raise ConfigError(f"{what} {name!r}: the name is reserved for the scorer's own output")
        if key in seen:
            raise ConfigError(f"{what} {name!r}: the name is already used by {seen[key]}")
        seen[key] = f"{what} {name!r}"

    for name in config.derived:
        claim(name, "derived column")
    for dim in config.dimensions:
        claim(dim.name, "dimension")
        _unique_slugs(dim.labels, f"dimension {dim.name!r} label")
    _unique_slugs([p.name for p in config.personas], "persona")


def _unique_slugs(names: Iterable[str], what: str) -> None:
    by_slug: dict[str, str] = {}
    for name in names:
        slug = slugify(name)
        if slug in by_slug:
            raise ConfigError(
                f"{what} {name!r} has the same stats key {slug!r} as {by_slug[slug]!r}; rename one"
            )
        by_slug[slug] = name


# --------------------------------------------------------------------------- expressions


@lru_cache(maxsize=1)
def _parser() -> duckdb.DuckDBPyConnection:
    # Parsing needs no data; one private in-memory connection serves every config.
    return duckdb.connect(":memory:")


@atexit.register
def _drop_parser() -> None:
    # Released before shutdown, or DuckDB's bindings report the cached connection as leaked.
    if _parser.cache_info().currsize:
        _parser().close()
        _parser.cache_clear()


def parse_expression(expr: str) -> dict[str, Any]:
    """DuckDB's parse tree of one SQL expression; ValueError with the parser's words if invalid."""
    sql = f"SELECT {paren(expr)}"
    try:
        statements = _parser().extract_statements(sql)
    except duckdb.Error as exc:
        raise ValueError(_first_line(exc)) from exc
    if len(statements) != 1:
        raise ValueError("must be one expression, not several statements")
    cursor = _parser().cursor()
    tree = json.loads(cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise ValueError(tree.get("error_message", "not a valid SQL expression"))
    node = tree["statements"][0]["node"]
    if (
        node.get("type") != "SELECT_NODE"
        or len(node.get("select_list", [])) != 1
        or node.get("from_table", {}).get("type") != "EMPTY"
        or node.get("where_clause") is not None
        or node.get("group_expressions")
    ):
        raise ValueError("must be a single expression (no FROM, WHERE, GROUP BY or ';')")
    return node["select_list"][0]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _column_name(node: dict[str, Any]) -> str | None:
    if node.get("class") == "COLUMN_REF" and node.get("column_names"):
        return str(node["column_names"][-1])
    return None


def _string_constant(node: dict[str, Any]) -> str | None:
    literal = node.get("literal") if node.get("class") == "CONSTANT" else None
    if isinstance(literal, dict) and literal.get("kind") == "STRING":
        return str(literal.get("text"))
    return None


def _label_comparisons(tree: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(column, string) pairs from `col = 'x'`, `col <> 'x'` and `col IN ('x', ...)`."""
    for node in _walk(tree):
        if node.get("class") == "COMPARISON" and node.get("type") in (
            "COMPARE_EQUAL",
            "COMPARE_NOTEQUAL",
        ):
            pairs = [(node.get("left", {}), node.get("right", {}))]
            pairs.append((pairs[0][1], pairs[0][0]))
            for col_node, value_node in pairs:
                col, value = _column_name(col_node), _string_constant(value_node)
                if col is not None and value is not None:
                    yield col, value
        elif node.get("type") in ("COMPARE_IN", "COMPARE_NOT_IN"):
            children = node.get("children", [])
            col = _column_name(children[0]) if children else None
            for child in children[1:]:
                value = _string_constant(child)
                if col is not None and value is not None:
                    yield col, value


def _check_expressions(config: SegmentConfig) -> dict[str, set[str]]:
    """Parse every rule; check string labels compared with a dimension are that dimension's."""
    labels = {dim.name.lower(): dim for dim in config.dimensions}
    refs: dict[str, set[str]] = {}
    for title, expr in config.rules():
        try:
            tree = parse_expression(expr)
        except ValueError as exc:
            raise ConfigError(f"{title}: invalid SQL ({exc}) in: {norm_sql(expr)}") from exc
        refs[title] = {name for node in _walk(tree) if (name := _column_name(node))}
        for col, value in _label_comparisons(tree):
            dim = labels.get(col.lower())
            if dim is not None and value not in dim.labels:
                close = difflib.get_close_matches(value, dim.labels, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"{title}: {value!r} is not a label of dimension {dim.name!r}{hint}; "
                    f"labels are {', '.join(repr(x) for x in dim.labels)}"
                )
    return refs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- loading


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_segment_config(
    path: Path | None, preset: str = "weekly", id_column: str | None = None
) -> SegmentConfig:
    """Load and validate a config file (TOML or YAML), or the named preset when path is None.

    `id_column` (persona.toml's `[segment] id_column`) names the user id column without a
    rules file of one's own; it wins over the file's `[table] id`.
    """
    if path is None:
        file = PRESET_DIR / f"{preset}.toml"
        if not file.exists():
            raise ConfigError(
                f"unknown segment preset {preset!r}; choose one of {', '.join(available_presets())}"
            )
        origin = f"preset:{preset}"
    else:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{file}: segment config not found")
        origin = str(file)
    data = _read_config_file(file)
    try:
        config = SegmentConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key shows up twice: the field "missing" and the typo "not permitted";
        # the typo is the useful half.
        typo = next((e for e in errors if e["type"] == "extra_forbidden"), None)
        if typo is not None and len(typo["loc"]) > 0:
            *parent, key = typo["loc"]
            known = [str(e["loc"][-1]) for e in errors if e["type"] == "missing"]
            where = _where(data, parent) if parent else "config"
            raise ConfigError(
                f"{file}: {where}: unknown key {key!r}{suggest(str(key), known)}"
            ) from exc
        first = errors[0]
        raise ConfigError(f"{file}: {_where(data, first['loc'])}: {first['msg']}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    config.origin = origin
    if id_column:
        config.table.id = id_column
    return config


def _where(data: dict[str, Any], loc: Sequence[Any]) -> str:
    """A validation error's place as a person would name it: persona 'X' (#3).when."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] in ("personas", "dimensions") and isinstance(parts[1], int):
        items = data.get(parts[0])
        item = items[parts[1]] if isinstance(items, list) and parts[1] < len(items) else {}
        name = item.get("name") if isinstance(item, dict) else None
        kind = "persona" if parts[0] == "personas" else "dimension"
        label = f"{kind} {name!r} (#{parts[1] + 1})" if name else f"{kind} #{parts[1] + 1}"
        rest = ".".join(str(p) for p in parts[2:])
        return f"{label}{'.' + rest if rest else ''}"
    return ".".join(str(p) for p in parts) or "config"


def _read_config_file(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read segment config: {exc}") from exc
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            data = load_yaml(text) or {}  # no aliases: rules files are shared
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{file}: not valid {file.suffix.lstrip('.').upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a segment config must be a table of settings")
    data.pop("origin", None)
    return data


# --------------------------------------------------------------------------- SQL building


def paren(expr: str) -> str:
    """A user expression in parentheses; the newline ends any trailing `--` comment in it."""
    return f"({expr}\n)"


def case_sql(branches: list[tuple[str, str]], default: str) -> str:
    """CASE WHEN (cond) THEN 'label' ... ELSE 'default' END: first true condition wins."""
    whens = " ".join(f"WHEN {paren(cond)} THEN {quote_literal(label)}" for cond, label in branches)
    return f"CASE {whens} ELSE {quote_literal(default)} END"


def suggest(name: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or ''."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f" (did you mean {lowered[name.lower()]!r}?)"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
