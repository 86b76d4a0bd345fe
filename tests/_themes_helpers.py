"""Mentions for the theme tests and bench/themes.py: hand-made ones and the sample corpus's."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from agent.ids import content_hash
from agent.models import PainPointMention, Quote


def mention(
    text: str,
    *,
    participant: str | None = None,
    ticket: str | None = None,
    severity: int = 3,
    category: str = "general",
    stage: str = "onboarding",
    product: str | None = None,
    user: str | None = None,
    n: int = 0,
) -> PainPointMention:
    """One mention with one quote; the id is a hash of what makes it distinct."""
    kind = "ticket" if ticket else "interview"
    mid = content_hash([text, participant, ticket, product, n])
    chunk = f"chunk-{mid[:6]}"
    quote = Quote(text=text, chunk_id=chunk, start=0, end=len(text))
    return PainPointMention(
        id=mid,
        statement=text,
        category=category,
        severity=severity,
        severity_rationale="test",
        journey_stage=stage,  # type: ignore[arg-type]
        quotes=[quote],
        chunk_id=chunk,
        document_id=f"doc-{participant or ticket}",
        kind=kind,  # type: ignore[arg-type]
        participant_id=participant,
        ticket_id=ticket,
        user_id=user,
        product=product,
    )


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def llm_like_categories(point: dict[str, Any]) -> list[str]:
    """Three phrasings of a planted point's topic, as different LLM batches would word it."""
    words = point["label"].lower().split()
    return [point["key"].replace("_", " "), " ".join(words), " ".join(words[:3])]


def sample_mentions(corpus: Path) -> tuple[list[PainPointMention], dict[str, str], dict[str, Any]]:
    """One mention per planted quote and planted ticket (+ the noise tickets, uncategorised)."""
    truth = json.loads((corpus / "GROUND_TRUTH.json").read_text(encoding="utf-8"))
    with (corpus / "tickets.csv").open(encoding="utf-8", newline="") as fh:
        tickets = {row["id"]: row for row in csv.DictReader(fh)}
    mentions: list[PainPointMention] = []
    key_of: dict[str, str] = {}

    def add(key: str, text: str, category: str, point: dict[str, Any] | None, **ids: Any) -> None:
        m = mention(
            text,
            category=category,
            severity=point["severity"] if point else 2,
            stage=point["journey_stage"] if point else "unknown",
            n=len(mentions),
            **ids,
        )
        mentions.append(m)
        key_of[m.id] = key

    for point in truth["pain_points"]:
        categories = llm_like_categories(point)
        for quote in point["interview_quotes"]:
            add(
                point["key"],
                quote["text"],
                categories[len(mentions) % 3],
                point,
                participant=quote["participant"],
            )
        for ticket_id in point["tickets"]:
            row = tickets[ticket_id]
            text = f"{row['subject']}. {first_sentence(row['description'])}"
            add(point["key"], text, categories[len(mentions) % 3], point, ticket=ticket_id)
    for ticket_id in truth["noise_tickets"]:
        row = tickets[ticket_id]
        add(
            "noise",
            f"{row['subject']}. {first_sentence(row['description'])}",
            "",
            None,
            ticket=ticket_id,
        )
    return mentions, key_of, {"truth": truth, "tickets": len(tickets)}
