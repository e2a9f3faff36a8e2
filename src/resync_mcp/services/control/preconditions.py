"""Which states allow which action: pure functions over the state read just before acting.

Documented rules (hwa-rest-api.md §6.7): rerun only from SUCC, ABEND or FAIL; confirm a PEND
job (or turn ABEND into SUCC and back); release a held job; kill a running (EXEC) job. Not
documented, so chosen conservatively: hold, release and cancel only before the job starts,
priority only while it has not ended. The engine stays the authority: it may still refuse.
"""

from __future__ import annotations

NOT_STARTED = frozenset({"HOLD", "READY", "FENCE"})
ENDED = frozenset({"SUCC", "ABEND", "FAIL", "CANCL", "SUPPR"})

JOB_STATES: dict[str, frozenset[str]] = {
    "rerun_job": frozenset({"SUCC", "ABEND", "FAIL"}),
    "hold_job": NOT_STARTED,
    "release_job": NOT_STARTED,
    "release_job_dependencies": NOT_STARTED,
    "cancel_job": NOT_STARTED,
    "kill_job": frozenset({"EXEC"}),
    "confirm_job:SUCC": frozenset({"PEND", "ABEND"}),
    "confirm_job:ABEND": frozenset({"PEND", "SUCC"}),
}

_WHY = {
    "rerun_job": "a job can be rerun only once it has ended (SUCC, ABEND or FAIL)",
    "kill_job": "only a running job (EXEC) can be killed",
    "confirm_job:SUCC": "confirm SUCC applies to a job waiting for confirmation (PEND) or one that ended ABEND",
    "confirm_job:ABEND": "confirm ABEND applies to a job waiting for confirmation (PEND) or one that ended SUCC",
}


def job_refusal(action: str, state: str | None) -> str | None:
    """Why ``action`` cannot be done to a job in ``state``, or None when it can."""
    shown = state or "unknown"
    if action == "set_job_priority":
        return None if state not in ENDED else f"the job has ended ({shown}); its priority no longer matters"
    allowed = JOB_STATES.get(action)
    if allowed is None or state in allowed:
        return None
    why = _WHY.get(action, "this applies only to a job that has not started yet (HOLD, READY or FENCE)")
    return f"the job is {shown}; {why}"


def stream_refusal(waiting_jobs: int, state: str | None) -> str | None:
    if waiting_jobs > 0:
        return None
    return f"no job of the job stream ({state or 'unknown'}) is still waiting to start, so there is nothing to act on"


def prompt_refusal(status: str | None) -> str | None:
    # The spec's PromptStatusType says ANSWERED_YES / ANSWERED_NO; consoles show "Answered Yes".
    if status and status.upper().replace(" ", "_").startswith("ANSWERED"):
        return f"the prompt was already answered ({status})"
    return None


def workstation_refusal(action: str, states: list[str], value: int | None = None) -> str | None:
    linked = "LINKED" in states
    running = "RUNNING" in states
    if action == "link_workstation" and linked:
        return "the workstation is already linked"
    if action == "unlink_workstation" and not linked:
        return "the workstation is not linked"
    if action == "start_workstation" and running:
        return "the workstation is already running"
    if action == "stop_workstation" and not running:
        return "the workstation is not running"
    if action == "set_workstation_fence" and value is not None and not 0 <= value <= 101:
        return "a fence is between 0 and 101 (101 = GO, nothing runs below it)"
    if action == "set_workstation_limit" and value is not None and not 0 <= value <= 1024:
        return "a limit is between 0 and 1024"
    return None
