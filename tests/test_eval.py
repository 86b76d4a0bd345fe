"""`persona eval`: a finished run against a human coding, ticket labels and another run.

The workspaces here are written by hand (documents, chunks, mentions, themes) so that every
expected number can be worked out on paper; the working is in the comments.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.errors import PersonaError
from agent.eval import EvalReport, evaluate, fuzzy_span, parse_columns, render_text
from agent.models import (
    TURN_SEPARATOR,
    Chunk,
    Document,
    PainPointMention,
    Quote,
    Theme,
    ThemeFrequency,
    ThemeGroup,
    ThemeReport,
    ThemeSeverity,
    Turn,
)
from agent.workspace import Workspace, write_json, write_models


class Run:
    """Builds a workspace: documents of turns, one chunk per turn, mentions quoting chunks."""

    def __init__(self) -> None:
        self.documents: list[Document] = []
        self.chunks: dict[tuple[str, int], Chunk] = {}
        self.mentions: dict[str, PainPointMention] = {}

    def doc(self, key: str, *turns: tuple[str, str], ticket: bool = False) -> None:
        built, pos = [], 0
        for speaker, text in turns:
            role = (
                "interviewer"
                if speaker == "Interviewer"
                else "customer"
                if ticket
                else "participant"
            )
            built.append(Turn(speaker=speaker, role=role, text=text, start=pos))  # type: ignore[arg-type]
            pos += len(text) + len(TURN_SEPARATOR)
        doc = Document(
            id=f"doc-{key}",
            source=f"in/{key}.csv" if ticket else f"in/{key}.txt",
            kind="ticket" if ticket else "interview",
            participant_id=None if ticket else key,
            ticket_id=key if ticket else None,
            turns=built,
        )
        self.documents.append(doc)
        for i, turn in enumerate(built):
            self.chunks[(key, i)] = Chunk(
                id=f"c-{key}-{i}",
                document_id=doc.id,
                text=turn.text,
                token_count=len(turn.text.split()),
                speaker=turn.speaker,
                role=turn.role,
                start=turn.start,
                end=turn.start + len(turn.text),
                kind=doc.kind,
                source=doc.source,
                participant_id=doc.participant_id,
                ticket_id=doc.ticket_id,
            )

    def mention(self, mid: str, key: str, turn: int, *quotes: str) -> None:
        chunk = self.chunks[(key, turn)]
        made = []
        for text in quotes:
            at = chunk.text.find(text)
            start, end = (at, at + len(text)) if at >= 0 else (0, len(text))
            made.append(Quote(text=text, chunk_id=chunk.id, start=start, end=end))
        self.mentions[mid] = PainPointMention(
            id=mid,
            statement=quotes[0],
            category="test",
            severity=3,
            severity_rationale="test",
            journey_stage="unknown",
            quotes=made,
            chunk_id=chunk.id,
            document_id=chunk.document_id,
            kind=chunk.kind,
            participant_id=chunk.participant_id,
            ticket_id=chunk.ticket_id,
            origin="offline",
        )

    def write(self, root: Path, themes: list[tuple[str, str, list[str]]]) -> Path:
        """`themes`: (id, label, mention ids), in rank order; counts are computed here."""
        built = []
        for rank, (tid, label, members) in enumerate(themes, start=1):
            ms = [self.mentions[m] for m in members]
            people = {m.participant_id for m in ms if m.kind == "interview"}
            tickets = {m.ticket_id for m in ms if m.kind == "ticket"}
            built.append(
                Theme(
                    id=tid,
                    label=label,
                    description=label,
                    mention_ids=sorted(members),
                    frequency=ThemeFrequency(
                        participants=len(people),
                        tickets=len(tickets),
                        participant_share=0.0,
                        ticket_share=0.0,
                    ),
                    severity=ThemeSeverity(mean=3.0, max=3),
                    score=1.0 / rank,
                    rank=rank,
                    representative_quotes=[],
                )
            )
        ws = Workspace(root).ensure()
        write_models(ws.documents, self.documents)
        write_models(ws.chunks, self.chunks.values())
        write_models(ws.mentions, sorted(self.mentions.values(), key=lambda m: m.id))
        report = ThemeReport(
            themes=built,
            total_participants=0,
            total_tickets=0,
            total_mentions=len(self.mentions),
            embedder="hash",
            score_formula="test",
        )
        write_json(ws.themes, report)
        return root


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(header)
        csv.writer(fh).writerows(rows)
    return path


def interview_run(root: Path) -> Path:
    run = Run()
    run.doc(
        "P1",
        ("Interviewer", "How is it going?"),
        ("Dana", "The bank sync drops every Monday. I love the reports."),
    )
    run.doc("P2", ("Eli", "Sync fails after the update. The price is too high for us."))
    run.doc("P3", ("Fay", "Our sync breaks weekly. Seats cost too much money."))
    run.doc("P4", ("Gus", "Pricing per seat hurts small teams. Nothing else to add here."))
    run.mention("m1", "P1", 1, "bank sync drops every Monday")
    run.mention("m2", "P2", 0, "Sync fails", "after the update")
    run.mention("m3", "P2", 0, "price is too high")
    run.mention("m4", "P3", 0, "Our sync breaks weekly")
    run.mention("m5", "P4", 0, "Pricing per seat hurts small teams")
    run.mention("m6", "P4", 0, "Nothing else to add here")
    # Not verbatim in its chunk: it fails fidelity and covers nothing.
    run.mention("m7", "P1", 1, "syncs drop on mondays")
    return run.write(
        root,
        [
            ("A", "Sync drops", ["m1", "m2", "m4", "m7"]),  # P1, P2, P3
            ("B", "Pricing", ["m3"]),  # P2
            ("C", "Seats and the rest", ["m5", "m6"]),  # P4
        ],
    )


def coding_csv(folder: Path) -> Path:
    return write_csv(
        folder / "codes.csv",
        ["Document name", "Code", "Segment"],
        [
            ["P1", "sync", "The bank sync drops every Monday."],  # 1 verbatim, covered (m1)
            ["p1.docx", "praise", "I love the reports."],  # 2 verbatim (by stem, any case)
            ["P2", "sync", "Sync fails after the update."],  # 3 verbatim, covered (m2)
            ["P2", "price", "the PRICE is  too high for us"],  # 4 verbatim after folding, m3
            ["P3", "sync", "Interviewer: Our sync breaks weekly."],  # 5 fuzzy: 4 of 5 words, m4
            ["P3.txt", "price", "Seats cost too much money."],  # 6 verbatim (by file), no mention
            ["P4", "price", "Pricing per seat hurts small teams."],  # 7 verbatim, covered (m5)
            ["P9", "price", "Nobody called P9 was interviewed."],  # 8 unknown id
            ["P4", "other", "This sentence was never said by anyone at all."],  # 9 not located
            ["P4", "", "a row without a code"],  # 10 skipped, with a note
        ],
    )


def test_coverage_and_shared_code_recovery(tmp_path: Path) -> None:
    ws = interview_run(tmp_path / "ws")
    report = evaluate(ws, coding=coding_csv(tmp_path))
    c = report.coding
    assert c is not None
    # Rows 1-7 and 9 have known ids: 8 passages from P1-P4 under 4 codes; row 8 is unknown.
    assert (c.passages, c.units, c.codes, c.unknown_id, c.unknown_ids) == (8, 4, 4, 1, ["P9"])
    # Verbatim: rows 1, 2, 3, 4, 6, 7; fuzzy: row 5; not located: row 9.
    assert (c.exact, c.fuzzy, c.not_located) == (6, 1, 1)
    # Covered: rows 1, 3, 4, 5, 7 of the 7 located -> 5/7.
    assert c.covered == 5 and c.coverage == pytest.approx(0.7143)
    # Shared codes (3+ participants): sync {P1, P2, P3} and price {P2, P3, P4}.
    # sync: m1, m2, m4 all in A, which holds P1-P3 and counts 3 -> recovered, over 1 theme.
    # price: P2 via m3 in B (count 1), P4 via m5 in C (count 1), P3 uncovered. B and C hold
    # one each and are equally far from n=3; B ranks first. Holds 1 < n-1 = 2 -> not recovered.
    rows = {r.code: r for r in c.per_code}
    assert sorted(rows) == ["price", "sync"]
    sync, price = rows["sync"], rows["price"]
    assert (sync.n, sync.best_theme_id, sync.holds, sync.theme_count, sync.themes) == (
        3,
        "A",
        3,
        3,
        1,
    )
    assert sync.recovered and sync.best_theme_label == "Sync drops"
    assert (price.n, price.best_theme_id, price.holds, price.theme_count, price.themes) == (
        3,
        "B",
        1,
        1,
        2,
    )
    assert not price.recovered
    assert (c.shared_codes, c.recovered, c.recovery) == (2, 1, 0.5)
    # Precision: quotes in P1-P4 (each has a located passage) that lie in their own document:
    # m1, m2 (two), m3, m4, m5, m6 (m7's is not in its chunk). All but m6's overlap a located
    # passage (row 9 with m6's words was not located) -> 6/7.
    assert (c.quotes_in_coded, c.quotes_on_passages, c.precision) == (7, 6, 0.8571)
    # 8 quotes (m2 has two); m7's is not in its chunk -> 7/8.
    assert (report.fidelity.quotes, report.fidelity.verbatim) == (8, 7)
    assert report.fidelity.share == 0.875
    assert any("without an id, code or excerpt" in n and "lines 11" in n for n in report.notes)
    assert any("P9" in n for n in report.notes)


def test_shared_codes_are_also_tested_against_theme_groups(tmp_path: Path) -> None:
    """One level up: a theme group over B and C holds price's P2 and P4 and counts 2 (n = 3,
    within one): recovered by the group though no single theme holds it. A theme outside every
    group stands for itself, so sync stays recovered by A."""
    ws = Workspace(interview_run(tmp_path / "ws"))
    report = ThemeReport.model_validate_json(ws.themes.read_text(encoding="utf-8"))
    freq = ThemeFrequency(participants=2, tickets=0, participant_share=0.5, ticket_share=0.0)
    group = ThemeGroup(
        id="G",
        label="Price and seats",
        description="Cost.",
        theme_ids=["B", "C"],
        frequency=freq,
        severity=ThemeSeverity(mean=3.0, max=3),
        score=1.0,
        rank=1,
    )
    write_json(ws.themes, report.model_copy(update={"groups": [group]}))
    result = evaluate(ws.root, coding=coding_csv(tmp_path))
    c = result.coding
    assert c is not None
    rows = {r.code: r for r in c.per_code}
    price, sync = rows["price"], rows["sync"]
    assert not price.recovered  # the theme-level answer is unchanged
    assert (price.best_group_id, price.group_holds, price.group_count) == ("G", 2, 2)
    assert price.recovered_by_group and price.best_group_label == "Price and seats"
    assert (sync.best_group_id, sync.recovered_by_group) == ("A", True)
    assert (c.recovered, c.recovered_with_groups, c.recovery_with_groups) == (1, 2, 1.0)
    text = render_text(result)
    assert "one theme or theme group with count +-1: 2 (100.0%)" in text
    assert "Price and seats" in text
    # A run without groups says nothing about them, in JSON or text.
    plain = evaluate(interview_run(tmp_path / "plain"), coding=coding_csv(tmp_path))
    assert "recovered_with_groups" not in plain.model_dump_json()
    assert "theme group" not in render_text(plain)


def test_recovery_needs_the_theme_count_within_one(tmp_path: Path) -> None:
    """A theme holding all of a code's people is still wrong when it is much bigger."""
    run = Run()
    for key in ("P1", "P2", "P3", "P4", "P5", "P6"):
        run.doc(key, ("X", f"Exports time out for {key}. Other things annoy me."))
        run.mention(f"e{key}", key, 0, f"Exports time out for {key}")
        run.mention(f"o{key}", key, 0, "Other things annoy me")
    # The code: P1-P3. Theme A holds all six people (count 6, n = 3: off by 3).
    ws = run.write(tmp_path / "ws", [("A", "Everything", sorted(run.mentions))])
    codes = write_csv(
        tmp_path / "c.csv",
        ["participant", "code", "excerpt"],
        [[k, "export", f"Exports time out for {k}."] for k in ("P1", "P2", "P3")],
    )
    row = evaluate(ws, coding=codes).coding.per_code[0]  # type: ignore[union-attr]
    assert (row.n, row.holds, row.theme_count, row.recovered) == (3, 3, 6, False)


