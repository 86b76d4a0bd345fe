"""End-to-end test kit: an oracle LLM for transcripts/ and checks of a finished workspace.

The `Oracle` plays the language model deterministically, from the request content alone, the
way a perfect model would on the sample corpus: it reads the `<data name=...>` blocks of the
messages and answers
- extraction: one mention per (chunk, planted pain point) for every chunk holding a planted
  interview quote (the exact quote) and every planted ticket (a verbatim sentence of it), with
  the planted label as category and the planted severity and stage; noise tickets get nothing;
- theme naming: the most common category of the members as the label;
- persona / journey drafting: `agent.offline_draft`'s draft of the evidence pack it was sent,
  relabelled so the report shows it came through the LLM path.
It plugs into tests/openai_server.py (`oracle.responder`) and into host mode (`answer_pending`).
Redaction-aware: a planted quote whose PII was replaced by `[EMAIL_1]`-style tokens is still
found, and quoted as the model saw it.

The checks (`planted_themes`, `verbatim_problems`, `number_problems`) read only the workspace
files and GROUND_TRUTH.json, never the pipeline's own validators' verdicts.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.openai_server import Reply, ok

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "transcripts"
# The marks every end-to-end module carries: it loads the real model and needs the sample corpus.
E2E_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CORPUS / "GROUND_TRUTH.json").exists(), reason="sample corpus not generated"
    ),
]
DATA_BLOCK = re.compile(r'<data name="([^"]+)">\n(.*?)\n</data>', re.DOTALL)
REDACTED = r"\[(?:EMAIL|PHONE|CARD|NAME)_\d+\]"
TOKEN = re.compile(REDACTED)
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
STOP = frozenset(
    {
        "about",
        "after",
        "again",
        "because",
        "before",
        "being",
        "could",
        "every",
        "their",
        "there",
        "these",
        "those",
        "through",
        "where",
        "which",
        "while",
        "would",
    }
)


def load_truth(corpus: Path = CORPUS) -> dict[str, Any]:
    return json.loads((corpus / "GROUND_TRUTH.json").read_text(encoding="utf-8"))


def data_blocks(messages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Every `<data name=...>` block in the messages, parsed; the first one of a name wins
    (a re-ask repeats the conversation and appends the validator's errors after it)."""
    out: dict[str, Any] = {}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            continue
        for name, raw in DATA_BLOCK.findall(content):
            out.setdefault(name, json.loads(raw))
    return out


def request_kind(messages: Iterable[Mapping[str, Any]]) -> str:
    """extract | consolidate_themes | draft_persona | draft_journey, from the data blocks a
    prompt sends."""
    blocks = data_blocks(messages)
    if "chunks" in blocks:
        return "extract"
    if "candidates" in blocks:
        return "consolidate_themes"
    if "themes" in blocks:
        return "group_themes"
    if "evidence_pack" in blocks:
        return "draft_journey" if "persona" in blocks else "draft_persona"
    raise AssertionError(f"the oracle does not know this request (data blocks: {sorted(blocks)})")


def is_reask(messages: Iterable[Mapping[str, Any]]) -> bool:
    """Instructor re-asks by replaying the conversation with the model's answer in it."""
    return any(m.get("role") in ("assistant", "tool") for m in messages)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _stems(text: str) -> set[str]:
    return {w.lower()[:5] for w in WORD.findall(text) if len(w) >= 4}


