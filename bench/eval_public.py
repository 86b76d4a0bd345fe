"""`persona run` + `persona eval` on public, human-coded studies and a labelled ticket corpus.

Nothing here is data: the script converts files from four public repositories into this tool's
inputs (a folder of transcripts with speaker labels or a tickets CSV, plus the human coding as a
coding CSV or a label CSV), runs `persona run <inputs> --llm offline|host -w <ws>` and
`persona eval`, and prints the numbers. Everything it writes goes under --data (default
/work/data), outside the repository; conversion is deterministic (same sources, same bytes).

Data sets (repository on GitHub, commit, files, licence):

- `pdpilot`: the PDPilot user study (Kerrigan et al., "PDPilot: Exploring Partial Dependence
  Plots Through Ranking, Filtering, and Clustering"): 7 semi-structured interviews with data
  scientists and model validators about a model-explanation tool, coded in MAXQDA by the
  authors (262 coded segments, 78 codes). DanielKerrigan/PDPilotUserStudy @
  42514894f50c0768e3137e1c5dab86e07204e7b0: results/transcripts/P1.pdf ... P7.pdf,
  results/coded-segments.pdf (MAXQDA export: document, code path, segment) and
  results/code-system.pdf (code names, to split a code path from its segment). BSD-3-Clause.
  PDF text is read with pypdf (`pip install pypdf`, measured with 7.1.1; bench only).
  The interviewer ("Dan") becomes `Dan (Interviewer):`. Problem codes (PDPILOT_PROBLEMS: the
  usage problems, every "PDPilot improvements" code and the two pain codes under
  "Explainability techniques") go to coding.csv; every code goes to coding_all.csv.
- `serdif`: the SERDIF usability study (Navarro-Gallinad, Orlandi and O'Sullivan, "Designing a
  usability study for health data researchers", Semantic Web Journal 2022): 17 think-aloud
  usability sessions, thematically coded in Taguette (1,930 tagged highlights, 22 tags).
  navarral/swj2022-usability-paper @ 8ce3b61b0ee9d0b5f3bbef4bcd3a8eca9fc8db1b:
  data/transcripts/raw/P*_GMT*.odt and
  data/transcripts/thematic-analysis/tags/csv/all_tags_20220303.csv. GPL-3.0 (the repository's
  licence). Task prompts ("3.a Please explain ...") and bracketed observer notes become
  `Moderator:` turns, "MODERATOR: ..." inside a paragraph a moderator turn of one sentence, the
  rest `Participant:`. Problem tags (SERDIF_PROBLEMS) go to coding.csv, all tags but the
  moderator's to coding_all.csv.
- `unsafe-rust`: "Against the Void" (McCormack et al., ICSE 2024): 19 semi-structured
  interviews with Rust developers about how they use unsafe code, coded in ATLAS.ti by the
  authors (1,006 quotations, 190 codes). icmccorm/against-the-void @
  83631921964ba210f3cc5765f526fcc05c01e75f: data/interviews/transcripts/N.md,
  data/interviews/coding/decisions.csv (quotation export: document, codes, text) and
  codebook.csv (code names, to split a cell holding several codes). No licence is stated in
  the repository: read it for evaluation, never redistribute it. Turns are the Markdown's
  `**Interviewer**` and `***Participant***` labels. Problem codes (UNSAFE_RUST_PROBLEMS: the
  codes whose name or definition states a difficulty, limitation or wish, chosen from the
  codebook before any run) go to coding.csv; every code to coding_all.csv.
- `banking77`: BANKING77 (Casanueva et al. 2020): online-banking customer queries labelled
  with one of 77 intents. PolyAI-LDN/task-specific-datasets @
  57ec275d8078af65b7731c2a98be812d844a6d6b: banking_data/test.csv (3,080 queries). CC-BY-4.0.
  Each query is a ticket `b77-NNNN` (its row number); labels.csv holds its intent.

Reproduce:

    git clone https://github.com/DanielKerrigan/PDPilotUserStudy           # and the other three
    pip install pypdf
    python bench/eval_public.py --repo pdpilot=PDPilotUserStudy \\
        --repo serdif=swj2022-usability-paper --repo unsafe-rust=against-the-void \\
        --repo banking77=task-specific-datasets

The inputs folder holds only transcripts or tickets; the coding and labels sit beside it, so
neither `persona run` nor a host-mode model answering its requests ever sees them.
A --repo path may be a checkout or a bare git directory (files are then read at the commit
above). Host mode: `--llm host` converts and runs until the model requests are written, prints
each workspace's pending folder and stops; answer them, run `persona resume -w <ws>` (again
until nothing is pending), then `--llm host --eval-only` prints the numbers. Timings are wall
clock of the `persona run` subprocess on a fresh workspace (offline) and of `persona eval`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

REPOS = {
    "pdpilot": ("DanielKerrigan/PDPilotUserStudy", "42514894f50c0768e3137e1c5dab86e07204e7b0"),
    "serdif": ("navarral/swj2022-usability-paper", "8ce3b61b0ee9d0b5f3bbef4bcd3a8eca9fc8db1b"),
    "unsafe-rust": ("icmccorm/against-the-void", "83631921964ba210f3cc5765f526fcc05c01e75f"),
    "banking77": ("PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b"),
}
# Where the sessions that wrote this script found the snapshots; --repo overrides.
DEFAULT_MIRROR = Path("/work/.mirror")

PDPILOT_PROBLEMS = {
    "Tool complexity",
    "Didn't know how to do something in PDPilot",
    "Couldn't find use for technique",
    "Over-reliance on guidance",
    "Pain point in comparing and understanding different types of plots",
    "No good approach to determing which plots to look at",
}
# Every code under this group is a problem or a request for a missing capability.
PDPILOT_PROBLEM_GROUP = "PDPilot improvements"
SERDIF_PROBLEMS = {
    "Task sequence complex",
    "Navigation complex",
    "Metadata content not useful or confusing",
    "Wording not clear",
    "Additional feature suggestion",
    "System issue",
    "Plot design complex",
    "Query process complex",
    "Additional explanation",
    "Event concept and approach not clear",
    "Search information process complex",
}
SERDIF_MODERATOR_TAGS = {"Moderator assist", "Moderator comment"}
UNSAFE_RUST_PROBLEMS = {
    "C++ is Difficult",
    "Shifting Ground",
    "Stigma Against Unsafe",
    "Difficult to Encapsulate",
    "Extensive, Non-local Unsafe",
    "Laziness Fights Tooling",
    "Bindings are a Fiddly Mess",
    "Limitation of Binding Tool",
    "Difficult FFI",
    "Miri doesn't support this feature",
    "Miri is slow",
    "Wants Solution",
    "Unsafe is Difficult to Understand",
}


# --------------------------------------------------------------------------- sources


class Source:
    """Files of one repository at its pinned commit, from a checkout or a git directory."""

    def __init__(self, path: Path, commit: str) -> None:
        self.path, self.commit = path, commit

    def read(self, name: str) -> bytes:
        plain = self.path / name
        if plain.is_file():
            return plain.read_bytes()
        out = subprocess.run(
            ["git", "--git-dir", str(self._git_dir()), "show", f"{self.commit}:{name}"],
            capture_output=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{self.path}: cannot read {name} at {self.commit[:10]}")
        return out.stdout

    def list(self, folder: str) -> list[str]:
        plain = self.path / folder
        if plain.is_dir():
            return sorted(f"{folder}/{p.name}" for p in plain.iterdir() if p.is_file())
        out = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self._git_dir()),
                "ls-tree",
                "--name-only",
                self.commit + ":" + folder,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return sorted(f"{folder}/{n}" for n in out.stdout.split())

    def _git_dir(self) -> Path:
        return self.path / ".git" if (self.path / ".git").exists() else self.path


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="\n")


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


# --------------------------------------------------------------------------- pdpilot


def _pdf_text(data: bytes) -> str:
    try:
        import pypdf
    except ImportError:
        raise SystemExit("pdpilot needs pypdf to read its PDFs: pip install pypdf") from None
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdpilot_transcript(text: str) -> str:
    """MAXQDA's transcript PDF as `Speaker: text` turns (page numbers and title dropped)."""
    turns: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.replace("\t", " ").strip()
        # Page numbers ("2/5"), the title, and the turn numbers MAXQDA prints down the margin
        # (extracted as one number per line at the end of each page).
        if not line or re.fullmatch(r"\d+(/\d+)?", line) or (not turns and line == "Interview"):
            continue
        label = re.fullmatch(r"([A-Za-z]+):", line)
        if label:
            # "Particpant" is misspelt once in P5; everyone but the interviewer is the participant.
            turns.append(("Dan (Interviewer)" if label[1] == "Dan" else "Participant", []))
        elif turns:
            turns[-1][1].append(line)
    return "\n\n".join(f"{who}: {' '.join(words)}" for who, words in turns if words) + "\n"


