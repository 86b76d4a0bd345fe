"""Bench: `persona serve` time to first page, time per action and page weight.

    python bench/serve.py [--sample-ws DIR] [--personas 50] [--repeat 5]

Two workspaces:
- sample: `persona run transcripts/ --llm offline` into a temporary workspace (or --sample-ws, an
  existing one, to skip the run);
- large: generated here (seed 7): N personas with journeys, each citing 30 chunks, 4 themes of its
  own and 6 scorer stats, and carrying 12 review decisions (fields and items); 200 themes; 500
  interview documents of 40 turns (20,000 chunks in chunks.jsonl, 1,500 of them cited).

For each, a server on a free loopback port in this process, and through real HTTP:
- first page: from creating the site (nothing read yet) to the library page's last byte;
- warm pages: library, a persona page, its journey, its one-page view, the themes page;
- evidence: one cited chunk in its context (the first lookup indexes documents.jsonl);
- a review action: POST confirm of one list item, plus the persona page it redirects to;
- page weight: bytes of each page, and of the static files (served once, cached).
Each warm timing is the median of --repeat runs. Prints a table and writes bench/out/serve.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.decisions import (  # noqa: E402
    Decision,
    DecisionStore,
    PersonaDecisions,
    parse_address,
    save_store,
)
from agent.models import (  # noqa: E402
    Behaviors,
    Chunk,
    Claim,
    Demographics,
    Document,
    DocumentInfo,
    JourneyDraft,
    JourneyMap,
    JourneyStageEntry,
    Needs,
    Persona,
    PersonaDraft,
    PersonaPainPoint,
    PersonaQuote,
    Quote,
    Recommendation,
    SegmentReport,
    SegmentStats,
    Theme,
    ThemeFrequency,
    ThemeReport,
    ThemeSeverity,
    Turn,
)
from agent.serve import make_site_server  # noqa: E402
from agent.workspace import Workspace, write_json, write_models  # noqa: E402

OUT = ROOT / "bench" / "out"
WORDS = [
    *("sync", "export", "receipt", "approval", "month", "close", "invoice", "card", "bank"),
    *("report", "slow", "broken", "manual", "spreadsheet", "team", "finance", "policy"),
    *("mobile", "upload", "category", "vendor", "payroll", "audit"),
]


# --------------------------------------------------------------------------- the large workspace


def sentence(rng: random.Random, n: int = 18) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def generate(root: Path, n_personas: int) -> dict[str, int]:
    """Write a workspace with n personas' worth of evidence; returns its sizes."""
    rng = random.Random(7)
    ws = Workspace(root).ensure()
    documents, chunks = [], []
    for d in range(500):
        turns, start = [], 0
        for t in range(40):
            role = "interviewer" if t % 2 == 0 else "participant"
            text = sentence(rng, 12 if role == "interviewer" else 40)
            turns.append(
                Turn(
                    speaker="Interviewer" if role == "interviewer" else f"Person {d}",
                    role=role,  # type: ignore[arg-type]
                    text=text,
                    start=start,
                    line=2 * t + 1,
                )
            )
            start += len(text) + 2
        doc = Document(
            id=f"doc{d:04d}",
            source=f"interviews/p{d:04d}.md",
            kind="interview",
            participant_id=f"P{d:04d}",
            turns=turns,
        )
        documents.append(doc)
        for t in turns:
            chunks.append(
                Chunk(
                    id=f"c{d:04d}-{t.line:03d}",
                    document_id=doc.id,
                    text=t.text,
                    token_count=len(t.text.split()),
                    speaker=t.speaker,
                    role=t.role,
                    start=t.start,
                    end=t.start + len(t.text),
                    kind="interview",
                    source=doc.source,
                    line=t.line,
                    participant_id=doc.participant_id,
                )
            )
    participant_chunks = [c for c in chunks if c.role == "participant"]
    themes = []
    for i in range(200):
        quote = participant_chunks[(i * 37) % len(participant_chunks)]
        parts = rng.randint(1, 40)
        themes.append(
            Theme(
                id=f"t{i:03d}",
                label=" / ".join(rng.sample(WORDS, 3)),
                description=sentence(rng),
                mention_ids=[f"m{i}-{k}" for k in range(parts)],
                frequency=ThemeFrequency(
                    participants=parts,
                    tickets=0,
                    participant_share=round(parts / 500, 4),
                    ticket_share=0.0,
                ),
                severity=ThemeSeverity(mean=round(rng.uniform(1, 5), 2), max=5),
                score=round(parts / 500 * 3, 4),
                rank=i + 1,
                representative_quotes=[
                    Quote(text=quote.text[:60], chunk_id=quote.id, start=0, end=60)
                ],
            )
        )
    segments, stats = [], {}
    for i in range(n_personas):
        segments.append(
            SegmentStats(name=f"Segment {i}", rule=f"group = {i}", size=100, share=0.02)
        )
        for key in ("size", "share", "median_sessions", "median_events", "age_low", "age_high"):
            stats[f"segment.s{i}.{key}"] = rng.randint(1, 900)
    personas, journeys = [], []
    store = DecisionStore()
    for i in range(n_personas):
        cited = rng.sample(participant_chunks, 30)
        own = rng.sample(themes, 4)

        def claim(k: int, cited: list[Chunk] = cited) -> Claim:
            return Claim(text=sentence(rng, 14), evidence=[f"chunk:{cited[k % 30].id}"])

        stat = [f"stat:segment.s{i}.size", f"stat:segment.s{i}.share"]
        draft = PersonaDraft(
            name=f"Persona {i}, the {rng.choice(WORDS).title()} Lead",
            archetype=f"{rng.choice(WORDS).title()} lead",
            summary=Claim(text=sentence(rng, 40), evidence=[*stat, f"theme:{own[0].id}"]),
            role=claim(0),
            demographics=Demographics(age_range=Claim(text="30-39", evidence=stat[:1])),
            goals=[claim(k) for k in range(1, 5)],
            motivations=[claim(k) for k in range(5, 8)],
            behaviors=Behaviors(
                discovery=[claim(8)], evaluation=[claim(9)], purchase_triggers=[claim(10)]
            ),
            channels=[claim(11), claim(12)],
            tools=[claim(13), claim(14)],
            tech_proficiency=claim(15),
            pain_points=[
                PersonaPainPoint(
                    theme_id=t.id,
                    title=t.label,
                    impact=claim(16 + k),
                    frequency=Claim(text=sentence(rng, 10), evidence=[f"theme:{t.id}"]),
                    workaround=claim(20 + k),
                )
                for k, t in enumerate(own)
            ],
            quotes=[
                PersonaQuote(text=cited[24 + k].text[:80], chunk_id=cited[24 + k].id)
                for k in range(4)
            ],
            needs=Needs(must=[claim(28)], should=[claim(29)], nice=[claim(1)]),
            aha_moment=claim(2),
        )
        persona = Persona(
            id=f"persona-{i:03d}",
            segment=f"Segment {i}",
            draft=draft,
            document_info=DocumentInfo(
                based_on_interviews=500,
                based_on_users=5000,
                generated_at="2026-01-01T00:00:00Z",
                mode="offline",
            ),
        )
        personas.append(persona)
        stages = []
        for name in ("awareness", "consideration", "decision", "onboarding", "advocacy"):
            stages.append(
                JourneyStageEntry(
                    stage=name,  # type: ignore[arg-type]
                    customer_goal=claim(3),
                    actions=[claim(4), claim(5)],
                    touchpoints=[claim(6)],
                    thoughts=[claim(7)],
                    emotion=rng.randint(-2, 2),
                    pain_points=[own[rng.randint(0, 3)].id],
                    opportunities=[claim(8)],
                    metrics=["conversion"],
                )
            )
        journeys.append(
            JourneyMap(
                id=f"journey-{i:03d}",
                persona_id=persona.id,
                draft=JourneyDraft(
                    stages=stages,
                    key_findings=[claim(9), claim(10), claim(11)],
                    recommendations=[
                        Recommendation(
                            action="Fix it",
                            goal="Less pain",
                            metric="tickets",
                            evidence=[f"theme:{own[0].id}"],
                        )
                    ],
                ),
                document_info=persona.document_info,
            )
        )
        entry = PersonaDecisions(segment=persona.segment, name=draft.name)
        data = draft.model_dump(mode="json")
        targets = [
            "summary", "role", "goals", "tools",
            f"goals[{_key(data['goals'][1])}]", f"pain_points[theme:{own[0].id}].workaround",
            f"pain_points[theme:{own[1].id}]", f"quotes[{_qkey(data['quotes'][0])}]",
            "needs.must", "aha_moment", "motivations", "channels",
        ]  # fmt: skip
        for text in targets:
            address = parse_address(text)
            store.revision += 1
            value = _value(data, address)
            entry.fields[text] = Decision(
                decision="confirmed", value=value, base=value, by="bench", rev=store.revision
            )
        store.personas[persona.id] = entry
    write_models(ws.documents, documents)
    write_models(ws.chunks, chunks)
    write_json(
        ws.themes,
        ThemeReport(
            themes=themes,
            total_participants=500,
            total_tickets=0,
            total_mentions=sum(len(t.mention_ids) for t in themes),
            embedder="hash",
            score_formula="bench",
        ),
    )
    write_json(
        ws.segments,
        SegmentReport(
            source="bench", config="bench", total_users=5000, segments=segments, stats=stats
        ),
    )
    write_json(
        ws.personas,
        {
            "personas": [p.model_dump(mode="json") for p in personas],
            "journeys": [j.model_dump(mode="json") for j in journeys],
        },
    )
    save_store(ws, store)
    return {
        "personas": n_personas,
        "journeys": n_personas,
        "themes": len(themes),
        "documents": len(documents),
        "chunks": len(chunks),
        "cited_chunks": len({c for p in personas for c in _chunk_refs(p)}),
        "decisions": sum(len(e.fields) for e in store.personas.values()),
        "personas_json_bytes": ws.personas.stat().st_size,
        "chunks_jsonl_bytes": ws.chunks.stat().st_size,
        "documents_jsonl_bytes": ws.documents.stat().st_size,
    }


