"""Deterministic segment scorer: a user table + a rule config -> segments and their numbers.

DuckDB does the work: the file is scanned once into an in-memory table holding each user's id,
dimension labels, rule results and persona; every statistic is an aggregate over that table. The
connection is locked before it reads anything (see _connect): it can read the user table and
nothing else, so a rule can never reach another file, the network or an extension.

Output conventions (segments.json and its citable `stats` keys):
- shares are fractions 0-1 rounded to 4 decimals; other floats are rounded to 2 decimals;
- keys are dotted slugs (`slugify`): `segment.<persona>.size|share|rule_matches`,
  `segment.<persona>.<column>.mean|median|q1|q3|min|max|n`,
  `segment.<persona>.<column>.<value>.count|share` (categoricals and dimensions),
  `segment.<persona>.age_range.low|high`, `segment.<persona>.complaint.<theme>.count|share`,
  `distribution.<dimension>.<label>.count|share` (dimension `persona` = the segments),
  `overall.<column>...` (the same summaries over all users), `total_users`;
- ages are only ever reported as a range (p25-p75 widened to 5-year bounds, from >= 5 users);
- duplicate or empty ids are an error (one row per user is required; a silent dedupe would
  hide a bad export and skew every number), as are an empty table and text in numeric columns.
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from .errors import ConfigError, InputError
from .models import (
    CategoryShare,
    Migration,
    MigrationCell,
    NumericSummary,
    SegmentReport,
    SegmentStats,
)
from .segment_rules import (
    BREADTH_COLUMN,
    FEATURE_COLUMNS,
    MAX_COLUMN,
    SESSION_NAMES,
    TOTAL_COLUMN,
    SegmentConfig,
    case_sql,
    lock_down,
    norm_sql,
    paren,
    quote_ident,
    quote_literal,
    slugify,
    suggest,
)
from .workspace import Workspace, file_mode, write_json

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}
ID_CANDIDATES = ("user_id", "id", "customer_id", "userid", "account_id", "uid")
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")
MISSING = "(missing)"
MIN_AGE_USERS = 5
PERSONA_COL = "__persona"
ID_COL = "__id"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _share(count: float, total: float) -> float:
    return round(count / total, 4) + 0.0 if total else 0.0


def _num(value: object) -> float:
    # + 0.0 turns -0.0 into 0.0 so the JSON text never depends on a sign bit.
    return round(float(value), 2) + 0.0  # type: ignore[arg-type]


def _is_numeric(sql_type: str) -> bool:
    base = sql_type.upper()
    return base.startswith("DECIMAL") or base.lstrip("U") in NUMERIC_TYPES or base == "BOOLEAN"


def _unique_keys(names: Sequence[str]) -> dict[str, str]:
    """name -> slug, suffixing _2, _3 ... when two names slugify alike (first come keeps it)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = slug = slugify(name)
        n = 2
        while slug in used:
            slug, n = f"{base}_{n}", n + 1
        used.add(slug)
        out[name] = slug
    return out


# --------------------------------------------------------------------------- assignments


