"""Segment scorer: presets, first-match rules, exact stats, reproducible output, bad input."""

from __future__ import annotations

import csv
import gzip
import json
import random
import statistics
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from agent.errors import ConfigError, InputError, PersonaError
from agent.segment import (
    add_complaints,
    compare_snapshots,
    load_assignments,
    score_users,
    write_segment_outputs,
)
from agent.segment_rules import available_presets, load_segment_config, slugify
from agent.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SAMPLE_USERS = REPO / "transcripts" / "users.csv"
FEATURES = ["receipts", "approvals", "cards", "bank_sync", "exports", "reports"]
GROUPS = ["power", "approver", "employee", "new", "at_risk", "churned"]
# The weekly preset's persona for each planted group.
EXPECTED = {
    "power": "Finance Power User",
    "approver": "Occasional Approver",
    "employee": "Expense Submitter",
    "new": "New User",
    "at_risk": "At Risk",
    "churned": "Churned",
}


def make_users(n: int = 360, seed: int = 7) -> list[dict[str, object]]:
    """A small user table with the six planted behavioural groups, in the sample's columns."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        group = GROUPS[i % len(GROUPS)]
        feats = dict.fromkeys(FEATURES, 0)
        if group == "power":
            role, signup, s30, e30, idle = "finance_admin", rnd.randint(90, 900), 40, 150, 1
            feats = {f: rnd.randint(1, 30) for f in FEATURES}
        elif group == "approver":
            role, signup, s30, e30, idle = "approver_manager", rnd.randint(60, 900), 4, 9, 5
            feats["approvals"], feats["reports"] = rnd.randint(4, 12), rnd.randint(0, 2)
        elif group == "employee":
            role, signup, s30, e30, idle = "employee", rnd.randint(60, 900), 6, 12, 3
            feats["receipts"], feats["cards"] = rnd.randint(3, 12), rnd.randint(0, 2)
        elif group == "new":
            role, signup, s30, e30, idle = "employee", rnd.randint(1, 29), 5, 10, 1
            feats["reports"] = rnd.randint(1, 3)
        elif group == "at_risk":
            role, signup, s30, e30, idle = "controller", 500, 1, 2, rnd.randint(14, 60)
            feats["receipts"] = 1
        else:
            role, signup, s30, e30, idle = "employee", 700, 0, 0, rnd.randint(61, 300)
        row: dict[str, object] = {
            "user_id": f"u{i:04d}",
            "age": rnd.randint(21, 64),
            "signup_source": rnd.choice(["search", "referral", "partner", "ads"]),
            "role": role,
            "plan": rnd.choice(["free", "team", "business"]),
            "company_size": rnd.choice(["1-10", "11-50", "51-200"]),
            "income_band": rnd.choice(["<50k", "50-100k", "100k+"]),
            "signup_days_ago": signup,
            "sessions_7d": s30 // 4,
            "sessions_30d": s30 + rnd.randint(0, 3),
            "events_7d": e30 // 4,
            "events_30d": e30 + rnd.randint(0, 5),
            "days_since_last_active": idle,
            "total_events": e30 * 6 + (400 if group == "at_risk" else 0),
            **{f"feat_{k}": v for k, v in feats.items()},
            "feedback_30d": rnd.randint(0, 2),
            "referrals": rnd.choice([0, 0, 0, 1]),
            "nps": rnd.choice(["", rnd.randint(0, 10), rnd.randint(0, 10)]),
            "group": group,
        }
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, object]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    rows = make_users()
    return write_csv(rows, tmp_path_factory.mktemp("users") / "users.csv"), rows


@pytest.fixture(scope="module")
def weekly():
    return load_segment_config(None, "weekly")


@pytest.fixture(scope="module")
def scored(table, weekly):
    path, _ = table
    complaints = {"u0000": ["bank sync", "exports"], "u0006": ["bank sync"], "u0001": ["approvals"]}
    report, assignments = score_users(path, weekly, complaints)
    yield report, assignments
    assignments.close()


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize("preset", ["daily", "weekly", "monthly"])
def test_presets_load_validate_and_score(preset: str, table) -> None:
    config = load_segment_config(None, preset)
    assert config.origin == f"preset:{preset}"
    assert [d.name for d in config.dimensions] == ["engagement", "feature_usage", "value_signal"]
    assert config.personas[-1].is_catch_all
    report, assignments = score_users(table[0], config)
    assert report.total_users == len(assignments) == 360
    assert sum(s.size for s in report.segments) == 360


def test_presets_differ_in_thresholds() -> None:
    assert available_presets() == ["daily", "monthly", "weekly"]
    whens = {
        p: " ".join(lv.when for lv in load_segment_config(None, p).dimensions[0].levels)
        for p in ("daily", "weekly", "monthly")
    }
    assert "events_7d >= 50" in whens["daily"] and "< 7" in whens["daily"]
    assert "events_30d >= 20" in whens["weekly"] and "< 14" in whens["weekly"]
    assert "events_30d >= 10" in whens["monthly"] and "< 30" in whens["monthly"]


def test_unknown_preset_and_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown segment preset 'hourly'"):
        load_segment_config(None, "hourly")
    with pytest.raises(ConfigError, match="not found"):
        load_segment_config(tmp_path / "nope.toml")


def test_weekly_recovers_planted_groups(scored, table) -> None:
    report, assignments = scored
    group_of = {str(r["user_id"]): str(r["group"]) for r in table[1]}
    got = assignments.to_dict()
    for user, group in group_of.items():
        assert got[user] == EXPECTED[group], user
    assert report.stats["segment.other.size"] == 0


# --------------------------------------------------------------------------- first match

TWO_RULES = """
name = "order"
[table]
numeric = ["sessions_30d"]
categorical = ["role"]
[[personas]]
name = "{first}"
when = "{first_when}"
[[personas]]
name = "{second}"
when = "{second_when}"
"""


def test_first_match_wins(tmp_path: Path, table) -> None:
    heavy, finance = "sessions_30d >= 20", "role = 'finance_admin'"
    rules = {"first": "Heavy", "first_when": heavy, "second": "Finance", "second_when": finance}
    a = load_segment_config(write_config(tmp_path / "a.toml", TWO_RULES.format(**rules)))
    swapped = {"first": "Finance", "first_when": finance, "second": "Heavy", "second_when": heavy}
    b = load_segment_config(write_config(tmp_path / "b.toml", TWO_RULES.format(**swapped)))
    rep_a, asg_a = score_users(table[0], a)
    rep_b, asg_b = score_users(table[0], b)
    power = "u0000"  # finance_admin with 40+ sessions: matches both rules
    assert asg_a.to_dict()[power] == "Heavy"
    assert asg_b.to_dict()[power] == "Finance"
    # Raw rule matches do not depend on the order; sizes do.
    assert rep_a.stats["segment.finance.rule_matches"] == rep_b.stats["segment.finance.size"] == 60
    assert rep_a.stats["segment.finance.size"] == 0
    assert "persona 'Finance' matched nobody (its rule matches 60" in rep_a.warnings[0]
    assert rep_a.segments[-1].name == "Other"  # catch-all appended when missing


# --------------------------------------------------------------------------- exact stats


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def test_stats_match_independent_computation(scored, table) -> None:
    report, assignments = scored
    rows = table[1]
    persona = assignments.to_dict()
    by_segment: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_segment.setdefault(persona[str(row["user_id"])], []).append(row)
    for seg in report.segments:
        members = by_segment.get(seg.name, [])
        assert seg.size == len(members)
        assert seg.share == round(len(members) / len(rows), 4)
        if not members:
            continue
        for col in ("sessions_30d", "nps", "events_30d"):
            values = [float(str(r[col])) for r in members if r[col] != ""]
            got = seg.numeric[col]
            q1, med, q3 = _quartiles(values)
            assert got.mean == round(statistics.fmean(values), 2), (seg.name, col)
            assert (got.q1, got.median, got.q3) == (round(q1, 2), round(med, 2), round(q3, 2))
            assert (got.min, got.max) == (min(values), max(values))
            key = f"segment.{slugify(seg.name)}.{col}"
            assert report.stats[f"{key}.median"] == got.median
            assert report.stats[f"{key}.n"] == len(values)
        roles = Counter(str(r["role"]) for r in members)
        top = sorted(roles.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        assert [(c.value, c.count) for c in seg.categorical["role"]] == top
        assert seg.categorical["role"][0].share == round(top[0][1] / len(members), 4)
        ages = sorted(float(str(r["age"])) for r in members)
        lo_q, _, hi_q = _quartiles(ages)
        low, high = seg.age_range.split("-")
        assert int(low) <= lo_q and int(high) >= hi_q and int(low) % 5 == 0
        assert (int(high) + 1) % 5 == 0


def test_dimension_distribution_matches_python_thresholds(scored, table) -> None:
    report, _ = scored

    def engagement(r: dict[str, object]) -> str:
        e30, idle = int(str(r["events_30d"])), int(str(r["days_since_last_active"]))
        if idle < 14:
            return "Very Active" if e30 >= 20 else "Active" if e30 >= 8 else "Occasional"
        return "At Risk" if idle <= 60 else "Churned"

    counts = Counter(engagement(r) for r in table[1])
    got = {c.value: c.count for c in report.distributions["engagement"]}
    assert got == {k: counts.get(k, 0) for k in got}
    assert sum(got.values()) == 360
    breadth = Counter(sum(int(str(r[f"feat_{f}"])) > 0 for f in FEATURES) >= 4 for r in table[1])
    assert report.stats["distribution.feature_usage.broad.count"] == breadth[True]
    assert report.stats["distribution.persona.churned.share"] == round(60 / 360, 4)


def test_top_complaints_count_distinct_users(scored) -> None:
    report, _ = scored
    power = next(s for s in report.segments if s.name == "Finance Power User")
    assert [(c.value, c.count) for c in power.top_complaints] == [("bank sync", 2), ("exports", 1)]
    assert power.top_complaints[0].share == round(2 / power.size, 4)
    assert report.stats["segment.finance_power_user.complaint.bank_sync.count"] == 2
    assert report.stats["complaints.users_matched"] == 3


def test_small_segment_warning(tmp_path: Path, table, weekly) -> None:
    rows = table[1][:120]  # 20 users per planted group
    report, _ = score_users(write_csv(rows, tmp_path / "small.csv"), weekly)
    sizes = {s.name: s for s in report.segments}
    assert sizes["New User"].size == 20
    assert "only 20 users (< 30)" in sizes["New User"].warning


def test_age_is_never_exact(tmp_path: Path, table, weekly) -> None:
    rows = [dict(r, age=40) for r in table[1][:60]]
    report, _ = score_users(write_csv(rows, tmp_path / "same_age.csv"), weekly)
    for seg in report.segments:
        if seg.size:
            assert seg.age_range == "40-44"


def test_age_bands_are_reported_as_values(tmp_path: Path, table, weekly) -> None:
    rows = [dict(r, age="25-34" if (i // 6) % 2 else "35-44") for i, r in enumerate(table[1])]
    report, _ = score_users(write_csv(rows, tmp_path / "bands.csv"), weekly)
    assert "age column 'age' is text; its values are reported as-is" in report.warnings
    power = report.segments[3]
    assert power.age_range is None
    assert {c.value for c in power.categorical["age"]} == {"25-34", "35-44"}


# --------------------------------------------------------------------------- reproducibility


def test_outputs_byte_identical_and_order_independent(tmp_path: Path, table, weekly) -> None:
    path, rows = table
    outs = []
    shuffled = list(rows)
    random.Random(3).shuffle(shuffled)
    sources = [path, path, write_csv(shuffled, tmp_path / "users.csv")]
    for i, src in enumerate(sources):
        report, assignments = score_users(src, weekly, {"u0000": ["sync"]})
        ws = Workspace(tmp_path / f"ws{i}")
        write_segment_outputs(report, assignments, ws)
        outs.append((ws.segments.read_bytes(), ws.assignments.read_bytes()))
    assert outs[0] == outs[1]
    assert outs[2][1] == outs[0][1]
    normalised = outs[2][0].replace(str(sources[2]).encode(), str(path).encode())
    assert normalised == outs[0][0]
    data = json.loads(outs[0][0])
    assert data["assignments_file"] == "segment_assignments.csv"
    header = outs[0][1].decode().splitlines()[0]
    assert header == "user_id,engagement,feature_usage,value_signal,persona"


def test_load_assignments_round_trip(tmp_path: Path, scored) -> None:
    report, assignments = scored
    ws = Workspace(tmp_path / "ws")
    write_segment_outputs(report, assignments, ws)
    assert load_assignments(ws) == assignments.to_dict()
    with pytest.raises(InputError, match="run `persona segment` first"):
        load_assignments(Workspace(tmp_path / "empty"))


def test_parquet_and_jsonl_match_csv(tmp_path: Path, table, weekly) -> None:
    import duckdb

    path, _ = table
    con = duckdb.connect()
    src = f"read_csv('{path}', types={{'user_id': 'VARCHAR'}})"
    con.execute(f"COPY (SELECT * FROM {src}) TO '{tmp_path / 'u.parquet'}'").fetchall()
    con.execute(f"COPY (SELECT * FROM {src}) TO '{tmp_path / 'u.jsonl'}' (FORMAT json)").fetchall()
    base = score_users(path, weekly)[0].model_dump(exclude={"source"})
    for name in ("u.parquet", "u.jsonl"):
        assert score_users(tmp_path / name, weekly)[0].model_dump(exclude={"source"}) == base


# --------------------------------------------------------------------------- bad input


def _one_line(exc: pytest.ExceptionInfo[PersonaError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_missing_file_and_bad_format(tmp_path: Path, weekly) -> None:
    with pytest.raises(InputError, match="user table not found") as exc:
        score_users(tmp_path / "none.csv", weekly)
    _one_line(exc)
    (tmp_path / "users.xlsx").write_text("x")
    with pytest.raises(InputError, match="unsupported user table format"):
        score_users(tmp_path / "users.xlsx", weekly)


def test_empty_tables(tmp_path: Path, table, weekly) -> None:
    (tmp_path / "zero.csv").write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        score_users(tmp_path / "zero.csv", weekly)
    header = ",".join(table[1][0]) + "\n"
    (tmp_path / "header.csv").write_text(header)
    with pytest.raises(InputError, match="no rows") as exc:
        score_users(tmp_path / "header.csv", weekly)
    _one_line(exc)


def test_missing_column_names_rule_and_column(tmp_path: Path, table, weekly) -> None:
    rows = [{k: v for k, v in r.items() if k != "feat_exports"} for r in table[1]]
    with pytest.raises(ConfigError) as exc:
        score_users(write_csv(rows, tmp_path / "u.csv"), weekly)
    text = _one_line(exc)
    assert "persona 'Finance Power User'" in text and "'feat_exports'" in text


def test_typo_column_gets_suggestion(tmp_path: Path, table) -> None:
    cfg = write_config(tmp_path / "c.toml", '[[personas]]\nname = "A"\nwhen = "sesions_30d > 3"\n')
    with pytest.raises(ConfigError, match="did you mean 'sessions_30d'"):
        score_users(table[0], load_segment_config(cfg))


def test_text_in_numeric_column_seen_by_sniffer(tmp_path: Path, table, weekly) -> None:
    rows = [dict(r) for r in table[1]]
    rows[5]["sessions_30d"] = "lots"
    with pytest.raises(InputError) as exc:
        score_users(write_csv(rows, tmp_path / "u.csv"), weekly)
    text = _one_line(exc)
    assert "'sessions_30d'" in text and "'lots'" in text and "data row 6" in text


def test_text_in_numeric_column_past_the_sniff_sample(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = ["user_id,events_30d"] + [f"u{i},{i % 50}" for i in range(25_000)] + ["z,oops"]
    path.write_text("\n".join(lines) + "\n")
    cfg = write_config(
        tmp_path / "c.toml",
        '[table]\nnumeric = ["events_30d"]\n[[personas]]\nname = "A"\nwhen = "events_30d > 3"\n',
    )
    with pytest.raises(InputError) as exc:
        score_users(path, load_segment_config(cfg))
    text = _one_line(exc)
    assert "'events_30d'" in text and "'oops'" in text and ":25002:" in text


def test_duplicate_and_empty_ids(tmp_path: Path, table, weekly) -> None:
    rows = [*table[1], dict(table[1][3]), dict(table[1][3]), dict(table[1][9])]
    with pytest.raises(InputError) as exc:
        score_users(write_csv(rows, tmp_path / "dup.csv"), weekly)
    text = _one_line(exc)
    assert "2 duplicate 'user_id' value(s)" in text and "'u0003' (3 rows)" in text
    rows = [dict(r) for r in table[1]]
    rows[4]["user_id"] = ""
    with pytest.raises(InputError, match="1 row\\(s\\) have an empty 'user_id'"):
        score_users(write_csv(rows, tmp_path / "noid.csv"), weekly)


def test_no_id_column(tmp_path: Path, table, weekly) -> None:
    rows = [{("person" if k == "user_id" else k): v for k, v in r.items()} for r in table[1]]
    path = write_csv(rows, tmp_path / "u.csv")
    with pytest.raises(
        ConfigError, match=r"no user id column found .*columns: person, age.*id_column"
    ):
        score_users(path, weekly)
    # persona.toml's [segment] id_column names it without a rules file of one's own.
    report, assignments = score_users(path, load_segment_config(None, "weekly", "person"))
    assignments.close()
    assert report.total_users == len(rows)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("sessions_30d >= ", "persona 'A': invalid SQL"),
        ("1); DROP TABLE x; SELECT (1", "persona 'A': invalid SQL"),
        ("sessions_30d", "must be a true/false condition, but gives BIGINT"),
        ("role > 3", "persona 'A': Binder Error"),
    ],
)
def test_bad_rules_name_the_rule(tmp_path: Path, table, when: str, message: str) -> None:
    text = f'[[personas]]\nname = "A"\nwhen = "{when}"\n'
    with pytest.raises(ConfigError, match=message.replace("(", "\\(")) as exc:
        score_users(table[0], load_segment_config(write_config(tmp_path / "c.toml", text)))
    _one_line(exc)


def test_config_structure_errors(tmp_path: Path) -> None:
    bad_label = """
