"""One real embedding model per test session (loading it takes seconds); knowledge bases on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from resync_mcp.knowledge.base import Embedder, KnowledgeBase
from tests.conftest import require

require("lancedb", "the knowledge extra is not installed")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder()
    model.load()
    return model


@pytest.fixture(scope="session")
def starter_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KnowledgeBase]:
    yield KnowledgeBase(tmp_path_factory.mktemp("kb-starter"), embedder=embedder).ready()


@pytest.fixture
def empty_kb(tmp_path: Path, embedder: Embedder) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "kb", embedder=embedder, starter=False, chunk_chars=400, chunk_overlap=80)
