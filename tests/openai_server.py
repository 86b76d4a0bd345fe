"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It speaks POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models. Chat replies come
from a scripted queue first, then from an optional `responder(body) -> Reply`. A reply can be a
JSON answer (sent as a tool call when the request offers tools, else as message content, fenced
for MD_JSON), raw text (malformed JSON), an HTTP error with headers (429 + Retry-After), or a hang
(the client times out). Every request is logged with its parsed body.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply."""

    answer: Any = None  # JSON-able answer, wrapped as a tool call or content
    raw: str | None = None  # sent verbatim as the tool arguments / content (malformed JSON)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted error"
    hang: float = 0.0  # seconds to sleep before answering (longer than the client timeout)
    finish_reason: str = "stop"


def ok(answer: Any) -> Reply:
    return Reply(answer=answer)


def malformed(text: str = '{"mentions": [ {"statement": ') -> Reply:
    return Reply(raw=text)


def error(status: int, retry_after: float | None = None, message: str = "scripted error") -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(status=status, headers=headers, error=message)


def hang(seconds: float) -> Reply:
    return Reply(answer={}, hang=seconds)


@dataclass
class LoggedRequest:
    path: str
    body: dict[str, Any]
    time: float

    @property
    def text(self) -> str:
        """Everything the client sent, as one string (for 'never saw X' assertions)."""
        return json.dumps(self.body, ensure_ascii=False)


class OpenAIServer:
    """Start with `with OpenAIServer() as server:`; point the SDK at `server.base_url`."""

    def __init__(
        self,
        responder: Callable[[dict[str, Any]], Reply] | None = None,
        latency: float = 0.0,
        models: tuple[str, ...] = ("test-model",),
        embedding_dim: int = 16,
    ) -> None:
        self.queue: deque[Reply] = deque()
        self.responder = responder
        self.latency = latency
        self.models = models
        self.embedding_dim = embedding_dim
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> OpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm on, the
            # client's delayed ACK adds ~40 ms to every response (and skews the benchmark).
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "test"} for m in server.models]
                    self._send(200, {"object": "list", "data": data})
                else:
                    self._send(404, {"error": {"message": "not found", "type": "not_found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with server._lock:
                    server.requests.append(LoggedRequest(self.path, body, time.time()))
                if server.latency:
                    time.sleep(server.latency)
                if self.path.rstrip("/").endswith("/embeddings"):
                    self._send(200, server._embeddings(body))
                elif self.path.rstrip("/").endswith("/chat/completions"):
                    server._chat(self, body)
                else:
                    self._send(404, {"error": {"message": "not found", "type": "not_found"}})

            def _send(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # ------------------------------------------------------------------ scripting

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.queue.extend(replies)

    def chat_requests(self) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------ replies

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.queue:
                return self.queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        return error(500, message="no scripted reply left")

    def _chat(self, handler: Any, body: dict[str, Any]) -> None:
        reply = self._next(body)
        if reply.hang:
            # Sleep in small steps so stopping the server is never held up for long.
            deadline = time.time() + reply.hang
            while time.time() < deadline and not self._stop.is_set():
                time.sleep(0.02)
        if reply.status != 200:
            payload = {"error": {"message": reply.error, "type": "scripted", "code": reply.status}}
            handler._send(reply.status, payload, reply.headers)
            return
        text = reply.raw if reply.raw is not None else json.dumps(reply.answer)
        message: dict[str, Any] = {"role": "assistant", "content": None}
        tools = body.get("tools") or []
        if tools:
            name = tools[0].get("function", {}).get("name", "answer")
            message["tool_calls"] = [
                {
                    "id": f"call_{len(self.requests)}",
                    "type": "function",
                    "function": {"name": name, "arguments": text},
                }
            ]
        else:
            last = body.get("messages", [{}])[-1].get("content") or ""
            fenced = "```json" in str(last)
            message["content"] = f"```json\n{text}\n```" if fenced and reply.raw is None else text
        prompt_chars = len(json.dumps(body.get("messages", []))) + len(json.dumps(tools))
        usage = {
            "prompt_tokens": math.ceil(prompt_chars / 4),
            "completion_tokens": math.ceil(len(text) / 4),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        payload = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": usage,
        }
        handler._send(200, payload, reply.headers)

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        data = []
        for i, text in enumerate(inputs):
            digest = hashlib.sha256(str(text).encode()).digest()
            vector = [(digest[j % len(digest)] - 127.5) / 127.5 for j in range(self.embedding_dim)]
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            data.append(
                {"object": "embedding", "index": i, "embedding": [v / norm for v in vector]}
            )
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "test-embed"),
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }
