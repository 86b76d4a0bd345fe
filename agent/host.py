"""Host mode: the calling agent (Claude Code, Codex...) answers the LLM requests itself.

A step run with `--llm host` writes each uncached request to `host/pending/<id>.json` (messages,
the JSON Schema of the answer, the validation context and where to write the answer) and stops.
The agent writes `host/answers/<id>.json`; `resume_host` validates every answer with exactly the
same pydantic model and context as the API path, caches the valid ones (so re-running the step
makes zero calls) and writes `<id>.errors.json` beside each rejected request for correction.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .config import Settings
from .errors import ConfigError
from .llm_cache import ResponseCache
from .models import Strict
from .prompts import load_text
from .redact import Redactor, map_strings
from .workspace import Workspace, read_json, write_json, write_text_atomic

HOST_MODEL = "host"
_MODELS: dict[str, type[BaseModel]] = {}
_NAMES: dict[type[BaseModel], str] = {}
# Stable name -> the module that registers it: a pending request names its model by a name that
# survives refactors, and `persona resume` (a fresh process) imports just that module.
STABLE_MODULES = {
    "extract_pain_points": "agent.extract",
    "consolidate_themes": "agent.consolidate",
    "group_themes": "agent.theme_groups",
    "draft_persona": "agent.grounding",
    "draft_journey": "agent.grounding",
    "group_participants": "agent.cohorts",
}


# --------------------------------------------------------------------------- model registry


def model_name(model: type[BaseModel]) -> str:
    """The name a pending request records: the stable one when registered with one."""
    return _NAMES.get(model) or f"{model.__module__}.{model.__qualname__}"


def register_response_model(
    model: type[BaseModel] | None = None, *, name: str | None = None
) -> Any:
    """Make a response model resolvable by name on resume (a class decorator, with or without
    a stable `name`)."""

    def register(cls: type[BaseModel]) -> type[BaseModel]:
        # A later registration without a name (the runner registers every model it sends)
        # keeps the stable name given at definition.
        path = f"{cls.__module__}.{cls.__qualname__}"
        key = name or _NAMES.get(cls) or path
        _MODELS[key] = cls
        # Pending files written before stable names existed name the import path.
        _MODELS.setdefault(path, cls)
        _NAMES[cls] = key
        return cls

    return register(model) if model is not None else register


def lookup_response_model(name: str) -> type[BaseModel]:
    """The registered model called `name`; modules under `agent.` are imported on demand."""
    if name not in _MODELS and name in STABLE_MODULES:
        importlib.import_module(STABLE_MODULES[name])
    if name not in _MODELS and name.startswith("agent."):
        # Only our own package is imported from a name found in a file.
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                importlib.import_module(".".join(parts[:cut]))
                break
            except ModuleNotFoundError:
                continue
    if name not in _MODELS:
        raise ConfigError(f"unknown response model {name!r}: it was never registered")
    return _MODELS[name]


# --------------------------------------------------------------------------- answers


class HostRejection(Strict):
    """A host answer that failed validation, with what to fix."""

    id: str
    step: str
    answer_path: str
    errors_path: str
    errors: list[str]


class HostResumeReport(Strict):
    """What `persona resume` found: accepted, rejected and still-missing answers."""

    ok: bool
    accepted: list[str]
    rejected: list[HostRejection]
    missing: list[str]
    steps: list[str]
    pending_dir: str


def format_errors(exc: ValidationError) -> list[str]:
    """One line per pydantic error: where, what, and the offending value (shortened)."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "(answer)"
        value = json.dumps(err.get("input"), ensure_ascii=False, default=str)
        value = value if len(value) <= 160 else value[:157] + "..."
        lines.append(f"{where}: {err['msg']} (got {value})")
    return lines


def validate_answer(model: type[BaseModel], text: str, context: dict[str, Any]) -> BaseModel:
    """Validate answer JSON exactly as the API path does (same model, same context)."""
    return model.model_validate_json(text, context=context)


def pending_dir(workspace: Workspace) -> Path:
    return workspace.host_dir / "pending"


def answers_dir(workspace: Workspace) -> Path:
    return workspace.host_dir / "answers"


