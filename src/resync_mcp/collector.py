"""Holding off the cyclic collector's full passes while a large structure is built.

A full pass walks every object not frozen. While 100,000 jobs (the demo plan) or graph nodes
accumulate, such passes came every few thousand allocations and each took longer than the last:
they doubled the plan's generation time and stopped every thread for 0.1-0.5 s during a graph
build. Young generations are still collected; what is built to last is then frozen
(``gc.freeze()``) out of the collector's way. Nested and concurrent holds share one setting.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_held = 0
_threshold = gc.get_threshold()


@contextmanager
def no_full_collections() -> Iterator[None]:
    global _held, _threshold
    with _lock:
        if _held == 0:
            _threshold = gc.get_threshold()
            gc.set_threshold(_threshold[0], _threshold[1], 1_000_000)
        _held += 1
    try:
        yield
    finally:
        with _lock:
            _held -= 1
            if _held == 0:
                gc.set_threshold(*_threshold)
