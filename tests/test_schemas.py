"""schemas/*.json are generated from the pydantic models; this fails when they drift."""

from __future__ import annotations

from agent.schemas import schema_texts
from tests.conftest import REPO


def test_committed_schemas_match_the_models() -> None:
    folder = REPO / "schemas"
    expected = schema_texts()
    stale = [
        name
        for name, text in expected.items()
        if not (folder / name).exists() or (folder / name).read_text() != text
    ]
    extra = sorted(p.name for p in folder.glob("*.schema.json") if p.name not in expected)
    assert not stale and not extra, (
        f"run `persona schemas --out schemas/` (stale: {stale}, unknown: {extra})"
    )
