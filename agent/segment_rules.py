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

Rules files are data: each expression is checked against DuckDB's own parse tree and may hold only
column names, constants, operators, CASE, CAST/TRY_CAST to a plain type and the scalar functions in
ALLOWED_FUNCTIONS; subqueries, table functions, aggregates, window functions, lambdas, parameters
and `*` are refused. The scorer also evaluates rules only on a locked connection (lock_down).
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

# Applied, in this order, to every DuckDB connection that parses, binds or evaluates a rule,
# before it runs a query: no file (beyond the allowed_paths/allowed_directories set first),
# network or extension access, and no SET can undo it.
LOCK_DOWN = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)

# The scalar functions a rule may call (names as DuckDB's parser gives them; operators such as
# LIKE and || arrive as functions named ~~ and ||). Each is deterministic: the same row gives the
# same answer on any machine, any day. Left out on purpose: anything reading files, the
# environment, settings or variables (read_*, getenv, current_setting, getvariable), the clock
# (now, today, age with one argument), randomness (random, uuid), sequences, hashes whose values
# change between DuckDB versions, list functions that take lambdas, and aggregates (a rule sees one
# user's row). coalesce, CASE, CAST, IN, BETWEEN, IS NULL, NOT, AND and OR are parse-tree nodes of
# their own and always allowed.
ALLOWED_FUNCTIONS = frozenset(
    {
        # arithmetic and comparison operators
        *("+", "-", "*", "/", "//", "%", "^", "**"),
        # LIKE, NOT LIKE, ILIKE, NOT ILIKE, SIMILAR TO, string concatenation
        *("~~", "!~~", "~~*", "!~~*", "regexp_full_match", "||"),
        # numbers
        *("abs", "sign", "round", "floor", "ceil", "ceiling", "trunc", "mod"),
        *("least", "greatest", "nullif", "if", "isnan", "isinf", "isfinite"),
        *("ln", "log", "log2", "log10", "exp", "sqrt", "cbrt", "pow", "power"),
        # text
        *("lower", "upper", "lcase", "ucase", "trim", "ltrim", "rtrim", "strip_accents"),
        *("length", "strlen", "concat", "left", "right", "substring", "substr", "replace"),
        *("contains", "starts_with", "ends_with", "prefix", "suffix", "regexp_matches"),
        *("split_part", "strpos", "position", "instr"),
        # dates and times (EXTRACT is date_part; INTERVAL n DAY uses to_days and trunc)
        *("date_diff", "datediff", "date_sub", "datesub", "date_part", "datepart"),
        *("date_trunc", "datetrunc", "year", "quarter", "month", "week", "weekofyear"),
        *("day", "dayofweek", "isodow", "dayofyear", "hour", "minute", "second", "last_day"),
        *("epoch", "epoch_ms", "make_date", "to_timestamp", "strptime", "try_strptime"),
        *("strftime", "to_years", "to_months", "to_weeks", "to_days", "to_hours"),
        *("to_minutes", "to_seconds"),
    }
)
# CAST / TRY_CAST / :: targets: plain scalar types (nested and extension types are refused).
ALLOWED_TYPES = frozenset(
    {
        *("boolean", "bool", "logical"),
        *("tinyint", "int1", "smallint", "int2", "short", "integer", "int", "int4", "signed"),
        *("bigint", "int8", "long", "hugeint", "int128"),
        *("utinyint", "usmallint", "uinteger", "ubigint", "uhugeint"),
        *("float", "float4", "real", "double", "float8", "decimal", "numeric"),
        *("varchar", "text", "string", "char", "bpchar"),
        *("date", "time", "timestamp", "datetime", "interval"),
    }
)
# Bare names DuckDB reads as the clock or the session when no column has that name; a rule
# using one would give different segments on another day or machine.
SESSION_NAMES = frozenset(
    {
        *("current_date", "current_time", "current_timestamp", "localtime", "localtimestamp"),
        *("current_user", "user", "session_user", "current_role"),
        *("current_catalog", "current_schema"),
    }
)


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

    _refs: dict[str, list[tuple[str, ...]]] = PrivateAttr(default_factory=dict)

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
        return {parts[-1] for parts in self._refs.get(title, [])}

    def bare_names(self, title: str) -> set[str]:
        """Unqualified names an expression refers to (a column, or a session name if none)."""
        return {parts[0] for parts in self._refs.get(title, []) if len(parts) == 1}


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


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Switch off file, network and extension access on a connection, for good."""
    for statement in LOCK_DOWN:
        con.execute(statement).fetchall()


@lru_cache(maxsize=1)
def _parser() -> duckdb.DuckDBPyConnection:
    # Parsing needs no data; one private, locked in-memory connection serves every config.
    con = duckdb.connect(":memory:")
    lock_down(con)
    return con


def rules_connection() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the locked connection that parses rules."""
    return _parser().cursor()


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


class RefusedExpression(ValueError):
    """A construct a rules file may not use; the message names it."""


def check_allowed(tree: dict[str, Any]) -> None:
    """Raise RefusedExpression for the first node of the parse tree outside the allow-list.

    Fail-closed: every node with a `class` is checked, and a class not named here is refused.
    """
    for node in _walk(tree):
        kind = node.get("class")
        if kind is None:
            continue
        problem = _refusal(node, str(kind), str(node.get("type", "")))
        if problem:
            raise RefusedExpression(problem)


