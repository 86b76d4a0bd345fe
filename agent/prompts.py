"""Prompt files: YAML front matter + a Jinja2 body split into `[system]` / `[user]` sections.

Templates live in the top-level prompts/ folder (installed as the package `agent._prompts`).
Variables are checked when a prompt is loaded (every variable the body uses must be declared)
and when it is rendered (no missing, no unknown). Structured values enter a prompt through one
serializer, the `data` filter, which wraps JSON in `<data name="...">` tags.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template, TemplateError, meta

from .errors import ConfigError

PROMPT_PACKAGE = "agent._prompts"
SUFFIX = ".md.j2"
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
SECTION = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)


def data_block(value: Any, name: str) -> str:
    """Render `value` as compact JSON inside `<data name=...>` tags: the only way data enters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    # JSON allows "\/" for "/", so a closing tag inside the data cannot end the block early.
    text = text.replace("</", "<\\/")
    return f'<data name="{name}">\n{text}\n</data>'


def _environment() -> Environment:
    env = Environment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["data"] = data_block
    return env


_ENV = _environment()


@cache
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


@dataclass
class Prompt:
    """A loaded prompt template; `render` returns OpenAI chat messages."""

    name: str
    version: str
    variables: list[str]
    description: str
    path: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list, repr=False)

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """Messages for these variables; raises ConfigError on missing or unknown ones."""
        missing = sorted(set(self.variables) - set(variables))
        unknown = sorted(set(variables) - set(self.variables))
        if missing or unknown:
            parts = [
                f"missing {missing}" if missing else "",
                f"unknown {unknown}" if unknown else "",
            ]
            detail = "; ".join(p for p in parts if p)
            raise ConfigError(f"prompt {self.name} ({self.path}): {detail}")
        messages = []
        for role, source in self.sections:
            try:
                content = _compiled(source).render(**variables).strip()
            except TemplateError as exc:
                raise ConfigError(f"prompt {self.name} ({self.path}): {exc}") from exc
            if content:
                messages.append({"role": role, "content": content})
        return messages


def prompts_dir() -> Path | None:
    """The folder holding prompt files: the installed package, else the source checkout."""
    try:
        root = resources.files(PROMPT_PACKAGE)
        if root.is_dir():
            return Path(str(root))
    except (ModuleNotFoundError, TypeError):
        pass
    local = Path(__file__).resolve().parent.parent / "prompts"
    return local if local.is_dir() else None


def parse_prompt(name: str, text: str, path: str = "") -> Prompt:
    """Parse a prompt file's text; raises ConfigError naming the file and the problem."""
    where = path or name
    match = FRONT_MATTER.match(text)
    if not match:
        raise ConfigError(f"{where}: prompt file must start with YAML front matter between '---'")
    try:
        head = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(head, dict) or "version" not in head:
        raise ConfigError(f"{where}: front matter needs at least `version`")
    unknown_keys = sorted(set(head) - {"version", "description", "variables"})
    if unknown_keys:
        raise ConfigError(f"{where}: unknown front matter keys {unknown_keys}")
    declared = head.get("variables") or []
    if not isinstance(declared, list) or not all(isinstance(v, str) for v in declared):
        raise ConfigError(f"{where}: `variables` must be a list of names")
    body = text[match.end() :]
    markers = list(SECTION.finditer(body))
    if not markers or body[: markers[0].start()].strip():
        raise ConfigError(f"{where}: body must start with a [system] or [user] section marker")
    sections = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(body)
        sections.append((marker.group(1), body[marker.end() : end].strip("\n")))
    if not any(role == "user" for role, _ in sections):
        raise ConfigError(f"{where}: a prompt needs a [user] section")
    used: set[str] = set()
    for _, source in sections:
        try:
            used |= meta.find_undeclared_variables(_ENV.parse(source))
        except TemplateError as exc:
            raise ConfigError(f"{where}: Jinja syntax error: {exc}") from exc
    undeclared, unused = sorted(used - set(declared)), sorted(set(declared) - used)
    if undeclared or unused:
        raise ConfigError(
            f"{where}: variables used but not declared {undeclared}, declared but unused {unused}"
        )
    return Prompt(
        name=name,
        version=str(head["version"]),
        variables=list(declared),
        description=str(head.get("description", "")),
        path=where,
        sections=sections,
    )


@cache
def load_prompt(name: str) -> Prompt:
    """Load prompts/<name>.md.j2 (cached per process)."""
    folder = prompts_dir()
    path = folder / f"{name}{SUFFIX}" if folder else None
    if path is None or not path.is_file():
        raise ConfigError(f"prompt {name!r} not found (looked for {name}{SUFFIX} in {folder})")
    return parse_prompt(name, path.read_text(encoding="utf-8"), str(path))


def load_text(name: str) -> str:
    """A plain text asset from the prompts folder (e.g. the host-mode README)."""
    folder = prompts_dir()
    path = folder / name if folder else None
    if path is None or not path.is_file():
        raise ConfigError(f"prompt asset {name!r} not found in {folder}")
    return path.read_text(encoding="utf-8")
