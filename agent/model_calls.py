"""What every model-backed step beside extraction and drafting shares: one batch of structured
calls whose failures are kept (the step falls back to what code proposed), a host-mode pending
marker, and usage. Consolidation, theme grouping and participant grouping build on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

from .config import Settings
from .errors import BudgetExceeded, HostPending, LLMError
from .models import CallFailure, LLMMode
from .workspace import Workspace

if TYPE_CHECKING:
    from .llm import LLMRequest


@dataclass
class ModelCalls:
    """A step's calls to the model; nothing here raises for a failed call."""

    settings: Settings
    workspace: Workspace
    provider: str | None = None
    failures: list[CallFailure] = field(default_factory=list)
    pending: HostPending | None = None
    calls: int = 0
    tokens: int = 0

    @property
    def mode(self) -> LLMMode:
        provider = self.provider or self.settings.llm.resolved_provider()
        return "host" if provider == "host" else "openai"

    def ask(
        self, requests: Sequence[LLMRequest], expected: type[BaseModel]
    ) -> list[BaseModel | None] | None:
        """Each request's validated answer, in order, None where its call failed (recorded);
        None for the whole batch when it waits on the host (`pending`) or the endpoint cannot be
        used at all (recorded)."""
        from .llm import LLMRunner

        try:
            runner = LLMRunner(self.settings, self.workspace, self.provider)
            results = runner.run(list(requests))
        except HostPending as exc:
            self.pending = exc
            return None
        except (LLMError, BudgetExceeded) as exc:
            step = requests[0].step if requests else ""
            self.failures.append(CallFailure(request_id="*", step=step, error=str(exc)))
            return None
        self.calls += runner.totals["calls"]
        self.tokens += runner.totals["input_tokens"] + runner.totals["output_tokens"]
        values: list[BaseModel | None] = []
        for request, result in zip(requests, results, strict=True):
            if result.error or not isinstance(result.value, expected):
                self.failures.append(
                    CallFailure(
                        request_id=result.request_id,
                        step=request.step,
                        error=result.error or "no value",
                        attempts=max(1, result.attempts),
                    )
                )
                values.append(None)
            else:
                values.append(result.value)
        return values
