"""The trust root lives apart from the data: keys in the user's config folder, checkpoints copied
to the user's state folder, and every file the owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from resync_mcp.audit import setup
from resync_mcp.audit.verify import verify
from resync_mcp.clock import FakeClock
from resync_mcp.config import AuditSettings
from resync_mcp.errors import ConfigError
from tests.audit.helpers import fill


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_and_checkpoints_default_to_the_users_folders_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a common umask: files would be world-readable by default
    try:
        a = AuditSettings(dir=tmp_path / "data" / "audit", checkpoint_every=3)
        store = setup.open_store(a, FakeClock())
        fill(store, 7)
        store.close()
    finally:
        os.umask(old)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "resync-mcp"
    assert sorted(p.name for p in config.iterdir()) == ["audit-kek.b64", "audit-signing.pem"]
    assert not list(a.dir.glob("*.pem")) and not list(a.dir.glob("*.b64"))  # nothing secret beside the data
    for secret in config.iterdir():
        assert _mode(secret) == 0o600, secret
    assert _mode(config) == 0o700 and _mode(a.dir) == 0o700
    for f in a.dir.iterdir():
        assert _mode(f) == 0o600, f.name
    external = setup.external_dir(a)
    assert external is not None and str(external).startswith(os.environ["XDG_STATE_HOME"])
    files = list(external.glob("checkpoint-*.json"))
    assert files and all(_mode(f) == 0o600 for f in files) and _mode(external) == 0o700
    report = verify(store.path, trusted=setup.trusted_keys(a), external_dir=external)
    assert report.ok and report.checkpoints == 2 * len(files)


def test_keys_created_beside_the_data_by_earlier_versions_keep_working(tmp_path: Path) -> None:
    a = AuditSettings(dir=tmp_path / "audit", external_default=False)
    a.dir.mkdir(parents=True)
    (a.dir / "kek.b64").write_text("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    assert setup.kek_path(a) == a.dir / "kek.b64" and setup.external_dir(a) is None
    store = setup.open_store(a, FakeClock())
    store.append("call", "alice", {"tool": "get_job"}, durable=True)
    store.close()
    assert store._kek == b"A" * 32


def test_reading_a_chain_without_its_kek_creates_no_key_and_says_so(tmp_path: Path) -> None:
    a = AuditSettings(dir=tmp_path / "audit", external_default=False)
    store = setup.open_store(a, FakeClock())
    store.append("call", "alice", {"tool": "get_job"}, durable=True)
    store.close()
    setup.kek_path(a).unlink()  # another user, or the key moved to a secret store
    with pytest.raises(ConfigError, match="No audit KEK"):
        setup.open_store(a, FakeClock(), readonly=True)
    assert not setup.kek_path(a).exists()