class Oracle:
    """A perfect, deterministic model for transcripts/; thread-safe (the server is threaded)."""

    def __init__(self, corpus: Path = CORPUS, tag: str = "oracle") -> None:
        self.truth = load_truth(corpus)
        self.tag = tag
        self.points = {p["key"]: p for p in self.truth["pain_points"]}
        self.quotes = [
            (p["key"], q["text"]) for p in self.truth["pain_points"] for q in p["interview_quotes"]
        ]
        key_of = {t: p["key"] for p in self.truth["pain_points"] for t in p["tickets"]}
        key_of.update({t: "noise" for t in self.truth["noise_tickets"]})
        self.ticket_texts: dict[str, str] = {}  # normalised ticket text -> planted key or "noise"
        with (corpus / "tickets.csv").open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                text = _norm(f"{row['subject']}\n\n{row['description']}")
                self.ticket_texts[text] = key_of[row["id"]]
        pii = self.truth["pii"]
        self.pii = sorted({*pii["emails"], *pii["phones"], *pii["cards"]}, key=len, reverse=True)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ plugging in

    def responder(self, body: dict[str, Any]) -> Reply:
        """For OpenAIServer(responder=...): the chat-completions reply to one request."""
        return ok(self.answer(body.get("messages", [])))

    def answer(self, messages: list[Mapping[str, Any]]) -> dict[str, Any]:
        """The JSON answer to one request's messages."""
        kind = request_kind(messages)
        with self._lock:
            self.calls[kind] += 1
        blocks = data_blocks(messages)
        if kind == "extract":
            return self.extract(blocks["chunks"])
        if kind == "consolidate_themes":
            return self.consolidate(blocks["candidates"])
        if kind == "group_themes":
            return self.group(blocks["themes"])
        if kind == "draft_persona":
            return self.draft_persona(blocks["evidence_pack"])
        return self.draft_journey(blocks["evidence_pack"])

    # ------------------------------------------------------------------ extraction

    def locate(self, quote: str, text: str) -> str | None:
        """The quote as it stands in `text`: verbatim, or with its PII as redaction tokens."""
        if quote in text:
            return quote
        pattern = re.escape(quote)
        for value in self.pii:
            pattern = pattern.replace(re.escape(value), REDACTED)
        match = re.search(pattern, text)
        return match.group(0) if match else None

    def ticket_key(self, text: str) -> str | None:
        """The planted key (or 'noise') of a ticket, from its text (redacted or not)."""
        norm = _norm(text)
        if norm in self.ticket_texts:
            return self.ticket_texts[norm]
        pieces = [p for p in TOKEN.split(norm) if p.strip()]
        for candidate, key in self.ticket_texts.items():
            at = 0
            for piece in pieces:
                at = candidate.find(piece.strip(), at)
                if at < 0:
                    break
                at += len(piece.strip())
            else:
                return key
        return None

    def ticket_sentence(self, text: str, key: str) -> str:
        """The ticket sentence that best states the planted pain (verbatim from `text`)."""
        point = self.points[key]
        topic = _stems(f"{point['label']} {point['description']}")
        body = text.split("\n\n", 1)[-1]
        candidates = [
            s.strip()
            for s in SENTENCE_BREAK.split(body)
            if len(s.split()) >= 4 and not TOKEN.search(s)
        ]
        if not candidates:
            return text.split("\n", 1)[0].strip()
        return max(candidates, key=lambda s: (len(_stems(s) & topic), len(s), -candidates.index(s)))

    def mention(self, key: str, alias: str, quotes: list[str]) -> dict[str, Any]:
        point = self.points[key]
        words: list[str] = []
        for w in WORD.findall(" ".join(quotes)):
            w = w.lower()
            if len(w) >= 5 and w not in STOP and w not in words:
                words.append(w)
        detail = ", ".join(words[:3])
        return {
            "statement": f"{point['label']} (this customer brings up {detail})",
            "category": point["label"],
            "severity": point["severity"],
            "severity_rationale": "It blocks or slows the customer's routine finance work",
            "journey_stage": point["journey_stage"],
            "workaround": None,
            "quotes": [{"text": q, "chunk_id": alias} for q in quotes[:3]],
        }

    def extract(self, chunks: Mapping[str, Any]) -> dict[str, Any]:
        mentions = []
        interview = any(isinstance(v, dict) for v in chunks.values())
        if interview:
            for answers in chunks.values():
                for alias, text in answers.items():
                    if alias.startswith("q"):
                        continue  # the interviewer's question: never quoted
                    found: dict[str, list[str]] = defaultdict(list)
                    for key, quote in self.quotes:
                        located = self.locate(quote, text)
                        if located is not None:
                            found[key].append(located)
                    mentions += [self.mention(k, alias, qs) for k, qs in sorted(found.items())]
        else:
            for alias, text in chunks.items():
                key = self.ticket_key(text)
                assert key is not None, f"the oracle cannot tell which ticket this is: {text!r}"
                if key != "noise":
                    mentions.append(self.mention(key, alias, [self.ticket_sentence(text, key)]))
        return {"mentions": mentions}

    # ------------------------------------------------------------------ themes

    def statement_key(self, statement: str) -> str | None:
        """The planted key an oracle statement names (statements open with the planted label)."""
        return next((k for k, p in self.points.items() if statement.startswith(p["label"])), None)

    def consolidate(self, candidates: list[Mapping[str, Any]]) -> dict[str, Any]:
        """One theme per planted pain point: whole candidates where they are pure, split
        candidates by the planted key of each statement, anything else a theme of its own."""
        groups: dict[str, dict[str, list[str]]] = {}
        for candidate in candidates:
            statements = candidate["statements"]
            texts = statements.values() if isinstance(statements, dict) else statements
            keys = [self.statement_key(str(t)) for t in texts]
            if len(set(keys)) == 1 or not isinstance(statements, dict):
                key = keys[0] or f"other:{candidate['id']}"
                groups.setdefault(key, {"candidates": [], "statements": []})
                groups[key]["candidates"].append(candidate["id"])
                continue
            for sid, key in zip(statements, keys, strict=True):
                key = key or f"other:{candidate['id']}"
                groups.setdefault(key, {"candidates": [], "statements": []})
                groups[key]["statements"].append(sid)
        themes = []
        for key, held in groups.items():
            point = self.points.get(key)
            name = point["label"] if point else "Other customer problem"
            themes.append(
                {
                    "name": name if len(name.split()) >= 2 else f"{name} problems",
                    "definition": f"Customers report {name.lower()}.",
                    **held,
                }
            )
        return {"themes": themes}

    def group(self, themes: list[Mapping[str, Any]]) -> dict[str, Any]:
        """Findings: the two planted points about data moving between systems (bank feeds in,
        accounting exports out) as one, every other theme on its own."""
        return grouping(themes, [self.points["bank_sync"], self.points["accounting_export"]])

    # ------------------------------------------------------------------ drafting

    def draft_persona(self, pack: Mapping[str, Any]) -> dict[str, Any]:
        from agent.evidence import EvidencePack
        from agent.offline_draft import OFFLINE_LABEL, draft_persona_offline

        draft = draft_persona_offline(EvidencePack.model_validate(pack)).model_dump(mode="json")
        draft["name"] = f"{draft['name']} (drafted by the {self.tag})"
        summary = draft["summary"]["text"].replace(OFFLINE_LABEL, f"(Drafted by the {self.tag}.)")
        draft["summary"]["text"] = summary
        return draft

    def draft_journey(self, pack: Mapping[str, Any]) -> dict[str, Any]:
        from agent.evidence import EvidencePack
        from agent.offline_draft import draft_journey_offline

        return draft_journey_offline(EvidencePack.model_validate(pack)).model_dump(mode="json")


