"""`resync-mcp client-config NAME`: each snippet is valid, and the command it names starts a
server that lists tools from an empty working folder, which it leaves empty."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from resync_mcp.client_config import CLIENTS
from tests.conftest import call
from tests.test_transports import _env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _env_home(home: Path) -> dict[str, str]:
    return {k: v for k, v in _env().items() if not k.startswith("XDG_")} | {"HOME": str(home)}


def _snippet(client: str, home: Path, *extra: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "resync_mcp", "client-config", client, *extra],
        env=_env_home(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def _server(client: str, text: str) -> dict[str, Any]:
    """command, args and env, whatever the client's format."""
    if client == "claude-code":
        parts = shlex.split(text)
        assert parts[:4] == ["claude", "mcp", "add", "resync"], parts
        flags, cmd = parts[4 : parts.index("--")], parts[parts.index("--") + 1 :]
        env = dict(flags[i + 1].split("=", 1) for i in range(0, len(flags), 2) if flags[i] == "-e")
        return {"command": cmd[0], "args": cmd[1:], "env": env}
    data = json.loads(text)
    server = data["servers" if client == "vscode" else "mcpServers"]["resync"]
    assert client != "vscode" or server["type"] == "stdio"
    return dict(server)


@pytest.mark.parametrize("client", CLIENTS)
async def test_each_snippet_starts_a_server_that_lists_tools(tmp_path: Path, client: str) -> None:
    home, work = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    work.mkdir()
    server = _server(client, _snippet(client, home))
    assert Path(server["command"]).is_absolute()
    params = StdioServerParameters(
        command=server["command"], args=server["args"], env=_env_home(home) | server.get("env", {}), cwd=str(work)
    )
    async with Client(params) as mcp:
        assert "find_jobs" in {t.name for t in (await mcp.list_tools()).tools}
        assert (await call(mcp, "plan_summary", {}))["total_jobs"] > 0
        failed = (await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
        preview = await call(mcp, "rerun_job", {"job": failed["id"], "reason": "check", "preview": True})
        assert preview["outcome"] == "preview"
    assert list(work.iterdir()) == []  # the data went to the user's data folder, not here
    assert (home / ".local" / "share" / "resync-mcp" / "audit" / "audit.db").exists()


def test_a_real_engine_snippet_names_its_secrets_as_env_to_fill_in(tmp_path: Path) -> None:
    config = tmp_path / "resync.toml"
    config.write_text(
        '[engines.prod]\nbase_url = "https://mdm:31116"\nusername = "ops"\n\n'
        '[engines.dr]\nbase_url = "https://dr:31116"\nauth = "bearer"\ntoken_file = "/run/secrets/t"\n'
    )
    server = _server("claude-desktop", _snippet("claude-desktop", tmp_path, "--config", str(config)))
    assert server["args"][-3:] == ["--config", str(config.resolve()), "serve"]
    assert server["env"]["RESYNC_ENGINES__PROD__PASSWORD"] == "<password>"
    assert not any("DR" in k for k in server["env"])  # its token comes from a file already


def test_an_unusable_data_folder_is_one_sentence_naming_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    env = _env_home(tmp_path) | {"RESYNC_AUDIT__DIR": str(blocker / "audit")}
    out = subprocess.run(
        [sys.executable, "-m", "resync_mcp", "serve", "--demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "audit folder cannot be used" in out.stderr and "RESYNC_AUDIT__DIR" in out.stderr
