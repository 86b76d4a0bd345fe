"""persona-agent: grounded persona synthesis from interviews, tickets and usage data.

The library API; the CLI and the skill use only what is exported here. Names resolve lazily so
that `import agent` (and every CLI start) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "config",
    "load_settings": "config",
    "Workspace": "workspace",
    "PersonaError": "errors",
    "ingest": "ingest",
    "search": "search",
    "extract_mentions": "extract",
    "run_themes": "themes",
    "build_themes": "themes",
    "load_segment_config": "segment_rules",
    "score_users": "segment",
    "compare_snapshots": "segment",
    "draft_personas": "draft",
    "build_evidence_pack": "evidence",
    "render_report": "render",
    "export_review": "review_file",
    "apply_review_file": "review_file",
    "set_field": "review",
    "apply_reviews": "review",
    "decide_theme": "review",
    "theme_decisions": "decisions",
    "forget_sources": "decisions",
    "load_view": "library",
    "serve": "serve",
    "diff_personas": "review",
    "resume_host": "host",
    "run_pipeline": "pipeline",
    "draft_step": "pipeline",
    "segment_step": "pipeline",
    "run_doctor": "doctor",
    "evaluate": "eval",
    "install_skill": "skill",
    "show_skill": "skill",
    "LLMRunner": "llm",
    "LLMRequest": "llm",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