def _code_names(code_system: str) -> list[list[str]]:
    """Each code-system row as words (name, then its memo), frequency dropped."""
    rows = []
    for line in code_system.splitlines()[2:]:
        match = re.fullmatch(r"(.*?)\s+\d+", line.strip())
        if match:
            rows.append(match[1].split())
    return rows


def pdpilot_segments(text: str, code_system: str) -> list[tuple[str, str, str]]:
    """(participant, code path, segment) rows of MAXQDA's coded-segments PDF."""
    rows: list[list[str]] = []
    for line in text.splitlines()[2:]:
        if re.match(r"P\d+ ", line):
            rows.append([line])
        elif rows:
            rows[-1].append(line)
    joined = [" ".join(part.strip() for part in row) for row in rows]
    # The PDF repeats a row's first line once (P5, "Didn't know how ..."): drop the fragment.
    joined = [
        j
        for i, j in enumerate(joined)
        if not (i + 1 < len(joined) and joined[i + 1].startswith(j) and joined[i + 1] != j)
    ]
    names = _code_names(code_system)
    out = []
    for row in joined:
        participant, rest = row.split(" ", 1)
        *parents, last = rest.split(" > ")
        # The leaf is the longest code name (a word prefix of a code-system row) `last` starts
        # with; a line break can glue the leaf's last word to the segment ("overfittingI").
        leaf = max(
            (
                " ".join(words[:k])
                for words in names
                for k in range(1, len(words) + 1)
                if last.startswith(" ".join(words[:k]))
            ),
            key=len,
            default="",
        )
        if not leaf:
            raise SystemExit(f"pdpilot: no code name starts {last[:60]!r}")
        out.append((participant, " > ".join([*parents, leaf]), last[len(leaf) :].strip()))
    return out


