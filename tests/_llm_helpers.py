"""Shared helpers for the LLM-layer tests: chunks, settings and a quoting responder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent.config import LLMSettings, Settings
from agent.ids import content_hash
from agent.models import Chunk
from agent.workspace import Workspace, write_models
from tests.openai_server import Reply, ok

DATA = re.compile(r'<data name="chunks">\n(.*?)\n</data>', re.DOTALL)


class FastLLMSettings(LLMSettings):
    """LLMSettings with tiny retry backoff, so retry tests take milliseconds."""

    backoff_base: float = 0.01
    backoff_max: float = 0.05


def make_settings(tmp: Path, base_url: str, **llm: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": "test-key",
        "model": "test-model",
        "timeout": 5.0,
        "max_retries": 2,
        "max_reasks": 1,
        "concurrency": 2,
        "redact": "off",
        # Room for ~1.5 expected mentions per request: an interview chunk of ~200 tokens (or
        # one ticket) fills a request, so each test document gets a request of its own.
        "max_output_tokens": 200,
    }
    values.update(llm)
    settings = Settings(workspace=tmp / "ws")
    settings.llm = FastLLMSettings(**values)
    return settings


def make_chunk(
    text: str,
    *,
    doc: str = "doc1",
    role: str = "participant",
    kind: str = "interview",
    start: int = 0,
    speaker: str | None = None,
    participant: str | None = "P01",
    ticket: str | None = None,
) -> Chunk:
    """A chunk as ingest would write it (token count approximated by words)."""
    return Chunk(
        id=content_hash({"doc": doc, "start": start, "text": text}),
        document_id=doc,
        text=text,
        token_count=max(1, round(len(text.split()) * 1.3)),
        speaker=speaker or role,
        role=role,  # type: ignore[arg-type]
        start=start,
        end=start + len(text),
        kind=kind,  # type: ignore[arg-type]
        source=f"{doc}.md" if kind == "interview" else "tickets.csv",
        participant_id=participant,
        ticket_id=ticket,
    )


def write_chunks(settings: Settings, chunks: list[Chunk]) -> Workspace:
    workspace = Workspace(settings.workspace).ensure()
    write_models(workspace.chunks, chunks)
    return workspace


def sent_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The quotable items ({"id", "text"}) a request carried in its <data name="chunks"> block.

    Interview batches nest answers under each participant, next to the interviewer's questions
    (ids starting with "q", never quotable); ticket batches map ids straight to text.
    """
    for message in body.get("messages", []):
        match = DATA.search(str(message.get("content") or ""))
        if not match:
            continue
        data = json.loads(match.group(1))
        flat: dict[str, str] = {}
        for key, value in data.items():
            flat.update(value if isinstance(value, dict) else {key: value})
        return [{"id": k, "text": v} for k, v in flat.items() if not k.startswith("q")]
    return []


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip())[0]


def mention(chunk_id: str, quote: str, statement: str = "The customer struggles with this") -> dict:
    return {
        "statement": statement,
        "category": "testing",
        "severity": 3,
        "severity_rationale": "costs time",
        "journey_stage": "retention",
        "workaround": None,
        "quotes": [{"text": quote, "chunk_id": chunk_id}],
    }


def quoting_responder(body: dict[str, Any]) -> Reply:
    """A well-behaved model: one mention per chunk quoting its first sentence."""
    items = sent_chunks(body)
    return ok({"mentions": [mention(i["id"], first_sentence(i["text"])) for i in items]})


def _doc_spans(text_by_doc: dict[str, str], doc: str, quote: str) -> list[tuple[int, int]]:
    """Every (start, end) of `quote` in a document's text."""
    text, spans, at = text_by_doc.get(doc, ""), [], 0
    while (at := text.find(quote, at)) >= 0:
        spans.append((at, at + len(quote)))
        at += 1
    return spans