@dataclass
class Assignments:
    """Each user's dimension labels and persona, held in the scorer's DuckDB connection."""

    con: duckdb.DuckDBPyConnection
    table: str
    id_column: str
    dimensions: list[str]
    # The only directory the locked connection may write (see _connect); removed by close().
    scratch: tempfile.TemporaryDirectory[str]

    def __len__(self) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {self.table}").fetchall()[0][0])

    def items(self) -> list[tuple[str, str]]:
        """(user id, persona) sorted by id."""
        sql = f"SELECT {ID_COL}, {PERSONA_COL} FROM {self.table} ORDER BY {ID_COL}"
        return [(str(i), str(p)) for i, p in self.con.execute(sql).fetchall()]

    def to_dict(self) -> dict[str, str]:
        return dict(self.items())

    def close(self) -> None:
        """Free the in-memory table (the object is unusable afterwards)."""
        self.con.close()
        self.scratch.cleanup()

    def write_csv(self, path: Path) -> None:
        """CSV with the id, every dimension label and the persona, sorted by id (atomic)."""
        dims = "".join(f", {quote_ident(d)}" for d in self.dimensions)
        select = (
            f"SELECT {ID_COL} AS {quote_ident(self.id_column)}{dims}, {PERSONA_COL} AS persona "
            f"FROM {self.table} ORDER BY {ID_COL}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # The locked connection writes into its scratch directory only; the file moves from
        # there (a rename on one file system) and replaces the target atomically.
        made = Path(self.scratch.name) / "assignments.csv"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            self.con.execute(
                f"COPY ({select}) TO {quote_literal(str(made))} "
                "(FORMAT csv, HEADER true, DELIMITER ',')"
            ).fetchall()
            shutil.move(made, tmp)
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            made.unlink(missing_ok=True)
            raise


# --------------------------------------------------------------------------- scoring


@dataclass
class _Run:
    """One scoring of one file into one table of a connection."""

    con: duckdb.DuckDBPyConnection
    path: Path
    config: SegmentConfig
    table: str
    warnings: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    id_col: str = ""
    features: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    age: str | None = None
    fmt: str = "csv"
    csv_dialect: str | None = None
    csv_types: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)

    # ---- reading

    def source(self) -> str:
        """The table function that reads the file (the id column is always read as text)."""
        p = quote_literal(str(self.path))
        if self.fmt == "csv" and self.csv_dialect is not None:
            # Read with the dialect and types sniffed once in describe(): every read_csv with
            # auto-detection sniffs again, which costs as much as a fifth of a full scan.
            cols = {c: ("VARCHAR" if c == self.id_col else t) for c, t in self.csv_types.items()}
            columns = ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in cols.items())
            return f"read_csv({p}, auto_detect=false, {self.csv_dialect}, columns={{{columns}}})"
        if self.fmt == "csv":
            types = f", types={{{quote_literal(self.id_col)}: 'VARCHAR'}}" if self.id_col else ""
            return f"read_csv({p}, header=true{types})"
        if self.fmt == "parquet":
            return f"read_parquet({p})"
        return f"read_json_auto({p})"

    def open(self) -> None:
        if not self.path.is_file():
            raise InputError(str(self.path), "user table not found")
        suffixes = [s.lower() for s in self.path.suffixes if s.lower() not in (".gz", ".zst")]
        self.fmt = FORMATS.get(suffixes[-1] if suffixes else "", "")
        if not self.fmt:
            raise InputError(
                str(self.path), "unsupported user table format (use .csv, .parquet or .jsonl)"
            )
        if self.path.stat().st_size == 0:
            raise InputError(str(self.path), "the file is empty")
        self.types = self.describe()
        self.id_col = self.resolve_id()
        # source() now reads the id as text, so "007" keeps its zeros and joins ticket ids.
        self.types[self.id_col] = "VARCHAR"

    def ensure_rows(self) -> None:
        """Raise 'no rows' for a header-only table (checked only when something else failed)."""
        try:
            rows = self.con.execute(f"SELECT 1 FROM {self.source()} LIMIT 1").fetchall()
        except duckdb.Error as exc:
            raise self.read_error(exc) from exc
        if not rows:
            raise InputError(str(self.path), "the table has no rows")

    def describe(self) -> dict[str, str]:
        if self.fmt == "csv":
            return self.sniff()
        try:
            rows = self.con.execute(f"DESCRIBE SELECT * FROM {self.source()}").fetchall()
        except duckdb.Error as exc:
            raise InputError(str(self.path), f"cannot read the table: {_first_line(exc)}") from exc
        return {str(r[0]): str(r[1]) for r in rows}

    def sniff(self) -> dict[str, str]:
        """Detect the CSV's dialect and column types once; source() reuses them."""
        p = quote_literal(str(self.path))
        try:
            cur = self.con.execute(f"SELECT * FROM sniff_csv({p}, header=true)")
            row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
        except duckdb.Error as exc:
            raise InputError(str(self.path), f"cannot read the table: {_first_line(exc)}") from exc
        if len(row["Columns"]) == 1:
            # A malformed row in the sniffer's sample makes it give up on the real delimiter
            # and read one wide column; name the row instead of "id column not found".
            bad = _first_ragged_row(self.path)
            if bad:
                line, fields, expected = bad
                raise InputError(
                    str(self.path),
                    f"row has {fields} fields, the header has {expected}; fix or remove that row",
                    line,
                )

        def char(value: object) -> str:
            # sniff_csv spells "none" as '(empty)'; read_csv spells it ''.
            return quote_literal("" if value in (None, "(empty)") else str(value))

        options = [
            f"delim={char(row['Delimiter'])}",
            f"quote={char(row['Quote'])}",
            f"escape={char(row['Escape'])}",
            f"comment={char(row['Comment'])}",
            f"new_line={char(row['NewLineDelimiter'])}",
            f"skip={int(row['SkipRows'])}",
            f"header={'true' if row['HasHeader'] else 'false'}",
        ]
        if row.get("DateFormat"):
            options.append(f"dateformat={char(row['DateFormat'])}")
        if row.get("TimestampFormat"):
            options.append(f"timestampformat={char(row['TimestampFormat'])}")
        self.csv_dialect = ", ".join(options)
        self.csv_types = {str(c["name"]): str(c["type"]) for c in row["Columns"]}
        return dict(self.csv_types)

    def resolve_id(self) -> str:
        wanted = self.config.table.id
        lowered = {c.lower(): c for c in self.types}
        if wanted:
            if wanted in self.types:
                return wanted
            if wanted.lower() in lowered:
                return lowered[wanted.lower()]
            raise ConfigError(
                f"{self.path}: id column {wanted!r} not found{suggest(wanted, self.types)}"
            )
        for cand in ID_CANDIDATES:
            if cand in lowered:
                return lowered[cand]
        raise ConfigError(
            f"{self.path}: no user id column found (looked for {', '.join(ID_CANDIDATES)}; "
            f"columns: {', '.join(list(self.types)[:12])}); name it in persona.toml with "
            '[segment] id_column = "..." (or [table] id in a rules file)'
        )

    def read_error(self, exc: duckdb.Error) -> InputError:
        """Turn DuckDB's multi-line CSV conversion report into one line naming column and line."""
        text = str(exc)
        line = re.search(r"CSV Error on Line: (\d+)", text)
        conv = re.search(
            r'Error when converting column "([^"]+)"\. Could not convert string "([^"]*)" to '
            r"'([A-Z0-9_]+)'",
            text,
        )
        if conv:
            col, value, sql_type = conv.groups()
            return InputError(
                str(self.path),
                f"column {col!r} holds {value!r} where the earlier rows are {sql_type} numbers; "
                "fix the value or leave it empty",
                int(line.group(1)) if line else None,
            )
        return InputError(
            str(self.path),
            f"cannot read the table: {_first_line(exc)}",
            int(line.group(1)) if line else None,
        )

    # ---- columns

    def resolve_columns(self) -> None:
        cols = list(self.types)
        taken = {c.lower() for c in cols}
        own = [*FEATURE_COLUMNS, *self.config.derived]
        for name in [*own, *(d.name for d in self.config.dimensions)]:
            if name.lower() in taken:
                raise ConfigError(
                    f"{self.path} already has a column named {name!r}, a name the scorer or the "
                    "segment config also defines; rename the dimension or derived column (or the "
                    "table's column)"
                )
        self.features = self.match(self.config.table.features, "features", must_be_numeric=True)
        if not self.features:
            self.warnings.append(
                f"no feature columns match {self.config.table.features}; "
                f"{', '.join(FEATURE_COLUMNS)} are 0"
            )
        extra = [*FEATURE_COLUMNS, *self.config.derived]
        self.numeric = self.match(self.config.table.numeric, "numeric", True, extra)
        self.categorical = self.match(self.config.table.categorical, "categorical", False)
        age = self.config.table.age
        if age:
            try:
                found = self.match([age], "age", True)
            except ConfigError:
                # Ages exported as bands ("25-34") are already ranges: report them as values.
                found = []
                self.categorical.append(next(c for c in self.types if c.lower() == age.lower()))
                self.warnings.append(f"age column {age!r} is text; its values are reported as-is")
            self.age = found[0] if found else None

    def match(
        self,
        patterns: Sequence[str],
        what: str,
        must_be_numeric: bool,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """Columns matching the patterns (table order); explicit names must exist."""
        out: list[str] = []
        lowered = {c.lower(): c for c in self.types}
        for pattern in patterns:
            if any(ch in pattern for ch in "*?["):
                hits = [c for c in self.types if fnmatch.fnmatchcase(c.lower(), pattern.lower())]
                if must_be_numeric:
                    hits = [
                        c for c in hits if _is_numeric(self.types[c]) or self.is_text_numbers(c)
                    ]
            elif pattern in extra:
                hits = [pattern]
            elif pattern.lower() in lowered:
                hits = [lowered[pattern.lower()]]
            else:
                self.warnings.append(
                    f"[table] {what}: column {pattern!r} not in {self.path.name}"
                    f"{suggest(pattern, self.types)}; skipped"
                )
                continue
            for col in hits:
                if must_be_numeric and col in self.types and not _is_numeric(self.types[col]):
                    self.require_numeric(col, what)
                if col not in out:
                    out.append(col)
        return out

    def is_text_numbers(self, col: str) -> bool:
        """A text column whose values are mostly numbers (a stray word made DuckDB read it as text)."""
        if self.types.get(col) != "VARCHAR":
            return False
        expr = quote_ident(col)
        good, total = self.con.execute(
            f"SELECT count(TRY_CAST({expr} AS DOUBLE)), count({expr}) FROM {self.source()}"
        ).fetchall()[0]
        return total > 0 and good > 0

    def require_numeric(self, col: str, what: str) -> None:
        """Raise a one-line error naming the column (and a bad value) when it is not numeric."""
        self.ensure_rows()
        if self.is_text_numbers(col):
            raise self.text_in_numeric(col)
        raise ConfigError(
            f"{self.rules()}[table] {what}: column {col!r} of {self.path.name} is "
            f"{self.types[col]}, not numeric"
        )

    def text_in_numeric(self, col: str) -> InputError:
        expr = quote_ident(col)
        # A default connection keeps file order, so row_number() is the data row. It runs only
        # the scorer's own query on the user table, never a rule, so it needs no lock.
        with duckdb.connect() as con:
            rows = con.execute(
                f"SELECT rn, v, count(*) OVER () FROM (SELECT row_number() OVER () AS rn, "
                f"{expr} AS v FROM {self.source()}) WHERE v IS NOT NULL "
                f"AND TRY_CAST(v AS DOUBLE) IS NULL ORDER BY rn LIMIT 1"
            ).fetchall()
        rn, value, bad = rows[0]
        return InputError(
            str(self.path),
            f"column {col!r} should be numeric but has {bad} text value(s), e.g. {value!r} in "
            f"data row {rn}",
        )

    # ---- SQL layers

    def layers(self, base: str) -> list[tuple[str, str | None, str, bool, set[str]]]:
        """(title, expression, sql-with-its-inputs, must-be-boolean, columns available) per rule."""
        out: list[tuple[str, str | None, str, bool, set[str]]] = []
        used = [f"CAST(coalesce({quote_ident(c)}, 0) > 0 AS INTEGER)" for c in self.features]
        vals = [f"coalesce({quote_ident(c)}, 0)" for c in self.features]
        sql = (
            f"SELECT *, ({' + '.join(used) or '0'}) AS {BREADTH_COLUMN}, "
            f"({' + '.join(vals) or '0'}) AS {TOTAL_COLUMN}, "
            f"({'greatest(' + ', '.join(vals) + ')' if vals else '0'}) AS {MAX_COLUMN} FROM {base}"
        )
        names = {c.lower() for c in self.types} | set(FEATURE_COLUMNS)
        for name, expr in self.config.derived.items():
            out.append((f"derived column {name!r}", expr, sql, False, set(names)))
            sql = f"SELECT *, {paren(expr)} AS {quote_ident(name)} FROM ({sql})"
            names.add(name.lower())
        for dim in self.config.dimensions:
            for level in dim.levels:
                title = f"dimension {dim.name!r} level {level.label!r}"
                out.append((title, level.when, sql, True, set(names)))
            case = case_sql([(lv.when, lv.label) for lv in dim.levels], dim.default)
            sql = f"SELECT *, {case} AS {quote_ident(dim.name)} FROM ({sql})"
            names.add(dim.name.lower())
        for rule in self.config.personas:
            out.append((f"persona {rule.name!r}", rule.when, sql, True, set(names)))
        out.append(("", None, sql, False, names))
        return out

    def enum_type(self, name: str) -> str:
        return quote_ident(f"{self.table}__{name}_t")

    def create_types(self) -> None:
        """ENUM types for dimension labels and personas: one byte per user instead of a string."""
        sets = [(d.name, d.labels) for d in self.config.dimensions]
        sets.append(("persona", [p.name for p in self.config.personas]))
        for name, labels in sets:
            values = ", ".join(quote_literal(v) for v in labels)
            self.con.execute(f"DROP TYPE IF EXISTS {self.enum_type(name)}").fetchall()
            self.con.execute(f"CREATE TYPE {self.enum_type(name)} AS ENUM ({values})").fetchall()

    def scored_sql(self, base: str) -> str:
        """The whole scoring as one SELECT: id, labels, rule-match bits, persona, stat columns."""
        sql = self.layers(base)[-1][2]
        personas = self.config.personas
        # One bit per persona rule (matched or not, before first-match), for rule_matches; the
        # narrowest unsigned type that holds them keeps the column small.
        width = next(w for w in (8, 16, 32, 64) if len(personas) <= w)
        bit_type = {8: "UTINYINT", 16: "USMALLINT", 32: "UINTEGER", 64: "UBIGINT"}[width]
        bits = " | ".join(
            f"(CAST(coalesce({paren(r.when)}, false) AS {bit_type}) << {i})"
            for i, r in enumerate(personas)
        )
        # Labels are cast to the ENUM as constants, once, rather than row by row.
        persona_t = self.enum_type("persona")
        whens = " ".join(
            f"WHEN __rules & {1 << i} <> 0 THEN CAST({quote_literal(r.name)} AS {persona_t})"
            for i, r in enumerate(personas)
        )
        persona = (
            f"CASE {whens} ELSE CAST({quote_literal(self.config.catch_all)} AS {persona_t}) END"
        )
        dims = "".join(
            f", CAST({quote_ident(d.name)} AS {self.enum_type(d.name)}) AS {quote_ident(d.name)}"
            for d in self.config.dimensions
        )
        keep: list[str] = []
        for col in [*self.numeric, *self.categorical, *([self.age] if self.age else [])]:
            if col not in keep:
                keep.append(col)
        kept = "".join(f", {quote_ident(c)}" for c in keep)
        return (
            f"SELECT CAST({quote_ident(self.id_col)} AS VARCHAR) AS {ID_COL}{dims}{kept}, "
            f"__rules, {persona} AS {PERSONA_COL} "
            f"FROM (SELECT *, ({bits}) AS __rules FROM ({sql}))"
        )

    def validate_rules(self) -> None:
        """Bind every expression against the table's columns before reading any data."""
        # An empty table with the file's schema: binding against it reads no data.
        cols = ", ".join(f"{quote_ident(c)} {t}" for c, t in self.types.items())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.table}_proto ({cols})").fetchall()
        # Expressions that see the same columns are bound together in one DESCRIBE; only a
        # group that fails is bound again one by one, to name the rule.
        groups: dict[str, list[tuple[str, str, bool, set[str]]]] = {}
        for title, expr, sql, boolean, names in self.layers(f"{self.table}_proto"):
            if expr is not None:
                self.check_session_names(title, names)
                groups.setdefault(sql, []).append((title, expr, boolean, names))
        for sql, rules in groups.items():
            try:
                selects = ", ".join(
                    f"{paren(expr)} AS v{i}" for i, (_, expr, _, _) in enumerate(rules)
                )
                out_types = [
                    str(r[1])
                    for r in self.con.execute(f"DESCRIBE SELECT {selects} FROM ({sql})").fetchall()
                ]
            except duckdb.Error:
                out_types = [self.bind_one(sql, *rule) for rule in rules]
            for (title, expr, boolean, _), out_type in zip(rules, out_types, strict=True):
                if boolean and out_type not in ("BOOLEAN", '"NULL"', "NULL"):
                    raise ConfigError(
                        f"{self.rules()}{title} must be a true/false condition, but gives {out_type}: "
                        f"{norm_sql(expr)}"
                    )
        self.con.execute(f"DROP TABLE {self.table}_proto").fetchall()

    def check_session_names(self, title: str, names: set[str]) -> None:
        """Refuse `current_date` and kin: without a column of that name DuckDB reads the clock."""
        for name in sorted(self.config.bare_names(title)):
            if name.lower() in SESSION_NAMES and name.lower() not in names:
                raise ConfigError(
                    f"{self.rules()}{title} uses {name}, which is not a column of "
                    f"{self.path.name} but the clock or the session: rules must give the same "
                    "segments for the same table on any day (put the value in the table)"
                )

    def bind_one(self, sql: str, title: str, expr: str, boolean: bool, names: set[str]) -> str:
        """The type of one rule expression, or the ConfigError naming it."""
        try:
            rows = self.con.execute(f"DESCRIBE SELECT {paren(expr)} AS v FROM ({sql})").fetchall()
        except duckdb.Error as exc:
            raise self.rule_error(title, expr, exc, names) from exc
        return str(rows[0][1])

    def rule_error(
        self, title: str, expr: str, exc: duckdb.Error, names: set[str]
    ) -> ConfigError | InputError:
        if isinstance(exc, duckdb.PermissionException):
            # Only a gap in the allow-list gets here: the locked connection refused the access.
            return ConfigError(
                f"{self.rules()}{title} tries to reach outside the table, which rules may not "
                f"({_first_line(exc)})"
            )
        self.ensure_rows()
        refs = self.config.column_refs(title)
        missing = sorted(r for r in refs if r.lower() not in names)
        if missing:
            avail = [*self.types, *FEATURE_COLUMNS, *self.config.derived]
            return ConfigError(
                f"{self.rules()}{title} uses column {missing[0]!r}, which {self.path.name} "
                "does not have"
                f"{suggest(missing[0], avail)}: {norm_sql(expr)}"
            )
        for ref in sorted(refs):
            col = next((c for c in self.types if c.lower() == ref.lower()), None)
            if col and self.is_text_numbers(col):
                return self.text_in_numeric(col)
        problem = _first_line(exc)
        if "Division by zero" in problem:
            problem = "division by zero on some rows; divide with NULLIF(x, 0)"
        return ConfigError(f"{self.rules()}{title}: {problem} in: {norm_sql(expr)}")

    def rules(self) -> str:
        """'<rules file>: ' (or 'preset:weekly: '), so a rule error says which file to open."""
        return f"{self.config.origin}: " if self.config.origin else ""

    def materialize(self) -> None:
        self.create_types()
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {self.table} AS {self.scored_sql(self.source())}"
            ).fetchall()
        except duckdb.Error as exc:
            raise self.diagnose(exc) from exc
        scored = self.con.execute(f"DESCRIBE {self.table}").fetchall()
        scored_types = {str(r[0]): str(r[1]) for r in scored}
        for col in list(self.numeric):
            if not _is_numeric(scored_types.get(col, "")):
                self.numeric.remove(col)
                self.warnings.append(
                    f"[table] numeric: {col!r} is {scored_types.get(col)}, not a number; skipped"
                )
        self.types.update(scored_types)

    def diagnose(self, exc: duckdb.Error) -> InputError | ConfigError:
        """Find which rule failed on the data (only runs after a failure)."""
        if "CSV Error" in str(exc):
            return self.read_error(exc)
        for title, expr, sql, _, names in self.layers(self.source()):
            if expr is None:
                continue
            try:
                self.con.execute(f"SELECT count_if({paren(expr)} IS NULL) FROM ({sql})").fetchall()
            except duckdb.Error as rule_exc:
                return self.rule_error(title, expr, rule_exc, names)
        return self.read_error(exc)

    def check_rows(self) -> int:
        personas = self.config.personas
        per_rule = "".join(f", count_if(__rules & {1 << i} <> 0)" for i in range(len(personas)))
        per_persona = "".join(
            f", count_if({PERSONA_COL} = {quote_literal(p.name)})" for p in personas
        )
        row = self.con.execute(
            f"SELECT count(*), count({ID_COL}), count(DISTINCT {ID_COL}){per_rule}{per_persona} "
            f"FROM {self.table}"
        ).fetchall()[0]
        total, with_id, distinct = row[:3]
        k = len(personas)
        self.matches = {p.name: int(n) for p, n in zip(personas, row[3 : 3 + k], strict=True)}
        self.sizes = {p.name: int(n) for p, n in zip(personas, row[3 + k :], strict=True)}
        if total == 0:
            raise InputError(str(self.path), "the table has no rows")
        if with_id < total:
            raise InputError(
                str(self.path), f"{total - with_id} row(s) have an empty {self.id_col!r}"
            )
        if distinct < total:
            dups = self.con.execute(
                f"SELECT {ID_COL}, count(*) AS n FROM {self.table} GROUP BY 1 HAVING n > 1 "
                f"ORDER BY n DESC, 1 LIMIT 5"
            ).fetchall()
            n_dup = self.con.execute(
                f"SELECT count(*) FROM (SELECT {ID_COL} FROM {self.table} GROUP BY 1 "
                f"HAVING count(*) > 1)"
            ).fetchall()[0][0]
            examples = ", ".join(f"{i!r} ({n} rows)" for i, n in dups)
            raise InputError(
                str(self.path),
                f"{n_dup} duplicate {self.id_col!r} value(s), e.g. {examples}; "
                "one row per user is expected",
            )
        return int(total)

    def run(self) -> int:
        self.open()
        self.resolve_columns()
        self.validate_rules()
        self.materialize()
        return self.check_rows()


