"""The knowledge base's chunks in memory, read once from LanceDB after each change: the rows (for
identifier matches), which chunks hold each identifier and how rare it is, each document's
content words (how much of a question it covers), and the vectors as one matrix.

The vector search is an exact cosine scan over that matrix: at 10,000 chunks one matrix product
takes about a millisecond, where LanceDB's flat scan through its query machinery took about ten.
LanceDB stays the store, the full-text index and the source of truth on disk.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resync_mcp.knowledge.idents import words


class Loaded:
    def __init__(self, table: Any) -> None:  # a pyarrow Table with the row columns, tags and vector
        vectors = table.column("vector").combine_chunks()
        dim = vectors.type.list_size if len(table) else 0
        flat = np.asarray(vectors.values.to_numpy(zero_copy_only=False), dtype=np.float32)
        self._vectors = flat.reshape(-1, dim or 1)
        self._tensor: Any = None
        self.rows: list[dict[str, Any]] = table.drop_columns(["vector"]).to_pylist()
        self._postings: dict[str, list[dict[str, Any]]] = {}
        docs: dict[str, set[str]] = {}
        self._words: dict[str, set[str]] = {}
        for row in self.rows:
            doc = str(row["doc_id"])
            self._words.setdefault(doc, set()).update(words(f"{row['title']} {row['text']}"))
            for ident in str(row.get("idents") or "").split():
                self._postings.setdefault(ident, []).append(row)
                docs.setdefault(ident, set()).add(doc)
        total = max(1, len(self._words))
        self.idf = {i: math.log(1 + total / len(d)) for i, d in docs.items()}
        self.known = frozenset(self._postings)
        frequency: dict[str, int] = {}
        for held in self._words.values():
            for w in held:
                frequency[w] = frequency.get(w, 0) + 1
        self._word_idf = {w: math.log(1 + total / n) for w, n in frequency.items()}
        self._unseen_idf = math.log(1 + total)

    def nearest(
        self, vector: list[float], depth: int, *, tags: list[str] | None, source: str | None, kind: str | None
    ) -> list[dict[str, Any]]:
        """The ``depth`` rows nearest to ``vector`` (stored vectors are normalized: cosine is a dot
        product), each with ``_distance`` = 1 - cosine, nearest first, within the filters.

        The product runs in torch, which the embedder has loaded: numpy's own BLAS threads would
        spin beside torch's on the same cores and slow the next embedding several times over."""
        if not self.rows:
            return []
        import torch

        similarity = self._matrix() @ torch.tensor(vector, dtype=torch.float32)
        if tags or source or kind:
            allowed = [self._allowed(r, tags, source, kind) for r in self.rows]
            similarity = similarity.masked_fill(~torch.tensor(allowed), float("-inf"))
        values, indexes = torch.topk(similarity, min(depth, len(self.rows)))
        return [
            {**self.rows[i], "_distance": 1.0 - v}
            for v, i in zip(values.tolist(), indexes.tolist(), strict=True)
            if v != float("-inf")
        ]

    def _matrix(self) -> Any:
        if self._tensor is None:
            import torch

            self._tensor = torch.from_numpy(self._vectors.copy())  # a writable copy: arrow buffers are read-only
            self._vectors = np.empty((0, 0), dtype=np.float32)  # one copy in memory, not two
        return self._tensor

    @staticmethod
    def _allowed(row: dict[str, Any], tags: list[str] | None, source: str | None, kind: str | None) -> bool:
        if tags and not set(tags) & set(row.get("tags") or ()):
            return False
        return (not source or row["source"] == source) and (not kind or row.get("kind") == kind)

    def word_mass(self, asked: set[str]) -> float:
        """The rarity-weighted mass of the question's content words outside its identifiers."""
        return sum(self._word_idf.get(w, self._unseen_idf) for w in asked)

    def coverage(self, query: str, doc_id: str) -> float:
        """The share of the question's content words (weighted by rarity; a word no document uses
        weighs most) that the document uses."""
        weight = {w: self._word_idf.get(w, self._unseen_idf) for w in words(query)}
        total = sum(weight.values())
        held = self._words.get(doc_id, set())
        return sum(v for w, v in weight.items() if w in held) / total if total else 1.0

    def rows_with(
        self, idents: list[str], tags: list[str] | None, source: str | None, kind: str | None, most: int = 50
    ) -> list[dict[str, Any]]:
        """Chunks holding any of ``idents`` (rarest first), within the search's filters."""
        out: dict[str, dict[str, Any]] = {}
        for ident in sorted((i for i in idents if i in self._postings), key=lambda i: -self.idf[i]):
            for row in self._postings[ident]:
                if self._allowed(row, tags, source, kind):
                    out.setdefault(str(row["content_hash"]), row)
                    if len(out) >= most:
                        return list(out.values())
        return list(out.values())
