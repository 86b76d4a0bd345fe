"""A small PDF writer for test fixtures: text placed line by line, as transcript PDFs are laid out.

Only the standard Helvetica font (no embedding) and WinAnsi text, which is all a transcript
needs; pypdf reads the result the way it reads PDFs exported from Word or a transcription tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Text:
    """One run of text at (x, y) points from the page's bottom-left corner."""

    x: float
    y: float
    text: str
    size: float = 10.0


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _content(items: Sequence[Text]) -> bytes:
    parts = [b"BT"]
    for item in items:
        parts.append(
            b"/F1 %.1f Tf 1 0 0 1 %.1f %.1f Tm (%s) Tj"
            % (item.size, item.x, item.y, _escape(item.text))
        )
    parts.append(b"ET")
    return b"\n".join(parts)


def make_pdf(pages: Sequence[Sequence[Text]], title: str | None = None) -> bytes:
    """PDF bytes with one page (612 x 792 points, US Letter) per list of text runs."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    tree = add(b"")
    kids = []
    for items in pages:
        stream = _content(items)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, font, content)
            )
        )
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    info = add(b"<< /Title (%s) /Producer (tests/_pdf.py) >>" % _escape(title)) if title else None
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def transcript_pages(
    lines: Sequence[str],
    *,
    per_page: int = 28,
    header: str = "",
    footer: str = "",
    numbered: bool = True,
    first_number: int = 1,
) -> list[list[Text]]:
    """Lay out transcript lines as a typeset transcript: a running header, a footer with the page
    number, and line numbers in the left margin (a column of their own, as court and academic
    transcripts print them)."""
    pages: list[list[Text]] = []
    number = first_number
    for start in range(0, len(lines), per_page):
        page_no = len(pages) + 1
        items: list[Text] = []
        if header:
            items.append(Text(72, 750, header, 9))
        body = lines[start : start + per_page]
        if numbered:
            # The margin column is drawn first, as a separate block, like a numbered-lines layout.
            for i in range(len(body)):
                items.append(Text(40, 710 - i * 22, str(number + i), 8))
        for i, line in enumerate(body):
            items.append(Text(72, 710 - i * 22, line))
        number += len(body)
        if footer:
            items.append(Text(72, 40, footer.replace("{page}", str(page_no)), 9))
        pages.append(items)
    total = len(pages)
    for items in pages:
        for item in items:
            item.text = item.text.replace("{total}", str(total))
    return pages
