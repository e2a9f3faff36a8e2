"""Documents into chunks: pure functions, no model and no database.

Markdown is cut at headings first, so a chunk never straddles two sections, and a long
section is cut into windows at paragraph (then sentence) boundaries with an overlap. Each
chunk starts with its section path, which helps both the embedding and keyword search.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from resync_mcp.knowledge.idents import identifiers

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


@dataclass(frozen=True)
class Document:
    source: str
    title: str
    text: str
    kind: str = "doc"  # runbook, reference, doc
    tags: tuple[str, ...] = ()
    applies_to: tuple[str, ...] = ()  # job / job stream name patterns ('*' or '@' wildcards)
    status: str = "current"  # current, obsolete, historical or draft (knowledge/status.py)
    superseded_by: str | None = None

    @property
    def doc_id(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    id: str  # content hash: the same text under the same section is stored once
    doc_id: str
    source: str
    title: str
    section: str
    ordinal: int
    text: str
    kind: str
    tags: tuple[str, ...]
    applies_to: tuple[str, ...]
    status: str = "current"
    superseded_by: str | None = None
    idents: tuple[str, ...] = ()  # identifiers kept whole (knowledge/idents.py)


def front_matter(text: str) -> tuple[dict[str, str | list[str]], str]:
    """``---`` front matter of ``key: value`` and ``key: [a, b]`` lines, and the text after it."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    meta: dict[str, str | list[str]] = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            continue
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            meta[key.strip()] = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
        else:
            meta[key.strip()] = value.strip("'\"")
    return meta, text[m.end() :]


def sections(text: str, title: str) -> list[tuple[list[str], str]]:
    """(heading path, body) per section, in order; text before the first heading sits under the title."""
    out: list[tuple[list[str], str]] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    fence = False

    def close() -> None:
        content = "\n".join(body).strip()
        if content:
            out.append(([h for _, h in path] or [title], content))
        body.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m:
            close()
            level = len(m.group(1))
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, m.group(2).strip())]
        else:
            body.append(line)
    close()
    return out


def windows(text: str, size: int, overlap: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``size`` characters at paragraph, then sentence, then
    word boundaries; each piece after the first repeats the last ``overlap`` characters."""
    if len(text) <= size:
        return [text]
    units: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        if len(para) <= size:
            units.append(para)
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", para):
            while len(sentence) > size:
                cut = sentence.rfind(" ", 0, size)
                cut = cut if cut > size // 2 else size
                units.append(sentence[:cut])
                sentence = sentence[cut:].lstrip()
            units.append(sentence)
    pieces: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current}\n\n{unit}" if current else unit
        if len(candidate) <= size or not current:
            current = candidate
            continue
        pieces.append(current)
        tail = current[-overlap:] if overlap else ""
        tail = tail[tail.find(" ") + 1 :] if " " in tail else tail
        current = f"{tail}\n\n{unit}" if tail and len(tail) + len(unit) + 2 <= size else unit
    if current:
        pieces.append(current)
    return pieces


def chunk(doc: Document, *, size: int = 900, overlap: int = 150) -> list[Chunk]:
    out: list[Chunk] = []
    for path, body in sections(doc.text, doc.title):
        section = " > ".join(path)
        for piece in windows(body, max(100, size - len(section) - 2), overlap):
            text = f"{section}\n\n{piece}"
            digest = hashlib.sha256(f"{doc.kind}\n{text}".encode()).hexdigest()[:32]
            out.append(
                Chunk(
                    digest,
                    doc.doc_id,
                    doc.source,
                    doc.title,
                    section,
                    len(out),
                    text,
                    doc.kind,
                    doc.tags,
                    doc.applies_to,
                    doc.status,
                    doc.superseded_by,
                    tuple(identifiers(f"{doc.title}\n{text}")),
                )
            )
    return out