def write_pending(workspace: Workspace, record: dict[str, Any]) -> Path:
    """Write one pending request file (and the folder README); returns its path."""
    folder = pending_dir(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    answers_dir(workspace).mkdir(parents=True, exist_ok=True)
    readme = workspace.host_dir / "README.md"
    if not readme.exists():
        write_text_atomic(readme, load_text("host_readme.md"))
    path = folder / f"{record['id']}.json"
    write_json(path, record)
    return path


def write_errors(workspace: Workspace, record: dict[str, Any], errors: list[str]) -> Path:
    path = pending_dir(workspace) / f"{record['id']}.errors.json"
    write_json(
        path,
        {
            "id": record["id"],
            "answer_path": record["answer_path"],
            "errors": errors,
            "fix": "correct the answer file so it validates against json_schema, then resume",
        },
    )
    return path


def accept_answer(
    workspace: Workspace, cache: ResponseCache, record: dict[str, Any], value: BaseModel
) -> None:
    """Cache a valid answer under the request's key and move the request to host/done/."""
    cache.put(
        record["cache_key"],
        step=record["step"],
        prompt=record["prompt"],
        prompt_version=record["prompt_version"],
        model=HOST_MODEL,
        response_model=record["response_model"],
        value=value.model_dump_json(),
        usage={},
        sources=record.get("sources", ()),
    )
    done = workspace.host_dir / "done"
    done.mkdir(parents=True, exist_ok=True)
    source = pending_dir(workspace) / f"{record['id']}.json"
    if source.exists():
        os.replace(source, done / source.name)
    (pending_dir(workspace) / f"{record['id']}.errors.json").unlink(missing_ok=True)


def check_restored(
    workspace: Workspace, model: type[BaseModel], value: BaseModel, record: dict[str, Any]
) -> None:
    """Check the answer again with the request's redaction tokens put back, against the
    original text, as the runner will (raises ValidationError). Only the tokens the runner
    itself wrote are restored: text redacted at ingest holds its tokens in the original too."""
    tokens = set(record.get("restore_tokens") or [])
    if not tokens:
        return
    redactor = Redactor(workspace.redaction_map)

    def restore(text: str) -> str:
        return redactor.restore(text, tokens)

    data = map_strings(value.model_dump(mode="json"), restore)
    model.model_validate(data, context=map_strings(record["context"], restore))


def check_answer(
    workspace: Workspace, cache: ResponseCache, record: dict[str, Any]
) -> tuple[BaseModel | None, list[str] | None]:
    """(value, None) if the answer is valid and now cached; (None, errors); (None, None) if absent."""
    answer = Path(record["answer_path"])
    if not answer.exists():
        return None, None
    model = lookup_response_model(record["response_model"])
    try:
        value = validate_answer(model, answer.read_text(encoding="utf-8"), record["context"])
        check_restored(workspace, model, value, record)
    except ValidationError as exc:
        errors = format_errors(exc)
        tokens = record.get("restore_tokens") or []
        if tokens:
            redactor = Redactor(workspace.redaction_map)
            errors = [redactor.retokenize(line, tokens) for line in errors]
        write_errors(workspace, record, errors)
        return None, errors
    accept_answer(workspace, cache, record, value)
    return value, None


def retire_stale(workspace: Workspace, steps: set[str], keep: set[str]) -> int:
    """Move pending requests of `steps` that this run no longer asks (inputs changed) to
    host/stale/, so `persona resume` and the pending count only see live ones."""
    folder = pending_dir(workspace)
    moved = 0
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        if path.name.endswith(".errors.json"):
            continue
        record = read_json(path)
        if (
            isinstance(record, dict)
            and record.get("step") in steps
            and record.get("id") not in keep
        ):
            stale = workspace.host_dir / "stale"
            stale.mkdir(parents=True, exist_ok=True)
            os.replace(path, stale / path.name)
            (folder / f"{path.stem}.errors.json").unlink(missing_ok=True)
            moved += 1
    return moved


def resume_host(settings: Settings, workspace: Workspace) -> HostResumeReport:
    """Validate every answer written for a pending request; cache the good, report the bad."""
    # `settings` keeps the signature of every other step; validation needs only the workspace.
    _ = settings
    cache = ResponseCache(workspace.llm_cache)
    accepted, missing, steps = [], [], set()
    rejected: list[HostRejection] = []
    folder = pending_dir(workspace)
    files = sorted(p for p in folder.glob("*.json") if not p.name.endswith(".errors.json"))
    try:
        for path in files:
            record = read_json(path)
            if not isinstance(record, dict) or "cache_key" not in record:
                raise ConfigError(f"{path}: not a pending request file")
            value, errors = check_answer(workspace, cache, record)
            if value is not None:
                accepted.append(record["id"])
                steps.add(record["step"])
            elif errors is not None:
                rejected.append(
                    HostRejection(
                        id=record["id"],
                        step=record["step"],
                        answer_path=record["answer_path"],
                        errors_path=str(folder / f"{record['id']}.errors.json"),
                        errors=errors,
                    )
                )
            else:
                missing.append(record["id"])
    finally:
        cache.close()
    return HostResumeReport(
        ok=not rejected and not missing,
        accepted=accepted,
        rejected=rejected,
        missing=missing,
        steps=sorted(steps),
        pending_dir=str(folder),
    )


def pending_summary(workspace: Workspace) -> str:
    """One line naming the folder and what to do, for HostPending."""
    count = sum(
        1 for p in pending_dir(workspace).glob("*.json") if not p.name.endswith(".errors.json")
    )
    return (
        f"{count} LLM request(s) wait for answers in {pending_dir(workspace)}: write each answer to "
        f"the answer_path it names (see {workspace.host_dir / 'README.md'}), then run `persona resume`"
    )
