"""Test-wide guards: no real network, no real API keys, no user config leaking in."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "transcripts"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    """Refuse any connection that is not to this machine: tests never reach the network."""
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            allowed = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "PERSONA_MODEL",
        "PERSONA_LLM",
        "PERSONA_WORKSPACE",
        "PERSONA_EMBEDDER",
        "PERSONA_CHROMA_URL",
        "PERSONA_REDACT",
        "PERSONA_TOKEN_BUDGET",
        "PERSONA_REVIEWER",
    ):
        monkeypatch.delenv(var, raising=False)
    # A persona.toml in the developer's cwd must not change test results.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "GROUND_TRUTH.json").exists():
        pytest.skip("sample corpus not generated")
    return CORPUS