[[dimensions]]
name = "engagement"
levels = [{label = "Active", when = "sessions_30d > 5"}]
[[personas]]
name = "A"
when = "engagement = 'Activ'"
"""
    with pytest.raises(ConfigError, match="'Activ' is not a label of dimension 'engagement'"):
        load_segment_config(write_config(tmp_path / "a.toml", bad_label))
    early_catch_all = (
        '[[personas]]\nname = "A"\nwhen = "TRUE"\n[[personas]]\nname = "B"\nwhen = "x"\n'
    )
    with pytest.raises(ConfigError, match="matches everyone"):
        load_segment_config(write_config(tmp_path / "b.toml", early_catch_all))
    same_slug = '[[personas]]\nname = "Power User"\nwhen = "a"\n[[personas]]\nname = "power-user"\nwhen = "b"\n'
    with pytest.raises(ConfigError, match="same stats key 'power_user'"):
        load_segment_config(write_config(tmp_path / "c.toml", same_slug))
    (tmp_path / "d.toml").write_text("[[personas]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_segment_config(tmp_path / "d.toml")


def test_division_by_zero_names_rule(tmp_path: Path, table) -> None:
    text = '[[personas]]\nname = "Ratio"\nwhen = "feat_exports // feat_approvals > 1"\n'
    cfg = load_segment_config(write_config(tmp_path / "c.toml", text))
    with pytest.raises(ConfigError, match=r"persona 'Ratio'.*NULLIF") as exc:
        score_users(table[0], cfg)
    _one_line(exc)


def test_dimension_shadowing_a_column(tmp_path: Path, table) -> None:
    text = """