def recall_report(chunks: list[Chunk], mentions: list, truth: dict[str, Any]) -> dict[str, Any]:
    """Offline-extractor quality against transcripts/GROUND_TRUTH.json.

    Interview recall: planted (participant, pain point) pairs with at least one mention whose
    quote overlaps one of that pair's ground-truth quotes. Ticket recall: planted (ticket, pain
    point) pairs with at least one mention from that ticket. Interview precision: share of
    interview mentions overlapping some planted quote. Noise tickets hit: noise tickets that
    still produced a mention.
    """
    by_id = {c.id: c for c in chunks}
    # Each chunk is a slice of its document's text, so placing chunks at their offsets rebuilds it.
    canvas: dict[str, list[str]] = {}
    participant_doc: dict[str, str] = {}
    for c in chunks:
        if c.kind != "interview":
            continue
        chars = canvas.setdefault(c.document_id, [])
        chars.extend(" " * max(0, c.end - len(chars)))
        chars[c.start : c.end] = c.text
        if c.participant_id:
            participant_doc[c.participant_id] = c.document_id
    texts = {d: "".join(chars) for d, chars in canvas.items()}
    planted: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    for pain in truth["pain_points"]:
        for q in pain["interview_quotes"]:
            doc = participant_doc.get(q["participant"], "")
            spans = _doc_spans(texts, doc, q["text"])
            planted.setdefault((q["participant"], pain["key"]), []).extend(
                (doc, a, b) for a, b in spans
            )
    interview = [m for m in mentions if m.kind == "interview"]
    hit_pairs, useful = set(), 0
    for m in interview:
        chunk = by_id[m.chunk_id]
        spans = [(chunk.document_id, chunk.start + q.start, chunk.start + q.end) for q in m.quotes]
        overlapping = False
        for pair, targets in planted.items():
            if pair[0] != m.participant_id:
                continue
            for doc, a, b in targets:
                if any(d == doc and s < b and e > a for d, s, e in spans):
                    hit_pairs.add(pair)
                    overlapping = True
        useful += overlapping
    ticket_pairs = {(t, p["key"]) for p in truth["pain_points"] for t in p["tickets"]}
    tickets_hit = {m.ticket_id for m in mentions if m.kind == "ticket"}
    noise = set(truth.get("noise_tickets", []))
    return {
        "interview_pairs": len(planted),
        "interview_pairs_found": len(hit_pairs & set(planted)),
        "interview_recall": round(len(hit_pairs & set(planted)) / max(1, len(planted)), 3),
        "interview_mentions": len(interview),
        "interview_precision": round(useful / max(1, len(interview)), 3),
        "unlocated_quotes": sum(1 for v in planted.values() if not v),
        "ticket_pairs": len(ticket_pairs),
        "ticket_pairs_found": sum(t in tickets_hit for t, _ in ticket_pairs),
        "ticket_recall": round(
            sum(t in tickets_hit for t, _ in ticket_pairs) / max(1, len(ticket_pairs)), 3
        ),
        "noise_tickets": len(noise),
        "noise_tickets_with_mentions": len(noise & tickets_hit),
    }


def generic_responder(body: dict[str, Any]) -> Reply:
    """A well-behaved model for every step, for tests that are about something else.

    Extraction quotes each chunk's first sentence; consolidation keeps every candidate as a
    theme, named from its first statement;
    drafts are the offline templates (valid by construction). Steps are told apart by the data
    blocks their prompts send (tests/_oracle.py `request_kind`).
    """
    from agent.evidence import EvidencePack
    from agent.offline_draft import draft_journey_offline, draft_persona_offline
    from tests._oracle import data_blocks, request_kind

    messages = body.get("messages", [])
    kind = request_kind(messages)
    blocks = data_blocks(messages)
    if kind == "extract":
        return quoting_responder(body)
    if kind == "consolidate_themes":
        return ok(identity_consolidation(blocks["candidates"]))
    if kind == "group_themes":
        # Every theme a finding of its own: tests that are about something else see no groups.
        return ok(
            {
                "groups": [
                    {"name": str(t["name"]), "definition": "One problem.", "themes": [t["id"]]}
                    for t in blocks["themes"]
                ]
            }
        )
    pack = EvidencePack.model_validate(blocks["evidence_pack"])
    if kind == "draft_persona":
        return ok(draft_persona_offline(pack).model_dump(mode="json"))
    return ok(draft_journey_offline(pack).model_dump(mode="json"))


def identity_consolidation(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """Every candidate its own theme, named with the first words of its first statement."""
    themes = []
    for candidate in candidates:
        statements = candidate["statements"]
        first = next(iter(statements.values() if isinstance(statements, dict) else statements))
        words = re.findall(r"[A-Za-z']+", str(first))[:6] or ["Unnamed"]
        name = " ".join(words if len(words) >= 2 else [*words, "problem"])
        themes.append(
            {"name": name, "definition": "Customers report this.", "candidates": [candidate["id"]]}
        )
    return {"themes": themes}
