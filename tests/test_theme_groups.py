"""Theme groups: the model puts related final themes under one heading; code counts each group
over the union of its themes' mentions; a partition checked by validators; cached; a failure
leaves the themes as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.consolidate import LLMConsolidator
from agent.models import ThemeReport
from agent.theme_groups import LLMGrouper, ThemeGrouping
from agent.workspace import Workspace
from tests._oracle import data_blocks
from tests.openai_server import OpenAIServer, Reply, error, ok
from tests.test_consolidate import _build as build_consolidated
from tests.test_consolidate import _settings, researcher


def grouper_model(body: dict[str, Any]) -> Reply:
    """Consolidates like a researcher, then groups the bank-feed and CSV-export themes (data
    moving between systems) and leaves the rest alone."""
    blocks = data_blocks(body["messages"])
    if "candidates" in blocks:
        return researcher(body)
    themes = blocks["themes"]
    together = [t["id"] for t in themes if t["name"].startswith(("Bank feed", "CSV export"))]
    groups = [{"name": "Data breaks between systems", "definition": "Both.", "themes": together}]
    groups += [
        {"name": t["name"], "definition": "Alone.", "themes": [t["id"]]}
        for t in themes
        if t["id"] not in together
    ]
    return ok({"groups": groups})


def _build(tmp_path: Path, url: str, ws: str = "ws") -> tuple[ThemeReport, LLMGrouper]:
    settings = _settings(tmp_path, url)
    workspace = Workspace(tmp_path / ws)
    grouper = LLMGrouper(settings, workspace, "openai")
    consolidator = LLMConsolidator(settings, workspace, "openai")
    return build_consolidated(consolidator, grouper=grouper), grouper


def test_a_group_is_counted_over_the_union_of_its_themes(tmp_path: Path) -> None:
    with OpenAIServer(responder=grouper_model) as server:
        report, grouper = _build(tmp_path, server.base_url)
        requests = server.chat_requests()
        # The model saw the final themes, by alias, with counts and what was said.
        [sent] = [data_blocks(r.body["messages"])["themes"] for r in requests[1:]]
        assert [t["id"] for t in sent] == ["t1", "t2", "t3", "t4"]
        assert {"name", "definition", "mentions", "quotes"} <= set(sent[0])
        # Nothing changed: the re-run is answered from the cache.
        again, cached = _build(tmp_path, server.base_url)
        assert len(server.chat_requests()) == 2 and cached.calls == 0
    assert again.model_dump() == report.model_dump()
    assert grouper.calls == 1 and not grouper.failures
    by_name = {t.label: t for t in report.themes}
    sync, export = by_name["Bank feed drops transactions"], by_name["CSV export shows wrong dates"]
    [group] = report.groups
    assert group.label == "Data breaks between systems" and group.named_by == "openai"
    assert group.theme_ids == [sync.id, export.id]  # most important theme first
    # P1, P2, P3 from sync; tickets T1 (sync), T2 and T3 (export): each counted once.
    assert (group.frequency.participants, group.frequency.tickets) == (3, 3)
    assert group.severity.max == 4
    assert group.severity.mean == pytest.approx((4 + 4 + 3 + 3 + 3 + 2 + 2) / 7, abs=1e-3)
    assert group.rank == 1 and group.score >= max(sync.score, export.score)
    # Themes alone in the answer stay themes without a group; the themes are not changed.
    assert len(report.themes) == 4


def test_persona_themes_lists_the_groups_under_the_themes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import _print_themes

    with OpenAIServer(responder=grouper_model) as server:
        report, _ = _build(tmp_path, server.base_url)
    _print_themes(report, None, Workspace(tmp_path / "ws"))
    out = capsys.readouterr().out
    table = out[out.index("theme group") :]
    ranks = {t.label: t.rank for t in report.themes}
    held = f"{ranks['Bank feed drops transactions']}, {ranks['CSV export shows wrong dates']}"
    row = next(line for line in table.splitlines() if "Data breaks between systems" in line)
    assert row.split()[-5:] == ["systems", "3", "3", *held.split()]


def test_a_failed_grouping_leaves_the_themes_ungrouped_and_says_so(tmp_path: Path) -> None:
    def down_for_groups(body: dict[str, Any]) -> Reply:
        if "themes" in data_blocks(body["messages"]):
            return error(500)
        return researcher(body)

    with OpenAIServer(responder=down_for_groups) as server:
        report, grouper = _build(tmp_path, server.base_url)
    assert report.groups == [] and len(report.themes) == 4
    assert [f.step for f in grouper.failures] == ["group_themes"]
    # The failure is not cached: with the model back, the next run groups.
    with OpenAIServer(responder=grouper_model) as server:
        report, grouper = _build(tmp_path, server.base_url)
    assert len(report.groups) == 1 and grouper.calls == 1


def test_too_few_themes_are_not_grouped(tmp_path: Path) -> None:
    def three_themes(body: dict[str, Any]) -> Reply:
        blocks = data_blocks(body["messages"])
        assert "candidates" in blocks, "no grouping request for three themes"
        ids = [c["id"] for c in blocks["candidates"]]
        parts = [ids[:2], ids[2:3], ids[3:]]
        return ok(
            {
                "themes": [
                    {"name": f"Problem number {i}", "definition": "It.", "candidates": part}
                    for i, part in enumerate(parts, start=1)
                ]
            }
        )

    with OpenAIServer(responder=three_themes) as server:
        report, grouper = _build(tmp_path, server.base_url)
    assert len(report.themes) == 3 and report.groups == [] and grouper.calls == 0


def test_answers_must_put_every_theme_in_exactly_one_group() -> None:
    def check(groups: list[dict[str, Any]]) -> str:
        with pytest.raises(ValidationError) as caught:
            ThemeGrouping.model_validate({"groups": groups}, context={"themes": ["t1", "t2", "t3"]})
        return str(caught.value)

    def group(*ids: str, name: str = "Two words") -> dict[str, Any]:
        return {"name": name, "definition": "One sentence.", "themes": list(ids)}

    assert "themes in no group: t3" in check([group("t1", "t2")])
    assert "theme t2 is in group 1 and group 2" in check([group("t1", "t2"), group("t2", "t3")])
    assert "unknown theme id 't9'" in check([group("t1", "t2", "t3"), group("t9")])
    assert "word(s)" in check([group("t1", "t2", "t3", name="Everything")])
    ok_answer = ThemeGrouping.model_validate(
        {"groups": [group("t1", "t3"), group("t2")]}, context={"themes": ["t1", "t2", "t3"]}
    )
    assert [g.themes for g in ok_answer.groups] == [["t1", "t3"], ["t2"]]


def test_persona_themes_exits_2_when_grouping_fails_and_groups_when_it_works(
    tmp_path: Path,
) -> None:
    """Through the CLI: a failed grouping call is a partial result (exit 2, as with --json),
    the themes are kept; with the model answering, the groups are printed under the themes."""
    from typer.testing import CliRunner

    from agent.cli import app
    from tests._llm_helpers import generic_responder
    from tests.test_theme_decisions import _study

    def down_for_groups(body: dict[str, Any]) -> Reply:
        if "themes" in data_blocks(body["messages"]):
            return error(500)
        return generic_responder(body)

    def pairs(body: dict[str, Any]) -> Reply:
        blocks = data_blocks(body["messages"])
        if "themes" not in blocks:
            return generic_responder(body)
        ids = [t["id"] for t in blocks["themes"]]
        groups = [{"name": "The first two themes", "definition": "Both.", "themes": ids[:2]}]
        groups += [
            {"name": "Stands alone here", "definition": "It.", "themes": [i]} for i in ids[2:]
        ]
        return ok({"groups": groups})

    ws = tmp_path / "ws"
    runner = CliRunner()
    offline = {"PERSONA_EMBEDDER": "hash", "PERSONA_LLM": "offline"}
    assert (
        runner.invoke(app, ["run", str(_study(tmp_path)), "-w", str(ws)], env=offline).exit_code
        == 0
    )
    for responder, code in ((down_for_groups, 2), (pairs, 0)):
        with OpenAIServer(responder=responder) as server:
            env = {
                "PERSONA_EMBEDDER": "hash",
                "OPENAI_BASE_URL": server.base_url,
                "OPENAI_API_KEY": "test",
                "PERSONA_REDACT": "off",
            }
            result = runner.invoke(app, ["themes", "-w", str(ws)], env=env)
        assert result.exit_code == code, result.output
        report = ThemeReport.model_validate_json((ws / "themes.json").read_text())
        assert len(report.themes) >= 4
        if code == 2:
            assert "1 grouping call(s) failed" in result.output and report.groups == []
        else:
            [group] = report.groups
            assert group.theme_ids == [t.id for t in report.themes[:2]]
            assert "theme group" in result.output and "The first two themes" in result.output


def test_only_the_most_important_themes_are_grouped_and_the_rest_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.theme_groups as theme_groups

    # A bound of 3 on the 4 themes of the small corpus: the least important one is not shown.
    monkeypatch.setattr(theme_groups.LLMGrouper, "bound", lambda self: 3)
    with OpenAIServer(responder=grouper_model) as server:
        report, grouper = _build(tmp_path, server.base_url)
        [sent] = [data_blocks(r.body["messages"])["themes"] for r in server.chat_requests()[1:]]
    assert [t["id"] for t in sent] == ["t1", "t2", "t3"]
    assert grouper.left_out == {"": 1}
    shown = {t.label for t in report.themes if t.rank <= 3}
    assert all(
        set(g.theme_ids) <= {t.id for t in report.themes if t.label in shown} for g in report.groups
    )


def test_a_long_theme_list_shows_one_quote_per_theme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past QUOTES_FOR_ALL themes, each theme brings one quote, so more themes fit a request."""
    import agent.theme_groups as theme_groups

    quotes = {}
    monkeypatch.setattr(theme_groups.LLMGrouper, "bound", lambda self: 60)
    for bound in (40, 3):
        monkeypatch.setattr(theme_groups, "QUOTES_FOR_ALL", bound)
        with OpenAIServer(responder=grouper_model) as server:
            _build(tmp_path / str(bound), server.base_url)
            [sent] = [data_blocks(r.body["messages"])["themes"] for r in server.chat_requests()[1:]]
        quotes[bound] = [len(t.get("quotes", [])) for t in sent]
    assert len(quotes[3]) == 4 and max(quotes[3]) == 1  # 4 themes > 3: one quote each
    assert max(quotes[40]) == 2  # within the bound: two


def test_the_bound_leaves_room_for_an_answer_in_the_output_cap(tmp_path: Path) -> None:
    """60 themes, each standing alone, would not fit 4,096 output tokens: 57 are shown."""
    from agent.config import Settings
    from agent.theme_groups import LLMGrouper

    settings = Settings()
    assert settings.llm.max_output_tokens == 4096
    assert LLMGrouper(settings, Workspace(tmp_path / "ws")).bound() == 57
    settings.llm.max_output_tokens = 16000
    assert LLMGrouper(settings, Workspace(tmp_path / "ws")).bound() == 60
    settings.llm.max_output_tokens = 1000  # never fewer than the 40 shown before the bound rose
    assert LLMGrouper(settings, Workspace(tmp_path / "ws")).bound() == 40