def label_run(root: Path) -> Path:
    run = Run()
    texts = {
        "T1": "My card is lost",
        "T2": "Lost card, please block it",
        "T3": "Where is my card? I lost it",
        "T4": "Refund for a double charge",
        "T5": "I want my money back",
        "T6": "Refund still not here",
        "T7": "Hello there",
        "T8": "Forgot my PIN",
    }
    for key, text in texts.items():
        run.doc(key, ("customer", text), ticket=True)
    for key, text in texts.items():
        if key != "T7":  # T7 gets no mention
            run.mention(f"t{key}", key, 0, text)
    return run.write(
        root,
        [
            ("E", "Refunds", ["tT3", "tT4", "tT5", "tT6"]),
            ("D", "Lost cards", ["tT1", "tT2"]),
            ("F", "PIN", ["tT8"]),
        ],
    )


def test_labelled_tickets(tmp_path: Path) -> None:
    ws = label_run(tmp_path / "ws")
    labels = write_csv(
        tmp_path / "labels.csv",
        ["Ticket #", "intent"],
        [
            ["T1", "lost"],
            ["T2", "lost"],
            ["T3", "lost"],
            ["T4", "refund"],
            ["T5", "refund"],
            ["T6", "refund"],
            ["T7", "refund"],
            ["T8", "pin"],
            ["T8", "refund"],  # repeated: the first label wins, with a note
            ["T99", "lost"],  # not in the run
        ],
    )
    lab = evaluate(ws, labels=labels, label_column="intent").labels
    assert lab is not None
    assert (lab.tickets, lab.not_found, lab.labels, lab.label_column) == (8, 1, 3, "intent")
    # Clusters: D {T1, T2}, E {T3, T4, T5, T6}, T7 alone (no mention), F {T8}.
    assert lab.clusters == 4
    assert (lab.left_without_theme, lab.left_without_theme_share) == (1, 0.125)
    # Classes lost 3, refund 4, pin 1 (of 8). Contingency rows (D, E, none, F):
    #   lost [2, 1, 0, 0]; refund [0, 3, 1, 0]; pin [0, 0, 0, 1].
    # ARI: sum C(n_ij, 2) = 1 + 3 = 4; rows C(3,2)+C(4,2) = 9; columns C(2,2)+C(4,2) = 7;
    #   expected 9 * 7 / C(8,2)=28 -> 2.25; max (9 + 7) / 2 = 8; (4 - 2.25) / (8 - 2.25) = 0.3043.
    assert lab.ari == pytest.approx(0.3043, abs=1e-4)
    # H(C) = 0.9743; H(C|K) = 4/8 * H(1/4, 3/4) = 0.2812 -> homogeneity 0.7114.
    # H(K) = 1.2130; H(K|C) = 3/8 * H(2/3, 1/3) + 4/8 * H(3/4, 1/4) = 0.5199 -> completeness 0.5714.
    # V = 2 h c / (h + c) = 0.6338.
    assert lab.homogeneity == pytest.approx(0.7114, abs=1e-3)
    assert lab.completeness == pytest.approx(0.5714, abs=1e-3)
    assert lab.v_measure == pytest.approx(0.6338, abs=1e-3)
    # Every ticket alone: h = 1, c = 1 - H(K|C)/H(K) = 1 - 1.1051/2.0794 = 0.4685 -> V 0.6381,
    # slightly above the run: this run does not beat the trivial floor.
    assert lab.singleton_v_measure == pytest.approx(0.6381, abs=1e-3)
    # Best theme per label: refund (4) -> E (size 4); lost (3) -> D (size 2); pin (1) -> F (1).
    # Pearson r of (4, 3, 1) and (4, 2, 1): sxy 4.3333 / sqrt(4.6667 * 4.6667) = 0.9286.
    assert [
        (m.label, m.size, m.best_theme_id, m.best_theme_size, m.overlap) for m in lab.per_label
    ] == [
        ("refund", 4, "E", 4, 3),
        ("lost", 3, "D", 2, 2),
        ("pin", 1, "F", 1, 1),
    ]
    assert lab.size_correlation == pytest.approx(0.9286, abs=1e-4)
    assert lab.most_labels_in_one_theme == 2  # E holds lost (T3) and refund (T4-T6)


