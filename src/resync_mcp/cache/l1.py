"""L1: a bounded in-process LRU (entries and bytes) with tag and negative indexes.

cachetools is used for its container only; its decorators would cache coroutine objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cachetools import LRUCache

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


class _Lru(LRUCache[str, Entry]):
    """An LRU that tells its owner what it evicts, so the tag index never keeps dead keys."""

    def __init__(self, max_bytes: int, owner: L1) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=lambda e: max(1, e.size))
        self._owner = owner

    def popitem(self) -> tuple[str, Entry]:
        key, entry = super().popitem()
        self._owner._untag(key, entry)
        return key, entry


class L1:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self._lru = _Lru(max_bytes, self)
        self._by_tag: dict[str, set[str]] = {}
        self.evictions = 0

    def _untag(self, key: str, entry: Entry) -> None:
        self.evictions += 1
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
        return int(self._lru.currsize)

    def get(self, key: str) -> Entry | None:
        return self._lru.get(key)

    def put(self, key: str, entry: Entry) -> None:
        if entry.size > self._lru.maxsize:
            return  # larger than the whole cache: not cached
        self.drop(key)
        self._lru[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._lru) > self.max_entries:
            self._lru.popitem()

    def drop(self, key: str) -> None:
        entry = self._lru.pop(key, None)
        if entry is not None:
            self._untag(key, entry)
            self.evictions -= 1  # a drop is not an eviction

    def drop_tags(self, tags: set[str]) -> int:
        keys = set().union(*(self._by_tag.pop(t, set()) for t in tags)) if tags else set()
        for key in keys:
            self.drop(key)
        return len(keys)

    def clear(self) -> None:
        self._lru.clear()
        self._by_tag.clear()
