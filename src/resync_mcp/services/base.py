"""The shared base of the read services: engines, limits, the clock, and one paging helper."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from resync_mcp.clock import Clock
from resync_mcp.config import LimitSettings
from resync_mcp.errors import InvalidArgument
from resync_mcp.services import filters as f
from resync_mcp.services.engines import EngineRegistry
from resync_mcp.services.views import JobDetail
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.models import JobInPlanV2


@dataclass
class PlanBase:
    engines: EngineRegistry
    limits: LimitSettings
    clock: Clock
    # get_job's views, by the identity of the model they were made from (see HwaClient._parse)
    _details: OrderedDict[int, tuple[JobInPlanV2, JobDetail]] = field(
        default_factory=OrderedDict, init=False, repr=False
    )

    def _limit(self, limit: int | None) -> int:
        n = self.limits.default_limit if limit is None else limit
        if not 1 <= n <= self.limits.max_limit:
            raise InvalidArgument(
                f"limit must be between 1 and {self.limits.max_limit}; got {n}.",
                hint="Page through results with next_cursor instead of a large limit.",
            )
        return n

    @staticmethod
    def _listing(
        client: HwaClient,
        as_of: datetime,
        total: int | None,
        offset: int,
        returned: int,
        key: str,
        has_next: bool,
        local_note: str | None = None,
    ) -> dict[str, Any]:
        """The Listing fields of one page: totals, an honest truncation note, the next cursor, and
        how the page was computed when the engine refused part of the filter (``local_note``)."""
        more = None if total is None else total - offset - returned
        truncated = (more is not None and more > 0) or has_next
        note = None
        if truncated:
            note = f"truncated, {more} more; pass next_cursor to continue" if more else "truncated; pass next_cursor"
        return {
            "engine": client.engine,
            "as_of": as_of,
            "total": total,
            "returned": returned,
            "truncated": truncated,
            "next_cursor": f.Cursor(offset + returned, key).encode() if truncated else None,
            "note": "; ".join(n for n in (note, local_note) if n) or None,
        }