def stability_runs(tmp_path: Path) -> tuple[Path, Path]:
    def base() -> Run:
        run = Run()
        for i in range(1, 7):
            run.doc(f"K{i}", ("customer", f"Problem number {i} happened again"), ticket=True)
            run.mention(f"n{i}", f"K{i}", 0, f"Problem number {i}")
        return run

    first = base().write(
        tmp_path / "a", [("a", "A", ["n1", "n2", "n3"]), ("b", "B", ["n4", "n5", "n6"])]
    )
    other = base()
    # The same mention under another id (another model wording): matched by chunk and quote.
    moved = other.mentions.pop("n2")
    other.mentions["n2-again"] = moved.model_copy(update={"id": "n2-again"})
    # One mention only the other run found, on K6, in K6's theme: tickets keep their themes.
    other.mention("n7", "K6", 0, "happened again")
    second = other.write(
        tmp_path / "b",
        [("x", "X", ["n1", "n2-again"]), ("y", "Y", ["n3"]), ("z", "Z", ["n4", "n5", "n6", "n7"])],
    )
    return first, second


def test_stability_against_another_run(tmp_path: Path) -> None:
    first, second = stability_runs(tmp_path)
    s = evaluate(first, against=second).stability
    assert s is not None
    assert (s.mentions_common, s.mentions_only_here, s.mentions_only_other) == (6, 0, 1)
    # Run a: {1,2,3} {4,5,6}; run b: {1,2} {3} {4,5,6}. Contingency a: [2, 1, 0], b: [0, 0, 3].
    # sum C(n_ij,2) = 1 + 3 = 4; rows 3 + 3 = 6; columns 1 + 0 + 3 = 4; C(6,2) = 15;
    # expected 6 * 4 / 15 = 1.6; max 5; ARI = 2.4 / 3.4 = 0.7059. Tickets: the same partition.
    assert s.mention_ari == pytest.approx(0.7059, abs=1e-4)
    assert (s.tickets_common, s.ticket_ari) == (6, pytest.approx(0.7059, abs=1e-4))
    assert evaluate(first, against=first).stability.mention_ari == 1.0  # type: ignore[union-attr]