def _key(item: dict[str, Any]) -> str:
    from agent.decisions import item_key

    return item_key(item)


_qkey = _key


def _value(data: dict[str, Any], address: Any) -> Any:
    from agent.decisions import get_path, item_key

    if address.item is None:
        return get_path(data, address.field)
    for item in get_path(data, address.field):
        if item_key(item) == address.item:
            return item[address.sub] if address.sub else item
    raise KeyError(address)


def _chunk_refs(persona: Persona) -> set[str]:
    from agent.refs import ids_in

    return ids_in(persona.draft.model_dump(mode="json"), "chunk")


# --------------------------------------------------------------------------- measuring


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self.request("GET", path)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, bytes, float]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Host": f"{self.host}:{self.port}"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://{self.host}:{self.port}",
            }
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        took = time.perf_counter() - started
        conn.close()
        return response.status, data, took


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def measure(ws: Workspace, repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    server, _ = make_site_server(ws, port=0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    client = Client("127.0.0.1", server.server_address[1])
    try:
        status, library, _ = client.get("/")
        first = time.perf_counter() - started
        assert status == 200, status
        slug = re.search(rb'href="/p/([a-z0-9-]+)"', library).group(1).decode()
        pages = {
            "library": "/",
            "persona": f"/p/{slug}",
            "journey": f"/p/{slug}/journey",
            "one_page": f"/p/{slug}/print",
            "themes": "/themes",
        }
        weights, timings = {}, {}
        _, persona_page, first_persona = client.get(pages["persona"])
        for name, path in pages.items():
            samples = []
            for _ in range(repeat):
                status, body, took = client.get(path)
                assert status == 200, (path, status)
                samples.append(took)
            timings[name] = median_ms(samples)
            weights[name] = len(body)
        link = (
            re.search(rb'href="(/evidence\?ref=chunk[^"]+)"', persona_page)
            .group(1)
            .decode()
            .replace("&amp;", "&")
        )
        _, _, evidence_first = client.get(link)
        timings["evidence_first"] = round(evidence_first * 1000, 1)
        timings["evidence"] = median_ms([client.get(link)[2] for _ in range(repeat)])
        # One review action: confirm one list item, then load the page it redirects to.
        action = []
        for k in range(repeat):
            _, page, _ = client.get(pages["persona"])
            text = page.decode()
            # Two list items the page offers (which fields have items depends on the drafts).
            items = re.findall(r'data-target="([a-z_]+\.\d+)"', text)[:2]
            target = items[k % len(items)]
            at = text.index(f'data-target="{target}"')
            hidden = dict(
                re.findall(r'name="(\w+)" value="([^"]*)"', text[at : text.index("</form>", at)])
            )
            form = {**hidden, "action": "confirm" if k % 4 < 2 else "reset", "by": "bench"}
            status, _, post = client.request("POST", f"/p/{slug}", form)
            assert status == 303, status
            status, _, after = client.get(pages["persona"])
            action.append(post + after)
        timings["review_action"] = median_ms(action)
        static = {
            name: len(client.get(f"/static/{name}")[1])
            for name in ("library.css", "serve.css", "serve.js")
        }
        return {
            "first_page_ms": round(first * 1000, 1),
            "first_persona_page_ms": round(first_persona * 1000, 1),
            "warm_ms": timings,
            "page_bytes": weights,
            "static_bytes": static,
        }
    finally:
        server.shutdown()
        server.server_close()


def sample_workspace(tmp: Path) -> Workspace:
    ws = tmp / "sample"
    cmd = [
        sys.executable,
        "-m",
        "agent",
        "run",
        str(ROOT / "transcripts"),
        "-w",
        str(ws),
        "--llm",
        "offline",
    ]
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
    return Workspace(ws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-ws", type=Path, default=None)
    parser.add_argument("--personas", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sample = Workspace(args.sample_ws) if args.sample_ws else sample_workspace(tmp)
        results["sample"] = {
            "sizes": {"personas_json_bytes": sample.personas.stat().st_size},
            **measure(sample, args.repeat),
        }
        sizes = generate(tmp / "large", args.personas)
        results["large"] = {"sizes": sizes, **measure(Workspace(tmp / "large"), args.repeat)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for name, r in results.items():
        print(f"== {name}: {r['sizes']}")
        print(
            f"   first page {r['first_page_ms']} ms, first persona page {r['first_persona_page_ms']} ms"
        )
        print("   warm (median ms): " + ", ".join(f"{k} {v}" for k, v in r["warm_ms"].items()))
        print("   page bytes: " + ", ".join(f"{k} {v:,}" for k, v in r["page_bytes"].items()))
        print("   static bytes: " + ", ".join(f"{k} {v:,}" for k, v in r["static_bytes"].items()))


if __name__ == "__main__":
    main()
