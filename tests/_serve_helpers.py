"""A `persona serve` site on a free loopback port, in a thread, for the HTTP and browser tests."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

from agent.models import Chunk, Document, Turn
from agent.serve import Site, make_site_server
from agent.workspace import Workspace, write_models

from ._render_helpers import chunks


@dataclass
class Running:
    site: Site
    host: str
    port: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            body = urlencode(form).encode() if form is not None else None
            sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
            if body is not None:
                sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, form: dict[str, str], **headers: str
    ) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, form, {"Origin": self.base, **headers})


@contextmanager
def running(workspace: Workspace, share: bool = False) -> Iterator[Running]:
    server, site = make_site_server(workspace, port=0, share=share, reviewer="Tester")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield Running(site, "127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def form_for(page: str, target: str) -> dict[str, str]:
    """The hidden fields of the review form of one target ('goals.1') on a persona page."""
    at = page.index(f'data-target="{target}"')
    chunk = page[at : page.index("</form>", at)]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', chunk))


NAMED_TURNS = [
    ("Interviewer", "interviewer", "How does month-end go for you, Dana?", 10),
    (
        "Dana Whitfield",
        "participant",
        "Every month-end the bank sync drops half the transactions and I spend two days matching "
        "them by hand in a spreadsheet.",
        12,
    ),
    ("Interviewer", "interviewer", "What do you do then?", 14),
    ("Dana Whitfield", "participant", "I call Priya at the bank, every single time.", 16),
]


def add_named_interview(ws: Workspace) -> None:
    """Give P01's interview real turns and a named speaker, as ingest would store them."""
    text_parts, turns, start = [], [], 0
    for speaker, role, text, line in NAMED_TURNS:
        turns.append(Turn(speaker=speaker, role=role, text=text, start=start, line=line))  # type: ignore[arg-type]
        text_parts.append(text)
        start += len(text) + 2
    doc = Document(
        id="doc-P01-interview",
        source="transcripts/p01-dana-whitfield.md",
        kind="interview",
        participant_id="P01",
        turns=turns,
    )
    sync = turns[1]
    updated = [
        c.model_copy(
            update={
                "speaker": "Dana Whitfield",
                "start": sync.start,
                "end": sync.start + len(sync.text),
                "line": sync.line,
                "source": doc.source,
            }
        )
        if c.id == "c-sync"
        else c
        for c in chunks()
    ]
    write_models(ws.documents, [doc])
    write_models(ws.chunks, [Chunk.model_validate(c.model_dump()) for c in updated])
