"""Rules files are data: no expression reads a file, the environment or the network (issue 11)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from agent import segment_rules
from agent.cli import app
from agent.errors import ConfigError
from agent.segment import _connect, compare_snapshots, score_users
from agent.segment_rules import (
    ALLOWED_FUNCTIONS,
    available_presets,
    load_segment_config,
    rules_connection,
)

REPO = Path(__file__).resolve().parents[1]
USERS = REPO / "transcripts" / "users.csv"
PASSWD = Path("/etc/passwd")
SECRET = "PERSONA_PROBE_SECRET"
SECRET_VALUE = "the-value-must-never-show"
README_HINT = "listed under 'Rules files are data' in the README"

# (case, rules file text, the rule named in the error, the construct named in the error)
HOSTILE = [
    (
        "read_text subquery in derived",
        "[derived]\nleak = \"(SELECT length(content) FROM read_text('/etc/passwd'))\"\n"
        '[[personas]]\nname = "Leaky"\nwhen = "leak > 100"\n',
        "derived column 'leak'",
        "a subquery (SELECT ...) calling read_text()",
    ),
    (
        "read_text subquery in when",
        # The probe's form: the conversion error used to carry the file's first line.
        '[[personas]]\nname = "Leaky"\nwhen = "CAST((SELECT COLUMNS(\'content\') FROM '
        "read_text('/etc/passwd')) AS INTEGER) > 0\"\n",
        "persona 'Leaky'",
        "a subquery (SELECT ...) calling read_text()",
    ),
    (
        "getenv in a dimension level",
        '[[dimensions]]\nname = "env"\n'
        f'levels = [{{label = "Set", when = "getenv(\'{SECRET}\') IS NOT NULL"}}]\n'
        '[[personas]]\nname = "A"\nwhen = "env = \'Set\'"\n',
        "dimension 'env' level 'Set'",
        "function getenv()",
    ),
    (
        "read_csv of an http URL",
        '[[personas]]\nname = "Remote"\nwhen = "(SELECT count(*) FROM '
        "read_csv('http://127.0.0.1:9/users.csv')) > 0\"\n",
        "persona 'Remote'",
        "a subquery (SELECT ...) calling read_csv()",
    ),
    (
        "a table function called directly",
        '[[personas]]\nname = "Sniffer"\nwhen = "sniff_csv(\'/etc/passwd\') IS NOT NULL"\n',
        "persona 'Sniffer'",
        "table function sniff_csv()",
    ),
    (
        "a window function",
        '[[personas]]\nname = "Above"\nwhen = "sessions_30d > avg(sessions_30d) OVER ()"\n',
        "persona 'Above'",
        "a window function (... OVER)",
    ),
    (
        "an aggregate",
        '[[personas]]\nname = "Above"\nwhen = "sessions_30d > avg(sessions_30d)"\n',
        "persona 'Above'",
        "aggregate function avg()",
    ),
]


def _passwd_lines() -> list[str]:
    if not PASSWD.is_file():
        return []
    return [line for line in PASSWD.read_text(errors="replace").splitlines() if len(line) > 8]


def _assert_nothing_leaked(*texts: str) -> None:
    for text in texts:
        assert SECRET_VALUE not in text
        for line in _passwd_lines():
            assert line not in text, f"/etc/passwd content leaked: {line!r}"


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("case", "text", "rule", "construct"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_persona_segment_refuses_rules_that_reach_outside_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, text: str, rule: str, construct: str
) -> None:
    monkeypatch.setenv(SECRET, SECRET_VALUE)
    rules = tmp_path / "hostile.toml"
    rules.write_text(text, encoding="utf-8")
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["segment", str(USERS), "--rules", str(rules), "-w", str(ws)])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result)
    assert f"hostile.toml: {rule}: {construct} is not allowed" in line, line
    assert README_HINT in line
    _assert_nothing_leaked(result.stdout, result.stderr)
    assert not (ws / "segments.json").exists() and not (ws / "segment_assignments.csv").exists()
    # --compare evaluates the same rules, so it refuses them the same way.
    compared = CliRunner().invoke(
        app, ["segment", "--compare", str(USERS), str(USERS), "--rules", str(rules), "-w", str(ws)]
    )
    assert compared.exit_code == 1 and f"{rule}: {construct}" in _one_error_line(compared)


def test_a_yaml_rules_file_is_checked_alike(tmp_path: Path) -> None:
    rules = tmp_path / "hostile.yaml"
    rules.write_text(
        "derived:\n  leak: \"(SELECT length(content) FROM read_text('/etc/passwd'))\"\n"
        "personas:\n  - name: Leaky\n    when: leak > 100\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["segment", str(USERS), "--rules", str(rules), "-w", str(tmp_path / "ws"), "--json"]
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["kind"] == "ConfigError"
    assert (
        "hostile.yaml: derived column 'leak': a subquery (SELECT ...) calling read_text()"
        in (payload["error"])
    )
    _assert_nothing_leaked(result.stdout, result.stderr)


def test_persona_run_scores_nothing_from_a_hostile_rules_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dana.md").write_text(
        "---\nparticipant_id: P01\n---\nInterviewer: What went wrong?\n"
        "Dana: The bank feed broke again and I lost a whole day fixing it. So frustrating.\n",
        encoding="utf-8",
    )
    users = tmp_path / "users.csv"
    shutil.copy(USERS, users)
    rules = tmp_path / "hostile.toml"
    rules.write_text(HOSTILE[0][1], encoding="utf-8")
    config = tmp_path / "persona.toml"
    config.write_text(
        f'[embeddings]\nprovider = "hash"\n[llm]\nprovider = "offline"\n'
        f"[segment]\nconfig = {json.dumps(str(rules))}\n",
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    result = CliRunner().invoke(
        app,
        ["run", str(corpus), "--users", str(users), "-w", str(ws), "-c", str(config), "--json"],
    )
    assert result.exit_code == 2, result.output  # partial: the run goes on without numbers
    summary = json.loads(result.stdout)
    segment = next(s for s in summary["steps"] if s["step"] == "segment")
    assert not segment["ok"]
    assert (
        "hostile.toml: derived column 'leak': a subquery (SELECT ...) calling read_text() is "
        "not allowed" in segment["notes"][0]
    )
    last_run = (ws / "last_run.json").read_text(encoding="utf-8")
    assert "calling read_text()" in last_run
    assert not (ws / "segments.json").exists()
    _assert_nothing_leaked(result.stdout, result.stderr, last_run)


@pytest.mark.parametrize(
    ("when", "construct"),
    [
        ("list_transform([1], x -> x + 1) IS NOT NULL", "function list_transform()"),
        ("tags[1] = 'x'", "indexing x[...]"),
        ("sessions_30d > $1", "a parameter ($1 or ?)"),
        ("COLUMNS('sess.*') > 3", "* or COLUMNS(...)"),
        ("#2 > 3", "a column position (#n)"),
        ("role COLLATE nocase = 'admin'", "COLLATE (compare lower(...) instead)"),
        ("other.abs(nps) > 3", "a qualified function name (other.abs)"),
        ("round(nps, precision := 1) > 3", "a named argument in round()"),
        ("abs(nps ORDER BY role) > 3", "DISTINCT, ORDER BY or FILTER inside abs()"),
        ("CAST(role AS JSON) IS NOT NULL", "a cast to JSON (only plain scalar types)"),
        ("sessions_30d IN (SELECT 1)", "a subquery (SELECT ...)"),
        ("EXISTS (SELECT 1)", "a subquery (SELECT ...)"),
        ("random() > 0.5", "function random()"),
        ("now() > TIMESTAMP '2024-01-01'", "function now()"),
        ("current_setting('threads') > 0", "function current_setting()"),
        ("nps = [1, 2]", "a list [...]"),
        ("count(*) > 1", "aggregate function count(*)"),
        ("ceilling(nps) > 3", "function ceilling() (did you mean ceiling()?)"),
    ],
)
def test_every_construct_outside_the_allow_list_is_named(
    tmp_path: Path, when: str, construct: str
) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text(f'[[personas]]\nname = "A"\nwhen = {json.dumps(when)}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_segment_config(rules)
    message = str(caught.value)
    assert message.startswith(f"{rules}: persona 'A': {construct} is not allowed"), message
    assert "\n" not in message


def test_allowed_constructs_score_what_they_say(tmp_path: Path) -> None:
    table = tmp_path / "users.csv"
    rows = [
        # user_id, role, plan, signup, sessions_30d, nps
        ("u1", "Finance_Admin", "team", "2024-01-15", 40, 9),
        ("u2", "approver", "free", "2024-06-01", 3, None),
        ("u3", "employee ", "business", "2023-03-20", 12, 4),
        ("u4", "controller", "enterprise", "2024-11-30", 0, 10),
        ("u5", "employee", "team", "2022-07-04", 25, 7),
    ]
    lines = ["user_id,role,plan,signup,sessions_30d,nps"]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = tmp_path / "rules.toml"
    rules.write_text(
        """
