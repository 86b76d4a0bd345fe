"""The LLM seam: an Instructor client over the `openai` SDK, and a runner for batches of requests.

`LLMRunner.run` answers requests from the cache first, then calls the endpoint with bounded
concurrency. Two kinds of retry, kept apart on purpose: Instructor re-asks when an answer fails
validation (`llm.max_reasks`, the validator's error text goes back to the model), and the runner
retries transport failures (429/5xx/timeouts) with exponential backoff and jitter, honouring
Retry-After (`llm.max_retries`); the SDK's own retries are off so the two never multiply.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .config import LLMSettings, Settings, redact_url
from .errors import BudgetExceeded, ConfigError, HostPending, LLMError, MissingExtraError
from .host import (
    HOST_MODEL,
    check_answer,
    format_errors,
    model_name,
    pending_summary,
    register_response_model,
    retire_stale,
    write_errors,
    write_pending,
)
from .ids import content_hash
from .llm_cache import CallsLog, ResponseCache, cache_key
from .prompts import load_prompt
from .redact import Redactor, map_strings
from .tokens import encoding_for_model, get_encoding
from .workspace import Workspace

Provider = Literal["openai", "offline", "host"]
Progress = Callable[[int, int], None]
# Defaults for settings the lead may add to LLMSettings (seconds).
MAX_RETRY_AFTER = 300.0
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt", "text-")
# Speaker labels that are roles, not people: never added to the names to redact.
ROLE_WORDS = frozenset({"participant", "interviewer", "customer", "agent", "speaker", "unknown"})


@dataclass
class LLMRequest:
    """One structured-output call: a prompt, its variables and the model that validates it."""

    step: str
    prompt: str
    variables: dict[str, Any]
    response_model: type[BaseModel]
    context: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    # The caller's guess at the answer's size (budgets, dry runs); 0 = a quarter of the input.
    expected_output_tokens: int = 0
    # Ids of the chunks whose words the request carries: when one is withdrawn, the cached
    # answer, host files and logged errors that may quote it are purged (agent/purge.py).
    sources: tuple[str, ...] = ()


@dataclass
class LLMResult:
    """The outcome of one request: a validated value, or an error; never both."""

    request_id: str
    value: BaseModel | None
    error: str | None
    cached: bool
    attempts: int
    usage: dict[str, int]
    # The answer hit llm.max_output_tokens: the caller may retry with a smaller input.
    truncated: bool = False
    # Items removed from an otherwise valid answer because they failed the check against the
    # unredacted text (one line each); such an answer is not cached, so a re-run asks again.
    dropped: list[str] = field(default_factory=list)


@dataclass
class DryRunEstimate:
    """What a run would cost, computed without calling anything."""

    calls: int
    cached: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    model: str


@dataclass
class _Prepared:
    request: LLMRequest
    index: int
    key: str
    prompt_version: str
    messages: list[dict[str, Any]]
    context: dict[str, Any]
    input_tokens: int
    output_tokens: int
    # Tokens this runner put into the request (never ones the input already held, e.g. from
    # `persona ingest --redact`): the only ones an answer may have restored.
    restorable: frozenset[str] = frozenset()


class _Fatal(Exception):
    """A failure every other call would hit too (bad key, unknown model, endpoint down)."""


# --------------------------------------------------------------------------- client


def resolved_mode(llm: LLMSettings) -> Literal["tools", "json", "md_json"]:
    """`auto`: tool calling for hosted APIs; JSON mode for local servers, whose tool support varies."""
    if llm.mode != "auto":
        return llm.mode
    return "json" if llm.base_url and llm.is_local_endpoint() else "tools"


def _refused(exc: BaseException) -> bool:
    """True when the connection was refused outright (no server on that port)."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, ConnectionRefusedError) or "refused" in str(node).lower():
            return True
        node = node.__cause__ or node.__context__
    return False