def _first_ragged_row(path: Path) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first row whose width differs from the header's,
    with the delimiter the header line suggests; None when the header has no delimiter."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
        header = fh.readline()
        counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
        delimiter, hits = max(counts.items(), key=lambda kv: kv[1])
        if not hits:
            return None
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        expected = len(next(reader, []))
        for row in reader:
            if row and len(row) != expected:
                return reader.line_num, len(row), expected
    return None


def _connect(tables: Sequence[Path], scratch: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A locked scorer connection: it may read `tables` and write into `scratch`, nothing else.

    Locked before any query runs, so neither the scorer's SQL nor a rule can read another file,
    fetch a URL, install or load an extension, or change a setting back (segment_rules.LOCK_DOWN).
    The user tables stay readable in place, so the scan-and-score stays one streaming pass.
    """
    con = duckdb.connect(":memory:")
    # Every output is sorted explicitly, so row order inside DuckDB never matters; letting
    # it go makes the one big scan-and-score parallel without an ordering step.
    con.execute("SET preserve_insertion_order = false").fetchall()
    # As typed and absolute: the file is the same, and DuckDB compares the spelling it is given.
    spellings = dict.fromkeys(p for t in tables for p in (str(t), str(Path(t).absolute())))
    paths = ", ".join(quote_literal(p) for p in spellings)
    con.execute(f"SET allowed_paths = [{paths}]").fetchall()
    if scratch is not None:
        con.execute(
            f"SET allowed_directories = [{quote_literal(str(scratch) + os.sep)}]"
        ).fetchall()
    lock_down(con)
    return con


# --------------------------------------------------------------------------- statistics


class _Stats:
    """Builds the SegmentReport from a scored table, with a few small aggregate queries."""

    def __init__(self, run: _Run, total: int) -> None:
        self.run, self.con, self.total, self.t = run, run.con, total, run.table
        self.config = run.config
        self.names = [p.name for p in self.config.personas]
        self.slugs = {p.name: slugify(p.name) for p in self.config.personas}
        self.sizes = run.sizes
        self.flat: dict[str, float | int] = {"total_users": total}

    def _prefix(self, persona: str | None) -> str:
        return "overall" if persona is None else f"segment.{self.slugs[persona]}"

    def numeric_histograms(self, cols: Sequence[str]) -> dict[tuple[int, str | None], tuple]:
        """(column index, persona or None=all) -> (n, sum, min, max, quartile bounds).

        Quantiles come from per-value counts rather than sorting every row: exact (the same
        interpolation as quantile_cont), deterministic, and far cheaper on low-cardinality
        columns such as activity counts. Sums are DECIMAL, so means do not depend on the order
        DuckDB's threads add floats in.
        """
        # Group on the stored values first and convert the (few) distinct ones afterwards.
        branches = " UNION ALL ".join(
            f"SELECT {i} AS k, p, CAST(v AS DOUBLE) AS v, c FROM (SELECT {PERSONA_COL} AS p, "
            f"{quote_ident(c)} AS v, count(*) AS c FROM {self.t} GROUP BY ALL) "
            "WHERE isfinite(CAST(v AS DOUBLE))"
            for i, c in enumerate(cols)
        )
        bounds = []
        for q in (0.25, 0.5, 0.75):
            for fn in ("floor", "ceil"):
                bounds.append(f"min(v) FILTER (WHERE cum > {fn}({q} * (n - 1)))")
        rows = self.con.execute(
            f"WITH h AS MATERIALIZED ({branches}), "
            f"hp AS (SELECT * FROM h UNION ALL SELECT k, NULL, v, sum(c) FROM h GROUP BY k, v), "
            f"w AS (SELECT k, p, v, c, sum(c) OVER (PARTITION BY k, p ORDER BY v "
            f"ROWS UNBOUNDED PRECEDING) AS cum, sum(c) OVER (PARTITION BY k, p) AS n FROM hp) "
            f"SELECT k, p, any_value(n), sum(CAST(v AS DECIMAL(38, 6)) * c), min(v), max(v), "
            f"{', '.join(bounds)} FROM w GROUP BY k, p"
        ).fetchall()
        return {(int(r[0]), None if r[1] is None else str(r[1])): tuple(r[2:]) for r in rows}

    @staticmethod
    def _quantile(n: int, q: float, lo: float, hi: float) -> float:
        pos = q * (n - 1)
        return lo + (hi - lo) * (pos - math.floor(pos))

    def numeric(self) -> tuple[dict[str | None, dict[str, NumericSummary]], dict[str, str]]:
        """Per persona (None = all users): column -> summary; and persona -> age range."""
        cols = list(self.run.numeric)
        age = self.run.age
        hist_cols = cols + ([age] if age else [])
        out: dict[str | None, dict[str, NumericSummary]] = {}
        if not hist_cols:
            return out, {}
        hist = self.numeric_histograms(hist_cols)
        col_keys = _unique_keys(cols)
        for persona in [None, *self.names]:
            if persona is not None and not self.sizes[persona]:
                continue
            summaries: dict[str, NumericSummary] = {}
            for i, col in enumerate(cols):
                key = f"{self._prefix(persona)}.{col_keys[col]}"
                stats = hist.get((i, persona))
                self.flat[f"{key}.n"] = int(stats[0]) if stats else 0
                if not stats:
                    continue
                n, total, lo, hi, q1a, q1b, q2a, q2b, q3a, q3b = stats
                summary = NumericSummary(
                    mean=_num(total / n),
                    median=_num(self._quantile(n, 0.5, q2a, q2b)),
                    q1=_num(self._quantile(n, 0.25, q1a, q1b)),
                    q3=_num(self._quantile(n, 0.75, q3a, q3b)),
                    min=_num(lo),
                    max=_num(hi),
                )
                summaries[col] = summary
                for stat, value in summary.model_dump().items():
                    self.flat[f"{key}.{stat}"] = value
            out[persona] = summaries
        return out, self.ages(hist, len(cols)) if age else {}

    def ages(self, hist: dict[tuple[int, str | None], tuple], k: int) -> dict[str, str]:
        """Age as 'lo-hi': the interquartile range widened to 5-year bounds, never one age."""
        out: dict[str, str] = {}
        for persona in self.names:
            stats = hist.get((k, persona))
            if not stats or stats[0] < MIN_AGE_USERS:
                continue
            n, _, _, _, q1a, q1b, _, _, q3a, q3b = stats
            q1, q3 = self._quantile(n, 0.25, q1a, q1b), self._quantile(n, 0.75, q3a, q3b)
            low = max(10, math.floor(q1 / 5) * 5)
            high = min(99, max(math.ceil((q3 + 1) / 5) * 5 - 1, low + 4))
            out[persona] = f"{low}-{high}"
            self.flat[f"segment.{self.slugs[persona]}.age_range.low"] = low
            self.flat[f"segment.{self.slugs[persona]}.age_range.high"] = high
        return out

    def value_counts(self, cols: Sequence[str]) -> dict[tuple[int, str], Counter[str]]:
        """(column index, persona) -> value counts, NULL shown as '(missing)'; one query."""
        branches = " UNION ALL ".join(
            f"SELECT {i} AS k, p, coalesce(CAST(v AS VARCHAR), {quote_literal(MISSING)}) AS v, c "
            f"FROM (SELECT {PERSONA_COL} AS p, {quote_ident(c)} AS v, count(*) AS c "
            f"FROM {self.t} GROUP BY ALL)"
            for i, c in enumerate(cols)
        )
        out: dict[tuple[int, str], Counter[str]] = {}
        for k, p, v, c in self.con.execute(branches).fetchall():
            out.setdefault((int(k), str(p)), Counter())[str(v)] += int(c)
        return out

    def categorical(
        self,
    ) -> tuple[dict[str, dict[str, list[CategoryShare]]], dict[str, list[CategoryShare]]]:
        """Top values per persona of categorical columns and dimensions; dimension distributions."""
        per: dict[str, dict[str, list[CategoryShare]]] = {n: {} for n in self.names}
        dims = [d.name for d in self.config.dimensions]
        cols = [c for c in self.run.categorical if c not in dims] + dims
        if not cols:
            return per, {}
        counts = self.value_counts(cols)
        col_keys = _unique_keys(cols)
        overall: dict[str, Counter[str]] = {c: Counter() for c in cols}
        for (k, _persona), values in sorted(counts.items()):
            overall[cols[k]].update(values)
        for persona in [None, *self.names]:
            denom = self.total if persona is None else self.sizes[persona]
            if not denom:
                continue
            for k, col in enumerate(cols):
                values = overall[col] if persona is None else counts.get((k, persona), Counter())
                top = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
                if col not in dims:
                    top = top[: self.config.top_values]
                shares = self._shares(f"{self._prefix(persona)}.{col_keys[col]}", top, denom)
                if persona is not None:
                    per[persona][col] = shares
        distributions = {}
        for dim in self.config.dimensions:
            labelled = [(label, overall[dim.name].get(label, 0)) for label in dim.labels]
            distributions[dim.name] = self._shares(
                f"distribution.{slugify(dim.name)}", labelled, self.total
            )
            self.run.warnings += [
                f"dimension {dim.name!r} level {lv.label!r} matched nobody"
                for lv in dim.levels
                if not overall[dim.name].get(lv.label)
            ]
        persona_counts = [(name, self.sizes[name]) for name in self.names]
        distributions["persona"] = self._shares("distribution.persona", persona_counts, self.total)
        return per, distributions

    def _shares(
        self, prefix: str, counts: Sequence[tuple[str, int]], denom: int
    ) -> list[CategoryShare]:
        keys = _unique_keys([value for value, _ in counts])
        shares = []
        for value, n in counts:
            share = _share(n, denom)
            shares.append(CategoryShare(value=value, count=n, share=share))
            self.flat[f"{prefix}.{keys[value]}.count"] = n
            self.flat[f"{prefix}.{keys[value]}.share"] = share
        return shares

    def report(self) -> SegmentReport:
        numeric, ages = self.numeric()
        per_cat, distributions = self.categorical()
        warnings = list(self.run.warnings)
        segments = []
        for rule in self.config.personas:
            name, size, matches = rule.name, self.sizes[rule.name], self.run.matches[rule.name]
            slug = self.slugs[name]
            self.flat[f"segment.{slug}.size"] = size
            self.flat[f"segment.{slug}.share"] = _share(size, self.total)
            self.flat[f"segment.{slug}.rule_matches"] = matches
            warning = None
            if size == 0 and rule.is_catch_all:
                warning = "no users: every user matched an earlier rule"
            elif size == 0:
                taken = f" (its rule matches {matches}, all claimed by earlier rules)"
                warning = "no users" + (taken if matches else "")
                warnings.insert(0, f"persona {name!r} matched nobody{taken if matches else ''}")
            elif size < self.config.min_segment_size:
                warning = (
                    f"only {size} users (< {self.config.min_segment_size}): "
                    "treat its numbers as indicative"
                )
            rule_text = norm_sql(rule.when)
            if rule.is_catch_all:
                rule_text = "TRUE (catch-all: no earlier rule matched)"
            segments.append(
                SegmentStats(
                    name=name,
                    rule=rule_text,
                    size=size,
                    share=_share(size, self.total),
                    numeric=numeric.get(name, {}),
                    categorical=per_cat.get(name, {}),
                    age_range=ages.get(name),
                    warning=warning,
                )
            )
        return SegmentReport(
            # The file name only: segments.json must not change with how the path was typed
            # (`users.csv`, `./users.csv`, `/abs/users.csv`) or with the working directory.
            source=self.run.path.name,
            config=self.config.origin or self.config.name,
            total_users=self.total,
            segments=segments,
            distributions=distributions,
            stats=dict(sorted(self.flat.items())),
            warnings=warnings,
        )


# --------------------------------------------------------------------------- public API


def score_users(
    path: Path,
    config: SegmentConfig,
    complaints: Mapping[str, Sequence[str]] | None = None,
) -> tuple[SegmentReport, Assignments]:
    """Segment a user table (CSV/Parquet/JSONL) with the config's rules; report + assignments."""
    scratch = tempfile.TemporaryDirectory(prefix="persona-segment-")
    try:
        con = _connect([Path(path)], Path(scratch.name))
    except BaseException:
        scratch.cleanup()
        raise
    try:
        run = _Run(con=con, path=Path(path), config=config, table="scored")
        total = run.run()
        report = _Stats(run, total).report()
    except BaseException:
        con.close()
        scratch.cleanup()
        raise
    dims = [d.name for d in config.dimensions]
    assignments = Assignments(
        con=con, table=run.table, id_column=run.id_col, dimensions=dims, scratch=scratch
    )
    if complaints:
        report = add_complaints(report, assignments, config, complaints)
    return report, assignments


def add_complaints(
    report: SegmentReport,
    assignments: Assignments,
    config: SegmentConfig,
    complaints: Mapping[str, Sequence[str]],
) -> SegmentReport:
    """The report with each segment's top complaint themes: distinct users / segment size.

    Works on the scored users still held by `assignments`, so a run that learns the themes
    after scoring (`persona run`) adds them without scoring the table again.
    """
    pairs = sorted({(str(u), str(lab)) for u, labels in complaints.items() for lab in labels})
    if not pairs:
        return report
    con, t = assignments.con, assignments.table
    data = {
        "id": np.array([u for u, _ in pairs], dtype=object),
        "label": np.array([lab for _, lab in pairs], dtype=object),
    }
    # Registered by name: the locked connection has no replacement scans of Python objects.
    con.register("__complaints_in", data)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __complaints AS SELECT CAST(id AS VARCHAR) AS id, "
            "CAST(label AS VARCHAR) AS label FROM __complaints_in"
        ).fetchall()
    finally:
        con.unregister("__complaints_in")
    rows = con.execute(
        f"SELECT s.{PERSONA_COL}, c.label, count(DISTINCT c.id) FROM __complaints c "
        f"JOIN {t} s ON s.{ID_COL} = c.id GROUP BY 1, 2"
    ).fetchall()
    matched = con.execute(
        f"SELECT count(DISTINCT c.id) FROM __complaints c JOIN {t} s ON s.{ID_COL} = c.id"
    ).fetchall()[0][0]
    # A report that already has complaints (refreshed twice) loses the earlier numbers.
    old_keys = {"complaints.users_matched"}
    for seg in report.segments:
        keys = _unique_keys([c.value for c in seg.top_complaints])
        prefix = f"segment.{slugify(seg.name)}.complaint"
        old_keys.update(
            f"{prefix}.{k}.{stat}" for k in keys.values() for stat in ("count", "share")
        )
    stats = {k: v for k, v in report.stats.items() if k not in old_keys}
    stats["complaints.users_matched"] = int(matched)
    warnings = list(report.warnings)
    if not matched:
        warnings.append(
            f"none of the {len({u for u, _ in pairs})} users with complaints is in "
            f"{report.source} (ids must match {assignments.id_column!r})"
        )
    per: dict[str, Counter[str]] = {}
    for persona, label, n in rows:
        per.setdefault(str(persona), Counter())[str(label)] = int(n)
    segments = []
    for seg in report.segments:
        counts = per.get(seg.name, Counter())
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: config.top_complaints]
        keys = _unique_keys([label for label, _ in top])
        shares = []
        for label, n in top:
            share = _share(n, seg.size)
            shares.append(CategoryShare(value=label, count=n, share=share))
            prefix = f"segment.{slugify(seg.name)}.complaint.{keys[label]}"
            stats[f"{prefix}.count"], stats[f"{prefix}.share"] = n, share
        segments.append(seg.model_copy(update={"top_complaints": shares}))
    return report.model_copy(
        update={"segments": segments, "stats": dict(sorted(stats.items())), "warnings": warnings}
    )


