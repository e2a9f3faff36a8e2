"""Files into Documents: Markdown, plain text, HTML (the standard library's parser) and PDF
(pypdf, imported only when a PDF is read)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from resync_mcp.knowledge.chunking import Document, front_matter
from resync_mcp.knowledge.status import status_of

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html", ".pdf": "pdf"}


class UnreadableFile(Exception):
    """A file that cannot be turned into text; the ingest run reports it and goes on."""


def read(path: Path, *, source: str | None = None, text: str | None = None) -> Document:
    """Raises UnreadableFile: unknown type, undecodable, empty, or a broken PDF."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnreadableFile(f"{path.name}: unsupported type (use .md, .txt, .html or .pdf)")
    src = source or str(path)
    if kind == "pdf":
        return _pdf(path, src)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UnreadableFile(f"{path.name}: not UTF-8 text") from None
        except OSError as exc:
            raise UnreadableFile(f"{path.name}: {exc.strerror}") from None
    if kind == "html":
        title, text = _html(text)
        meta: dict[str, str | list[str]] = {"title": title} if title else {}
    else:
        meta, text = front_matter(text)
        text = text_headings(text) if kind == "text" else setext_headings(text)
    if not text.strip():
        raise UnreadableFile(f"{path.name}: no text")
    title = str(meta.get("title") or _first_heading(text) or path.stem.replace("_", " ").replace("-", " "))
    status, superseded_by = status_of(meta, title, text)
    return Document(
        src,
        title,
        text,
        kind=str(meta.get("kind") or "doc"),
        tags=tuple(_list(meta.get("tags"))),
        applies_to=tuple(p.upper() for p in _list(meta.get("applies_to"))),
        status=status,
        superseded_by=superseded_by,
    )


_UNDERLINE = re.compile(r"^\s*(=+|-+|~+)\s*$")
_NUMBERED = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?\s+([A-Z][^.!?]{0,70})$")


def _upper_heading(line: str) -> bool:
    words = line.split()
    letters = [c for c in line if c.isalpha()]
    return (
        bool(letters)
        and all(c.isupper() for c in letters)
        and len(line) <= 80
        and not line.rstrip().endswith((".", ",", ";"))
        and (len(words) >= 2 or len(letters) >= 4)
        and len(words) <= 10
    )


def setext_headings(text: str) -> str:
    """Markdown's underlined headings (a line over ``===`` or ``---``, after a blank line) as ``#``
    ones, which the chunker reads; fenced code is left alone."""
    lines = text.splitlines()
    out: list[str] = []
    fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fence = not fence
        underline = _SETEXT.match(lines[i + 1]) if i + 1 < len(lines) and not fence else None
        plain = line.strip() and not line.lstrip().startswith(("#", "|", "-", "*", ">", "```"))
        if underline and plain and (not out or not out[-1].strip()):
            out.append(("# " if underline.group(1)[0] == "=" else "## ") + line.strip())
            i += 2
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


_SETEXT = re.compile(r"^\s{0,3}(=+|-{3,})\s*$")


def text_headings(text: str) -> str:
    """Plain text's headings as Markdown ones, so sections are found as in Markdown: a line
    underlined with ``===`` (level 1) or ``---``/``~~~`` (level 2), a numbered line (``2. Scope``,
    ``2.1 Limits``: level by depth) or an upper-case line, each standing alone after a blank line;
    and a short first line standing alone is the title. A heading never takes the last text."""
    lines = [line.rstrip() for line in text.splitlines()]
    last = max((n for n, line in enumerate(lines) if line.strip()), default=-1)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line, nxt = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        alone = not out or not out[-1].strip()
        underline = _UNDERLINE.match(nxt)
        long_enough = underline is not None and len(underline.group(1)) >= max(3, len(line.strip()) // 2)
        if line.strip() and alone and long_enough and underline is not None and i + 1 < last:
            out.append(("# " if underline.group(1)[0] == "=" else "## ") + line.strip())
            i += 2
            continue
        heading = bool(line.strip()) and alone and i < last
        numbered = _NUMBERED.match(line) if heading else None
        if heading and not any(x.strip() for x in out) and not nxt.strip() and len(line) <= 80:
            out.append(line if line.endswith((".", ",", ";", ":")) else "# " + line.strip())
        elif numbered and len(line.split()) <= 10 and not nxt.strip().startswith(("-", "*")):
            out.append("#" * (2 + numbered.group(1).count(".")) + " " + line.strip())
        elif heading and _upper_heading(line.strip()):
            out.append("## " + line.strip())
        else:
            out.append(line)
        i += 1
    return "\n".join(out)


def _list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [v.strip() for v in value.split(",") if v.strip()]


def _first_heading(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset({"p", "div", "li", "tr", "pre", "br", "table", "ul", "ol", "section", "article", "blockquote"})
_SKIP = frozenset({"script", "style", "nav", "footer", "head", "noscript"})


class _Html(HTMLParser):
    """Headings become Markdown headings, blocks become paragraphs; scripts and chrome are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.title = ""
        self._buf: list[str] = []
        self._heading: int | None = None
        self._skip = 0
        self._in_title = False

    def _flush(self) -> None:
        text = " ".join(" ".join(self._buf).split())
        if text:
            self.lines.append(f"{'#' * self._heading} {text}" if self._heading else text)
        self._buf.clear()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._flush()
            self._heading = int(tag[1])
        elif tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADINGS:
            self._flush()
            self._heading = None
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._skip:
            self._buf.append(data)


def _html(text: str) -> tuple[str, str]:
    parser = _Html()
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.title, "\n\n".join(parser.lines)


def _pdf(path: Path, source: str) -> Document:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # the knowledge extra is not installed
        raise UnreadableFile(f"{path.name}: PDF support needs resync-mcp[knowledge]") from exc
    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = str(getattr(reader.metadata, "title", None) or "") or path.stem
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise UnreadableFile(f"{path.name}: not a readable PDF ({type(exc).__name__})") from None
    text = "\n\n".join(f"## Page {n}\n\n{p}" for n, p in enumerate(pages, start=1) if p)
    if not text:
        raise UnreadableFile(f"{path.name}: the PDF has no extractable text")
    return Document(source, title, f"# {title}\n\n{text}")
