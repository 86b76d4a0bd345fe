"""The agent skill: its layout, that its docs match the real CLI and JSON, and installing it."""

from __future__ import annotations

import json
import re
from importlib.readers import MultiplexedPath
from pathlib import Path
from typing import Any, Literal

import pytest
import typer
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter
from typer.testing import CliRunner

from agent import skill
from agent.cli import app
from agent.config import Settings
from agent.doctor import DoctorReport
from agent.errors import HostPending
from agent.host import HostResumeReport, resume_host
from agent.models import StepSummary, ThemeReport
from agent.search import SearchHit
from agent.skill import (
    SkillConflict,
    SkillInstall,
    install_skill,
    installed_skills,
    show_skill,
    skill_files,
    skill_target,
)
from agent.workspace import Workspace, write_models
from tests._llm_helpers import make_chunk

REPO = Path(__file__).resolve().parent.parent
SKILL_DIR = REPO / ".agents" / "skills" / "persona-synthesis"
NAME_RULE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Commands the skill documents that the CLI does not have yet; empty this as they land.
PENDING_CLI: set[str] = set()


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "SKILL.md must start with YAML front matter"
    return yaml.safe_load(match.group(1)), text[match.end() :]


# --------------------------------------------------------------------------- layout


def test_skill_md_follows_the_agent_skills_format() -> None:
    files = skill_files()
    assert sorted(files) == [
        "SKILL.md",
        "references/commands.md",
        "references/host-mode.md",
        "references/outputs.md",
        "references/sources.md",
    ]
    meta, body = _front_matter(files["SKILL.md"])
    assert set(meta) == {"name", "description"}
    # Both agents require the name to match the folder; the open standard caps both fields.
    assert meta["name"] == SKILL_DIR.name == skill.SKILL_NAME
    assert NAME_RULE.match(meta["name"]) and len(meta["name"]) <= 64
    assert 100 < len(meta["description"]) <= 1024
    assert "Use when" in meta["description"]
    assert len(body.splitlines()) < 500
    for heading in ("## Quick start", "## Common gotchas"):
        assert heading in body


def test_skill_links_resolve() -> None:
    files = skill_files()
    for name, text in files.items():
        for target in re.findall(r"\]\(([^)#]+\.md)\)", text):
            resolved = (Path(name).parent / target).as_posix()
            assert resolved in files, f"{name} links to missing {target}"


def test_claude_folder_is_a_relative_symlink_to_the_same_files() -> None:
    link = REPO / ".claude" / "skills" / "persona-synthesis"
    assert link.is_symlink()
    assert not Path(link.readlink()).is_absolute()
    assert link.resolve() == SKILL_DIR.resolve()
    assert (link / "SKILL.md").read_text() == (SKILL_DIR / "SKILL.md").read_text()


def test_skill_files_read_from_an_installed_namespace_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed from the wheel, agent/_skill has no __init__.py and resources.files() returns a
    # MultiplexedPath; it must be walked, never turned into a path with str().
    packaged = tmp_path / "agent" / "_skill"
    (packaged / "references").mkdir(parents=True)
    (packaged / "SKILL.md").write_text("---\nname: persona-synthesis\n---\npackaged\n")
    (packaged / "references" / "commands.md").write_text("packaged commands\n")
    (packaged / "references" / "notes.txt").write_text("not a skill page\n")
    monkeypatch.setattr(skill.resources, "files", lambda _name: MultiplexedPath(str(packaged)))
    files = skill_files()
    assert files == {
        "SKILL.md": "---\nname: persona-synthesis\n---\npackaged\n",
        "references/commands.md": "packaged commands\n",
    }


def test_missing_skill_files_say_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(_name: str) -> Any:
        raise ModuleNotFoundError("agent._skill")

    monkeypatch.setattr(skill.resources, "files", gone)
    monkeypatch.setattr(skill, "SOURCE_DIR", tmp_path / "nowhere")
    with pytest.raises(skill.ConfigError, match="pip install --force-reinstall"):
        skill_files()


def test_show_skill() -> None:
    assert show_skill() == (SKILL_DIR / "SKILL.md").read_text()
    full = show_skill(references=True)
    assert full.startswith(show_skill())
    for page in ("commands.md", "host-mode.md", "outputs.md"):
        assert f"<!-- references/{page} -->" in full
        assert (SKILL_DIR / "references" / page).read_text() in full


# --------------------------------------------------------------------------- docs vs the real CLI


