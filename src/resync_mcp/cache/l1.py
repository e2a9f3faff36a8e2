"""L1: a bounded in-process LRU (entries and bytes) with tag and negative indexes.

An ordered dict in insertion-is-recency order: a hit is one lookup and one move in C (every
cached read asks), an eviction drops the oldest until both bounds hold.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from resync_mcp.tws.upstream import Fetched


@dataclass
class Entry:
    value: Fetched | None  # None = negative entry (the object was not found)
    not_found: str | None
    klass: str
    fresh_until: float  # monotonic
    stale_until: float  # monotonic: never served after this
    tags: set[str] = field(default_factory=set)
    size: int = 0
    served: Fetched | None = field(default=None, repr=False, compare=False)  # the hit's answer, made once


class L1:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lru: OrderedDict[str, Entry] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._by_tag: dict[str, set[str]] = {}
        self.evictions = 0

    def _untag(self, key: str, entry: Entry) -> None:
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> Entry | None:
        entry = self._lru.get(key)
        if entry is not None:
            self._lru.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        size = max(1, entry.size)
        if size > self.max_bytes:
            return  # larger than the whole cache: not cached
        self.drop(key)
        self._lru[key] = entry
        self._bytes += size
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._lru) > self.max_entries or self._bytes > self.max_bytes:
            old_key, old = self._lru.popitem(last=False)
            self._bytes -= max(1, old.size)
            self._untag(old_key, old)
            self.evictions += 1

    def drop(self, key: str) -> None:
        entry = self._lru.pop(key, None)
        if entry is not None:
            self._bytes -= max(1, entry.size)
            self._untag(key, entry)

    def drop_tags(self, tags: set[str]) -> int:
        keys = set().union(*(self._by_tag.pop(t, set()) for t in tags)) if tags else set()
        for key in keys:
            self.drop(key)
        return len(keys)

    def clear(self) -> None:
        self._lru.clear()
        self._bytes = 0
        self._by_tag.clear()
