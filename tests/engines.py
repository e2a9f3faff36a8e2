"""A simulator process as a configured engine, and the server and CLI run against it as a user
would: from an empty folder with its own HOME."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp import StdioServerParameters

from tests.test_transports import _env, _free_port, _start


@dataclass
class Setup:
    port: int  # the simulator's
    config: Path
    env: dict[str, str]
    work: Path  # the server's working folder (nothing is written there)

    @property
    def data(self) -> Path:
        """The default data folder of a server started with this HOME (Linux: XDG)."""
        return Path(self.env["HOME"]) / ".local" / "share" / "resync-mcp"

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdio(self) -> StdioServerParameters:
        args = ["-m", "resync_mcp", "--config", str(self.config), "serve"]
        return StdioServerParameters(command=sys.executable, args=args, env=self.env, cwd=str(self.work))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "resync_mcp", "--config", str(self.config), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@contextmanager
def configured_engine(
    tmp: Path,
    *,
    jobs: int = 200,
    seed: int = 7,
    sim_args: tuple[str, ...] = (),
    faults: dict[str, object] | None = None,
    toml: str = '[security]\ntoolsets = ["read", "operate", "admin"]\nrole = "admin"\n',
) -> Iterator[Setup]:
    """A simulator process (Basic u/p) and a config naming it ``lab``, plus ``toml``."""
    port = _free_port()
    args = ["simulator", "--port", str(port), "--jobs", str(jobs), "--seed", str(seed), *sim_args]
    sim = _start([*args, "--faults", json.dumps(faults)] if faults else args, tmp)
    home, work = tmp / "home", tmp / "empty"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    config = tmp / "resync.toml"
    config.write_text(f'[engines.lab]\nbase_url = "http://127.0.0.1:{port}"\nauth = "basic"\nusername = "u"\n\n{toml}')
    env = {k: v for k, v in _env().items() if not k.startswith("XDG_")}
    env |= {"HOME": str(home), "RESYNC_ENGINES__LAB__PASSWORD": "p"}
    try:
        yield Setup(port, config, env, work)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
