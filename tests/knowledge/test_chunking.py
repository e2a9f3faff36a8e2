"""Chunking and readers: pure, no model."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from resync_mcp.knowledge.chunking import Document, chunk, front_matter, sections, windows
from resync_mcp.knowledge.readers import UnreadableFile, read
from tests.conftest import require

MD = """---
title: Fence runbook
tags: [fence, workstation]
applies_to: [FIN_*, rtl_*stock*]
---
# Fence

Intro text.

## Diagnose

```
# not a heading inside a fence
```
Check the fence.

### Deeper

More.
"""


def test_front_matter_and_heading_paths() -> None:
    meta, body = front_matter(MD)
    assert meta == {"title": "Fence runbook", "tags": ["fence", "workstation"], "applies_to": ["FIN_*", "rtl_*stock*"]}
    got = sections(body, "T")
    assert [p for p, _ in got] == [["Fence"], ["Fence", "Diagnose"], ["Fence", "Diagnose", "Deeper"]]
    assert "# not a heading" in got[1][1]


def test_long_sections_are_cut_with_overlap_and_bounded() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(12))
    pieces = windows(text, 300, 60)
    assert len(pieces) > 3 and all(len(p) <= 300 for p in pieces)
    assert all(any(w in b for w in a.split()[-3:]) for a, b in itertools.pairwise(pieces))  # overlap


def test_chunk_ids_are_content_hashes_and_carry_their_section() -> None:
    doc = Document("a.md", "A", "# A\n\n## S\n\nsame text\n", tags=("t",))
    twin = Document("b.md", "A", "# A\n\n## S\n\nsame text\n")
    [c] = chunk(doc)
    assert c.text.startswith("A > S\n\n") and c.id == chunk(twin)[0].id and c.doc_id != chunk(twin)[0].doc_id


def test_readers_for_each_format(tmp_path: Path) -> None:
    (tmp_path / "r.md").write_text(MD)
    (tmp_path / "n.txt").write_text("plain notes about the sftp gateway\n")
    (tmp_path / "p.html").write_text(
        "<html><head><title>Ops page</title><script>evil()</script></head><body><h1>Agents</h1>"
        "<p>Restart the <b>agent</b> first.</p><ul><li>one</li></ul></body></html>"
    )
    md, txt, html = read(tmp_path / "r.md"), read(tmp_path / "n.txt"), read(tmp_path / "p.html")
    assert (
        md.title == "Fence runbook"
        and md.applies_to == ("FIN_*", "RTL_*STOCK*")
        and md.tags == ("fence", "workstation")
    )
    assert txt.title == "n" and "sftp" in txt.text
    assert html.title == "Ops page" and "# Agents" in html.text and "Restart the agent first." in html.text
    assert "evil" not in html.text


def test_pdf_text_is_read_page_by_page(tmp_path: Path) -> None:
    require("pypdf", "pypdf (knowledge extra) is not installed")
    (tmp_path / "d.pdf").write_bytes(minimal_pdf("Agent restart procedure"))
    doc = read(tmp_path / "d.pdf")
    assert "Agent restart procedure" in doc.text and "## Page 1" in doc.text


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("x.docx", b"PK", "unsupported type"),
        ("bad.md", b"\xff\xfe\x00bad", "not UTF-8"),
        ("empty.txt", b"   \n", "no text"),
        ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: bytes, says: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UnreadableFile) as info:
        read(tmp_path / name)
    assert says in str(info.value)


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, built by hand (offsets computed)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out
