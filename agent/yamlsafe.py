"""YAML from user files without aliases: a few lines of `&a`/`*a` can expand to gigabytes."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import Node

# Front matter, review files and rules files are hand-written and short; nothing needs more.
MAX_YAML_CHARS = 1_000_000


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (`*name`), the building block of "billion laughs" bombs.

    An anchor alone is harmless; it is reusing it that multiplies the document, so the first alias
    is an error carrying its position, before anything is constructed.
    """

    def compose_node(self, parent: Node | None, index: object) -> Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not allowed here; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def load_yaml(text: str) -> Any:
    """yaml.safe_load without aliases and with a size cap; errors are yaml.YAMLError."""
    if len(text) > MAX_YAML_CHARS:
        raise yaml.YAMLError(f"YAML text is {len(text):,} characters, over {MAX_YAML_CHARS:,}")
    loader = NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