def write_segment_outputs(
    report: SegmentReport, assignments: Assignments, workspace: Workspace
) -> None:
    """Write segments.json (byte-stable) and segment_assignments.csv into the workspace."""
    workspace.ensure()
    assignments.write_csv(workspace.assignments)
    write_segment_report(report, workspace)


def write_segment_report(report: SegmentReport, workspace: Workspace) -> None:
    """Write segments.json alone (the assignments CSV it names is already in place)."""
    final = report.model_copy(update={"assignments_file": workspace.assignments.name})
    write_json(workspace.segments, final)


def load_assignments(workspace: Workspace) -> dict[str, str]:
    """User id -> persona segment name, from the workspace's assignments CSV."""
    path = workspace.assignments
    if not path.is_file():
        raise InputError(str(path), "no segment assignments yet; run `persona segment` first")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or header[-1] != "persona":
            raise InputError(str(path), "not a segment assignments file (no persona column)")
        return {row[0]: row[-1] for row in reader if row}


def compare_snapshots(old: Path, new: Path, config: SegmentConfig) -> Migration:
    """Score two snapshots with one config and report who moved from which segment to which."""
    con = _connect([Path(old), Path(new)])
    try:
        runs = {}
        for tag, path in (("old", old), ("new", new)):
            run = _Run(con=con, path=Path(path), config=config, table=f"{tag}_scored")
            run.run()
            runs[tag] = run
        return _migration(con, runs["old"], runs["new"], config)
    finally:
        con.close()