def test_fuzzy_matching_is_bounded() -> None:
    text = "Dana said the export keeps timing out on large files, every single time."
    # A speaker label inside the excerpt: 10 of 11 words in order.
    span = fuzzy_span(text, "Participant: the export keeps timing out on large files, every single")
    assert span is not None and text[span[0] : span[1]].startswith("the export")
    # Half the words missing is not a match, nor is a two-word excerpt that is not verbatim.
    assert fuzzy_span(text, "the export keeps failing badly on huge uploads sometimes") is None
    assert fuzzy_span(text, "export broke") is None


def test_cli_json_and_table(tmp_path: Path) -> None:
    ws = interview_run(tmp_path / "ws")
    codes = coding_csv(tmp_path)
    runner = CliRunner()
    args = ["eval", "-w", str(ws), "--coding", str(codes), "--against", str(ws)]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    report = EvalReport.model_validate_json(first.stdout)
    assert report.coding is not None and report.coding.coverage == pytest.approx(0.7143)
    assert report.stability is not None and report.stability.mention_ari == 1.0
    # Same inputs, same bytes.
    assert runner.invoke(app, [*args, "--json"]).stdout == first.stdout
    table = runner.invoke(app, args)
    assert table.exit_code == 0
    assert "coverage: 71.4% (5 of 7 located passages" in table.stdout
    assert "one theme with count +-1: 1 (50.0%)" in table.stdout
    assert "quote fidelity: 87.5% (7 of 8 quotes" in table.stdout


