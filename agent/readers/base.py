"""Shared pieces of the readers: decoding, speaker lines, turn assembly."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..ids import content_hash
from ..models import TURN_SEPARATOR, Document, DocumentKind, SpeakerRole, Turn

# "Dana: text", "**Dana:** text", "Dana (P01): text", "[00:01:02] Dana: text", "Dr. Li: text".
SPEAKER_LINE = re.compile(
    r"^\s*(?:\[(?P<time>[\d:.,]+)\]\s*)?(?:\*\*|__)?"
    r"(?P<speaker>[A-Z][\w.'’-]*(?:[ ][A-Z][\w.'’-]*){0,3}|[A-Z][\w]*[ ]\d+)"
    r"(?:\s*\((?P<tag>[^)]{1,40})\))?\s*(?:\*\*|__)?:(?:\*\*|__)?\s+(?P<text>\S.*)$"
)


@dataclass
class RawTurn:
    """A turn before offsets are assigned: speaker, text lines, where it started."""

    speaker: str
    lines: list[str] = field(default_factory=list)
    line: int | None = None
    time: str | None = None

    @property
    def text(self) -> str:
        return " ".join(part.strip() for part in self.lines if part.strip())


def decode(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is a clear error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            str(path), f"not UTF-8 text (byte 0x{data[exc.start]:02x}); re-save it as UTF-8", line
        ) from exc


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def role_for(speaker: str, interviewers: Iterable[str]) -> SpeakerRole:
    names = {n.strip().lower() for n in interviewers}
    return "interviewer" if speaker.strip().lower() in names else "participant"


def parse_speaker_lines(lines: Sequence[str], first_line: int = 1) -> list[RawTurn]:
    """Group `Name: text` lines and their continuation lines into turns."""
    turns: list[RawTurn] = []
    for offset, raw in enumerate(lines):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = SPEAKER_LINE.match(line)
        if match:
            turns.append(
                RawTurn(
                    match["speaker"].strip(), [match["text"]], first_line + offset, match["time"]
                )
            )
        elif turns:
            turns[-1].lines.append(line)
        else:
            # Text before any speaker label: keep it, attributed to nobody in particular.
            turns.append(RawTurn("Unknown", [line], first_line + offset))
    return turns


def merge_same_speaker(turns: list[RawTurn]) -> list[RawTurn]:
    """Consecutive turns by one speaker (split subtitle cues) become one turn."""
    merged: list[RawTurn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1].lines.extend(turn.lines)
        else:
            merged.append(RawTurn(turn.speaker, list(turn.lines), turn.line, turn.time))
    return merged


def build_turns(raw: Sequence[RawTurn], interviewers: Iterable[str]) -> list[Turn]:
    """Assign roles and offsets so that `Document.text[t.start:...]` is the turn's text."""
    names = list(interviewers)
    turns: list[Turn] = []
    position = 0
    for item in raw:
        text = item.text
        if not text:
            continue
        turns.append(
            Turn(
                speaker=item.speaker,
                role=role_for(item.speaker, names),
                text=text,
                start=position,
                line=item.line,
                time=item.time,
            )
        )
        position += len(text) + len(TURN_SEPARATOR)
    return turns


SCALARS = (str, int, float, bool)


def _scalar(value: object) -> str | None:
    # YAML reads `interview_date: 2026-02-10` as a date; keep it as the ISO text it was written as.
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return None


def make_document(
    source: str,
    kind: DocumentKind,
    turns: list[Turn],
    *,
    participant_id: str | None = None,
    ticket_id: str | None = None,
    user_id: str | None = None,
    metadata: dict | None = None,
) -> Document:
    """A Document whose id is the hash of what it says and who it is about."""
    meta = {}
    for key, value in (metadata or {}).items():
        kept = value if isinstance(value, SCALARS) else _scalar(value)
        if kept is not None:
            meta[str(key)] = kept
    ident = content_hash(
        {
            "kind": kind,
            "participant": participant_id,
            "ticket": ticket_id,
            "turns": [(t.speaker, t.text) for t in turns],
        }
    )
    return Document(
        id=ident,
        source=source,
        kind=kind,
        participant_id=participant_id,
        ticket_id=ticket_id,
        user_id=user_id,
        metadata=meta,
        turns=turns,
    )


PARTICIPANT_IN_NAME = re.compile(r"(?:^|[^A-Za-z0-9])(P\d{1,4})(?:[^A-Za-z0-9]|$)")


def participant_from_filename(path: Path) -> str | None:
    match = PARTICIPANT_IN_NAME.search(path.stem)
    return match.group(1) if match else None
