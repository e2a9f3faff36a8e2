"""Which states the engine refuses an action in: pure functions over the state read just before
acting.

The client refuses only what a real engine is documented, or was seen, to refuse
(hwa-rest-api.md §6.7): a rerun before the job has ended (SUCC, ABEND or FAIL), and confirm SUCC on
a job already SUCC (AWSBIN076E in the lab). Everything else is sent and the engine decides: the
lab saw it accept hold, then kill, then confirm SUCC on a freshly submitted job, so a guess here
would refuse what the engine allows. Its refusals come back as "wrong state" with its own message.
"""

from __future__ import annotations

NOT_STARTED = frozenset({"HOLD", "READY", "FENCE"})
RERUNNABLE = frozenset({"SUCC", "ABEND", "FAIL"})


def job_refusal(action: str, state: str | None) -> str | None:
    """Why the engine refuses ``action`` on a job in ``state``, or None when it is not known to."""
    shown = state or "unknown"
    if action == "rerun_job" and state not in RERUNNABLE:
        return f"the job is {shown}; a job can be rerun only once it has ended (SUCC, ABEND or FAIL)"
    if action == "confirm_job:SUCC" and state == "SUCC":
        return "the job already ended SUCC; HWA refuses to confirm SUCC again (AWSBIN076E)"
    return None


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