def test_cli_column_mapping_and_bad_input(tmp_path: Path) -> None:
    ws = interview_run(tmp_path / "ws")
    odd = write_csv(
        tmp_path / "odd.csv",
        ["Who", "Bucket", "Words"],
        [["P1", "sync", "The bank sync drops every Monday."]],
    )
    runner = CliRunner()
    plain = runner.invoke(app, ["eval", "-w", str(ws), "--coding", str(odd)])
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        f"error: {odd}:1: no participant column recognised: not among the columns "
        "(Who, Bucket, Words); name it with --columns participant=<column>"
    ]
    columns = "participant=Who,code=Bucket,excerpt=Words"
    mapped = runner.invoke(
        app,
        ["eval", "-w", str(ws), "--coding", str(odd), "--json", "--columns", columns],
    )
    assert mapped.exit_code == 0, mapped.stderr
    assert json.loads(mapped.stdout)["coding"]["covered"] == 1
    missing = runner.invoke(app, ["eval", "-w", str(tmp_path / "nothing"), "--json"])
    assert missing.exit_code == 1
    assert "persona run first" in json.loads(missing.stdout)["error"]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe\x00")  # a UTF-16 byte-order mark over half a character
    bad = runner.invoke(app, ["eval", "-w", str(ws), "--coding", str(broken)])
    assert bad.exit_code == 1 and "Traceback" not in bad.stderr
    # The readers' decoder names the encoding its byte-order mark promised.
    assert bad.stderr.startswith(f"error: {broken}: not valid UTF-16 text")
    with pytest.raises(PersonaError, match="KEY=COLUMN"):
        parse_columns("speaker")


