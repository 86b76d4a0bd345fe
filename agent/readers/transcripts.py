"""Interview transcripts: plain text, Markdown (with YAML front matter), WebVTT, SRT, .docx, JSON."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..models import SkippedInput
from ..yamlsafe import load_yaml
from .base import RawTurn, merge_same_speaker, parse_speaker_lines

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
# Front matter is a few lines of metadata; a longer one is not front matter anyone wrote by hand.
MAX_FRONT_MATTER = 64 * 1024
TIMING = re.compile(r"^\s*(\d[\d:.,]*)\s*-->\s*(\d[\d:.,]*)")
VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*?)(?:</v>)?$")
TAG = re.compile(r"</?[a-z][^>]*>", re.IGNORECASE)
# A cue's speaker prefix as caption tools write it: any display name up to 40 characters.
CUE_LABEL = re.compile(r"^(?P<speaker>[^\s:<>\[\]][^:<>]{0,39}?):\s+(?P<text>\S.*)$")


def split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    """(metadata, body, line number where the body starts)."""
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text, 1
    if len(match.group(1)) > MAX_FRONT_MATTER:
        raise InputError(
            str(path),
            f"front matter is over {MAX_FRONT_MATTER // 1024} KB; metadata only, please",
            1,
        )
    try:
        meta = load_yaml(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(str(path), f"front matter is not valid YAML: {problem}", line) from exc
    if not isinstance(meta, dict):
        raise InputError(str(path), "front matter must be a YAML mapping", 2)
    return meta, text[match.end() :], text[: match.end()].count("\n") + 1


def read_plain(path: Path, text: str) -> tuple[list[RawTurn], dict[str, Any]]:
    meta, body, first = split_front_matter(path, text)
    return parse_speaker_lines(body.splitlines(), first), meta


def _cue_blocks(text: str) -> Iterable[tuple[int, str | None, list[str]]]:
    """(line number, start time, text lines) for each subtitle cue."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = TIMING.match(lines[i])
        if not match:
            i += 1
            continue
        start_line, start = i + 1, match.group(1)
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        yield start_line + 1, start, body


def _cue_speakers(blocks: list[tuple[int, str | None, list[str]]]) -> set[str]:
    """Display names that open two or more cues ("dan.smith: ...", "Kim Lee (she/her): ...").

    Zoom and Meet captions prefix every cue with the name as the person typed it, which need not
    look like a name; a prefix seen once is more likely a sentence ("Note: ...") than a speaker.
    """
    seen: Counter[str] = Counter()
    for _, _, body in blocks:
        for line in body:
            match = CUE_LABEL.match(TAG.sub("", line))
            if match and "http" not in match["speaker"].lower():
                seen[match["speaker"].strip()] += 1
    return {name for name, count in seen.items() if count >= 2}


def _cue_turns(text: str) -> list[RawTurn]:
    turns: list[RawTurn] = []
    blocks = list(_cue_blocks(text))
    names = _cue_speakers(blocks)
    for line_no, start, body in blocks:
        for line in body:
            voice = VOICE.match(line)
            if voice:
                turns.append(
                    RawTurn(voice.group(1).strip(), [TAG.sub("", voice.group(2))], line_no, start)
                )
                continue
            parsed = parse_speaker_lines([TAG.sub("", line)], line_no)
            loose = CUE_LABEL.match(TAG.sub("", line))
            if (
                (not parsed or parsed[0].speaker == "Unknown")
                and loose
                and loose["speaker"].strip() in names
            ):
                turns.append(RawTurn(loose["speaker"].strip(), [loose["text"]], line_no, start))
            elif parsed and parsed[0].speaker != "Unknown":
                parsed[0].time = start
                turns.extend(parsed)
            elif turns:
                # A cue with no speaker continues the previous speaker's turn.
                turns[-1].lines.append(TAG.sub("", line))
            else:
                turns.append(RawTurn("Unknown", [TAG.sub("", line)], line_no, start))
    return merge_same_speaker(turns)


def read_vtt(path: Path, text: str) -> tuple[list[RawTurn], dict[str, Any]]:
    if not text.lstrip().startswith("WEBVTT"):
        raise InputError(str(path), "not a WebVTT file (missing the WEBVTT header)", 1)
    turns = _cue_turns(text)
    if not turns:
        raise InputError(str(path), "no subtitle cues found")
    return turns, {}


def read_srt(path: Path, text: str) -> tuple[list[RawTurn], dict[str, Any]]:
    turns = _cue_turns(text)
    if not turns:
        raise InputError(str(path), "no SubRip cues found (expected 'HH:MM:SS,mmm --> ...' lines)")
    return turns, {}


def read_docx(path: Path, data: bytes) -> tuple[list[RawTurn], dict[str, Any]]:
    import io
    import zipfile

    from docx import Document as DocxDocument

    try:
        doc = DocxDocument(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(str(path), f"not a readable .docx file ({exc})") from exc
    # A soft line break (Shift+Enter) comes through as "\n" inside one paragraph; Word users put
    # whole turns on such lines, so each is a line of its own before labels are read.
    paragraphs = [line for p in doc.paragraphs for line in p.text.split("\n")]
    props = doc.core_properties
    meta = {k: v for k, v in {"title": props.title, "author": props.author}.items() if v}
    return parse_speaker_lines(paragraphs), meta


def read_json_transcript(
    path: Path, record: dict[str, Any], line: int | None = None
) -> tuple[list[RawTurn], dict[str, Any]]:
    """`{"participant_id": ..., "turns": [{"speaker": ..., "text": ...}, ...], ...metadata}`."""
    turns_in = record.get("turns")
    if not isinstance(turns_in, list):
        raise InputError(str(path), "a transcript record needs a 'turns' list", line)
    turns = []
    for i, item in enumerate(turns_in):
        if not isinstance(item, dict) or "text" not in item:
            raise InputError(str(path), f"turn {i} needs 'speaker' and 'text'", line)
        time = item.get("time")
        role = str(item.get("role") or "").strip().lower()
        turns.append(
            RawTurn(
                str(item.get("speaker") or "Unknown"),
                ["" if item["text"] is None else str(item["text"])],
                line,
                None if time in (None, "") else str(time),
                # `"role": "interviewer"` on a turn marks its speaker, as "Sam (UXR):" does.
                role if role in {"interviewer", "moderator", "researcher", "facilitator"} else None,
            )
        )
    meta = {k: v for k, v in record.items() if k != "turns"}
    return turns, meta


def load_json_records(
    path: Path, text: str, bad_lines: list[SkippedInput] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """Records of a .json (object or array) or .jsonl file, with their line numbers.

    Given `bad_lines`, a .jsonl line that is not a JSON object is noted there and the other
    lines are still read (one truncated line must not cost the whole export); without it, the
    first bad line is an error.
    """
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = InputError(str(path), f"invalid JSON: {exc.msg}", number)
            else:
                if isinstance(value, dict):
                    records.append((number, value))
                    continue
                problem = InputError(str(path), "each line must be a JSON object", number)
            if bad_lines is None:
                raise problem
            bad_lines.append(SkippedInput(path=problem.path, reason=problem.reason, line=number))
        return records
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON: {exc.msg}", exc.lineno) from exc
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, dict) for v in items):
        raise InputError(str(path), "expected a JSON object or an array of objects")
    return [(None, v) for v in items]  # type: ignore[misc]
