"""The collector's young threshold is a server setting, applied when the app starts, and a hold
on full passes (a plan or graph being built) neither loses it nor keeps its own setting after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from resync_mcp.app import build_app
from resync_mcp.clock import FakeClock
from resync_mcp.collector import no_full_collections, set_young_threshold
from resync_mcp.config import load_settings
from resync_mcp.simulator import Simulator

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    set_young_threshold(before[0])
    gc.set_threshold(*before)


async def test_the_app_applies_the_young_threshold_it_is_configured_with(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("RESYNC_")]:
        monkeypatch.delenv(key)
    settings = load_settings(None, {"demo": {"enabled": True, "jobs": 50}, "server": {"gc_young_threshold": 1234}})
    clock = FakeClock()
    app = build_app(settings, clock=clock, simulator=Simulator.create(1, 50, clock))
    assert gc.get_threshold()[0] != 1234
    await app.start()
    try:
        assert gc.get_threshold()[0] == 1234
    finally:
        await app.aclose()
    assert load_settings(None, {}).server.gc_young_threshold == 5000  # the shipped default


def test_a_threshold_set_during_a_hold_survives_it() -> None:
    gc.set_threshold(700, 10, 10)
    with no_full_collections():
        assert gc.get_threshold() == (700, 10, 1_000_000)
        set_young_threshold(3000)
        assert gc.get_threshold() == (3000, 10, 1_000_000)  # full passes still held off
    assert gc.get_threshold() == (3000, 10, 10)