def grouping(themes: list[Mapping[str, Any]], together: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A group_themes answer: the themes named after the `together` points in one finding,
    every other theme alone."""
    labels = {p["label"] for p in together}
    joined = [t["id"] for t in themes if t["name"] in labels]
    groups = [
        {"name": str(t["name"]), "definition": "One problem.", "themes": [t["id"]]}
        for t in themes
        if t["id"] not in joined
    ]
    if joined:
        groups.insert(
            0,
            {
                "name": "Data breaks between connected systems",
                "definition": "Bank feeds and accounting exports lose or garble the books' data.",
                "themes": joined,
            },
        )
    return {"groups": groups}


# --------------------------------------------------------------------------- wrong answers

INVENTED_NUMBER = "4321"
INVENTED_QUOTE = "Honestly I would pay double for Tallyflow if it had a dark mode."


def with_invented_number(draft: dict[str, Any]) -> dict[str, Any]:
    """A persona or journey answer with a number no evidence holds, in a cited claim."""
    draft = json.loads(json.dumps(draft))
    # Goals may be empty (the gap is an open question): the summary carries it then.
    claim = (
        (draft["goals"] or [draft["summary"]])[0] if "goals" in draft else draft["key_findings"][0]
    )
    claim["text"] += f"; {INVENTED_NUMBER} of them say so"
    return draft


def with_invented_quote(draft: dict[str, Any]) -> dict[str, Any]:
    """A persona answer whose first quote was never said."""
    draft = json.loads(json.dumps(draft))
    draft["quotes"][0]["text"] = INVENTED_QUOTE
    return draft


@dataclass
class Faulty:
    """An oracle that answers the first request of some kinds wrongly, then correctly on re-ask.

    `faults[kind]` is a list of mutations, applied to that kind's first requests in turn
    (re-asks excluded); every re-ask gets the correct answer, and its messages are kept.
    """

    oracle: Oracle
    faults: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]]
    reasks: list[list[dict[str, Any]]] = field(default_factory=list)
    faulted: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def responder(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        answer = self.oracle.answer(messages)
        kind = request_kind(messages)
        with self._lock:
            if is_reask(messages):
                self.reasks.append(messages)
                return ok(answer)
            todo = self.faults.get(kind, [])
            if self.faulted[kind] < len(todo):
                answer = todo[self.faulted[kind]](answer)
                self.faulted[kind] += 1
        return ok(answer)


# --------------------------------------------------------------------------- host mode


def pending_records(workspace: Any) -> list[dict[str, Any]]:
    """The host-mode requests waiting for answers, in file order."""
    folder = Path(workspace.host_dir) / "pending"
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.json"))
        if not p.name.endswith(".errors.json")
    ]


def write_answer(record: Mapping[str, Any], answer: Any) -> None:
    """Write an answer file where the request says (a str is written as is: broken JSON)."""
    path = Path(record["answer_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(answer if isinstance(answer, str) else json.dumps(answer), encoding="utf-8")


# --------------------------------------------------------------------------- workspaces

T = TypeVar("T")
_RUNS: dict[str, Any] = {}


def once(key: str, make: Callable[[], T]) -> T:
    """Run `make` the first time a test asks for `key`; later tests share its result (or error).

    Used from function-scoped fixtures rather than module-scoped ones, so the expensive run
    happens under tests/conftest.py's autouse guards (loopback only, clean environment, cwd).
    """
    if key not in _RUNS:
        try:
            _RUNS[key] = make()
        except Exception as exc:  # every later test must see the same failure
            _RUNS[key] = exc
    value = _RUNS[key]
    if isinstance(value, Exception):
        raise value
    return value  # type: ignore[no-any-return]


INGEST_FILES = ("chunks.jsonl", "documents.jsonl", "ingest_index.json", "chroma")
_INGESTED: dict[str, Path] = {}
_INGEST_LOCK = threading.Lock()


def ingested_workspace(root: Path) -> Path:
    """A workspace with transcripts/ ingested (MiniLM, local Chroma), once per test process.

    `root` is a folder that lives for the whole session (tmp_path_factory.getbasetemp()).
    The corpus path is absolute, so copies of this workspace find the user table from any cwd
    and `persona run CORPUS` on a copy sees every file unchanged (nothing is re-embedded).
    """
    from agent.config import Settings
    from agent.ingest import ingest
    from agent.workspace import Workspace

    with _INGEST_LOCK:
        if "ws" not in _INGESTED:
            target = root / "e2e-ingested"
            if target.exists():
                shutil.rmtree(target)
            settings = Settings(workspace=target)
            summary = ingest([CORPUS], settings, Workspace(target).ensure())
            assert summary.ok and summary.counts["chunks"] > 0, summary
            _INGESTED["ws"] = target
        return _INGESTED["ws"]


def copy_ingested(source: Path, target: Path) -> Path:
    """A fresh workspace holding only the ingest outputs of `source`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in INGEST_FILES:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, target / name)
        elif src.exists():
            shutil.copy2(src, target / name)
    return target


