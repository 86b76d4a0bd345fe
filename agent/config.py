"""Settings: defaults, then `persona.toml`, then environment variables, then CLI flags.

Nothing here touches the network or builds a client; it only decides what to build later.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

CONFIG_FILE = "persona.toml"
# Docker's name for the machine a container runs on: traffic to it never leaves that machine, and
# `.internal` is a TLD reserved for private use, so public DNS never resolves it elsewhere.
DOCKER_HOST = "host.docker.internal"


def url_host(url: str | None) -> str | None:
    """The host part of a URL, lowercased, without brackets or a trailing dot (None if absent)."""
    if not url:
        return None
    text = url.strip()
    # A bare "localhost:8000/v1" would otherwise parse "localhost" as the scheme.
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


# Credentials a URL can carry: `user:secret@` before the host, and query parameters such as
# `?api_key=` or an Azure SAS `sig=`. `api-version=` and the like stay readable.
_USERINFO = re.compile(r"^(?P<head>\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//|\s*)(?P<userinfo>[^/?#\s]*)@")
_SECRET_PARAM = re.compile(
    r"(?i)(?P<name>[?&;][^=&#;]*(?:key|token|secret|pass|pwd|auth|sig|credential|session)[^=&#;]*=)"
    r"[^&#;]*"
)


def redact_url(url: str | None) -> str:
    """The URL with any password, user name or secret query value shown as ***, safe to print."""
    if not url:
        return ""
    text = _USERINFO.sub(lambda m: f"{m['head']}***@", str(url), count=1)
    return _SECRET_PARAM.sub(lambda m: f"{m['name']}***", text)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback_url(url: str | None) -> bool:
    """True only when the URL's host is this machine's loopback: localhost, 127.0.0.0/8 or ::1.

    The host is compared exactly, so `localhost.attacker.example` or `127.0.0.1.nip.io` (names
    anyone can point anywhere) are not loopback.
    """
    host = url_host(url)
    if host is None:
        return False
    if host == "localhost":
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def is_local_url(url: str | None) -> bool:
    """Loopback, the unspecified address (0.0.0.0 / ::, which a client reaches as this machine)
    or Docker's host.docker.internal: endpoints where text never leaves the machine."""
    if is_loopback_url(url):
        return True
    host = url_host(url)
    if host is None:
        return False
    address = _ip(host)
    return host == DOCKER_HOST or (address is not None and address.is_unspecified)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(Section):
    # "auto" means: openai when a key or base URL is configured, otherwise offline.
    provider: Literal["auto", "openai", "offline", "host"] = "auto"
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = None
    # Instructor mode: tools suits OpenAI/vLLM; json suits servers without tool calling.
    mode: Literal["auto", "tools", "json", "md_json"] = "auto"
    timeout: float = 60.0
    max_retries: int = 4
    # Exponential backoff with jitter for 429/5xx/timeouts (seconds); Retry-After wins when sent.
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_reasks: int = 2
    concurrency: int = 4
    token_budget: int | None = None
    # 4096 lets one request carry many short tickets; lower it for models with small contexts.
    max_output_tokens: int = 4096
    redact: Literal["auto", "on", "off"] = "auto"
    # USD per 1M tokens (input, output); used only for --dry-run estimates.
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": (0.15, 0.60),
            "gpt-4o": (2.50, 10.00),
            "gpt-4.1-mini": (0.40, 1.60),
            "gpt-4.1": (2.00, 8.00),
        }
    )

    def resolved_provider(self) -> Literal["openai", "offline", "host"]:
        if self.provider != "auto":
            return self.provider
        return "openai" if (self.api_key or self.base_url) else "offline"

    def is_local_endpoint(self) -> bool:
        """True when the endpoint runs on this machine (no base URL means OpenAI: remote)."""
        return is_local_url(self.base_url)

    def redaction_enabled(self) -> bool:
        if self.redact == "auto":
            return not self.is_local_endpoint()
        return self.redact == "on"


class EmbeddingSettings(Section):
    provider: Literal["minilm", "openai", "hash"] = "minilm"
    model: str = "text-embedding-3-small"
    # Texts per model call; None = the provider's own default (minilm 16, openai 64).
    batch_size: int | None = None


class ChromaSettings(Section):
    url: str | None = None
    collection_prefix: str = "persona"


# The ticket fields `ingest.ticket_columns` may map (agent/readers/tables.py detects each one).
TicketField = Literal[
    "id",
    "text",
    "subject",
    "customer",
    "created_at",
    "tags",
    "priority",
    "channel",
    "product",
    "status",
]


class IngestSettings(Section):
    encoding: str = "o200k_base"
    # MiniLM reads at most 256 word pieces; 200 tiktoken tokens stays under that for English.
    max_tokens: int = 200
    overlap_tokens: int = 40
    max_file_mb: float = 50.0
    interviewer_names: list[str] = Field(
        default_factory=lambda: ["interviewer", "moderator", "researcher", "facilitator", "host"]
    )
    # Speakers who are never the interviewer, whatever the transcripts' structure suggests.
    participant_names: list[str] = Field(default_factory=list)
    # Fold a rare speaker label into a frequent one it misspells ("Particpant" -> "Participant").
    fold_label_typos: bool = True
    # Ticket export columns: our name -> your column name; unset ones are auto-detected.
    ticket_columns: dict[TicketField, str] = Field(default_factory=dict)
    # "auto": redact before embedding when the embedder or the Chroma server is off this machine.
    redact: Literal["auto"] | bool = "auto"
    redact_names: bool = False


