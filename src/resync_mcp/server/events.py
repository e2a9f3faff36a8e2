"""Resumable Streamable HTTP: a bounded in-memory event store.

With an event store the SDK opens each SSE response with a priming event (an id, empty data
and the ``retry`` field) so that a client whose stream drops mid-call reconnects with
``Last-Event-ID`` after ``retry`` ms and is replayed what it missed, the result included. The
SDK sends no priming event without one. Memory is bounded (``server.sse_replay_events``,
oldest dropped first), and event ids are random so that one session cannot replay another's
stream by guessing.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage


class MemoryEventStore(EventStore):
    def __init__(self, max_events: int = 1000) -> None:
        self.max_events = max_events
        self._events: OrderedDict[EventId, tuple[StreamId, JSONRPCMessage | None]] = OrderedDict()

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = secrets.token_urlsafe(12)
        self._events[event_id] = (stream_id, message)
        while len(self._events) > self.max_events:
            self._events.popitem(last=False)
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        seen = self._events.get(last_event_id)
        if seen is None:
            return None  # unknown or already dropped: the client starts over
        stream_id, after = seen[0], False
        for event_id, (sid, message) in list(self._events.items()):
            if after and sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
            after = after or event_id == last_event_id
        return stream_id