# --------------------------------------------------------------------------- workspace checks


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Finished:
    """A finished workspace's outputs, read straight from the files."""

    root: Path
    chunks: dict[str, dict[str, Any]]
    documents: dict[str, dict[str, Any]]
    mentions: dict[str, dict[str, Any]]
    themes: dict[str, Any]
    segments: dict[str, Any]
    personas: dict[str, Any]

    @classmethod
    def load(cls, root: Path) -> Finished:
        def read(name: str) -> Any:
            return json.loads((root / name).read_text(encoding="utf-8"))

        return cls(
            root=root,
            chunks={c["id"]: c for c in _read_jsonl(root / "chunks.jsonl")},
            documents={d["id"]: d for d in _read_jsonl(root / "documents.jsonl")},
            mentions={m["id"]: m for m in _read_jsonl(root / "mentions.jsonl")},
            themes=read("themes.json"),
            segments=read("segments.json"),
            personas=read("personas.json"),
        )

    def document_text(self, doc_id: str) -> str:
        """The document's joined text, rebuilt from its turns at their offsets (the gaps between
        turns are the blank lines ingest joins them with)."""
        chars: list[str] = []
        for turn in self.documents[doc_id]["turns"]:
            end = turn["start"] + len(turn["text"])
            chars.extend("\n" * max(0, end - len(chars)))
            chars[turn["start"] : end] = turn["text"]
        return "".join(chars)

    # ------------------------------------------------------------------ planted pain points

    def planted_themes(self, truth: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], int]]:
        """Planted key -> (the theme holding most of its ground-truth items, how many).

        Items are the key's tickets and interview quotes; a theme holds a quote when one of its
        mentions quotes an overlapping span of that participant's transcript.
        """
        spans: dict[tuple[str, int], tuple[str, int, int]] = {}
        doc_of = {
            d["participant_id"]: d["id"] for d in self.documents.values() if d["kind"] != "ticket"
        }
        texts = {doc: self.document_text(doc) for doc in doc_of.values()}
        for point in truth["pain_points"]:
            for i, q in enumerate(point["interview_quotes"]):
                doc = doc_of[q["participant"]]
                at = texts[doc].find(q["text"])
                assert at >= 0, f"planted quote not in {doc}: {q['text'][:60]}"
                spans[(point["key"], i)] = (doc, at, at + len(q["text"]))
        best: dict[str, tuple[dict[str, Any], int]] = {}
        for theme in self.themes["themes"]:
            held: dict[str, set[Any]] = defaultdict(set)
            for mid in theme["mention_ids"]:
                m = self.mentions[mid]
                for point in truth["pain_points"]:
                    key = point["key"]
                    if m["kind"] == "ticket":
                        if m["ticket_id"] in point["tickets"]:
                            held[key].add(m["ticket_id"])
                        continue
                    for q in m["quotes"]:
                        chunk = self.chunks[q["chunk_id"]]
                        a, b = chunk["start"] + q["start"], chunk["start"] + q["end"]
                        for (k, i), (doc, s, e) in spans.items():
                            if k == key and doc == chunk["document_id"] and a < e and b > s:
                                held[key].add(i)
            for key, items in held.items():
                if key not in best or len(items) > best[key][1]:
                    best[key] = (theme, len(items))
        return best

    # ------------------------------------------------------------------ verbatim quotes

    def quotes(self) -> list[tuple[str, str, str]]:
        """(where, text, chunk id) of every quote the outputs show: persona quotes, double-quoted
        passages of 4+ words in claims citing one chunk, and theme representative quotes."""
        out = []
        for theme in self.themes["themes"]:
            for i, q in enumerate(theme["representative_quotes"]):
                out.append((f"themes.json {theme['id']} quote {i}", q["text"], q["chunk_id"]))
        for group in ("personas", "journeys"):
            for item in self.personas[group]:
                for where, value in _walk(item["draft"], f"{group} {item['id']}"):
                    if isinstance(value, dict) and set(value) == {"text", "chunk_id"}:
                        out.append((where, value["text"], value["chunk_id"]))
                    elif isinstance(value, dict) and "evidence" in value and "text" in value:
                        chunks = [e[6:] for e in value["evidence"] if e.startswith("chunk:")]
                        for passage in re.findall(r'"([^"]+)"', value["text"]):
                            if len(passage.split()) >= 4 and len(chunks) == 1:
                                out.append((where, passage, chunks[0]))
        return out

    def verbatim_problems(self) -> list[str]:
        """Quotes that are not exact substrings of their chunk and of the source document."""
        problems = []
        for where, text, chunk_id in self.quotes():
            chunk = self.chunks.get(chunk_id)
            if chunk is None:
                problems.append(f"{where}: unknown chunk {chunk_id}")
                continue
            if text not in chunk["text"]:
                problems.append(f"{where}: {text[:80]!r} is not verbatim in chunk {chunk_id}")
            elif text not in self.document_text(chunk["document_id"]):
                problems.append(f"{where}: {text[:80]!r} is not in document {chunk['document_id']}")
        return problems

    def cut_quotes(self) -> list[str]:
        """Extracted quotes whose span starts or ends inside a word or a number: '$538.' taken
        from '$538.81' is a substring of the chunk, yet it misquotes the amount."""

        def inside(text: str, at: int) -> bool:
            left, right = text[at - 1 : at], text[at : at + 1]
            if left.isalnum() and right.isalnum():
                return True
            # A decimal point or thousands separator between digits: '538.|81', '538|.81'.
            return (left in ".," and text[at - 2 : at - 1].isdigit() and right.isdigit()) or (
                left.isdigit() and right in ".," and text[at + 1 : at + 2].isdigit()
            )

        problems = []
        for m in self.mentions.values():
            for q in m["quotes"]:
                text = self.chunks[q["chunk_id"]]["text"]
                for at, edge in ((q["start"], "starts"), (q["end"], "ends")):
                    if 0 < at < len(text) and inside(text, at):
                        around = text[max(0, at - 25) : at] + "|" + text[at : at + 10]
                        problems.append(f"mention {m['id']} quote {edge} mid-token: {around!r}")
        return problems

    # ------------------------------------------------------------------ numbers

    def number_problems(self) -> list[str]:
        """Numbers in drafted claims that no cited scorer stat, theme or chunk of the workspace
        holds (segments.json, themes.json, chunks.jsonl and mentions.jsonl, not the packs)."""
        from agent.grounding import number_matches, numbers_in

        stats = {k: float(v) for k, v in self.segments["stats"].items()}
        themes = {t["id"]: t for t in self.themes["themes"]}
        notes: dict[str, list[str]] = defaultdict(list)
        for m in self.mentions.values():
            if m.get("workaround"):
                notes[m["chunk_id"]].append(m["workaround"])

        # Each segment's own mentions per journey stage (a persona counts its own people's).
        segment_of: dict[str, str] = {}
        assignments = self.root / "segment_assignments.csv"
        if assignments.exists():
            with assignments.open(encoding="utf-8") as fh:
                segment_of = {row["user_id"]: row["persona"] for row in csv.DictReader(fh)}

        def own_stage_counts(theme: Mapping[str, Any]) -> list[int]:
            counts: Counter[tuple[str, str]] = Counter()
            for mid in theme["mention_ids"]:
                mention = self.mentions[mid]
                segment = segment_of.get(str(mention.get("user_id") or ""))
                if segment:
                    counts[segment, mention.get("journey_stage") or "unknown"] += 1
            return list(counts.values())

        def theme_values(theme: Mapping[str, Any]) -> list[float]:
            f, s = theme["frequency"], theme["severity"]
            values = [f["participants"], f["tickets"], f["participant_share"], f["ticket_share"]]
            values += [s["mean"], s["max"], theme["score"], theme["rank"]]
            values += [len(theme["mention_ids"]), *theme["segment_counts"].values()]
            values += list(theme["journey_stages"].values()) + own_stage_counts(theme)
            texts = [theme["label"], theme["description"]]
            texts += [q["text"] for q in theme["representative_quotes"]]
            texts += [w for mid in theme["mention_ids"] for w in notes.get(mid, [])]
            texts += [
                n for mid in theme["mention_ids"] for n in notes[self.mentions[mid]["chunk_id"]]
            ]
            return [float(v) for v in values] + [n.value for t in texts for n in numbers_in(t)]

        def values_of(ref: str) -> list[float]:
            kind, _, key = ref.partition(":")
            if kind == "stat":
                label = re.sub(r"[._]", " ", key)
                return [stats[key], *(n.value for n in numbers_in(label))] if key in stats else []
            if kind == "theme":
                return theme_values(themes[key]) if key in themes else []
            if kind == "chunk":
                texts = [self.chunks[key]["text"]] if key in self.chunks else []
                return [n.value for t in texts + notes.get(key, []) for n in numbers_in(t)]
            return []

        everything = [*stats.values()] + [v for t in themes.values() for v in theme_values(t)]
        problems = []
        for persona in self.personas["personas"]:
            segment = next(s for s in self.segments["segments"] if s["name"] == persona["segment"])
            always = [
                n.value
                for part in (segment["name"], segment["rule"], segment.get("age_range") or "")
                for n in numbers_in(part)
            ]
            journeys = [j for j in self.personas["journeys"] if j["persona_id"] == persona["id"]]
            for label, draft in [("persona", persona["draft"])] + [
                ("journey", j["draft"]) for j in journeys
            ]:
                for where, value in _walk(draft, f"{persona['segment']} {label}"):
                    for ref in _refs(value):
                        if not values_of(ref) and ref.split(":")[0] in ("stat", "theme"):
                            problems.append(f"{where}: cites {ref}, which the workspace lacks")
                    for text, licensed in _texts(value, where):
                        pool = always + (
                            everything
                            if licensed is None
                            else [v for r in licensed for v in values_of(r)]
                        )
                        # How many people the claim's cited chunks quote ("named by 3").
                        cited = [r for r in licensed or () if r.startswith("chunk:")]
                        if len({self.speaker(r) for r in cited}) > 1:
                            pool.append(float(len({self.speaker(r) for r in cited})))
                        for number in numbers_in(text):
                            if not any(number_matches(number, v) for v in pool):
                                problems.append(
                                    f"{where}: number {number.text!r} in {text[:90]!r} is not a "
                                    f"value of {licensed if licensed is not None else 'the workspace'}"
                                )
        return problems

    def speaker(self, ref: str) -> str:
        """Who spoke a cited chunk: its participant or ticket, else the chunk itself."""
        row = self.chunks.get(ref.partition(":")[2], {})
        return str(row.get("participant_id") or row.get("ticket_id") or ref)

    def stat_citations(self) -> list[tuple[str, list[str], str]]:
        """(where, evidence, text) of every claim or recommendation citing a `stat:<key>`."""
        out = []
        for group in ("personas", "journeys"):
            for item in self.personas[group]:
                for where, value in _walk(item["draft"], f"{group} {item['id']}"):
                    refs = _refs(value)
                    if any(r.startswith("stat:") for r in refs):
                        text = value.get("text") or value.get("metric") or ""
                        out.append((where, refs, str(text)))
        return out


