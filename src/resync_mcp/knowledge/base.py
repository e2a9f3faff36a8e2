"""The knowledge base: LanceDB on disk, embeddings from the model shipped in a package.

Nothing here is imported or loaded at server startup: ``lancedb``, ``sentence_transformers``
and the model load on first use (or in an optional background warm-up). Every method is
synchronous and meant to run in a worker thread (``anyio.to_thread``); one lock serializes
writers, readers share the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resync_mcp.errors import ResyncError
from resync_mcp.knowledge import messages
from resync_mcp.knowledge.chunking import Chunk, Document, chunk
from resync_mcp.knowledge.confidence import Answer, assess
from resync_mcp.knowledge.diagnosis import cite
from resync_mcp.knowledge.embedder import Embedder as Embedder
from resync_mcp.knowledge.embedder import KnowledgeUnavailable as KnowledgeUnavailable
from resync_mcp.knowledge.idents import identifiers, words_outside
from resync_mcp.knowledge.readers import SUFFIXES, UnreadableFile, read
from resync_mcp.knowledge.search import Passage, rank
from resync_mcp.paths import writable_folder

if TYPE_CHECKING:
    from resync_mcp.knowledge.memory import Loaded

DIM = 384
_COLUMNS = [
    "content_hash",
    "doc_id",
    "source",
    "title",
    "section",
    "ordinal",
    "kind",
    "text",
    "status",
    "superseded_by",
    "idents",
]
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


@dataclass
class DocInfo:
    doc_id: str
    source: str
    title: str
    kind: str
    tags: list[str]
    applies_to: list[str]
    chunks: int
    file_hash: str
    ingested_at: str
    status: str = "current"  # knowledge/status.py; absent from manifests of earlier versions
    superseded_by: str | None = None


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0  # chunks stored
    embedded: int = 0  # chunks that needed the model (others reused an identical chunk's vector)
    unchanged: int = 0  # files skipped: same content as last time
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunbookMatch:
    doc_id: str
    source: str
    title: str
    pattern: str
    matched: str  # "job" or "job stream"
    specificity: int
    passage: Passage | None
    status: str = "current"
    superseded_by: str | None = None


class KnowledgeBase:
    def __init__(
        self,
        directory: Path,
        *,
        chunk_chars: int = 900,
        chunk_overlap: int = 150,
        starter: bool = True,
        embedder: Embedder | None = None,
    ) -> None:
        self.dir = directory
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap
        self.starter = starter
        self.embedder = embedder or Embedder()
        self._db: Any = None
        self._table: Any = None
        self._lock = threading.RLock()
        self._manifest: dict[str, DocInfo] = {}
        self._ready = False
        self._stale_sources: list[str] = []  # documents of a table from an earlier version, to read again
        self._chunks_in_memory: Loaded | None = None  # built on first search, dropped by every change

    # ------------------------------------------------------------------ opening
    def _open(self) -> Any:
        if self._table is not None:
            return self._table
        try:
            import lancedb
            import pyarrow as pa
        except ImportError as exc:
            raise KnowledgeUnavailable(
                "Knowledge search needs the knowledge extra.", hint="pip install 'resync-mcp[knowledge]'"
            ) from exc
        why = writable_folder(self.dir)
        if why is not None:
            raise KnowledgeUnavailable(
                f"The knowledge folder {self.dir} cannot be used ({why}).",
                hint="Set knowledge.dir (RESYNC_KNOWLEDGE__DIR) to a writable folder, or knowledge.enabled = false.",
            )
        self._db = lancedb.connect(str(self.dir.resolve()))
        try:
            self._table = self._db.open_table("chunks")
            if "idents" not in self._table.schema.names:  # written by an earlier version: rebuilt
                self._table = None
                self._db.drop_table("chunks")
                self._stale_sources = [d.source for d in self._load_manifest().values()]
                self._manifest_path().unlink(missing_ok=True)
        except (ValueError, FileNotFoundError):
            pass
        if self._table is None:
            schema = pa.schema(
                [
                    ("id", pa.string()),
                    ("content_hash", pa.string()),
                    ("doc_id", pa.string()),
                    ("source", pa.string()),
                    ("title", pa.string()),
                    ("section", pa.string()),
                    ("ordinal", pa.int32()),
                    ("kind", pa.string()),
                    ("tags", pa.list_(pa.string())),
                    ("applies_to", pa.list_(pa.string())),
                    ("text", pa.string()),
                    ("status", pa.string()),
                    ("superseded_by", pa.string()),
                    ("idents", pa.string()),  # identifiers kept whole, space-separated
                    ("vector", pa.list_(pa.float32(), DIM)),
                ]
            )
            self._table = self._db.create_table("chunks", schema=schema)
        self._manifest = self._load_manifest()
        return self._table

    def ready(self) -> KnowledgeBase:
        """Open the database and ingest the shipped knowledge when it is new or changed."""
        with self._lock:
            self._open()
            if not self._ready:
                if self.starter:
                    self._ingest_documents(list(starter_documents()), IngestReport(), progress=None)
                self._ready = True
                stale, self._stale_sources = self._stale_sources, []
                again = [Path(s) for s in stale if not s.startswith("builtin:") and Path(s).is_file()]
                if again:
                    self.ingest(again)
        return self

    @property
    def warm(self) -> bool:
        """Opened, shipped knowledge ingested and the model loaded: a search costs milliseconds."""
        return self._ready and self.embedder.loaded

    def warm_up(self) -> None:
        """Do now what the first search would otherwise wait for (the server runs this in a
        background thread after start)."""
        self.ready()
        self.embedder.query("warm up")

    def _manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def _load_manifest(self) -> dict[str, DocInfo]:
        try:
            raw = json.loads(self._manifest_path().read_text(encoding="utf-8"))
            return {k: DocInfo(**v) for k, v in raw.items()}
        except (OSError, ValueError, TypeError):
            return {}

    def _save_manifest(self) -> None:
        tmp = self._manifest_path().with_suffix(".tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in self._manifest.items()}, indent=1), encoding="utf-8")
        os.replace(tmp, self._manifest_path())

    # ------------------------------------------------------------------ ingest
    def ingest(self, paths: Iterable[Path], progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Ingest files and folders (recursively); per-file errors are reported, the run goes on."""
        report = IngestReport()
        files: list[Path] = []
        for p in paths:
            if p.is_dir():
                files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
            elif p.exists():
                files.append(p)
            else:
                report.errors.append(f"{p}: no such file or folder")
        docs: list[tuple[Document, str]] = []
        for n, f in enumerate(files, start=1):
            if progress is not None:
                progress(n, len(files), f"reading {f.name}")
            try:
                digest = hashlib.sha256(f.read_bytes()).hexdigest()
                docs.append((read(f, source=str(f.resolve())), digest))
            except (UnreadableFile, OSError) as exc:
                report.errors.append(str(exc))
        with self._lock:
            self.ready()
            self._ingest_documents(docs, report, progress)
        return report

    def _ingest_documents(
        self,
        docs: list[tuple[Document, str]],
        report: IngestReport,
        progress: Callable[[int, int, str], None] | None,
    ) -> None:
        """Chunk what changed, embed all new texts in large batches, then replace the changed
        documents' rows in one delete and one add: per-file round trips made ingest slow."""
        table = self._open()
        todo: list[tuple[Document, str, list[Chunk]]] = []
        for doc, digest in docs:
            report.files += 1
            known = self._manifest.get(doc.source)
            if known is not None and known.file_hash == digest:
                report.unchanged += 1
                continue
            todo.append((doc, digest, chunk(doc, size=self.chunk_chars, overlap=self.chunk_overlap)))
        if not todo:
            return
        every = [c for _, _, chunks in todo for c in chunks]
        vectors = self._vectors(table, every, report, progress)
        ids = sorted({doc.doc_id for doc, _, _ in todo})
        for start in range(0, len(ids), 500):
            table.delete("doc_id IN (" + ", ".join(f"'{i}'" for i in ids[start : start + 500]) + ")")
        rows = [self._row(c, v) for c, v in zip(every, vectors, strict=True)]
        for start in range(0, len(rows), 5000):
            table.add(rows[start : start + 5000])
        report.added += len(rows)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for doc, digest, chunks in todo:
            self._manifest[doc.source] = DocInfo(
                doc.doc_id,
                doc.source,
                doc.title,
                doc.kind,
                list(doc.tags),
                list(doc.applies_to),
                len(chunks),
                digest,
                now,
                doc.status,
                doc.superseded_by,
            )
        self._reindex(table)
        self._save_manifest()

    def _vectors(
        self,
        table: Any,
        chunks: list[Chunk],
        report: IngestReport,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> list[list[float]]:
        """Embed each distinct text once; reuse the vector of an identical chunk already stored."""
        distinct = list({c.id: c for c in chunks}.values())
        known: dict[str, list[float]] = {}
        if distinct and table.count_rows() > 0:
            for start in range(0, len(distinct), 500):
                listed = ", ".join(f"'{c.id}'" for c in distinct[start : start + 500])
                for row in table.search().where(f"content_hash IN ({listed})").limit(2000).to_list():
                    known[row["content_hash"]] = list(row["vector"])
        todo = [c for c in distinct if c.id not in known]
        for start in range(0, len(todo), 256):  # batches, so a long run can show its progress
            batch = todo[start : start + 256]
            for c, v in zip(batch, self.embedder.encode([c.text for c in batch]), strict=True):
                known[c.id] = v
            if progress is not None:
                progress(start + len(batch), len(todo), "embedding chunks")
        report.embedded += len(todo)
        return [known[c.id] for c in chunks]

    @staticmethod
    def _row(c: Chunk, vector: list[float]) -> dict[str, Any]:
        return {
            "id": f"{c.doc_id}:{c.ordinal}",
            "content_hash": c.id,
            "doc_id": c.doc_id,
            "source": c.source,
            "title": c.title,
            "section": c.section,
            "ordinal": c.ordinal,
            "kind": c.kind,
            "tags": list(c.tags),
            "applies_to": list(c.applies_to),
            "text": c.text,
            "status": c.status,
            "superseded_by": c.superseded_by,
            "idents": " ".join(c.idents),
            "vector": vector,
        }

    def _reindex(self, table: Any) -> None:
        self._chunks_in_memory = None
        if table.count_rows() > 0:
            from lancedb.index import FTS

            table.create_index("text", config=FTS(), replace=True)  # the column first, with a config object

    def remove(self, source: str) -> int:
        with self._lock:
            table = self._open()
            info = self._manifest.pop(source, None)
            if info is None:
                return 0
            table.delete(f"doc_id = '{info.doc_id}'")
            self._reindex(table)
            self._save_manifest()
            return info.chunks

    # ------------------------------------------------------------------ read
    def documents(self) -> list[DocInfo]:
        self.ready()
        return sorted(self._manifest.values(), key=lambda d: d.source)

    def stats(self) -> dict[str, Any]:
        table = self.ready()._open()
        kinds: dict[str, int] = {}
        for d in self._manifest.values():
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        return {"documents": len(self._manifest), "chunks": table.count_rows(), "by_kind": kinds, "dir": str(self.dir)}

    def document(self, doc_id: str) -> tuple[DocInfo, str] | None:
        if not re.fullmatch(r"[0-9a-f]{16}", doc_id):
            return None
        table = self.ready()._open()
        info = next((d for d in self._manifest.values() if d.doc_id == doc_id), None)
        if info is None:
            return None
        rows = table.search().where(f"doc_id = '{doc_id}'").limit(100_000).to_list()
        rows.sort(key=lambda r: r["ordinal"])
        return info, "\n\n".join(r["text"] for r in rows)

    def search(
        self,
        query: str,
        *,
        limit: int = 8,
        tags: list[str] | None = None,
        source: str | None = None,
        kind: str | None = None,
        mode: str = "hybrid",
    ) -> list[Passage]:
        """Passages for ``query`` (see ``answer``)."""
        return self.answer(query, limit=limit, tags=tags, source=source, kind=kind, mode=mode).passages

    def answer(
        self,
        query: str,
        *,
        limit: int = 8,
        tags: list[str] | None = None,
        source: str | None = None,
        kind: str | None = None,
        mode: str = "hybrid",
    ) -> Answer:
        """Passages for ``query`` from the vector search, the full-text search or both, with exact
        identifier matches, ranked per document (knowledge/search.py); and how far they answer it
        (knowledge/confidence.py)."""
        table = self.ready()._open()
        if table.count_rows() == 0 or not query.strip():
            return assess([], [], frozenset(), coverage=0.0, asked=set())
        where = self._where(tags, source, kind)
        depth = max(limit * 4, 20)
        index = self._loaded(table)
        keyword_hits: list[dict[str, Any]] = []
        text = _fts_query(query) if mode in ("hybrid", "keyword") else ""

        def keyword() -> list[dict[str, Any]]:
            q = table.search(text, query_type="fts").select([*_COLUMNS, "_score"]).limit(depth)
            return list((q.where(where, prefilter=True) if where else q).to_list())

        # The full-text search runs beside the embedding and the vector search (both release the
        # interpreter in native code): a hybrid query costs about the longer of the two, not both.
        pending = _pool().submit(keyword) if text and mode == "hybrid" else None
        vector_hits: list[dict[str, Any]] = []
        if mode in ("hybrid", "vector"):
            vector_hits = index.nearest(self.embedder.query(query), depth, tags=tags, source=source, kind=kind)
        if pending is not None:
            keyword_hits = pending.result()
        elif text:
            keyword_hits = keyword()
        query_ids = identifiers(query)
        ident_hits = index.rows_with(query_ids, tags, source, kind) if mode != "vector" else []
        asked = words_outside(query, query_ids)  # the question's words outside its identifiers
        described = index.word_mass(asked)
        passages = rank(vector_hits, keyword_hits, ident_hits, query_ids, index.idf, limit=limit, described=described)
        coverage = index.coverage(query, passages[0].doc_id) if passages else 0.0
        return assess(passages, query_ids, index.known, coverage=coverage, asked=asked)

    def _loaded(self, table: Any) -> Loaded:
        """The chunks in memory (rows, identifiers, words, vectors), read once after each change."""
        index = self._chunks_in_memory
        if index is None:
            with self._lock:
                index = self._chunks_in_memory
                if index is None:
                    from resync_mcp.knowledge.memory import Loaded  # numpy: with the knowledge extra only

                    index = self._chunks_in_memory = Loaded(table.to_arrow().select([*_COLUMNS, "tags", "vector"]))
        return index

    @staticmethod
    def _where(tags: list[str] | None, source: str | None, kind: str | None) -> str | None:
        terms = []
        if tags:
            bad = [t for t in tags if not _TAG.match(t)]
            if bad:
                raise ResyncError(f"Tag {bad[0][:40]!r} is not valid: letters, digits, '_', '.', ':' or '-'.")
            terms.append("array_has_any(tags, [" + ", ".join(f"'{t}'" for t in tags) + "])")
        if source:
            terms.append("source = '" + source.replace("'", "''")[:500] + "'")
        if kind:
            if not _TAG.match(kind):
                raise ResyncError("kind must be runbook, reference or doc.")
            terms.append(f"kind = '{kind}'")
        return " AND ".join(terms) or None

    def linked(self, job: str, stream: str | None) -> list[tuple[DocInfo, str, str, int]]:
        """Documents whose name patterns match the job or its job stream: (document, pattern,
        "job" or "job stream", specificity), most specific first."""
        self.ready()
        found: list[tuple[DocInfo, str, str, int]] = []
        for info in self._manifest.values():
            best: tuple[int, str, str] | None = None
            for pattern in info.applies_to:
                p = pattern.upper().replace("@", "*")
                for what, name in (("job", job), ("job stream", stream)):
                    if name and fnmatchcase(name.upper(), p):
                        score = len(p.replace("*", "")) * 2 + (1 if what == "job" else 0)
                        if best is None or score > best[0]:
                            best = (score, pattern, what)
            if best is not None:
                found.append((info, best[1], best[2], best[0]))
        found.sort(key=lambda m: (-m[3], m[0].status != "current", m[0].title))  # current first among equals
        return found

    def for_failure(self, query: str, job: str, stream: str | None, *, limit: int = 5) -> Answer:
        """The knowledge for a job's failure (``query`` from diagnosis.diagnosis_query): runbooks
        written for the job or its stream (by their name patterns) win near ties."""
        linked = {info.doc_id for info, *_ in self.linked(job, stream)}
        return cite(self.answer(query, limit=limit), linked)

    def runbooks_for(self, job: str, stream: str | None, *, query: str | None = None) -> list[RunbookMatch]:
        """Runbooks whose name patterns match the job or its job stream, most specific first, each
        with its best passage for ``query`` (the failure, when known)."""
        found: list[RunbookMatch] = []
        for info, pattern, what, specificity in self.linked(job, stream):
            passages = self.search(query or info.title, limit=1, source=info.source)
            found.append(
                RunbookMatch(
                    info.doc_id,
                    info.source,
                    info.title,
                    pattern,
                    what,
                    specificity,
                    passages[0] if passages else None,
                    info.status,
                    info.superseded_by,
                )
            )
        return found


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kb-keyword")
        return _POOL


def _fts_query(query: str) -> str:
    """Plain words only: the full-text parser must never see operators or quotes from a caller."""
    words = re.findall(r"[A-Za-z0-9_]{2,}", query)[:32]
    return " ".join(words)


def starter_documents() -> Iterable[tuple[Document, str]]:
    """The runbooks and the message reference shipped with the package."""
    folder = resources.files("resync_mcp.knowledge") / "runbooks"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".md"):
            continue
        text = entry.read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        yield read(Path(entry.name), source=f"builtin:runbooks/{entry.name}", text=text), digest
    reference = messages.as_markdown()
    meta = "---\ntitle: HWA message, return code and status reference\nkind: reference\ntags: [reference]\n---\n"
    digest = hashlib.sha256(reference.encode()).hexdigest()
    yield read(Path("messages.md"), source="builtin:reference/messages.md", text=meta + reference), digest