def test_a_real_offline_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through `persona run` and `persona eval` as a user would: the files eval reads are real."""
    monkeypatch.setenv("PERSONA_EMBEDDER", "hash")
    data = tmp_path / "in"
    data.mkdir()
    (data / "P1.txt").write_text(
        "Interviewer: What is hard?\n\nDana: The bank feed keeps disconnecting and I have to "
        "reconnect it every week. It is really frustrating.\n"
    )
    (data / "P2.txt").write_text(
        "Interviewer: What is hard?\n\nEli: Our bank feed disconnects all the time, so I "
        "reconnect it by hand. I hate it.\n"
    )
    ws = tmp_path / "ws"
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(data), "--llm", "offline", "-w", str(ws), "--json"])
    assert ran.exit_code in (0, 2), ran.output
    codes = write_csv(
        tmp_path / "codes.csv",
        ["participant", "code", "excerpt"],
        [
            ["P1", "bank feed", "The bank feed keeps disconnecting"],
            ["P2", "bank feed", "Our bank feed disconnects all the time"],
            ["P2", "question", "What is hard?"],
        ],
    )
    out = runner.invoke(app, ["eval", "-w", str(ws), "--coding", str(codes), "--json"])
    assert out.exit_code == 0, out.output
    report = EvalReport.model_validate_json(out.stdout)
    assert report.coding is not None
    assert (report.coding.exact, report.coding.not_located) == (3, 0)
    # The two complaints are found by the offline extractor; the interviewer's question is not.
    assert report.coding.covered == 2
    assert report.fidelity.quotes > 0 and report.fidelity.share == 1.0


def test_chance_coverage_counts_quotable_starts_only(tmp_path: Path) -> None:
    run = Run()
    interviewer = "Q" * 48
    said = "A" * 10 + "B" * 10 + "C" * 80  # 100 characters, said by the participant
    run.doc("P1", ("Interviewer", interviewer), ("Dana", said))
    run.mention("m1", "P1", 1, "B" * 10)  # the quote: the participant turn's characters 10-20
    ws = run.write(tmp_path / "ws", [("A", "Bs", ["m1"])])
    codes = write_csv(
        tmp_path / "c.csv", ["participant", "code", "excerpt"], [["P1", "c", "C" * 10]]
    )
    c = evaluate(ws, coding=codes).coding
    assert c is not None and c.covered == 0  # "C" * 10 first occurs right after the quote
    # A 10-character span overlaps the quote [10, 20) when it starts at 1..19 of the turn: 19 of
    # the turn's 100 start positions; the interviewer's 48 are not places a passage could be.
    assert c.chance_coverage == 0.19
    # The other way round: the quote ends where the passage [20, 30) starts, so it is not on it;
    # a 10-character quote would overlap the passage from starts 11..29, again 19 of 100.
    assert (c.quotes_in_coded, c.quotes_on_passages, c.chance_precision) == (1, 0, 0.19)


def test_equal_label_sizes_make_the_size_correlation_undefined(tmp_path: Path) -> None:
    ws = label_run(tmp_path / "ws")
    labels = write_csv(tmp_path / "l.csv", ["id", "label"], [["T1", "lost"], ["T4", "refund"]])
    report = evaluate(ws, labels=labels)
    assert report.labels is not None and report.labels.size_correlation is None
    assert any("every label has 1 tickets" in n for n in report.notes)
