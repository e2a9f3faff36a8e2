"""Status vocabulary of HWA plan objects, shared by the client side and the simulator."""

from __future__ import annotations

# Internal job status -> common status. HWA's own mapping table was not captured
# (hwa-rest-api.md §9.2); this follows the conman / DWC meanings in §6.6.
COMMON_OF: dict[str, str] = {
    "SUCC": "SUCCESSFUL",
    "ABEND": "ERROR",
    "FAIL": "ERROR",
    "EXEC": "RUNNING",
    "INTRO": "RUNNING",
    "WAIT": "RUNNING",
    "PEND": "RUNNING",
    "READY": "READY",
    "HOLD": "WAITING",
    "FENCE": "BLOCKED",
    "CANCL": "CANCELED",
    "SUPPR": "SUPPRESS",
}