def _walk(value: Any, where: str, implied: tuple[str, ...] = ()) -> Iterable[tuple[str, Any]]:
    """Every claim, recommendation, quote and free string inside a draft, with its path.

    A pain point's claims get its theme added to their evidence (its numbers need no second
    citation), as in agent/grounding.py; ids and a stage's theme-id list are not text.
    """
    if isinstance(value, dict):
        if "evidence" in value:  # a claim or a recommendation
            yield where, {**value, "evidence": [*value["evidence"], *implied]}
            return
        if set(value) == {"text", "chunk_id"}:  # a persona quote
            yield where, value
            return
        if "theme_id" in value:
            implied = (*implied, f"theme:{value['theme_id']}")
        for key, item in value.items():
            if key in ("theme_id", "chunk_id") or (
                key == "pain_points" and all(isinstance(i, str) for i in item)
            ):
                continue
            yield from _walk(item, f"{where}.{key}", implied)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]", implied)
    elif isinstance(value, str):
        yield where, value


def _refs(value: Any) -> list[str]:
    return list(value.get("evidence", [])) if isinstance(value, dict) else []


def _texts(value: Any, where: str) -> list[tuple[str, list[str] | None]]:
    """(text, the evidence that licenses its numbers; None = any workspace value) pairs."""
    if isinstance(value, str):
        return [(value, None)]
    if not isinstance(value, dict):
        return []
    if "evidence" in value and "text" in value:  # a claim
        return [(value["text"], list(value["evidence"]))]
    if "evidence" in value and "action" in value:  # a recommendation
        return [(value[k], list(value["evidence"])) for k in ("action", "goal", "metric")]
    return []