_ALLOWED_OPERATORS = {
    "OPERATOR_NOT",
    "OPERATOR_IS_NULL",
    "OPERATOR_IS_NOT_NULL",
    "COMPARE_IN",
    "COMPARE_NOT_IN",
    "OPERATOR_COALESCE",
}
_REFUSED = {
    "SUBQUERY": "a subquery (SELECT ...)",
    "WINDOW": "a window function (... OVER)",
    "LAMBDA": "a lambda (x -> ...)",
    "PARAMETER": "a parameter ($1 or ?)",
    "STAR": "* or COLUMNS(...)",
    "POSITIONAL_REFERENCE": "a column position (#n)",
    "COLLATE": "COLLATE (compare lower(...) instead)",
}


# Functions the parser makes out of syntax, named as the user wrote them.
_SPELLED = {
    "list_value": "a list [...]",
    "struct_pack": "a struct {...}",
    "row": "a row (...)",
    "count_star": "aggregate function count(*)",
}


def _refusal(node: dict[str, Any], kind: str, node_type: str) -> str | None:
    """Why one parse-tree node is refused, or None when it is allowed."""
    if kind in ("COLUMN_REF", "CONSTANT", "COMPARISON", "CONJUNCTION", "BETWEEN", "CASE"):
        return None
    if kind == "CAST":
        # DuckDB 1.1-1.3 spell the target as cast_type {"id": ...}, later ones as a TYPE node.
        legacy = node.get("cast_type")
        if isinstance(legacy, dict) and str(legacy.get("id", "")).lower() not in ALLOWED_TYPES:
            info = legacy.get("type_info") or {}
            name = info.get("user_type_name") if isinstance(info, dict) else None
            return f"a cast to {name or legacy.get('id')} (only plain scalar types)"
        return None
    if kind == "TYPE":
        name = str(node.get("type_name", ""))
        if node.get("schema") or node.get("catalog") or name.lower() not in ALLOWED_TYPES:
            return f"a cast to {name or 'that type'} (only plain scalar types)"
        return None
    if kind == "OPERATOR":
        if node_type in _ALLOWED_OPERATORS:
            return None
        named = {"ARRAY_EXTRACT": "indexing x[...]", "ARRAY_SLICE": "slicing x[a:b]"}
        return named.get(node_type, f"the operator {node_type.removeprefix('OPERATOR_').lower()}")
    if kind == "FUNCTION":
        return _function_refusal(node)
    if kind == "SUBQUERY":
        # Name what the subquery would read (its table function), the part that matters.
        kinds = _function_kinds()
        reads = [
            name
            for n in _walk(node)
            if n.get("class") == "FUNCTION"
            and kinds.get(name := str(n.get("function_name")).lower()) == "table"
        ]
        return "a subquery (SELECT ...)" + (f" calling {reads[0]}()" if reads else "")
    if kind in _REFUSED:
        return _REFUSED[kind]
    return f"{kind.lower()} expressions"


def _function_refusal(node: dict[str, Any]) -> str | None:
    name = str(node.get("function_name", "")).lower()
    if name not in ALLOWED_FUNCTIONS:
        if name in _SPELLED:
            return _SPELLED[name]
        what = _function_kinds().get(name, "")
        close = [] if what else difflib.get_close_matches(name, ALLOWED_FUNCTIONS, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}()?)" if close else ""
        return f"{what + ' ' if what else ''}function {name}(){hint}"
    # DuckDB itself spells some built-ins as main.x (EXTRACT, in 1.x); any other schema or
    # catalog could name something that is not the built-in on the list.
    schema, catalog = str(node.get("schema") or ""), str(node.get("catalog") or "")
    if schema not in ("", "main") or catalog not in ("", "system"):
        return f"a qualified function name ({schema or catalog}.{name})"
    order_bys = node.get("order_bys") or {}
    if (
        node.get("distinct")
        or node.get("filter") is not None
        or (isinstance(order_bys, dict) and order_bys.get("orders"))
        or node.get("export_state")
    ):
        return f"DISTINCT, ORDER BY or FILTER inside {name}()"
    if any(isinstance(a, dict) and a.get("name") for a in node.get("arguments") or []):
        return f"a named argument in {name}()"
    return None


@lru_cache(maxsize=1)
def _function_kinds() -> dict[str, str]:
    """Function name -> 'table' or 'aggregate', so a refusal says what kind of function it is."""
    with rules_connection() as con:
        rows = con.execute(
            "SELECT function_name, min(function_type) FROM duckdb_functions() "
            "WHERE function_type IN ('aggregate', 'table', 'table_macro') GROUP BY 1"
        ).fetchall()
    return {str(n).lower(): "table" if str(t).startswith("table") else str(t) for n, t in rows}


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


def _check_expressions(config: SegmentConfig) -> dict[str, list[tuple[str, ...]]]:
    """Parse every rule, refuse what is not data, check labels compared with a dimension are its.

    Returns every column reference (all its name parts) per rule title.
    """
    labels = {dim.name.lower(): dim for dim in config.dimensions}
    refs: dict[str, list[tuple[str, ...]]] = {}
    for title, expr in config.rules():
        try:
            tree = parse_expression(expr)
        except ValueError as exc:
            raise ConfigError(f"{title}: invalid SQL ({exc}) in: {norm_sql(expr)}") from exc
        try:
            check_allowed(tree)
        except RefusedExpression as exc:
            # The expression is not echoed: the construct named is enough to find it.
            raise ConfigError(
                f"{title}: {exc} is not allowed; a rule may use only the table's columns, "
                "constants, operators, CASE, CAST and the scalar functions listed under "
                "'Rules files are data' in the README"
            ) from exc
        refs[title] = [
            tuple(str(n) for n in node["column_names"])
            for node in _walk(tree)
            if node.get("class") == "COLUMN_REF" and node.get("column_names")
        ]
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