def build_client(llm: LLMSettings) -> Any:
    """An Instructor client over `openai.OpenAI`, with the SDK's own retries switched off."""
    try:
        import instructor
        import openai
    except ImportError as exc:  # pragma: no cover - both are hard dependencies
        raise MissingExtraError(
            f"the LLM layer needs {exc.name}: pip install 'instructor>=1.17'"
        ) from exc
    api_key = llm.api_key
    if not api_key:
        if not llm.base_url:
            raise LLMError(
                "no API key: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server, "
                "or run with --llm offline"
            )
        api_key = "not-needed"  # local servers (Ollama, vLLM) ignore the key
    client = openai.OpenAI(
        api_key=api_key, base_url=llm.base_url, timeout=llm.timeout, max_retries=0
    )
    modes = {
        "tools": instructor.Mode.TOOLS,
        "json": instructor.Mode.JSON,
        "md_json": instructor.Mode.MD_JSON,
    }
    return instructor.from_openai(client, mode=modes[resolved_mode(llm)])


def _retry_after(exc: Any) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return float(headers["retry-after-ms"]) / 1000
    except ValueError:
        pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        return max(0.0, email.utils.mktime_tz(parsed) - time.time()) if parsed else None


def _root(exc: BaseException) -> BaseException:
    """Instructor wraps the last error in InstructorRetryException; unwrap it."""
    seen = 0
    while (
        exc.__cause__ is not None and seen < 5 and type(exc).__name__ == "InstructorRetryException"
    ):
        exc = exc.__cause__
        seen += 1
    return exc


def speaker_names(chunks_path: Path, exclude: Collection[str] = ()) -> set[str]:
    """Person names the workspace's chunks carry as speakers or participant ids.

    Read line by line from chunks.jsonl, so every runner (themes, drafts) knows the names
    extraction knows. Role labels ("Interviewer", "Customer") and ids with digits ("P01") are
    not names.
    """
    names: set[str] = set()
    if not chunks_path.exists():
        return names
    skip = ROLE_WORDS | {word.lower() for word in exclude}
    with chunks_path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            for value in (row.get("speaker"), row.get("participant_id")):
                if (
                    isinstance(value, str)
                    and value.strip().lower() not in skip
                    and re.search(r"[^\W\d_]", value)
                    and not re.search(r"\d", value)
                ):
                    names.add(value.strip())
    return names


