"""One error family, so the CLI can print a single clear line for anything expected."""

from __future__ import annotations


class PersonaError(Exception):
    """Base class for every error the tool expects and explains to the user."""

    exit_code = 1


class ConfigError(PersonaError):
    """A setting, config file or rule is missing or invalid."""


class InputError(PersonaError):
    """An input file cannot be read; the message names the file (and line)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class OutputError(PersonaError):
    """An output cannot be written where asked (a file in the way, no permission, disk full)."""


class MissingExtraError(PersonaError):
    """An optional dependency is not installed; the message names the pip command."""


class LLMError(PersonaError):
    """The LLM endpoint failed in a way the user must fix (bad key, unknown model, down)."""


class BudgetExceeded(PersonaError):
    """The run's token budget is spent; finished work is kept and the run can resume."""


class HostPending(PersonaError):
    """Host mode: requests are waiting for answers from the calling agent."""

    exit_code = 3


class ValidationFailed(PersonaError):
    """An answer (LLM or host) failed the grounding validators."""
