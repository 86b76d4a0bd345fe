"""The persona-synthesis agent skill: its files, and installing them where Claude Code and Codex look.

The skill lives in `.agents/skills/persona-synthesis/` (the open agent-skills layout) and ships in
the wheel as the data package `agent._skill`. Claude Code reads `~/.claude/skills/<name>/` and
`.claude/skills/<name>/`; Codex reads `~/.agents/skills/<name>/` and `.agents/skills/<name>/`.
An install records the hash of every file it wrote in `.persona-skill.json`, so a later install
can tell a file it may refresh from one the user has edited, which it keeps unless forced.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from .errors import ConfigError, PersonaError
from .models import Strict
from .workspace import write_text_atomic

SKILL_NAME = "persona-synthesis"
SKILL_PACKAGE = "agent._skill"
MANIFEST = ".persona-skill.json"
AgentName = Literal["claude", "codex"]
Scope = Literal["user", "project"]
# Where each agent looks, relative to the home folder (user) or the project root (project).
SKILL_ROOTS: dict[str, Path] = {
    "claude": Path(".claude") / "skills",
    "codex": Path(".agents") / "skills",
}
SOURCE_DIR = Path(__file__).resolve().parent.parent / ".agents" / "skills" / SKILL_NAME


class SkillConflict(PersonaError):
    """An installed skill file was edited by the user; installing again needs --force."""


class SkillInstall(Strict):
    """One install, as `persona skill install --json` reports it."""

    agent: AgentName
    scope: Scope
    path: str
    files: list[str]


def _walk(node: Traversable, prefix: str = "") -> dict[str, str]:
    files: dict[str, str] = {}
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                files.update(_walk(child, f"{name}/"))
        elif child.name.endswith(".md"):
            files[name] = child.read_text(encoding="utf-8")
    return files


def _package_root() -> Traversable | None:
    # Installed from a wheel, agent/_skill is a namespace package: resources.files() returns a
    # MultiplexedPath, which must be walked as a Traversable (str() of it is not a path).
    try:
        root = resources.files(SKILL_PACKAGE)
    except (ModuleNotFoundError, TypeError):
        return None
    return root if root.is_dir() else None


def skill_files() -> dict[str, str]:
    """Relative path -> text of every skill file (SKILL.md and references/*.md)."""
    root = _package_root()
    if root is None:
        # A source checkout or an editable install: the files are in the repo itself.
        root = SOURCE_DIR if SOURCE_DIR.is_dir() else None
    files = _walk(root) if root is not None else {}
    if "SKILL.md" not in files:
        raise ConfigError(
            "the skill files are missing from this installation: "
            "reinstall with `pip install --force-reinstall persona-agent`"
        )
    return files


def show_skill(references: bool = False) -> str:
    """SKILL.md's text; with `references`, every reference page after it."""
    files = skill_files()
    if not references:
        return files["SKILL.md"]
    parts = [files["SKILL.md"]]
    parts += [f"\n<!-- {name} -->\n\n{text}" for name, text in files.items() if name != "SKILL.md"]
    return "".join(parts)


def skill_target(agent: AgentName, scope: Scope, root: Path | None = None) -> Path:
    """The folder the skill goes in for this agent and scope (`root` replaces ~ or the cwd)."""
    if agent not in SKILL_ROOTS:
        raise ConfigError(f"unknown agent {agent!r}: use claude or codex")
    if scope not in ("user", "project"):
        raise ConfigError(f"unknown scope {scope!r}: use user or project")
    base = root if root is not None else (Path.home() if scope == "user" else Path.cwd())
    return base / SKILL_ROOTS[agent] / SKILL_NAME


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_manifest(target: Path) -> dict[str, str]:
    try:
        data = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _is_source(target: Path) -> bool:
    # The repo's own .claude/skills/persona-synthesis is a symlink to the source folder.
    try:
        return SOURCE_DIR.is_dir() and target.resolve() == SOURCE_DIR
    except OSError:
        return False


def install_skill(
    agent: AgentName, scope: Scope, root: Path | None = None, force: bool = False
) -> list[Path]:
    """Write the skill where `agent` looks; returns the installed files. Safe to run again."""
    files = skill_files()
    target = skill_target(agent, scope, root)
    paths = [target / name for name in files]
    if _is_source(target):
        return paths
    recorded = _read_manifest(target)
    edited = []
    for name, text in files.items():
        path = target / name
        if not path.is_file():
            continue
        current = _sha256(path.read_text(encoding="utf-8", errors="replace"))
        # Ours to refresh: what we wrote last time, or already the packaged text.
        if current not in (recorded.get(name), _sha256(text)):
            edited.append(name)
    if edited and not force:
        raise SkillConflict(
            f"{target / edited[0]} was edited since persona installed it; keep your version, or "
            f"re-run with --force to replace it (your copy is kept as {edited[0]}.bak)"
        )
    for name, text in files.items():
        path = target / name
        if name in edited:
            os.replace(path, path.with_name(path.name + ".bak"))
        if not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text:
            write_text_atomic(path, text)
    manifest = {"skill": SKILL_NAME, "files": {n: _sha256(t) for n, t in sorted(files.items())}}
    manifest_text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    manifest_path = target / MANIFEST
    if not manifest_path.is_file() or manifest_path.read_text(encoding="utf-8") != manifest_text:
        write_text_atomic(manifest_path, manifest_text)
    return paths


def installed_skills(home: Path | None = None, project: Path | None = None) -> dict[str, str]:
    """'<agent>/<scope>' -> 'current' | 'outdated' | 'edited', for every install found."""
    files = skill_files()
    bases = {"user": home or Path.home(), "project": project or Path.cwd()}
    found: dict[str, str] = {}
    for agent in SKILL_ROOTS:
        for scope, base in bases.items():
            target = skill_target(agent, scope, base)  # type: ignore[arg-type]
            if not (target / "SKILL.md").is_file() or _is_source(target):
                continue
            recorded = _read_manifest(target)
            state = "current"
            for name, text in files.items():
                path = target / name
                current = _sha256(path.read_text(encoding="utf-8")) if path.is_file() else ""
                if current == _sha256(text):
                    continue
                if current not in ("", recorded.get(name)):
                    state = "edited"
                    break
                state = "outdated"
            found[f"{agent}/{scope}"] = state
    return found
