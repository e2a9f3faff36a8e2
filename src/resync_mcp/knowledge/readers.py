"""Files into Documents: Markdown, plain text, HTML (the standard library's parser) and PDF
(pypdf, imported only when a PDF is read)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from resync_mcp.knowledge.chunking import Document, front_matter

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
    if not text.strip():
        raise UnreadableFile(f"{path.name}: no text")
    title = str(meta.get("title") or _first_heading(text) or path.stem.replace("_", " ").replace("-", " "))
    return Document(
        src,
        title,
        text,
        kind=str(meta.get("kind") or "doc"),
        tags=tuple(_list(meta.get("tags"))),
        applies_to=tuple(p.upper() for p in _list(meta.get("applies_to"))),
    )


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
