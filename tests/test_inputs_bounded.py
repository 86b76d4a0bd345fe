"""Hostile and odd inputs: each one is refused or skipped by name, quickly, and the run goes on."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app

REPO = Path(__file__).resolve().parents[1]
GOOD = "Interviewer: What is hard?\n\nDana: The bank feed keeps disconnecting every Monday.\n"


def _bomb(levels: int = 9) -> str:
    """Front matter where each key repeats the previous one nine times: 9**9 strings if expanded."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "---\n" + "\n".join(lines) + "\n---\nInterviewer: Hi\nDana: Hello\n"


def _ingest(folder: Path | str, ws: Path, *extra: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(ws), "--embedder", "hash", "--json", *extra]
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


def _skipped(summary: dict) -> dict[str, dict]:
    return {Path(s["path"]).name: s for s in summary["skipped"]}


def _chunk_text(ws: Path) -> str:
    return (ws / "chunks.jsonl").read_text(encoding="utf-8")


def test_a_yaml_alias_bomb_in_front_matter_is_refused_fast_and_named(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    bomb = _bomb()
    padding = "# " + "x" * 60 + "\n"
    # The probe's size: about 8 KB of front matter (comments pad it; aliases do the damage).
    bomb = bomb.replace("---\n", "---\n" + padding * ((8192 - len(bomb)) // len(padding)), 1)
    assert 7000 < len(bomb.encode()) <= 8192
    (folder / "P01-bomb.md").write_text(bomb)
    (folder / "P02-dana.txt").write_text(GOOD)
    began = time.perf_counter()
    code, summary, _ = _ingest(folder, tmp_path / "ws")
    assert time.perf_counter() - began < 20  # the probe's run took 237 s and 3.4 GB
    assert code == 2 and summary["counts"]["interviews"] == 1
    entry = _skipped(summary)["P01-bomb.md"]
    assert "front matter" in entry["reason"] and "aliases (*l0)" in entry["reason"]
    # Line 2 of the file is the first key; the first alias is on the line after the padding.
    lines = bomb.splitlines()
    assert lines[entry["line"] - 1].startswith("l1: &l1 [*l0")


def test_review_and_rules_yaml_refuse_aliases_too(tmp_path: Path) -> None:
    from agent.errors import ConfigError, InputError
    from agent.review_file import parse_review_text
    from agent.segment_rules import load_segment_config

    with pytest.raises(InputError) as review_error:
        parse_review_text("persona_id: &p x\nstatus: *p\n", tmp_path / "dana.yaml")
    assert review_error.value.line == 2 and "aliases" in review_error.value.reason
    rules = tmp_path / "rules.yaml"
    rules.write_text(_bomb().split("---\n")[1])
    with pytest.raises(ConfigError, match="aliases"):
        load_segment_config(rules, "weekly", None)


def test_a_nul_byte_past_the_first_block_is_refused_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    body = "".join(f"Dana: Sentence {i} about the bank feed.\n" for i in range(400))
    assert len(body) > 8192
    (folder / "P01-late-nul.txt").write_bytes(body.encode() + b"Dana: tail\x00secret\n")
    (folder / "P02-dana.txt").write_text(GOOD)
    (folder / "tickets.csv").write_bytes(
        b"id,description\n"
        + b"".join(b"%d,ticket %d text\n" % (i, i) for i in range(900))
        + b"901,hidden\x00payload\n"
    )
    code, summary, _ = _ingest(folder, tmp_path / "ws")
    assert code == 2
    skipped = _skipped(summary)
    assert skipped["P01-late-nul.txt"]["line"] == 401
    assert "binary" in skipped["P01-late-nul.txt"]["reason"]
    assert skipped["tickets.csv"]["line"] == 902
    chunks = _chunk_text(tmp_path / "ws")
    assert "\\u0000" not in chunks and "Sentence 12 about" not in chunks
    assert "every Monday" in chunks


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_files_are_decoded_from_their_bom(tmp_path: Path, codec: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    bom = {
        "utf-16-le": b"\xff\xfe",
        "utf-16-be": b"\xfe\xff",
        "utf-32-le": b"\xff\xfe\x00\x00",
        "utf-32-be": b"\x00\x00\xfe\xff",
    }[codec]
    text = "Interviewer: Wie läuft der Monatsabschluss?\n\nDana: Der Bankabgleich bricht ab — jedes Mal.\n"
    (folder / "P01-dana.txt").write_bytes(bom + text.encode(codec))
    (folder / "tickets.csv").write_bytes(
        bom + "id,description\nT1,Export schlägt fehl\n".encode(codec)
    )
    code, summary, _ = _ingest(folder, tmp_path / "ws")
    assert code == 0, summary["skipped"]
    assert summary["counts"]["interviews"] == 1 and summary["counts"]["tickets"] == 1
    chunks = _chunk_text(tmp_path / "ws")
    assert "Der Bankabgleich bricht ab — jedes Mal." in chunks and "schlägt" in chunks


def test_utf16_without_a_bom_gets_a_hint(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P01.txt").write_bytes("Dana: hello there\n".encode("utf-16-le"))
    (folder / "P02.txt").write_text(GOOD)
    _, summary, _ = _ingest(folder, tmp_path / "ws")
    assert "UTF-16 without a byte-order mark" in _skipped(summary)["P01.txt"]["reason"]


def _zoo(folder: Path, outside: Path) -> None:
    """A folder with one of every kind of path that is not a plain, readable input."""
    (folder / "sub").mkdir(parents=True)
    (folder / "P01-dana.txt").write_text(GOOD)
    (folder / "sub" / "P02-sam.txt").write_text(GOOD.replace("Dana", "Sam"))
    (outside / "secret.txt").write_text("Root: the password is hunter2\n")
    os.symlink(outside / "secret.txt", folder / "passwd-link.txt")
    os.symlink(folder, folder / "sub" / "loop")  # a link back up the tree
    os.symlink(folder / "sub" / "self-a", folder / "sub" / "self-b")
    os.symlink(folder / "sub" / "self-b", folder / "sub" / "self-a")  # a two-link loop
    os.symlink(folder / "gone.txt", folder / "dangling.txt")
    os.symlink(folder / "P01-dana.txt", folder / "alias.txt")  # inside: read once
    os.mkfifo(folder / "pipe.txt")
    (folder / "book.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "screenshot.png").write_bytes(b"\x89PNG\r\n")
    (folder / "call.m4a").write_bytes(b"\x00")
    (folder / "notes").write_text("no suffix")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    (folder / "README.md").write_text("About these interviews.\n")


def test_every_path_in_a_folder_is_read_or_named_with_its_reason(tmp_path: Path) -> None:
    folder, outside = tmp_path / "in", tmp_path / "elsewhere"
    outside.mkdir()
    _zoo(folder, outside)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock.txt"))
        code, summary, _ = _ingest(folder, tmp_path / "ws")
    assert code == 2 and summary["counts"]["interviews"] == 2
    reasons = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert "outside the folders given; not followed" in reasons["passwd-link.txt"]
    assert "symbolic link loop" in reasons["loop"]
    assert "symbolic link loop" in reasons["self-a"] and "symbolic link loop" in reasons["self-b"]
    assert "broken symbolic link" in reasons["dangling.txt"]
    assert "named pipe" in reasons["pipe.txt"] and "socket" in reasons["sock.txt"]
    assert "save it as CSV" in reasons["book.xlsx"]
    assert "images are not read" in reasons["screenshot.png"]
    assert "export its transcript" in reasons["call.m4a"]
    assert "unsupported file type (no suffix)" in reasons["notes"]
    notes = " ".join(summary["notes"])
    assert "README.md (about the inputs" in notes and ".git (hidden)" in notes
    assert ".DS_Store (hidden)" in notes and "alias.txt (= " in notes
    # Every entry of the folder is accounted for: read, skipped or in a note.
    index = json.loads((tmp_path / "ws" / "ingest_index.json").read_text())
    read = {Path(p).relative_to(folder) for p in index["files"]}
    assert read == {Path("P01-dana.txt"), Path("sub/P02-sam.txt")}
    for sub in (Path("."), Path("sub")):
        for name in os.listdir(folder / sub):
            entry = sub / name
            accounted = (
                name in reasons
                or entry in read
                or name in notes
                or ((folder / entry).is_dir() and any(entry in r.parents for r in read))
            )
            assert accounted, entry
    assert "hunter2" not in _chunk_text(tmp_path / "ws")


def test_a_link_to_another_folder_given_is_followed(tmp_path: Path) -> None:
    folder, other = tmp_path / "in", tmp_path / "other"
    folder.mkdir()
    other.mkdir()
    (other / "P03-kim.txt").write_text(GOOD.replace("Dana", "Kim"))
    (folder / "P01-dana.txt").write_text(GOOD)
    os.symlink(other / "P03-kim.txt", folder / "kim.txt")
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(folder),
            str(other),
            "-w",
            str(tmp_path / "ws"),
            "--embedder",
            "hash",
            "--json",
        ],
    )
    summary = json.loads(result.stdout)
    # Both folders were given, so the link stays inside them; the file is read once.
    assert result.exit_code == 0 and summary["counts"]["interviews"] == 2, summary


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_unreadable_folders_and_files_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / "P01-dana.txt").write_text(GOOD)
    (folder / "locked" / "P09.txt").write_text(GOOD)
    (folder / "P02-secret.txt").write_text(GOOD)
    ws = tmp_path / "ws"
    os.chmod(folder / "locked", 0)
    os.chmod(folder / "P02-secret.txt", 0)
    try:
        # Root reads anything; without the DAC capabilities it obeys permission bits like a user.
        out = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-dac_override,-dac_read_search",
                sys.executable,
                "-m",
                "agent",
                "ingest",
                str(folder),
                "-w",
                str(ws),
                "--embedder",
                "hash",
                "--json",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    finally:
        os.chmod(folder / "locked", 0o755)
        os.chmod(folder / "P02-secret.txt", 0o644)
    if "Operation not permitted" in out.stderr and not out.stdout:
        pytest.skip(f"setpriv cannot drop capabilities here: {out.stderr.strip()}")
    assert "Traceback" not in out.stderr, out.stderr
    summary = json.loads(out.stdout)
    reasons = _skipped(summary)
    assert out.returncode == 2 and summary["counts"]["interviews"] == 1
    assert reasons["locked"]["reason"] == "cannot read folder: Permission denied"
    assert reasons["P02-secret.txt"]["reason"] == "cannot read: Permission denied"


def test_file_names_with_control_characters_reach_the_terminal_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P01-dana.txt").write_text(GOOD)
    (folder / "evil\x1b[2J\nname.xlsx").write_bytes(b"PK")
    (folder / "bidi\u202etxt.exe").write_bytes(b"MZ")
    (folder / "nul\x07.txt").write_bytes(b"Dana: hi\x00\n")
    if sys.platform != "darwin":
        (folder / os.fsdecode(b"latin\xe9.txt")).write_text(GOOD)
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "-w", str(tmp_path / "ws"), "--embedder", "hash"]
    )
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "evil\\x1b[2J\\nname.xlsx: unsupported file type .xlsx" in out
    assert "bidi\\u202etxt.exe" in out and "nul\\x07.txt" in out
    if sys.platform != "darwin":
        assert "latin\\xe9.txt: file name is not valid UTF-8" in out
        # Named on the command line, it is refused the same way, not written into the index.
        given = folder / os.fsdecode(b"latin\xe9.txt")
        again = CliRunner().invoke(
            app,
            [
                "ingest",
                str(given),
                str(folder / "P01-dana.txt"),
                "-w",
                str(tmp_path / "ws"),
                "--embedder",
                "hash",
            ],
        )
        assert (
            again.exit_code == 2 and "latin\\xe9.txt: file name is not valid UTF-8" in again.stdout
        )
    # Every other line of the skipped list is one entry: no raw newline split a name.
    skipped = out.split("\n  skipped ")[1].splitlines()[1:]
    assert all(line.startswith("    ") for line in skipped)


def test_the_workspace_given_as_input_is_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P01-dana.txt").write_text(GOOD)
    ws = tmp_path / "ws"
    assert _ingest(folder, ws)[0] == 0
    before = sorted(p.name for p in ws.iterdir())
    for target in (ws, ws / "chunks.jsonl"):
        result = CliRunner().invoke(app, ["run", str(target), "-w", str(ws)])
        assert result.exit_code == 1
        lines = [x for x in result.stderr.splitlines() if x.startswith("error:")]
        assert len(lines) == 1 and "persona's own outputs, not an input" in lines[0], result.stderr
    assert sorted(p.name for p in ws.iterdir()) == before  # no run_args.json, no last_run.json
    # Another workspace (not the one in use) is refused too.
    result = CliRunner().invoke(
        app, ["ingest", str(ws), "-w", str(tmp_path / "ws2"), "--embedder", "hash"]
    )
    assert result.exit_code == 1 and "is a persona workspace" in result.stderr
    assert not (tmp_path / "ws2").exists()


def test_a_workspace_inside_the_folder_is_skipped_once(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "P01-dana.txt").write_text(GOOD)
    ws = folder / "out"
    first = _ingest(folder, ws)
    assert first[0] == 0 and first[1]["counts"]["documents"] == 1
    code, summary, _ = _ingest(folder, ws)
    # Named once, and not a failure: exit 0, and its 1 chunk is not read back as tickets.
    assert code == 0 and summary["counts"]["documents"] == 1
    assert [s["path"] for s in summary["skipped"]] == [str(ws)]
    assert "the workspace" in summary["skipped"][0]["reason"]
    # A second workspace left in the folder from another run is skipped as a whole too.
    shutil.copytree(ws, folder / "old-run")
    code, summary, _ = _ingest(folder, ws)
    assert code == 0 and summary["counts"]["documents"] == 1
    assert sorted(Path(s["path"]).name for s in summary["skipped"]) == ["old-run", "out"]


def test_missing_users_table_stops_the_run_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P01-dana.txt").write_text(GOOD)
    ws = tmp_path / "ws"
    result = CliRunner().invoke(
        app, ["run", str(folder), "--users", str(tmp_path / "nope.csv"), "-w", str(ws)]
    )
    assert result.exit_code == 1
    lines = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert lines == [
        f"error: --users {tmp_path / 'nope.csv'}: no such file; give the user table (CSV, TSV, JSONL or Parquet)"
    ]
    assert not ws.exists()


NEEDS_WORKSPACE = [
    ["search", "bank feed"],
    ["extract"],
    ["themes"],
    ["segment"],
    ["draft"],
    ["report"],
    ["resume"],
    ["review", "export"],
    ["review", "apply"],
    ["review", "status"],
    ["review", "set", "Dana", "goals", "--confirm"],
    ["review", "mark", "Dana"],
]


@pytest.mark.parametrize("command", NEEDS_WORKSPACE, ids=" ".join)
def test_commands_without_a_workspace_say_so_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    ws = tmp_path / "ws"
    for json_out in ([], ["--json"]):
        result = CliRunner().invoke(app, [*command, "-w", str(ws), *json_out])
        assert result.exit_code == 1, result.output
        assert f"error: no workspace at {ws}: run `persona run FOLDER`" in result.stderr
        assert "Traceback" not in result.stderr
    assert not ws.exists() and list(tmp_path.iterdir()) == []


def test_no_readable_inputs_lists_every_supported_suffix(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deck.key").write_bytes(b"x")
    result = CliRunner().invoke(app, ["ingest", str(folder), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1
    for suffix in (".csv", ".tsv", ".parquet", ".jsonl", ".docx", ".vtt", ".srt", ".md"):
        assert suffix in result.stderr
    assert "deck.key (unsupported file type .key" in result.stderr