def convert_pdpilot(src: Source, out: Path) -> dict[str, Path]:
    inputs = _fresh(out / "inputs")
    for i in range(1, 8):
        text = _pdf_text(src.read(f"results/transcripts/P{i}.pdf"))
        (inputs / f"P{i}.txt").write_text(pdpilot_transcript(text), encoding="utf-8", newline="\n")
    segments = pdpilot_segments(
        _pdf_text(src.read("results/coded-segments.pdf")),
        _pdf_text(src.read("results/code-system.pdf")),
    )
    leaf = [(p, path.split(" > ")[-1], path, seg) for p, path, seg in segments]
    problems = [
        [p, code, seg]
        for p, code, path, seg in leaf
        if code in PDPILOT_PROBLEMS or path.startswith(PDPILOT_PROBLEM_GROUP + " > ")
    ]
    _write_csv(out / "coding.csv", ["Document name", "Code", "Segment"], problems)
    _write_csv(
        out / "coding_all.csv",
        ["Document name", "Code", "Segment"],
        [[p, c, s] for p, c, _, s in leaf],
    )
    return {"inputs": inputs, "coding": out / "coding.csv", "coding_all": out / "coding_all.csv"}


# --------------------------------------------------------------------------- serdif


def _odt_paragraphs(data: bytes) -> list[str]:
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("content.xml"))
    paras = []
    for node in root.iter():
        if node.tag.endswith("}p") or node.tag.endswith("}h"):
            text = " ".join("".join(node.itertext()).split())
            if text:
                paras.append(text)
    return paras


