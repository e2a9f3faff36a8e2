"""Where resync-mcp keeps things when no setting says: the user's own folders, never the working
folder (desktop apps start servers wherever they like, often somewhere read-only).

Linux and other Unixes follow XDG (``~/.local/share``, ``~/.config``, ``~/.local/state``);
macOS uses ``~/Library/Application Support``; Windows uses APPDATA (config) and LOCALAPPDATA
(data and state).
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal

from resync_mcp.errors import ConfigError

APP = "resync-mcp"
_XDG = {
    "data": ("XDG_DATA_HOME", ".local/share"),
    "config": ("XDG_CONFIG_HOME", ".config"),
    "state": ("XDG_STATE_HOME", ".local/state"),
}


def user_dir(kind: Literal["data", "config", "state"]) -> Path:
    if os.name == "nt":
        var = "APPDATA" if kind == "config" else "LOCALAPPDATA"
        base = os.environ.get(var) or os.environ.get("APPDATA")
        if base:
            return Path(base) / APP / ("" if kind != "state" else "state")
    if sys.platform == "darwin" and not os.environ.get(_XDG[kind][0]):
        root = Path.home() / "Library" / "Application Support" / APP
        return root if kind != "state" else root / "state"
    env, fallback = _XDG[kind]
    base = os.environ.get(env)
    return (Path(base) if base else Path.home() / fallback) / APP


def writable_folder(path: Path) -> str | None:
    """Why ``path`` cannot hold our files (created if missing), or None when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return str(exc.strerror or exc)
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable by this user"
    return None


def unusable_folder(what: str, why: str, setting: str, env: str, off: str) -> ConfigError:
    """The one sentence for a data folder that cannot be used, naming the setting that moves it."""
    return ConfigError(
        f"The {what} folder cannot be used: {why}.",
        hint=f"Set {setting} ({env}) to a folder this user can write, or {off}.",
    )


Stamp = tuple[int, int]


def toml_if_changed(path: Path, stamp: Stamp | None) -> tuple[dict[str, Any] | None, Stamp]:
    """A TOML file's data when its (mtime, size) differs from ``stamp``, else None; and its stamp,
    for the caller to keep once it accepted the data (a file edited by hand is re-read).

    Raises:
        OSError: it cannot be read. ValueError: it is not TOML.
    """
    st = path.stat()
    now = (st.st_mtime_ns, st.st_size)
    if now == stamp:
        return None, now
    return tomllib.loads(path.read_text(encoding="utf-8")), now
