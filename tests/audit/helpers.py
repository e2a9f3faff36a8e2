"""A small audit store on disk for tests, on a fake clock."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from resync_mcp.audit.crypto import public_hex
from resync_mcp.audit.store import AuditStore
from resync_mcp.clock import FakeClock


def make_store(tmp: Path, *, every: int = 5, external: bool = True, clock: FakeClock | None = None) -> AuditStore:
    signer = Ed25519PrivateKey.generate()
    store = AuditStore(
        tmp / "audit.db",
        os.urandom(32),
        signer,
        clock or FakeClock(),
        checkpoint_every=every,
        external_dir=(tmp / "external") if external else None,
        group_max=4,
    )
    return store.open()


def trusted(store: AuditStore) -> set[str]:
    return {store.public_key}


def fill(store: AuditStore, n: int, *, subject: str = "alice") -> None:
    for i in range(n):
        store.append("call", subject, {"tool": "get_job", "i": i, "outcome": "ok"}, durable=i % 3 == 0)
    store.flush()


__all__ = ["fill", "make_store", "public_hex", "trusted"]