TASK_PROMPT = re.compile(r"^\d+(?:\.[a-z])?\s")
MODERATOR_SAYS = re.compile(r"MODERATOR:\s*(.+?[.?!])(?=\s|$)")


def serdif_transcript(paragraphs: list[str]) -> str:
    """Task prompts and observer notes as the moderator's turns, the rest the participant's."""
    turns: list[tuple[str, str]] = []
    for para in paragraphs:
        if TASK_PROMPT.match(para) or (para.startswith("(") and para.endswith(")")):
            turns.append(("Moderator", para))
            continue
        pos = 0
        for match in MODERATOR_SAYS.finditer(para):
            if para[pos : match.start()].strip():
                turns.append(("Participant", para[pos : match.start()].strip()))
            turns.append(("Moderator", match[1].strip()))
            pos = match.end()
        if para[pos:].strip():
            turns.append(("Participant", para[pos:].strip()))
    return "\n\n".join(f"{who}: {text}" for who, text in turns) + "\n"


def convert_serdif(src: Source, out: Path) -> dict[str, Path]:
    inputs = _fresh(out / "inputs")
    for name in src.list("data/transcripts/raw"):
        if name.endswith(".odt"):
            pid = Path(name).stem.split("_")[0]
            text = serdif_transcript(_odt_paragraphs(src.read(name)))
            (inputs / f"{pid}.txt").write_text(text, encoding="utf-8", newline="\n")
    raw = src.read("data/transcripts/thematic-analysis/tags/csv/all_tags_20220303.csv")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    coded = [
        [r["document"].split("_")[0], r["tag"], r["content"]]
        for r in rows
        if r["tag"] not in SERDIF_MODERATOR_TAGS
    ]
    _write_csv(
        out / "coding.csv",
        ["participant", "tag", "content"],
        [r for r in coded if r[1] in SERDIF_PROBLEMS],
    )
    _write_csv(out / "coding_all.csv", ["participant", "tag", "content"], coded)
    return {"inputs": inputs, "coding": out / "coding.csv", "coding_all": out / "coding_all.csv"}


# --------------------------------------------------------------------------- unsafe-rust

_RUST_LABEL = re.compile(r"^(\*\*Interviewer\*\*|\*\*\*Participant\*\*\*)\\?\s*$")


def unsafe_rust_transcript(markdown: str) -> str:
    """The Markdown's bold speaker labels as `Interviewer:` / `Participant:` turns."""
    turns: list[tuple[str, list[str]]] = []
    for line in markdown.splitlines():
        label = _RUST_LABEL.match(line.strip())
        if label:
            turns.append(("Interviewer" if "Interviewer" in label[1] else "Participant", []))
        elif turns and line.strip():
            turns[-1][1].append(line.strip().rstrip("\\").strip())
    return "\n\n".join(f"{who}: {' '.join(lines)}" for who, lines in turns if lines) + "\n"


def _split_codes(cell: str, names: list[str]) -> list[str]:
    """The codes in one ATLAS.ti cell (several codes share a cell, some with commas in them)."""
    found = []
    for name in names:  # longest first, so no name is found inside a longer one
        if name in cell:
            found.append(name)
            cell = cell.replace(name, "")
    return sorted(found)