[table]
features = []
[derived]
tenure_days = "date_diff('day', CAST(signup AS DATE), DATE '2025-01-01')"
per_week = "round(sessions_30d / NULLIF(4.0, 0), 1)"
[[dimensions]]
name = "band"
default = "Low"
levels = [
  { label = "High", when = "sessions_30d BETWEEN 20 AND 100" },
  { label = "Mid", when = "sessions_30d >= 10 AND NOT (sessions_30d IS NULL)" },
]
[[personas]]
name = "Admin"
when = "lower(role) LIKE '%admin%' AND regexp_matches(plan, '^te')"
[[personas]]
name = "Veteran"
when = "tenure_days > 365 AND EXTRACT(year FROM CAST(signup AS DATE)) < 2024 AND band = 'Mid'"
[[personas]]
name = "Promoter"
when = "CASE WHEN coalesce(nps, 0) >= 9 THEN TRUE ELSE FALSE END AND plan IN ('enterprise', 'team')"
[[personas]]
name = "Steady"
when = "trim(role) = 'employee' AND TRY_CAST(per_week AS INTEGER) >= 6 AND greatest(nps, 0) > 5"
""",
        encoding="utf-8",
    )
    report, assignments = score_users(table, load_segment_config(rules))
    try:
        assert assignments.to_dict() == {
            "u1": "Admin",  # finance_admin on the team plan
            "u2": "Other",  # 3 sessions, no nps
            "u3": "Veteran",  # 12 sessions (Mid), signed up 2023
            "u4": "Promoter",  # nps 10 on enterprise
            "u5": "Steady",  # 25 sessions -> 6.3 a week -> 6, nps 7
        }
        assert report.stats["distribution.band.high.count"] == 2
    finally:
        assignments.close()


def test_the_clock_is_not_a_column(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[[personas]]\nname = \"Recent\"\nwhen = \"date_diff('day', DATE '2024-01-01', "
        'current_date) > 30"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["segment", str(USERS), "--rules", str(rules), "-w", str(tmp_path / "ws")]
    )
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "rules.toml: persona 'Recent' uses current_date, which is not a column of users.csv" in (
        line
    )
    # A table that has such a column means that column.
    table = tmp_path / "dated.csv"
    table.write_text("user_id,current_date\nu1,2024-03-01\nu2,2023-12-31\n", encoding="utf-8")
    report, assignments = score_users(table, load_segment_config(rules))
    assignments.close()
    assert report.stats["segment.recent.size"] == 1


def test_allow_listed_functions_are_deterministic_scalars() -> None:
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT function_name, list(DISTINCT function_type), "
            "bool_or(coalesce(stability, '') = 'VOLATILE') FROM duckdb_functions() "
            "WHERE function_name IN (SELECT unnest(?)) GROUP BY 1",
            [sorted(ALLOWED_FUNCTIONS)],
        ).fetchall()
    found = {name: (set(kinds), volatile) for name, kinds, volatile in rows}
    assert set(found) == set(ALLOWED_FUNCTIONS), set(ALLOWED_FUNCTIONS) - set(found)
    for name, (kinds, volatile) in found.items():
        assert kinds <= {"scalar", "macro"} and not volatile, (name, kinds)
    for preset in available_presets():  # the presets use only allowed constructs
        assert load_segment_config(None, preset).personas


# --------------------------------------------------------------------------- the locked connection

ESCAPES = [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT getenv('HOME')",
    "SELECT * FROM read_csv('http://127.0.0.1:9/users.csv')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET autoload_known_extensions = true",
    "SET autoinstall_known_extensions = true",
    "SET lock_configuration = false",
    "SET allowed_directories = ['/']",
    "ATTACH '/tmp/persona-probe.duckdb'",
    "SELECT * FROM glob('/etc/*')",
]


def _assert_locked(con: duckdb.DuckDBPyConnection, outside: Path) -> None:
    # Settings first: nothing below may try the network unless these already hold.
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'autoinstall_known_extensions', 'autoload_known_extensions', 'lock_configuration')"
        ).fetchall()
    )
    assert settings == {
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "lock_configuration": "true",
    }
    for sql in [
        *ESCAPES,
        f"SELECT * FROM read_csv('{outside}')",
        f"COPY (SELECT 1) TO '{outside}'",
    ]:
        with pytest.raises(duckdb.Error) as caught:
            con.execute(sql).fetchall()
        message = str(caught.value)
        _assert_nothing_leaked(message)
        # getenv is not even defined once external access is off.
        refusal = r"disabled (by|through) configuration|configuration has been locked|getenv"
        assert re.search(refusal, message), (sql, message)
    # httpfs was neither installed nor loaded: its settings (s3_region, ...) do not exist.
    httpfs = con.execute("SELECT count(*) FROM duckdb_settings() WHERE name = 's3_region'")
    assert httpfs.fetchall() == [(0,)]


def test_the_connection_rules_ran_on_is_locked(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    report, assignments = score_users(USERS, load_segment_config(None, "weekly"))
    scratch = Path(assignments.scratch.name)
    try:
        _assert_locked(assignments.con, outside)
        # The one place it may write is its own scratch directory (the assignments CSV).
        out = tmp_path / "ws" / "segment_assignments.csv"
        assignments.write_csv(out)
        assert out.read_text(encoding="utf-8").startswith("user_id,engagement,")
        assert list(scratch.iterdir()) == []
    finally:
        assignments.close()
    assert not scratch.exists()
    assert report.total_users == 2400


def test_scorer_connections_are_locked_before_their_first_query(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    with rules_connection() as con:  # the one that parses rules files
        _assert_locked(con, outside)
    # The scorer's: locked as it is made; it reads the user table it was made for, no other.
    con = _connect([USERS])
    try:
        _assert_locked(con, outside)
        rows = con.execute(f"SELECT count(*) FROM read_csv('{USERS}')").fetchall()
        assert rows == [(2400,)]
    finally:
        con.close()


def test_a_gap_in_the_check_still_reads_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend the allow-list missed these: the locked connections must refuse them anyway.
    monkeypatch.setattr(segment_rules, "check_allowed", lambda tree: None)
    for case in (0, 1, 3):
        rules = tmp_path / f"gap{case}.toml"
        rules.write_text(HOSTILE[case][1], encoding="utf-8")
        config = load_segment_config(rules)  # accepted: the check is off
        for compare in (False, True):
            with pytest.raises(ConfigError) as caught:
                if compare:
                    compare_snapshots(USERS, USERS, config)
                else:
                    score_users(USERS, config)
            message = str(caught.value)
            assert f"{HOSTILE[case][2]} tries to reach outside the table" in message, message
            assert "disabled by configuration" in message
            _assert_nothing_leaked(message)