def _cli_commands() -> dict[str, Any]:
    # Typer vendors its own click, so groups are recognised by shape, not by class.
    root: Any = typer.main.get_command(app)
    out: dict[str, Any] = {}
    for name, command in root.commands.items():
        if hasattr(command, "commands"):
            out.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            out[name] = command
    return out


def _sections(text: str) -> dict[tuple[str, ...], str]:
    """'### persona A b | c' headings -> (command names) -> the section's text."""
    parts = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    out = {}
    for part in parts:
        heading = part.splitlines()[0]
        if not heading.startswith("persona "):
            continue
        words = heading.removeprefix("persona ").split()
        top, rest = words[0], " ".join(words[1:])
        subs = [alt.split()[0] for alt in rest.split("|") if alt.split()]
        subs = [s for s in subs if re.fullmatch(r"[a-z]+", s)]
        out[tuple(f"{top} {s}" for s in subs) or (top,)] = part
    return out


def _code(text: str) -> list[str]:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return blocks + spans


def _mentioned_commands(text: str, known_groups: set[str]) -> set[str]:
    found = set()
    for code in _code(text):
        for top, sub in re.findall(r"(?<![\w./-])persona ([a-z]+)(?: ([a-z]+))?", code):
            found.add(f"{top} {sub}" if top in known_groups and sub else top)
    return found


def test_every_cli_command_is_documented() -> None:
    commands = _cli_commands()
    documented = {
        name for names in _sections(skill_files()["references/commands.md"]) for name in names
    }
    assert set(commands) <= documented, f"undocumented: {sorted(set(commands) - documented)}"


def test_the_skill_mentions_only_real_or_announced_commands() -> None:
    commands = _cli_commands()
    groups = {"review", "skill"}
    mentioned = set()
    for text in skill_files().values():
        mentioned |= _mentioned_commands(text, groups)
    missing = mentioned - set(commands) - groups
    assert missing <= PENDING_CLI, (
        f"the skill names unknown commands: {sorted(missing - PENDING_CLI)}"
    )
    assert {"doctor", "ingest", "search", "run", "resume"} <= mentioned


def test_documented_flags_exist_on_the_real_commands() -> None:
    commands = _cli_commands()
    checked = 0
    for names, section in _sections(skill_files()["references/commands.md"]).items():
        present = [commands[n] for n in names if n in commands]
        if not present:
            continue
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", section))
        options = {opt for c in present for p in c.params for opt in (*p.opts, *p.secondary_opts)}
        assert flags <= options, f"{names}: documented flags not in the CLI: {flags - options}"
        checked += len(flags)
    assert checked >= 5


def _brace_keys(snippet: str) -> set[str]:
    inner = snippet.strip()[1:-1]
    # Drop nested lists/objects so only the top-level keys remain.
    while re.search(r"\[[^\[\]]*\]|\{[^{}]*\}", inner):
        inner = re.sub(r"\[[^\[\]]*\]|\{[^{}]*\}", "", inner)
    return {part.split(":")[0].strip() for part in inner.split(",") if part.strip()}


@pytest.mark.parametrize(
    ("start", "model"),
    [
        ("{step, ok, mode", StepSummary),
        ("{chunk_id, score", SearchHit),
        ("{ok, accepted", HostResumeReport),
        ("{ok, checks", None),
    ],
)
def test_key_lists_in_commands_md_match_the_models(
    start: str, model: type[BaseModel] | None
) -> None:
    text = skill_files()["references/commands.md"]
    spans = [s for s in re.findall(r"`(\{[^`]*\})`", text) if s.startswith(start)]
    assert spans, f"no key list starting {start!r}"
    if model is None:  # doctor: the prefix documents the top level, the checks their keys
        assert {"name", "status", "detail", "fix"} == _brace_keys(
            re.search(r"checks: \[(\{[^]]*\})\]", spans[0]).group(1)  # type: ignore[union-attr]
        )
        return
    for span in spans:
        assert _brace_keys(span) == set(model.model_fields), span


# --------------------------------------------------------------------------- JSON examples


def _validator(name: str) -> Any:
    from agent.pipeline import RunSummary
    from agent.review import ReviewSummary

    class HostWaiting(BaseModel):
        model_config = ConfigDict(extra="forbid")
        ok: Literal[False]
        pending: str

    class ResumeContinued(BaseModel):
        model_config = ConfigDict(extra="forbid")
        resume: HostResumeReport
        run: RunSummary

    models: dict[str, Any] = {
        "HostWaiting": HostWaiting,
        "ResumeContinued": ResumeContinued,
        "PathList": list[str],
        "StepSummary": StepSummary,
        "ThemeReport": ThemeReport,
        "HostResumeReport": HostResumeReport,
        "DoctorReport": DoctorReport,
        "RunSummary": RunSummary,
        "ReviewSummary": ReviewSummary,
        "SearchHits": list[SearchHit],
        "SkillInstalls": list[SkillInstall],
    }
    return TypeAdapter(models[name])