def convert_unsafe_rust(src: Source, out: Path) -> dict[str, Path]:
    inputs = _fresh(out / "inputs")
    for name in src.list("data/interviews/transcripts"):
        if name.endswith(".md"):
            text = unsafe_rust_transcript(src.read(name).decode("utf-8-sig"))
            (inputs / f"P{Path(name).stem}.txt").write_text(text, encoding="utf-8", newline="\n")
    book = csv.DictReader(
        io.StringIO(src.read("data/interviews/coding/codebook.csv").decode("utf-8-sig"))
    )
    names = sorted((r["Code"] for r in book), key=lambda n: (-len(n), n))
    missing = sorted(UNSAFE_RUST_PROBLEMS - set(names))
    if missing:  # another commit's codebook names a code differently: say so, drop nothing
        raise SystemExit(f"unsafe-rust: problem codes not in the codebook: {', '.join(missing)}")
    raw = src.read("data/interviews/coding/decisions.csv").decode("utf-8-sig")
    coded = [
        [r["Document"].removeprefix("Interview "), code, r["Text Content"]]
        for r in csv.DictReader(io.StringIO(raw))
        for code in _split_codes(r["Codes"], names)
    ]
    header = ["Document name", "Code", "Segment"]
    _write_csv(out / "coding.csv", header, [r for r in coded if r[1] in UNSAFE_RUST_PROBLEMS])
    _write_csv(out / "coding_all.csv", header, coded)
    return {"inputs": inputs, "coding": out / "coding.csv", "coding_all": out / "coding_all.csv"}


# --------------------------------------------------------------------------- banking77


def convert_banking77(src: Source, out: Path) -> dict[str, Path]:
    inputs = _fresh(out / "inputs")
    rows = list(csv.DictReader(io.StringIO(src.read("banking_data/test.csv").decode("utf-8"))))
    ids = [f"b77-{i:04d}" for i in range(1, len(rows) + 1)]
    _write_csv(
        inputs / "tickets.csv",
        ["id", "text"],
        [[i, r["text"]] for i, r in zip(ids, rows, strict=True)],
    )
    _write_csv(
        out / "labels.csv",
        ["id", "intent"],
        [[i, r["category"]] for i, r in zip(ids, rows, strict=True)],
    )
    return {"inputs": inputs, "labels": out / "labels.csv"}


CONVERTERS: dict[str, Callable[[Source, Path], dict[str, Path]]] = {
    "pdpilot": convert_pdpilot,
    "serdif": convert_serdif,
    "unsafe-rust": convert_unsafe_rust,
    "banking77": convert_banking77,
}


# --------------------------------------------------------------------------- run and measure