def _short(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _drop_invalid(
    model: type[BaseModel],
    data: dict[str, Any],
    context: dict[str, Any],
    exc: ValidationError,
    clean: Callable[[str], str],
) -> tuple[BaseModel, list[str]]:
    """The answer without the failed items of the lists its model names in `DROP_INVALID`.

    A response model sets that class variable (one list name, or a tuple of them) only when
    those lists' items are validated independently of each other (no whole-model rule, no
    minimum length), so the rest is still a valid answer. Re-raises `exc` when the model names
    no list or an error lies outside them.
    """
    declared = getattr(model, "DROP_INVALID", ())
    names = (declared,) if isinstance(declared, str) else tuple(declared)
    if not names or not all(isinstance(data.get(n, []), list) for n in names):
        raise exc
    bad: dict[tuple[str, int], list[str]] = {}
    for err, line in zip(exc.errors(include_url=False), format_errors(exc), strict=True):
        loc = err.get("loc", ())
        if len(loc) < 2 or loc[0] not in names or not isinstance(loc[1], int):
            raise exc
        bad.setdefault((str(loc[0]), loc[1]), []).append(clean(line))
    kept = dict(data)
    for name in names:
        if name in data:
            kept[name] = [item for i, item in enumerate(data[name]) if (name, i) not in bad]
    value = model.model_validate(kept, context=context)
    dropped = [
        f"{name}.{i} dropped after restoring redacted text: {bad[(name, i)][0]}"
        for name, i in sorted(bad)
    ]
    return value, dropped


# --------------------------------------------------------------------------- runner


class LLMRunner:
    """Runs LLM requests: cache, redaction, concurrency, retries, budget, host files, logging."""

    def __init__(
        self, settings: Settings, workspace: Workspace, provider: str | None = None
    ) -> None:
        self.settings = settings
        self.llm = settings.llm
        self.workspace = workspace
        chosen = provider or self.llm.resolved_provider()
        if chosen not in ("openai", "offline", "host"):
            raise ConfigError(f"unknown LLM provider {chosen!r}: use openai, offline or host")
        self.provider: Provider = chosen  # type: ignore[assignment]
        self.model = HOST_MODEL if self.provider == "host" else self.llm.model
        self.cache = ResponseCache(workspace.llm_cache)
        self.log = CallsLog(workspace.calls_log)
        self.redactor = (
            Redactor(workspace.redaction_map, names=settings.ingest.redact_names)
            if self.llm.redaction_enabled()
            else None
        )
        if self.redactor is not None and self.redactor.names:
            # Every step's runner, not just extraction's: theme names and drafts quote people too.
            self.redactor.add_names(
                speaker_names(workspace.chunks, settings.ingest.interviewer_names)
            )
        self.backoff_base = self.llm.backoff_base
        self.backoff_max = self.llm.backoff_max
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._random = random.Random()
        self._schemas: dict[type[BaseModel], dict[str, Any]] = {}
        self.totals = {"calls": 0, "cached": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0}

    @property
    def client(self) -> Any:
        """The Instructor client, built on first use (never for cached or host runs)."""
        with self._client_lock:
            if self._client is None:
                self._client = build_client(self.llm)
            return self._client

    # ------------------------------------------------------------------ preparation

    def _prepare(self, request: LLMRequest, index: int) -> _Prepared:
        register_response_model(request.response_model)
        prompt = load_prompt(request.prompt)
        variables, context = request.variables, request.context
        emitted: set[str] = set()
        if self.redactor is not None:
            redactor = self.redactor

            def redact(text: str) -> str:
                return redactor.redact(text, emitted)

            variables = map_strings(variables, redact)
            context = map_strings(context, redact)
        messages = prompt.render(**variables)
        schema = self._schema(request.response_model)
        key = cache_key(prompt.name, prompt.version, self.model, messages, schema)
        if not request.id:
            request.id = key[:16]
        encoding = self._encoding()
        # Per-message framing (~4 tokens) and the schema, which travels as a tool or a system note.
        input_tokens = sum(
            4 + len(encoding.encode(m["content"], disallowed_special=())) for m in messages
        ) + len(encoding.encode(json.dumps(schema), disallowed_special=()))
        # Output estimate for budgets and dry runs, never more than the output cap.
        guess = request.expected_output_tokens or max(64, input_tokens // 4)
        output_tokens = min(self.llm.max_output_tokens, guess)
        return _Prepared(
            request,
            index,
            key,
            prompt.version,
            messages,
            context,
            input_tokens,
            output_tokens,
            frozenset(emitted),
        )

    def _prepare_all(self, requests: list[LLMRequest]) -> list[_Prepared]:
        if self.redactor is None:
            return [self._prepare(r, i) for i, r in enumerate(requests)]
        # One map write for the batch: saving after every new value is quadratic in values.
        with self.redactor.deferred():
            return [self._prepare(r, i) for i, r in enumerate(requests)]

    def _schema(self, model: type[BaseModel]) -> dict[str, Any]:
        if model not in self._schemas:
            self._schemas[model] = model.model_json_schema()
        return self._schemas[model]

    def _encoding(self) -> Any:
        """The model's own tokenizer for OpenAI models; for others (Llama, Qwen...) no tiktoken
        encoding is exact, so the one ingest already loaded is as good an estimate."""
        if self.llm.model.startswith(OPENAI_PREFIXES):
            return encoding_for_model(self.llm.model)
        return get_encoding(self.settings.ingest.encoding)

    def _cached(self, p: _Prepared) -> BaseModel | None:
        hit = self.cache.get(p.key)
        if hit is None:
            return None
        try:
            # Re-validated on the way out, so a tightened validator invalidates stale answers.
            return p.request.response_model.model_validate_json(hit[0], context=p.context)
        except ValidationError:
            self.cache.delete(p.key)
            return None

    def _finish(self, p: _Prepared, value: BaseModel) -> tuple[BaseModel, list[str]]:
        """Restore what this runner redacted and re-validate against the original context.

        Returns the value and the lines of any items dropped (see `_drop_invalid`); raises
        ValidationError when the answer as a whole fails. Tokens the input already held (text
        redacted at ingest) stay tokens: the original context holds them as tokens too.
        """
        if self.redactor is None or not p.restorable:
            # Nothing was replaced: the answer was already checked against this very context.
            return value, []
        redactor, only = self.redactor, p.restorable
        data = map_strings(value.model_dump(mode="json"), lambda t: redactor.restore(t, only))
        model = type(value)
        try:
            return model.model_validate(data, context=p.request.context), []
        except ValidationError as exc:
            # Error lines quote the restored text: tokens again, as they may reach a host agent.
            return _drop_invalid(
                model, data, p.request.context, exc, lambda line: redactor.retokenize(line, only)
            )

    def _record(
        self, p: _Prepared, result: LLMResult, seconds: float, extra: dict[str, Any] | None = None
    ) -> None:
        self.log.append(
            {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "request_id": result.request_id,
                "step": p.request.step,
                "prompt": p.request.prompt,
                "prompt_version": p.prompt_version,
                "prompt_hash": content_hash(p.messages),
                "cache_key": p.key,
                "model": self.model,
                "provider": self.provider,
                "mode": resolved_mode(self.llm) if self.provider == "openai" else self.provider,
                "cached": result.cached,
                "ok": result.error is None,
                "error": result.error,
                "attempts": result.attempts,
                "usage": result.usage,
                "estimated_input_tokens": p.input_tokens,
                "redacted": self.redactor is not None,
                "sources": sorted(p.request.sources),
                "seconds": round(seconds, 3),
                **(extra or {}),
            }
        )

    # ------------------------------------------------------------------ public API

    def dry_run(self, requests: list[LLMRequest]) -> DryRunEstimate:
        """Calls, tokens and cost a run would take; calls nothing (the cache is only read)."""
        prepared = self._prepare_all(requests)
        todo = [p for p in prepared if self._cached(p) is None]
        input_tokens = sum(p.input_tokens for p in todo)
        output_tokens = sum(p.output_tokens for p in todo)
        price = self.llm.prices.get(self.llm.model)
        cost = None
        if price is not None and self.provider == "openai":
            cost = round((input_tokens * price[0] + output_tokens * price[1]) / 1_000_000, 8)
        return DryRunEstimate(
            calls=len(todo),
            cached=len(prepared) - len(todo),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            model=self.model,
        )

    def run(self, requests: list[LLMRequest], progress: Progress | None = None) -> list[LLMResult]:
        """Results in request order; one failed call is an error result, never an exception."""
        prepared = self._prepare_all(requests)
        results: list[LLMResult | None] = [None] * len(prepared)
        todo: list[_Prepared] = []
        for p in prepared:
            began = time.perf_counter()
            value = self._cached(p)
            if value is None:
                todo.append(p)
                continue
            result = self._ok(p, value, cached=True, attempts=0, usage={})
            if result.value is None or result.dropped:
                # Stored before the check against the original text existed (or by a host
                # resume, which cannot run it): ask again rather than fail the same way forever.
                self.cache.delete(p.key)
                todo.append(p)
                continue
            results[p.index] = result
            self.totals["cached"] += 1
            self._record(p, result, time.perf_counter() - began)
        total = len(prepared)
        if progress:
            progress(total - len(todo), total)
        if todo:
            if self.provider == "offline":
                raise ConfigError(
                    "offline mode has no language model; this step needs an endpoint or --llm host"
                )
            if self.provider == "host":
                self._run_host(todo, results, progress)
            else:
                self._run_openai(todo, results, progress)
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ host mode

    def _run_host(
        self, todo: list[_Prepared], results: list[LLMResult | None], progress: Progress | None
    ) -> None:
        retire_stale(self.workspace, {p.request.step for p in todo}, {p.request.id for p in todo})
        waiting = 0
        for p in todo:
            record = {
                "id": p.request.id,
                "step": p.request.step,
                "prompt": p.request.prompt,
                "prompt_version": p.prompt_version,
                "messages": p.messages,
                "json_schema": self._schema(p.request.response_model),
                "context": p.context,
                "answer_path": str(self.workspace.host_dir / "answers" / f"{p.request.id}.json"),
                "response_model": model_name(p.request.response_model),
                "cache_key": p.key,
                # Which tokens to put back before the second check (names only, never values).
                "restore_tokens": sorted(p.restorable),
                "sources": sorted(p.request.sources),
            }
            # An answer already written (resume not run yet) is checked right here.
            value, errors = check_answer(self.workspace, self.cache, record)
            if value is not None:
                result = self._ok(p, value, cached=True, attempts=1, usage={})
                if result.value is not None and not result.dropped:
                    results[p.index] = result
                    self._record(p, result, 0.0, {"host_answer": True})
                    continue
                # Valid as written, wrong once restored: the host fixes it like any rejection.
                self.cache.delete(p.key)
                errors = result.dropped or [result.error or "answer rejected"]
                write_errors(self.workspace, record, errors)
            write_pending(self.workspace, record)
            waiting += 1
            if errors:
                self._record(p, self._fail(p, "; ".join(errors[:3]), 1, {}), 0.0)
        if progress:
            progress(sum(r is not None for r in results), len(results))
        if waiting:
            raise HostPending(pending_summary(self.workspace))

    # ------------------------------------------------------------------ endpoint mode

    def _ok(
        self, p: _Prepared, value: BaseModel, cached: bool, attempts: int, usage: dict[str, int]
    ) -> LLMResult:
        try:
            final, dropped = self._finish(p, value)
        except ValidationError as exc:
            lines = "; ".join(format_errors(exc)[:3])
            if self.redactor is not None:
                lines = self.redactor.retokenize(lines, p.restorable)
            return self._fail(p, "restored answer failed validation: " + lines, attempts, usage)
        return LLMResult(p.request.id, final, None, cached, attempts, usage, dropped=dropped)

    def _fail(
        self,
        p: _Prepared,
        error: str,
        attempts: int,
        usage: dict[str, int],
        truncated: bool = False,
    ) -> LLMResult:
        return LLMResult(p.request.id, None, _short(error), False, attempts, usage, truncated)

    def _run_openai(
        self, todo: list[_Prepared], results: list[LLMResult | None], progress: Progress | None
    ) -> None:
        budget = self.llm.token_budget
        concurrency = max(1, self.llm.concurrency)
        queue = deque(todo)
        running: dict[Future[LLMResult], _Prepared] = {}
        spent = 0
        stopped: str | None = None
        fatal: BaseException | None = None
        total = len(results)
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")
        try:
            while queue or running:
                while queue and len(running) < concurrency and stopped is None and fatal is None:
                    nxt = queue[0]
                    reserved = sum(p.input_tokens + p.output_tokens for p in running.values())
                    if budget is not None and spent + reserved + nxt.input_tokens > budget:
                        stopped = "budget"
                        break
                    queue.popleft()
                    running[pool.submit(self._call, nxt)] = nxt
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    p = running.pop(future)
                    try:
                        result = future.result()
                    except _Fatal as exc:
                        fatal = fatal or exc
                        continue
                    except Exception as exc:  # a worker's own failure (cache, log): this call only
                        result = self._crashed(p, exc)
                    results[p.index] = result
                    spent += result.usage.get("input_tokens", 0) + result.usage.get(
                        "output_tokens", 0
                    )
                    if progress:
                        progress(sum(r is not None for r in results), total)
        finally:
            # Calls already running finish (and are cached); nothing new starts.
            pool.shutdown(wait=True, cancel_futures=True)
        if fatal is not None:
            raise LLMError(str(fatal)) from fatal
        if stopped == "budget":
            done = sum(r is not None for r in results)
            raise BudgetExceeded(
                f"token budget of {budget:,} reached after {spent:,} tokens: {done} of {total} "
                f"requests done and cached; raise llm.token_budget (PERSONA_TOKEN_BUDGET) and "
                f"re-run to continue"
            )

    def _crashed(self, p: _Prepared, exc: Exception) -> LLMResult:
        """An error result for a call whose worker raised (sqlite locked, disk full...)."""
        result = self._fail(p, f"{type(exc).__name__}: {exc}", 1, {})
        with self._client_lock:
            self.totals["failed"] += 1
        # The log may be what failed; the error result reaches the caller either way.
        with contextlib.suppress(Exception):
            self._record(p, result, 0.0)
        return result

    def _backoff(self, retry: int, hint: float | None) -> float:
        if hint is not None:
            return min(hint, MAX_RETRY_AFTER) + self._random.uniform(0, 0.1 * self.backoff_base)
        ceiling = min(self.backoff_max, self.backoff_base * (2**retry))
        return self._random.uniform(ceiling / 2, ceiling)

    def _call(self, p: _Prepared) -> LLMResult:
        """One request with transport retries; runs in a worker thread."""
        import openai
        from instructor.core import Hooks

        began = time.perf_counter()
        counts = {"attempts": 0, "input_tokens": 0, "output_tokens": 0, "reported": 0}

        def on_kwargs(*_: Any, **__: Any) -> None:
            counts["attempts"] += 1

        def on_response(response: Any) -> None:
            usage = getattr(response, "usage", None)
            if usage is not None:
                counts["input_tokens"] += int(getattr(usage, "prompt_tokens", 0) or 0)
                counts["output_tokens"] += int(getattr(usage, "completion_tokens", 0) or 0)
                counts["reported"] += 1

        hooks = Hooks()
        hooks.on("completion:kwargs", on_kwargs)
        hooks.on("completion:response", on_response)
        model = self.llm.model
        options: dict[str, Any] = {"model": model, "seed": self.settings.seed}
        if model.startswith(REASONING_PREFIXES):
            options["max_completion_tokens"] = self.llm.max_output_tokens
        else:
            options["max_tokens"] = self.llm.max_output_tokens
            options["temperature"] = 0

        def usage() -> dict[str, int]:
            # Servers that report no usage are charged our tiktoken estimate.
            missing = counts["attempts"] - counts["reported"]
            return {
                "input_tokens": counts["input_tokens"] + missing * p.input_tokens,
                "output_tokens": counts["output_tokens"] + missing * p.output_tokens,
            }

        error, truncated = "no attempt made", False
        for retry in range(self.llm.max_retries + 1):
            try:
                value = self.client.create(
                    response_model=p.request.response_model,
                    messages=copy.deepcopy(p.messages),
                    context=p.context,
                    max_retries=self.llm.max_reasks,
                    strict=False,
                    hooks=hooks,
                    **options,
                )
            except LLMError as exc:  # the client could not be built (no key): fatal for the run
                raise _Fatal(str(exc)) from exc
            except Exception as exc:  # every failure is classified below, none escapes
                cause = _root(exc)
                transient, hint, error = self._classify(cause, openai)
                if transient is None:
                    self._log_call(p, None, error, counts, usage(), began)
                    raise _Fatal(error) from exc
                if transient and retry < self.llm.max_retries:
                    time.sleep(self._backoff(retry, hint))
                    continue
                if isinstance(cause, openai.APIConnectionError) and not isinstance(
                    cause, openai.APITimeoutError
                ):
                    self._log_call(p, None, error, counts, usage(), began)
                    raise _Fatal(error) from exc
                truncated = type(cause).__name__ == "IncompleteOutputException"
                break
            else:
                result = self._ok(
                    p, value, cached=False, attempts=counts["attempts"], usage=usage()
                )
                # Only an answer that passed every check is kept: a rejected one is asked again
                # on the next run instead of failing from the cache forever.
                if result.value is not None and not result.dropped:
                    self.cache.put(
                        p.key,
                        step=p.request.step,
                        prompt=p.request.prompt,
                        prompt_version=p.prompt_version,
                        model=self.model,
                        response_model=model_name(p.request.response_model),
                        value=value.model_dump_json(),
                        usage=usage(),
                        sources=p.request.sources,
                    )
                self._log_call(p, result, result.error, counts, usage(), began)
                return result
        result = self._fail(p, error, counts["attempts"], usage(), truncated)
        self._log_call(p, result, result.error, counts, usage(), began)
        return result

    def _log_call(
        self,
        p: _Prepared,
        result: LLMResult | None,
        error: str | None,
        counts: dict[str, int],
        usage: dict[str, int],
        began: float,
    ) -> None:
        if result is None:
            result = LLMResult(p.request.id, None, error, False, counts["attempts"], usage)
        with self._client_lock:
            self.totals["calls"] += 1
            self.totals["failed"] += result.error is not None
            self.totals["input_tokens"] += usage["input_tokens"]
            self.totals["output_tokens"] += usage["output_tokens"]
        self._record(p, result, time.perf_counter() - began)

    def _classify(self, cause: BaseException, openai: Any) -> tuple[bool | None, float | None, str]:
        """(transient?, retry-after hint, message); transient None means fatal for the run."""
        # Shown in errors and calls.jsonl: credentials in the base URL never are.
        base = redact_url(self.llm.base_url) or "https://api.openai.com/v1"
        if isinstance(cause, openai.APITimeoutError):
            return True, None, f"timed out after {self.llm.timeout:g}s"
        if isinstance(cause, openai.APIConnectionError):
            if _refused(cause):
                # Nothing listens there: retrying for a minute would only delay the same answer.
                return (
                    None,
                    None,
                    f"cannot reach {base} (connection refused): start the server (e.g. ollama "
                    "serve) or fix OPENAI_BASE_URL; persona doctor checks it",
                )
            reason = str(cause).rstrip(". ")
            return True, None, f"cannot reach {base} ({reason}); is the server running?"
        if isinstance(cause, openai.APIStatusError):
            status = cause.status_code
            detail = _short(getattr(cause, "message", "") or str(cause), 300)
            if status in (401, 403):
                return (
                    None,
                    None,
                    (
                        f"{base} rejected the API key (HTTP {status}); set OPENAI_API_KEY to a valid key"
                    ),
                )
            if status == 404:
                return (
                    None,
                    None,
                    (
                        f"model {self.llm.model!r} not found at {base} (HTTP 404): set --model "
                        "/ PERSONA_MODEL to a model the server lists (persona doctor shows them), "
                        "and check that OPENAI_BASE_URL ends in /v1"
                    ),
                )
            if status in (408, 409, 429) or status >= 500:
                return True, _retry_after(cause), f"HTTP {status} after retries: {detail}"
            hint = ' (try llm.mode = "json")' if "tool" in detail.lower() else ""
            return False, None, f"HTTP {status}: {detail}{hint}"
        name = type(cause).__name__
        if name == "IncompleteOutputException":
            return (
                False,
                None,
                (
                    f"answer cut off at llm.max_output_tokens={self.llm.max_output_tokens}; "
                    f"raise it or send smaller batches"
                ),
            )
        if isinstance(cause, ValidationError):
            attempts = self.llm.max_reasks + 1
            lines = format_errors(cause)
            return (
                False,
                None,
                f"answer failed validation {attempts} times: " + "; ".join(lines[:3]),
            )
        if isinstance(cause, json.JSONDecodeError) or name == "ResponseParsingError":
            return False, None, f"answer was not valid JSON after re-asking: {cause}"
        return False, None, f"{name}: {cause}"