class ThemeSettings(Section):
    # Cosine distance below which two mentions may share a theme (average linkage).
    distance_threshold: float = 0.55
    # The cut that proposes candidates when a model consolidates them: tighter, since the model
    # merges what it sees but cannot split what it does not (300 BANKING77 tickets in host mode:
    # candidate homogeneity 0.70 at 0.55, 0.93 at 0.35).
    proposal_distance_threshold: float = 0.35
    # Offline mentions are embedded with their whole chunk; measured on transcripts/ (ARI 0.82 at
    # 0.65 vs 0.52 at 0.55), see README's design notes.
    context_distance_threshold: float = 0.65
    # One-line tickets and reviews embedded whole, each averaged with its 10 nearest first: a
    # tighter cut (BANKING77: ARI 0.53 vs 0.17 at 0.65 unsmoothed; the cut and the smoothing
    # follow the median context length, see themes.cut_for).
    short_distance_threshold: float = 0.3
    min_mentions: int = 1
    quotes_per_theme: int = 3


class SegmentSettings(Section):
    preset: str = "weekly"
    config: str | None = None
    id_column: str | None = None


# The extracted journey stages (models.JourneyStage without 'unknown'); see agent/stages.py.
MentionStage = Literal[
    "awareness", "consideration", "decision", "onboarding", "retention", "advocacy"
]
_STAGE_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class DraftSettings(Section):
    personas: int = 4
    min_segment_size: int = 30
    chunks_per_persona: int = 8
    anti_persona: bool = False
    # Journey map columns: the purchase funnel (seed 002) or product use (usability studies).
    journey: Literal["funnel", "usage"] = "funnel"
    # A custom list of columns (lowercase ids like "first_report"); overrides `journey`.
    journey_stages: list[str] | None = None
    # Which extracted stages each column shows, for custom columns (agent/stages.py).
    stage_sources: dict[str, list[MentionStage]] = Field(default_factory=dict)
    # Tokens an evidence pack may take in a drafting prompt; the lowest-ranked evidence goes
    # first when it does not fit (agent/evidence.py fit_pack).
    pack_tokens: int = Field(default=16000, ge=2000)

    @field_validator("journey_stages")
    @classmethod
    def _stages(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not 2 <= len(value) <= 8:
            raise ValueError(f"give 2-8 journey stages, not {len(value)}")
        bad = [s for s in value if not _STAGE_ID.match(s)]
        if bad:
            raise ValueError(
                f"stage ids are lowercase words joined by '_' (e.g. 'first_report'): {bad[0]!r}"
            )
        if len(set(value)) != len(value):
            raise ValueError("journey stages must be distinct")
        return value

    @model_validator(mode="after")
    def _sources(self) -> DraftSettings:
        from .stages import PRESETS

        stages = self.journey_stages or list(PRESETS[self.journey])
        unknown = sorted(set(self.stage_sources) - set(stages))
        if unknown:
            raise ValueError(
                f"stage_sources names {unknown[0]!r}, which is not a journey stage "
                f"({', '.join(stages)})"
            )
        return self


class Settings(Section):
    workspace: Path = Path(".persona")
    seed: int = 42
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
    segment: SegmentSettings = Field(default_factory=SegmentSettings)
    draft: DraftSettings = Field(default_factory=DraftSettings)


# Environment variable -> dotted setting. OPENAI_* are the SDK's own names, kept on purpose.
ENV_MAP = {
    "PERSONA_WORKSPACE": "workspace",
    "OPENAI_API_KEY": "llm.api_key",
    "OPENAI_BASE_URL": "llm.base_url",
    "PERSONA_MODEL": "llm.model",
    "PERSONA_LLM": "llm.provider",
    "PERSONA_LLM_MODE": "llm.mode",
    "PERSONA_CONCURRENCY": "llm.concurrency",
    "PERSONA_TOKEN_BUDGET": "llm.token_budget",
    "PERSONA_REDACT": "llm.redact",
    "PERSONA_EMBEDDER": "embeddings.provider",
    "PERSONA_CHROMA_URL": "chroma.url",
}


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def load_settings(
    config_path: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build Settings from file, environment and overrides (dotted keys, None = not given)."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    path = Path(config_path) if config_path else Path(CONFIG_FILE)
    if config_path and not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    # Where each setting came from, so an error names the place to fix it.
    origin: dict[str, str] = {}
    for var, dotted in ENV_MAP.items():
        if env.get(var):
            _set_dotted(data, dotted, env[var])
            origin[dotted] = f"environment variable {var}"
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
            origin[dotted] = "command line"
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        source = next(
            (src for key, src in origin.items() if where == key or where.startswith(key + ".")),
            str(path) if path.exists() else "defaults",
        )
        raise ConfigError(f"invalid setting {where}: {first['msg']} (from {source})") from exc