def persona(args: list[str]) -> tuple[int, float, str]:
    """Exit code, wall seconds and stdout of one `persona` command (the installed package)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "agent", *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 2, 3):
        sys.stderr.write(done.stderr)
        raise SystemExit(f"persona {' '.join(args)} exited {done.returncode}")
    return done.returncode, seconds, done.stdout


def evaluate(name: str, files: dict[str, Path], ws: Path, mode: str) -> dict[str, object]:
    results: dict[str, object] = {}
    runs = [("coding", ["--coding", str(files["coding"])])] if "coding" in files else []
    runs += (
        [("coding_all", ["--coding", str(files["coding_all"])])] if "coding_all" in files else []
    )
    runs += (
        [("labels", ["--labels", str(files["labels"]), "--label-column", "intent"])]
        if "labels" in files
        else []
    )
    for key, extra in runs:
        _, seconds, stdout = persona(["eval", "-w", str(ws), "--json", *extra])
        report = json.loads(stdout)
        (ws.parent / f"eval-{mode}-{key}.json").write_text(stdout, encoding="utf-8")
        results[key] = report
        results[f"{key}_seconds"] = round(seconds, 1)
    return results


def summarise(name: str, mode: str, run_seconds: float | None, results: dict[str, object]) -> None:
    head = f"== {name} [{mode}]" + (
        f": persona run {run_seconds:.1f} s" if run_seconds is not None else ""
    )
    print(head)
    for key in ("coding", "coding_all"):
        report = results.get(key)
        if not isinstance(report, dict):
            continue
        c = report["coding"]
        located = c["exact"] + c["fuzzy"]
        print(
            f"  {key}: {c['passages']} passages, {c['units']} {c['unit']}s, {c['codes']} codes; "
            f"located {located} ({c['fuzzy']} fuzzy), not located {c['not_located']}, "
            f"unknown id {c['unknown_id']}; coverage {c['coverage']} (chance "
            f"{c['chance_coverage']}); shared codes "
            f"{c['shared_codes']}, recovered {c['recovered']} ({c['recovery']}); "
            f"quote fidelity {report['fidelity']['share']}; {report['mentions']} mentions, "
            f"{report['themes']} themes; eval {results[key + '_seconds']} s"
        )
        for row in c["per_code"]:
            print(
                f"    {row['code'][:50]:<50} n={row['n']:<2} best={str(row['best_theme_label'])[:40]:<40} "
                f"holds={row['holds']} count={row['theme_count']} themes={row['themes']} "
                f"{'OK' if row['recovered'] else '-'}"
            )
    report = results.get("labels")
    if isinstance(report, dict):
        lab = report["labels"]
        print(
            f"  labels: {lab['tickets']} tickets, {lab['labels']} labels, {lab['clusters']} clusters; "
            f"left without a theme {lab['left_without_theme']} ({lab['left_without_theme_share']}); "
            f"V {lab['v_measure']} (singleton {lab['singleton_v_measure']}), ARI {lab['ari']}, "
            f"size r {lab['size_correlation']}, most labels in one theme "
            f"{lab['most_labels_in_one_theme']}; quote fidelity {report['fidelity']['share']}; "
            f"{report['mentions']} mentions, {report['themes']} themes; eval {results['labels_seconds']} s"
        )


def _sources(specs: list[str]) -> dict[str, Path]:
    paths = {
        name: DEFAULT_MIRROR / f"{repo.replace('/', '+')}" / "repo"
        for name, (repo, _) in REPOS.items()
    }
    for spec in specs:
        name, _, path = spec.partition("=")
        if name not in REPOS or not path:
            raise SystemExit(
                f"--repo {spec}: expected NAME=PATH with NAME one of {', '.join(REPOS)}"
            )
        paths[name] = Path(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--datasets", default=",".join(REPOS))
    parser.add_argument("--data", type=Path, default=Path("/work/data"))
    parser.add_argument(
        "--repo", action="append", default=[], help="NAME=PATH (checkout or git dir)"
    )
    parser.add_argument("--llm", choices=("offline", "host"), default="offline")
    parser.add_argument("--eval-only", action="store_true", help="measure the existing workspace")
    args = parser.parse_args()
    sources = _sources(args.repo)
    for name in [n.strip() for n in args.datasets.split(",") if n.strip()]:
        if name not in CONVERTERS:
            raise SystemExit(f"unknown data set {name}; known: {', '.join(CONVERTERS)}")
        out = args.data / name
        out.mkdir(parents=True, exist_ok=True)
        files = CONVERTERS[name](Source(sources[name], REPOS[name][1]), out)
        ws = out / f"ws-{args.llm}"
        run_seconds = None
        if not args.eval_only:
            if args.llm == "offline" and ws.exists():
                shutil.rmtree(ws)
            code, run_seconds, _ = persona(
                ["run", str(files["inputs"]), "--llm", args.llm, "-w", str(ws)]
            )
            if code == 3:
                print(f"== {name} [host]: waiting for answers in {ws / 'host' / 'pending'}")
                print(f"   then: persona resume -w {ws}   (until nothing is pending), and")
                print(f"   python {sys.argv[0]} --datasets {name} --llm host --eval-only")
                continue
        summarise(name, args.llm, run_seconds, evaluate(name, files, ws, args.llm))


if __name__ == "__main__":
    main()
