"""Settings: defaults, then `persona.toml`, then environment variables, then CLI flags.

Nothing here touches the network or builds a client; it only decides what to build later.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

CONFIG_FILE = "persona.toml"
LOCAL_HOSTS = ("localhost", "127.", "0.0.0.0", "[::1]", "::1", "host.docker.internal")


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
        url = self.base_url or "https://api.openai.com/v1"
        host = url.split("://", 1)[-1]
        return host.startswith(LOCAL_HOSTS)

    def redaction_enabled(self) -> bool:
        if self.redact == "auto":
            return not self.is_local_endpoint()
        return self.redact == "on"


class EmbeddingSettings(Section):
    provider: Literal["minilm", "openai", "hash"] = "minilm"
    model: str = "text-embedding-3-small"
    batch_size: int = 64


class ChromaSettings(Section):
    url: str | None = None
    collection_prefix: str = "persona"


class IngestSettings(Section):
    encoding: str = "o200k_base"
    # MiniLM reads at most 256 word pieces; 200 tiktoken tokens stays under that for English.
    max_tokens: int = 200
    overlap_tokens: int = 40
    max_file_mb: float = 50.0
    interviewer_names: list[str] = Field(
        default_factory=lambda: ["interviewer", "moderator", "researcher", "facilitator", "host"]
    )
    # Ticket export columns: our name -> your column name; unset ones are auto-detected.
    ticket_columns: dict[str, str] = Field(default_factory=dict)
    redact: bool = False
    redact_names: bool = False


class ThemeSettings(Section):
    # Cosine distance below which two mentions may share a theme (average linkage).
    distance_threshold: float = 0.55
    # Offline mentions are embedded with their whole chunk; measured on transcripts/ (ARI 0.82 at
    # 0.65 vs 0.52 at 0.55), see README's design notes.
    context_distance_threshold: float = 0.65
    min_mentions: int = 1
    quotes_per_theme: int = 3


class SegmentSettings(Section):
    preset: str = "weekly"
    config: str | None = None
    id_column: str | None = None


class DraftSettings(Section):
    personas: int = 4
    min_segment_size: int = 30
    chunks_per_persona: int = 8
    anti_persona: bool = False


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
    for var, dotted in ENV_MAP.items():
        if env.get(var):
            _set_dotted(data, dotted, env[var])
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {where}: {first['msg']} (from {path})") from exc