# --------------------------------------------------------------------------- report checks

REPORT_FILES = ("index.html", "summary.md", "report.json")
TOP_TABLE_ROW = re.compile(
    r"^\| (\d+) \| .*? \| (\d+) \(\d+%\) \| (\d+) \(\d+%\) \| ([\d.]+) / (\d) \| ([\d.]+) \|$"
)


def planted_counts(truth: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Planted key -> (participants, tickets) in the ground truth."""
    return {p["key"]: (len(p["participants"]), len(p["tickets"])) for p in truth["pain_points"]}


def frequency_by_key(done: Finished, truth: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Planted key -> (participants, tickets) of the theme it maps to."""
    return {
        k: (t["frequency"]["participants"], t["frequency"]["tickets"])
        for k, (t, _) in done.planted_themes(truth).items()
    }


def planted_ranks(done: Finished, truth: Mapping[str, Any]) -> dict[str, int]:
    """Planted key -> the rank of the theme it maps to."""
    return {k: theme["rank"] for k, (theme, _) in done.planted_themes(truth).items()}


def formula_order(truth: Mapping[str, Any], participants: int, tickets: int) -> list[str]:
    """The planted keys ranked by themes.SCORE_FORMULA computed from the ground truth's counts:
    reach (mean of participant and ticket shares) x severity."""

    def score(point: Mapping[str, Any]) -> float:
        reach = len(point["participants"]) / participants + len(point["tickets"]) / tickets
        return reach / 2 * point["severity"]

    points = {p["key"]: p for p in truth["pain_points"]}
    return sorted(points, key=lambda k: (-score(points[k]), k))


def report_problems(finished: Finished) -> list[str]:
    """What is wrong with reports/: missing files, schema breaks, unresolved evidence, stat
    values that differ from segments.json, summary rows that differ from themes.json."""
    from agent.render.jsonout import validate_report

    reports = finished.root / "reports"
    problems = [f"missing reports/{n}" for n in REPORT_FILES if not (reports / n).exists()]
    slugs = sorted(p.name for p in reports.glob("persona-*.md"))
    if len(slugs) != len(finished.personas["personas"]):
        problems.append(f"{len(slugs)} persona-*.md for {len(finished.personas['personas'])}")
    if problems:
        return problems
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    sources = validate_report(report, REPO / "schemas")
    for title in ("Persona", "JourneyMap", "ThemeReport", "SegmentReport"):
        if f"schemas/{title}" not in sources:
            problems.append(f"report.json part {title} was not validated against schemas/")
    if report["segments"]["stats"] != finished.segments["stats"]:
        problems.append("report.json segments.stats differ from segments.json")
    for ref, ev in report["evidence"].items():
        if not ev["found"]:
            problems.append(f"report.json evidence {ref} does not resolve")
        elif ref.startswith("stat:"):
            shown = ev["detail"].rsplit(" = ", 1)[1].replace(",", "")
            decimals = len(shown.split(".")[1]) if "." in shown else 0
            value = float(finished.segments["stats"][ref[5:]])
            if abs(float(shown) - value) > 0.5 * 10**-decimals + 1e-9:
                problems.append(f"{ref} shown as {shown}, segments.json has {value}")
    by_rank = {t["rank"]: t for t in finished.themes["themes"]}
    # The theme-groups table has the same columns: its rows are checked against the groups.
    groups = {g["rank"]: g for g in finished.themes.get("groups", [])}
    rows = 0
    table = by_rank
    for line in (reports / "summary.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            table = groups if line == "## Theme Groups" else by_rank
        match = TOP_TABLE_ROW.match(line)
        if not match:
            continue
        rows += table is by_rank
        rank, people, tickets, mean, worst, score = match.groups()
        theme = table[int(rank)]
        got = (int(people), int(tickets), round(float(mean), 1), int(worst), float(score))
        want = (
            theme["frequency"]["participants"],
            theme["frequency"]["tickets"],
            round(theme["severity"]["mean"], 1),
            theme["severity"]["max"],
            round(theme["score"], 2),
        )
        if got != want:
            problems.append(f"summary.md rank {rank} shows {got}, themes.json has {want}")
    if rows == 0:
        problems.append("summary.md has no top pain points table")
    return problems