def _migration(
    con: duckdb.DuckDBPyConnection, old: _Run, new: _Run, config: SegmentConfig
) -> Migration:
    o, n = old.table, new.table
    names = [p.name for p in config.personas]
    stats: dict[str, float | int] = {}
    totals = {
        tag: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
        for tag, t in (("old", o), ("new", n))
    }
    in_both = int(
        con.execute(f"SELECT count(*) FROM {o} JOIN {n} USING ({ID_COL})").fetchall()[0][0]
    )

    def matrix(col: str, order: Sequence[str], prefix: str) -> list[MigrationCell]:
        rows = con.execute(
            f"SELECT f, t, count(*) AS c, list(id ORDER BY id)[1:5] FROM (SELECT o.{col} AS f, "
            f"n.{col} AS t, {ID_COL} AS id FROM {o} o JOIN {n} n USING ({ID_COL})) GROUP BY 1, 2"
        ).fetchall()
        from_sizes: dict[str, int] = {}
        for f, _, c, _ in rows:
            from_sizes[f] = from_sizes.get(f, 0) + c
        rank = {label: i for i, label in enumerate(order)}
        cells = []
        for f, t, c, ids in sorted(rows, key=lambda r: (rank.get(r[0], 1e9), rank.get(r[1], 1e9))):
            share = _share(c, from_sizes[f])
            cells.append(
                MigrationCell(
                    from_segment=f, to_segment=t, count=c, share_of_from=share, sample_ids=ids
                )
            )
            stats[f"{prefix}.{slugify(f)}.{slugify(t)}.count"] = c
            stats[f"{prefix}.{slugify(f)}.{slugify(t)}.share"] = share
        return cells

    transitions = matrix(PERSONA_COL, names, "migration")
    dimensions = {
        d.name: matrix(quote_ident(d.name), d.labels, f"migration.dimension.{slugify(d.name)}")
        for d in config.dimensions
    }

    def anti(a: str, b: str) -> dict[str, int]:
        rows = dict(
            con.execute(
                f"SELECT {PERSONA_COL}, count(*) FROM {a} ANTI JOIN {b} USING ({ID_COL}) GROUP BY 1"
            ).fetchall()
        )
        return {name: int(rows[name]) for name in names if rows.get(name)}

    def sizes(t: str) -> dict[str, int]:
        rows = dict(con.execute(f"SELECT {PERSONA_COL}, count(*) FROM {t} GROUP BY 1").fetchall())
        return {name: int(rows.get(name, 0)) for name in names}

    only_old, only_new = anti(o, n), anti(n, o)
    old_sizes, new_sizes = sizes(o), sizes(n)
    net = {name: new_sizes[name] - old_sizes[name] for name in names}
    moved = sum(c.count for c in transitions if c.from_segment != c.to_segment)
    for name in names:
        slug = slugify(name)
        stats[f"migration.old.{slug}.size"] = old_sizes[name]
        stats[f"migration.new.{slug}.size"] = new_sizes[name]
        stats[f"migration.net.{slug}"] = net[name]
        stats[f"migration.only_old.{slug}"] = only_old.get(name, 0)
        stats[f"migration.only_new.{slug}"] = only_new.get(name, 0)
    stats["migration.in_both"] = in_both
    stats["migration.moved"] = moved
    stats["migration.moved_share"] = _share(moved, in_both)
    warnings = [*old.warnings, *new.warnings]
    if in_both == 0:
        warnings.append("the two snapshots share no user ids; nothing to compare")
    return Migration(
        old_source=str(old.path),
        new_source=str(new.path),
        config=config.origin or config.name,
        old_total=totals["old"],
        new_total=totals["new"],
        in_both=in_both,
        moved=moved,
        transitions=transitions,
        dimensions=dimensions,
        only_old=only_old,
        only_new=only_new,
        net_change=net,
        stats=dict(sorted(stats.items())),
        warnings=list(dict.fromkeys(warnings)),
    )
