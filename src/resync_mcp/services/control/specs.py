"""Each control tool as data: its preparation (prep.py), by name."""

from __future__ import annotations

from resync_mcp.services.control import jobs as j
from resync_mcp.services.control import objects as o
from resync_mcp.services.control.prep import Ctx, Prepare, Prepared

__all__ = ["PREPARE", "Ctx", "Prepared"]

PREPARE: dict[str, Prepare] = {
    "bulk_job_action": j.bulk,
    "rerun_job": j.rerun,
    "hold_job": j.job_action("hold_job", "hold", "blocks", "hold job {name}: it will not start until released"),
    "release_job": j.job_action("release_job", "release", "frees", "release job {name}: it may start at once"),
    "release_job_dependencies": j.release_dependencies,
    "cancel_job": j.cancel,
    "kill_job": j.job_action("kill_job", "kill", "blocks", "kill the running job {name}; it will end ABEND"),
    "confirm_job": j.confirm,
    "set_job_priority": j.priority,
    "hold_job_stream": o.stream_action("hold_job_stream", "hold", "hold the {n} waiting jobs of job stream {name}"),
    "release_job_stream": o.stream_action(
        "release_job_stream", "release", "release job stream {name} ({n} waiting jobs)"
    ),
    "cancel_job_stream": o.stream_action(
        "cancel_job_stream", "cancel", "cancel the {n} waiting jobs of job stream {name}"
    ),
    "submit_job_stream": o.submit_stream,
    "submit_job": o.submit_job,
    "submit_adhoc_job": o.submit_adhoc,
    "reply_prompt": o.reply,
    "set_workstation_fence": o.workstation_action(
        "set_workstation_fence", "update-fence", "fence", "set the fence of {name} from {fence} to {value}"
    ),
    "set_workstation_limit": o.workstation_action(
        "set_workstation_limit", "update-limit", "limit", "set the job limit of {name} from {limit} to {value}"
    ),
    "link_workstation": o.workstation_action("link_workstation", "link", None, "link workstation {name}"),
    "unlink_workstation": o.workstation_action(
        "unlink_workstation", "unlink", None, "unlink workstation {name}: no new jobs reach it until relinked"
    ),
    "start_workstation": o.workstation_action("start_workstation", "start", None, "start workstation {name}"),
    "stop_workstation": o.workstation_action(
        "stop_workstation", "stop", None, "stop workstation {name}: its processes stop, no new jobs start there"
    ),
}
