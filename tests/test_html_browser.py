"""The HTML library in a real browser: headless Chromium renders it, not blank, no console errors."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from agent.render import load_report_data, render_files

from ._render_helpers import make_workspace

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]
WIDTH, HEIGHT = 1200, 1400

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium); `apt-get install chromium`",
)


def run_chromium(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless run with a fresh profile; the whole process group is ended on timeout."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, url]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("chromium did not finish within 90 s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def console_messages(stderr: str) -> list[str]:
    """Console output and uncaught errors as Chromium logs them with --enable-logging; the
    browser's own pages ("source: chrome://...", e.g. its "Slow network is detected" notice when
    run without a network) are not the page under test."""
    return [
        line
        for line in stderr.splitlines()
        if (":CONSOLE" in line or "Uncaught" in line) and "source: chrome://" not in line
    ]


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and unfiltered rows of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, "only 8-bit, non-interlaced PNGs"
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride, bpp = width * channels, channels
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        if kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind in (1, 3, 4):
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                up, corner = prev[x], prev[x - bpp] if x >= bpp else 0
                if kind == 1:
                    line[x] = (line[x] + left) & 255
                elif kind == 3:
                    line[x] = (line[x] + (left + up) // 2) & 255
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def luminance(rows: list[bytes], channels: int, top: int, bottom: int) -> list[float]:
    """Luminance of every 4th pixel in rows [top, bottom)."""
    values = []
    for row in rows[top:bottom]:
        for x in range(0, len(row) - channels + 1, channels * 4):
            r, g, b = row[x], row[x + 1], row[x + 2]
            values.append(0.299 * r + 0.587 * g + 0.114 * b)
    return values


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    ws = make_workspace(tmp / "ws")
    html = render_files(load_report_data(ws), ["html"])["index.html"]
    path = tmp / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_page_renders_not_blank_without_console_errors(page: Path) -> None:
    shot = page.parent / "shot.png"
    result = run_chromium(
        page.parent, page.as_uri(), f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}"
    )
    assert shot.exists(), result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    width, height, channels, rows = decode_png(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    lum = luminance(rows, channels, 0, height)
    mean = sum(lum) / len(lum)
    spread = (sum((v - mean) ** 2 for v in lum) / len(lum)) ** 0.5
    assert spread > 25, f"page looks blank (luminance spread {spread:.1f})"
    assert len({round(v) for v in lum}) > 40
    # The styled masthead is dark and the body light: the inline CSS was applied.
    masthead = luminance(rows, channels, 20, 120)
    body = luminance(rows, channels, 600, 1300)
    assert sum(masthead) / len(masthead) < 90
    assert sum(body) / len(body) > 200


def test_quote_markup_stays_text_in_the_dom(page: Path) -> None:
    result = run_chromium(page.parent, page.as_uri(), "--dump-dom")
    dom = result.stdout
    assert "Dana, the Month-End Closer" in dom
    assert "<script" not in dom.lower()
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in dom
    assert console_messages(result.stderr) == []


def test_console_check_catches_errors(tmp_path: Path) -> None:
    """The console check itself works: a page that throws is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<p>x</p><script>throw new Error('boom')</script>", encoding="utf-8")
    result = run_chromium(tmp_path, bad.as_uri(), "--dump-dom")
    messages = console_messages(result.stderr)
    assert any("boom" in m for m in messages), result.stderr[-2000:]
