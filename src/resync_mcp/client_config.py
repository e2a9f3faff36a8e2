"""``resync-mcp client-config NAME``: the exact snippet each assistant needs, with absolute paths
for this installation (a desktop app does not start servers from a shell with your PATH).

Data goes to the user's data folder by default (resync_mcp/paths.py), so the folder a desktop
app starts the server in does not matter. Without ``--config`` the snippet runs the built-in
demo. With ``--config FILE`` it runs against the engines in that file, and lists each engine's
secret as an environment variable to fill in: secrets go in the client's ``env``, never in the
arguments.
"""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from pathlib import Path

from resync_mcp.errors import ConfigError

CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor")
NAME = "resync"
_WHERE = {
    "claude-desktop": "Add to claude_desktop_config.json (Settings > Developer > Edit Config); restart Claude Desktop:",
    "vscode": "Add to .vscode/mcp.json in your workspace (or run 'MCP: Open User Configuration'):",
    "cursor": "Add to ~/.cursor/mcp.json (or .cursor/mcp.json in a project):",
    "claude-code": "Run in your project folder:",
}


def launch(config: Path | None) -> tuple[str, list[str]]:
    """The command and arguments that start this installation's server over stdio."""
    args = ["-m", "resync_mcp"]
    args += ["--config", str(config.resolve()), "serve"] if config is not None else ["serve", "--demo"]
    return sys.executable, args


def secrets(config: Path | None) -> dict[str, str]:
    """One placeholder per engine secret that the file does not itself point to. The file is read
    as TOML, not validated as settings: the secrets it lacks are what this is for.

    Raises:
        ConfigError: the file cannot be read or is not TOML.
    """
    if config is None:
        return {}
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read the config file {config}: {exc}.") from None
    env: dict[str, str] = {}
    engines = data.get("engines", {})
    for name, eng in engines.items() if isinstance(engines, dict) else ():
        auth = eng.get("auth", "basic") if isinstance(eng, dict) else "basic"
        if auth == "basic" and not eng.get("password_file"):
            env[f"RESYNC_ENGINES__{name.upper()}__PASSWORD"] = "<password>"
        elif auth == "bearer" and not eng.get("token_file"):
            env[f"RESYNC_ENGINES__{name.upper()}__TOKEN"] = "<API token>"
    return env


def snippet(client: str, config: Path | None) -> str:
    command, args = launch(config)
    env = secrets(config)
    if client == "claude-code":
        flags = "".join(f" -e {shlex.quote(f'{k}={v}')}" for k, v in env.items())
        return f"claude mcp add {NAME}{flags} -- {shlex.join([command, *args])}"
    server: dict[str, object] = {"command": command, "args": args}
    if env:
        server["env"] = env
    if client == "vscode":
        return json.dumps({"servers": {NAME: {"type": "stdio", **server}}}, indent=2)
    return json.dumps({"mcpServers": {NAME: server}}, indent=2)


def run(client: str, config: Path | None) -> int:
    print(_WHERE[client], file=sys.stderr)  # stdout is the snippet alone, to paste or pipe
    print(snippet(client, config))
    return 0