[[dimensions]]
name = "plan"
levels = [{label = "Paid", when = "sessions_30d > 0"}]
[[personas]]
name = "A"
when = "plan = 'Paid'"
"""
    with pytest.raises(ConfigError, match="already has a column named 'plan'"):
        score_users(table[0], load_segment_config(write_config(tmp_path / "c.toml", text)))


def test_rules_matching_nobody_are_warnings(tmp_path: Path, table) -> None:
    text = """
[[dimensions]]
name = "tier"
default = "Low"
levels = [{label = "Huge", when = "sessions_30d > 10000"}]
[[personas]]
name = "Ghost"
when = "tier = 'Huge'"
"""
    report, _ = score_users(table[0], load_segment_config(write_config(tmp_path / "c.toml", text)))
    assert "persona 'Ghost' matched nobody" in report.warnings
    assert "dimension 'tier' level 'Huge' matched nobody" in report.warnings
    assert report.segments[0].warning == "no users"


def test_yaml_config(tmp_path: Path, table) -> None:
    text = "personas:\n  - name: Busy\n    when: sessions_30d >= 20 -- a trailing comment\n"
    config = load_segment_config(write_config(tmp_path / "c.yaml", text))
    report, _ = score_users(table[0], config)
    assert report.stats["segment.busy.size"] == 60


# --------------------------------------------------------------------------- migration


def test_compare_snapshots_known_moves(tmp_path: Path, table, weekly) -> None:
    old_rows = table[1][:60]  # ten users of each planted group
    new_rows = [dict(r) for r in old_rows[6:]]  # u0000..u0005 left
    churn = next(r for r in table[1] if r["group"] == "churned")
    for row in new_rows:
        if row["group"] == "power" and row["user_id"] in ("u0006", "u0012"):
            row.update({k: churn[k] for k in churn if k not in ("user_id", "group")})
    new_rows.append(dict(table[1][60], user_id="n0001"))  # a new power user joined
    old = write_csv(old_rows, tmp_path / "old.csv")
    new = write_csv(new_rows, tmp_path / "new.csv")
    mig = compare_snapshots(old, new, weekly)
    assert (mig.old_total, mig.new_total, mig.in_both, mig.moved) == (60, 55, 54, 2)
    cell = next(c for c in mig.transitions if c.from_segment != c.to_segment)
    assert (cell.from_segment, cell.to_segment, cell.count) == ("Finance Power User", "Churned", 2)
    assert cell.sample_ids == ["u0006", "u0012"]
    assert cell.share_of_from == round(2 / 9, 4)
    assert mig.only_old == {name: 1 for name in EXPECTED.values()}
    assert mig.only_new == {"Finance Power User": 1}
    assert mig.net_change["Finance Power User"] == 10 - 1 - 2 + 1 - 10
    assert mig.net_change["Churned"] == 2 - 1
    assert mig.stats["migration.finance_power_user.churned.count"] == 2
    eng = {(c.from_segment, c.to_segment): c.count for c in mig.dimensions["engagement"]}
    assert eng[("Very Active", "Churned")] == 2


# --------------------------------------------------------------------------- sample data


def _planted_cluster(r: dict[str, str]) -> str:
    """The sample's planted clusters as GROUND_TRUTH.json's segments_hint states them."""
    i = {k: int(v) for k, v in r.items() if v.lstrip("-").isdigit()}
    idle = i["days_since_last_active"]
    if idle > 60 and i["events_30d"] == 0:
        return "Churned"
    if i["total_events"] >= 500 and 14 <= idle <= 60 and i["events_7d"] == 0:
        return "At Risk"
    if i["signup_days_ago"] < 30:
        return "New User"
    finance = r["role"] in ("finance_admin", "controller", "bookkeeper", "founder")
    if (
        finance
        and i["events_30d"] >= 150
        and i["feat_exports"]
        and i["feat_bank_sync"]
        and idle <= 3
    ):
        return "Finance Power User"
    if r["role"] == "approver_manager" and i["sessions_30d"] <= 12:
        return "Occasional Approver"
    if r["role"] == "employee" and i["feat_receipts"] > 0:
        return "Expense Submitter"
    return "Other"


@pytest.mark.skipif(not SAMPLE_USERS.exists(), reason="transcripts/users.csv not generated yet")
def test_weekly_on_sample_users() -> None:
    report, assignments = score_users(SAMPLE_USERS, load_segment_config(None, "weekly"))
    real = [s for s in report.segments if not s.rule.startswith("TRUE")]
    assert sum(1 for s in real if s.size > 0) >= 3
    assert all(s.size > 0 for s in real), [s.name for s in real if not s.size]
    # The preset's behaviour-only rules (no role) recover the planted clusters user by user.
    with SAMPLE_USERS.open(encoding="utf-8", newline="") as fh:
        planted = {r["user_id"]: _planted_cluster(r) for r in csv.DictReader(fh)}
    got = assignments.to_dict()
    agree = sum(got[user] == cluster for user, cluster in planted.items())
    assert agree / len(planted) >= 0.98, Counter((planted[u], got[u]) for u in planted)


def test_numeric_stats_use_numpy_quantiles_too(scored, table) -> None:
    report, assignments = scored
    persona = assignments.to_dict()
    values = np.array(
        [
            float(str(r["events_30d"]))
            for r in table[1]
            if persona[str(r["user_id"])] == "Expense Submitter"
        ]
    )
    got = report.stats
    assert got["segment.expense_submitter.events_30d.q3"] == round(
        float(np.quantile(values, 0.75)), 2
    )
    assert got["overall.events_30d.max"] == max(float(str(r["events_30d"])) for r in table[1])


def test_complaints_added_after_scoring_equal_complaints_given_up_front(table, weekly) -> None:
    # `persona run` scores once and adds complaints after the themes; the report must be the
    # one `persona segment` writes when the themes already exist.
    path, _ = table
    complaints = {"u0000": ["bank sync", "exports"], "u0006": ["bank sync"], "u0001": ["approvals"]}
    upfront, asg_a = score_users(path, weekly, complaints)
    plain, asg_b = score_users(path, weekly)
    try:
        assert not any(s.top_complaints for s in plain.segments)
        assert "complaints.users_matched" not in plain.stats
        later = add_complaints(plain, asg_b, weekly, complaints)
        assert later.model_dump_json() == upfront.model_dump_json()
        assert later.stats["complaints.users_matched"] == 3
        # Refreshed with other themes: the earlier complaint numbers are gone, not merged.
        other = add_complaints(later, asg_b, weekly, {"u0001": ["pricing"]})
        assert (
            other.model_dump_json()
            == add_complaints(plain, asg_b, weekly, {"u0001": ["pricing"]}).model_dump_json()
        )
        assert not any(".complaint.bank_sync." in k for k in other.stats)
    finally:
        asg_a.close()
        asg_b.close()


def test_csv_dialects_read_alike(tmp_path: Path, table, weekly) -> None:
    # The dialect is sniffed once and reused for the full read: quoted commas, tabs, semicolons,
    # gzip and zero-padded ids must read exactly as the plain CSV does.
    _, rows = table
    padded = [{**r, "user_id": f"00{str(r['user_id'])[1:]}"} for r in rows]
    quoted = [{**r, "company_size": f"{r['company_size']}, staff"} for r in padded]
    base_csv = write_csv(quoted, tmp_path / "quoted.csv")
    assert '"1-10, staff"' in base_csv.read_text(encoding="utf-8")

    def delimited(name: str, delimiter: str) -> Path:
        out = tmp_path / name
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(quoted[0]), delimiter=delimiter)
            writer.writeheader()
            writer.writerows(quoted)
        return out

    gz = tmp_path / "quoted.csv.gz"
    gz.write_bytes(gzip.compress(base_csv.read_bytes()))
    results = []
    for src in (base_csv, delimited("tabs.tsv", "\t"), delimited("semi.csv", ";"), gz):
        report, assignments = score_users(src, weekly)
        try:
            results.append((report.model_dump(exclude={"source"}), assignments.items()))
        finally:
            assignments.close()
    assert all(r == results[0] for r in results[1:])
    ids = [i for i, _ in results[0][1]]
    assert ids[0] == "000000" and len(ids) == len(rows)
    sizes = results[0][0]["stats"]
    assert sizes["segment.finance_power_user.company_size.1_10_staff.count"] > 0