def _examples() -> list[tuple[str, str, str]]:
    found = []
    for page, text in skill_files().items():
        for name, block in re.findall(
            r"<!-- example: (\w+) -->\n```json\n(.*?)```", text, re.DOTALL
        ):
            found.append((page, name, block))
    return found


def test_every_json_example_validates_against_its_model() -> None:
    examples = _examples()
    assert len(examples) >= 18
    for page, name, block in examples:
        data = json.loads(block)
        value = _validator(name).validate_python(data)
        # SearchHit is not extra="forbid": compare keys so a renamed field cannot slip through.
        if name == "SearchHits":
            for hit in data:
                assert set(hit) == set(SearchHit.model_fields), page
        assert value is not None


# --------------------------------------------------------------------------- host-mode contract


def test_host_mode_reference_matches_the_real_request_files(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    workspace = Workspace(settings.workspace).ensure()
    chunk = make_chunk("The bank feed keeps disconnecting every single week.", doc="d1")
    write_models(workspace.chunks, [chunk])
    from agent.extract import extract_mentions

    with pytest.raises(HostPending, match="persona resume"):
        extract_mentions(settings, workspace, provider="host")
    pending = sorted(p for p in (workspace.host_dir / "pending").glob("*.json"))
    assert len(pending) == 1
    record = json.loads(pending[0].read_text())
    doc = skill_files()["references/host-mode.md"]
    table_keys = set()
    for row in re.findall(r"^\| (`[^|]+`) \|", doc, re.MULTILINE):
        table_keys |= set(re.findall(r"`([a-z_]+)`", row))
    assert table_keys == set(record)
    assert record["answer_path"] == str(workspace.host_dir / "answers" / f"{record['id']}.json")
    for rel in ("host/README.md", f"host/pending/{record['id']}.json"):
        assert rel.split("/")[-1].replace(record["id"], "<id>") in doc
        assert (workspace.root / rel).is_file()

    # A wrong answer lands its errors where the reference says, and resume reports it.
    answer = Path(record["answer_path"])
    alias = next(iter(record["context"]["chunks"]))
    bad = {
        "mentions": [
            {
                "statement": "x",
                "category": "bank",
                "severity": 9,
                "severity_rationale": "r",
                "journey_stage": "retention",
                "quotes": [{"text": "made up words", "chunk_id": alias}],
            }
        ]
    }
    answer.write_text(json.dumps(bad))
    report = resume_host(settings, workspace)
    assert not report.ok and [r.id for r in report.rejected] == [record["id"]]
    errors = workspace.host_dir / "pending" / f"{record['id']}.errors.json"
    assert report.rejected[0].errors_path == str(errors) and errors.is_file()
    assert any("severity" in e for e in report.rejected[0].errors)

    good = {
        "mentions": [
            {
                "statement": "The connection drops and must be redone by hand.",
                "category": "bank sync",
                "severity": 3,
                "severity_rationale": "weekly",
                "journey_stage": "retention",
                "quotes": [{"text": "bank feed keeps disconnecting", "chunk_id": alias}],
            }
        ]
    }
    answer.write_text(json.dumps(good))
    report = resume_host(settings, workspace)
    assert report.ok and report.accepted == [record["id"]]
    assert (workspace.host_dir / "done" / f"{record['id']}.json").is_file()
    assert not errors.exists()


# --------------------------------------------------------------------------- install


@pytest.mark.parametrize(
    ("agent", "scope", "where"),
    [
        ("claude", "user", ".claude/skills/persona-synthesis"),
        ("claude", "project", ".claude/skills/persona-synthesis"),
        ("codex", "user", ".agents/skills/persona-synthesis"),
        ("codex", "project", ".agents/skills/persona-synthesis"),
    ],
)
def test_install_writes_where_each_agent_looks(
    tmp_path: Path, agent: str, scope: str, where: str
) -> None:
    paths = install_skill(agent, scope, root=tmp_path)  # type: ignore[arg-type]
    target = tmp_path / where
    assert skill_target(agent, scope, tmp_path) == target  # type: ignore[arg-type]
    assert sorted(p.relative_to(target).as_posix() for p in paths) == sorted(skill_files())
    for name, text in skill_files().items():
        assert (target / name).read_text() == text
    manifest = json.loads((target / skill.MANIFEST).read_text())
    assert set(manifest["files"]) == set(skill_files())


def test_default_roots_are_home_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert skill_target("codex", "user") == tmp_path / "home/.agents/skills/persona-synthesis"
    assert skill_target("claude", "project") == tmp_path / ".claude/skills/persona-synthesis"
    with pytest.raises(skill.ConfigError, match="claude or codex"):
        skill_target("cursor", "user")  # type: ignore[arg-type]


def test_install_is_idempotent(tmp_path: Path) -> None:
    first = install_skill("claude", "user", root=tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    manifest = skill_target("claude", "user", tmp_path) / skill.MANIFEST
    manifest_stamp = manifest.stat().st_mtime_ns
    second = install_skill("claude", "user", root=tmp_path)
    assert second == first
    assert {p: p.stat().st_mtime_ns for p in second} == stamps
    assert manifest.stat().st_mtime_ns == manifest_stamp


def test_user_edits_are_never_clobbered_without_force(tmp_path: Path) -> None:
    install_skill("codex", "user", root=tmp_path)
    target = skill_target("codex", "user", tmp_path)
    edited = (target / "SKILL.md").read_text() + "\nMy team's extra rule.\n"
    (target / "SKILL.md").write_text(edited)
    with pytest.raises(SkillConflict, match="--force") as caught:
        install_skill("codex", "user", root=tmp_path)
    assert str(target / "SKILL.md") in str(caught.value)
    assert (target / "SKILL.md").read_text() == edited
    install_skill("codex", "user", root=tmp_path, force=True)
    assert (target / "SKILL.md").read_text() == skill_files()["SKILL.md"]
    assert (target / "SKILL.md.bak").read_text() == edited


def test_a_foreign_skill_of_the_same_name_is_protected(tmp_path: Path) -> None:
    target = skill_target("claude", "project", tmp_path)
    target.mkdir(parents=True)
    (target / "SKILL.md").write_text("---\nname: persona-synthesis\ndescription: theirs\n---\n")
    with pytest.raises(SkillConflict):
        install_skill("claude", "project", root=tmp_path)


def test_an_outdated_install_is_refreshed_without_force(tmp_path: Path) -> None:
    install_skill("claude", "user", root=tmp_path)
    target = skill_target("claude", "user", tmp_path)
    # Simulate an install made by an older version: old text, recorded in the manifest.
    old = "---\nname: persona-synthesis\ndescription: old\n---\nold body\n"
    (target / "SKILL.md").write_text(old)
    manifest = json.loads((target / skill.MANIFEST).read_text())
    manifest["files"]["SKILL.md"] = skill._sha256(old)
    (target / skill.MANIFEST).write_text(json.dumps(manifest))
    assert installed_skills(home=tmp_path, project=tmp_path / "p") == {"claude/user": "outdated"}
    install_skill("claude", "user", root=tmp_path)
    assert (target / "SKILL.md").read_text() == skill_files()["SKILL.md"]
    assert installed_skills(home=tmp_path, project=tmp_path / "p") == {"claude/user": "current"}
    (target / "references" / "commands.md").write_text("mine\n")
    assert installed_skills(home=tmp_path, project=tmp_path / "p") == {"claude/user": "edited"}


def test_installing_into_the_source_checkout_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In this repo .claude/skills/persona-synthesis is the source folder itself (a symlink).
    before = {p: p.stat().st_mtime_ns for p in SKILL_DIR.rglob("*")}
    paths = install_skill("claude", "project", root=REPO)
    assert (REPO / ".claude/skills/persona-synthesis/SKILL.md") in paths
    assert {p: p.stat().st_mtime_ns for p in SKILL_DIR.rglob("*")} == before
    assert not (SKILL_DIR / skill.MANIFEST).exists()


# --------------------------------------------------------------------------- CLI (once wired)


def _has(command: str) -> bool:
    return command in _cli_commands()


@pytest.mark.skipif(not _has("skill install"), reason="persona skill install not wired yet")
def test_cli_skill_install_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["skill", "install", "--agent", "codex", "--root", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    installs = TypeAdapter(list[SkillInstall]).validate_json(result.stdout)
    assert [(i.agent, i.scope) for i in installs] == [("codex", "user")]
    assert (tmp_path / ".agents/skills/persona-synthesis/SKILL.md").is_file()
    shown = runner.invoke(app, ["skill", "show"])
    assert shown.exit_code == 0 and shown.stdout.strip() == show_skill().strip()
