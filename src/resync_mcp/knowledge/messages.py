"""An HWA message and return-code reference, written by this project from public facts.

The message codes are the ones operators meet through the REST API and conman, as recorded
in shared/reference/hwa-rest-api.md (lab observations and the V2 spec). The wording is ours.
Return codes follow POSIX shell conventions and the causes this project's runbooks cover.
Statuses follow §6.6 of the same reference; where the mapping is inferred, the entry says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    code: str
    kind: str  # message, return_code, status
    title: str
    meaning: str
    causes: tuple[str, ...]
    checks: tuple[str, ...]
    basis: str  # where the fact comes from


def _m(code: str, title: str, meaning: str, causes: list[str], checks: list[str], basis: str) -> Entry:
    return Entry(code, "message", title, meaning, tuple(causes), tuple(checks), basis)


def _rc(code: str, title: str, meaning: str, causes: list[str], checks: list[str]) -> Entry:
    return Entry(code, "return_code", title, meaning, tuple(causes), tuple(checks), "POSIX shell conventions")


def _st(code: str, title: str, meaning: str, checks: list[str], basis: str = "conman status meanings") -> Entry:
    return Entry(code, "status", title, meaning, (), tuple(checks), basis)


ENTRIES: tuple[Entry, ...] = (
    _m(
        "AWSBIN076E",
        "Action not possible in the object's current state",
        "The engine refused an action because the job or job stream is in a state that does not allow it. "
        "Through the REST API it arrives as HTTP 500, often wrapped in AWSJSY404E.",
        [
            "Confirming a job that already ended",
            "Killing a job that is not running",
            "Rerunning a job that has not ended",
        ],
        [
            "Read the object again (get_job) and pick an action its current state allows",
            "Check for a concurrent operator",
        ],
        "lab observation (confirm-succ on an ended job), hwa-rest-api.md §2.5",
    ),
    _m(
        "AWSJSY404E",
        "The REST layer could not perform the operation",
        "A wrapper error from the API layer; the specific reason is in the message it wraps (for example AWSBIN076E).",
        ["Any refused plan action"],
        ["Read the wrapped AWS code in the same message and look that one up"],
        "lab observation, hwa-rest-api.md §2.5",
    ),
    _m(
        "AWSBIO006E",
        "A required key field is empty",
        "The engine could not resolve the object because a key field (such as the job stream name) was missing. "
        "Seen when a composite key like WS;JOBS;NAME was used where a UUID was expected.",
        ["Using the ad hoc submit's composite id as a job id"],
        ["Look the job up by name to get its UUID, then act on that"],
        "lab observation, hwa-rest-api.md §2.5 and §4.3",
    ),
    _m(
        "AWSJDB101E",
        "Object not found in the database",
        "A definition (job, job stream, workstation) referenced by id or key does not exist in the model.",
        ["Submitting with a plan id instead of a definition id", "A definition deleted or renamed"],
        ["List the definitions (GET /model/...) and use the id from there", "Check folder and workstation in the key"],
        "lab observation, hwa-rest-api.md §4.3",
    ),
    _m(
        "AWSBHU085E",
        "Job not in a state that allows the change",
        "A conman change (altjob) was refused: the job must be in HOLD or READY.",
        ["Changing a job that already started or ended"],
        ["Change the job only before it starts; otherwise rerun it with new options"],
        "lab observation, hwa-rest-api.md §6.7",
    ),
    _m(
        "AWSBHU072E",
        "No objects match the selection",
        "The selection given to a command matched nothing in the plan.",
        ["A job not yet in the plan", "A typo in the workstation, job stream or job name", "Wrong folder"],
        ["Search with find_jobs using a wildcard pattern", "Check that the plan was extended (JnextPlan)"],
        "lab observation, hwa-rest-api.md §6.7",
    ),
    _m(
        "AWSBHU510E",
        "The job is already in the destination job stream",
        "Submitting the same job twice into one job stream is refused (HTTP 409 through the REST API).",
        ["A second submit without an alias"],
        ["Submit with an alias", "Check whether the first submission is still there"],
        "lab observation, hwa-rest-api.md §4.3 and §6.7",
    ),
    _m(
        "AWSJCS027E",
        "Command not accepted by this workstation type",
        "An engine component command was sent to a workstation that does not run that component.",
        ["Sending an agent command to the master domain manager"],
        ["Send component commands to AGENT workstations only"],
        "lab observation, hwa-rest-api.md §4.4",
    ),
    _m(
        "OQL_FILTER_SYNTAX_ERROR",
        "The OQL filter could not be parsed",
        "The REST API rejected a query filter (HTTP 400). Field paths that look plausible are not always accepted.",
        ["A field path the engine does not know (key.name is one)", "Unbalanced quotes or brackets"],
        ["Use the confirmed fields: name, folder, jobruns.compositeStatus.status, commonStatus, activeStates"],
        "lab observation, hwa-rest-api.md §2.4",
    ),
    _rc(
        "RC=0",
        "Success",
        "The job's command ended normally. The job ends SUCC unless a return-code mapping says otherwise.",
        [],
        ["If the job still shows ABEND, check its success condition (RC mapping) in the definition"],
    ),
    _rc(
        "RC=1",
        "General failure",
        "The script reported an error. Most batch scripts exit 1 for a missing input or a failed step.",
        ["Missing input file", "A command inside the script failed", "Bad parameters"],
        ["Read the first error lines of the log (get_job_log)", "Check the input files the log names"],
    ),
    _rc(
        "RC=2",
        "Misuse or application error",
        "Shells use 2 for wrong usage; many applications use it for a data or SQL error.",
        ["Wrong arguments to a command", "A database object missing (for example a dropped table)"],
        ["Compare the command line in the log with the definition", "Check database errors in the log"],
    ),
    _rc(
        "RC=4",
        "Warning",
        "Many batch programs exit 4 for a warning (counts that do not match, records skipped).",
        ["Record count mismatch", "Partial data"],
        ["Decide with the application team whether RC 4 is acceptable; if so, map it as success"],
    ),
    _rc(
        "RC=8",
        "Error",
        "A conventional 'error' level: the step failed, for example on a lock or a deadlock.",
        ["Database deadlock", "Locked resource", "Another job updating the same table"],
        ["Check for concurrent jobs on the same object", "Rerun after the conflicting job ends"],
    ),
    _rc(
        "RC=12",
        "Severe error",
        "A conventional 'severe' level, often a connection failure to a remote system.",
        ["Remote host refused the connection (sftp, database)", "Expired credentials"],
        ["Test the connection from the agent", "Check credentials and certificates"],
    ),
    _rc(
        "RC=16",
        "Terminal error",
        "The program could not continue at all, for example out of memory.",
        ["Java heap exhausted", "Corrupt input"],
        ["Check memory settings and input size", "Look for the FATAL line in the log"],
    ),
    _rc(
        "RC=126",
        "Command found but not executable",
        "The shell found the script but could not run it.",
        ["Missing execute permission", "Wrong interpreter line"],
        ["Check the file mode and the #! line on the agent"],
    ),
    _rc(
        "RC=127",
        "Command not found",
        "The shell could not find the script or a command in it.",
        ["Script path wrong or not deployed on this agent", "PATH differs for the job's user"],
        ["Check that the script exists on the agent the job ran on", "Check the user's PATH"],
    ),
    _rc(
        "RC=137",
        "Killed (signal 9)",
        "128 + 9: the process was killed, usually by the kernel's out-of-memory killer or an operator.",
        ["Memory limit exceeded", "kill -9 by a person or a watchdog"],
        ["Check memory limits of the agent or container", "Check whether someone killed the job"],
    ),
    _rc(
        "RC=143",
        "Terminated (signal 15)",
        "128 + 15: the process was asked to stop, for example by a kill action.",
        ["A kill action from HWA", "Agent shutdown"],
        ["Check the audit trail for a kill_job", "Check agent restarts"],
    ),
    _rc(
        "RC=-1",
        "Job not launched",
        "No process ran; the job usually shows FAIL.",
        ["User unknown on the agent", "Agent cannot create the job's process"],
        ["Check the logon user exists on the workstation", "Check the agent's job manager"],
    ),
    _st(
        "HOLD",
        "Waiting",
        "Not ready to start: dependencies unresolved, or held by an operator (then shown as HELD).",
        ["job_dependencies direction=predecessors shows what it waits for"],
    ),
    _st(
        "READY",
        "Ready to launch",
        "Dependencies are resolved; it waits for a slot on its workstation.",
        ["list_workstations: is the workstation linked, running, with a limit above 0?"],
    ),
    _st(
        "FENCE",
        "Below the fence",
        "Its priority is at or below the workstation's fence, so it does not start.",
        ["Raise the job's priority or lower the fence"],
        "conman; the common status for FENCE is inferred",
    ),
    _st(
        "INTRO", "Being launched", "The engine is handing the job to the agent.", ["Wait; if it stays, check the agent"]
    ),
    _st("EXEC", "Running", "The job is running.", ["get_job_log shows progress"]),
    _st(
        "PEND",
        "Waiting for confirmation",
        "The job ended and needs an operator's confirm (SUCC or ABEND).",
        ["confirm_job after checking the output"],
    ),
    _st("SUCC", "Successful", "Ended successfully.", []),
    _st(
        "ABEND",
        "Abended",
        "Ended with a return code outside its success condition.",
        ["get_job_log for the first error", "explain_message RC=<code>"],
    ),
    _st("FAIL", "Failed to launch", "The job could not be started at all.", ["Check user, agent and script path"]),
    _st("CANCL", "Cancelled", "Cancelled by an operator or the plan.", ["Check the audit trail or the plan"]),
    _st("SUPPR", "Suppressed", "Not run, because of a late start or a condition.", ["Check time restrictions"]),
    _st(
        "STUCK",
        "Job stream stuck",
        "A job stream that cannot proceed because a job failed.",
        ["Find the failed job (find_jobs status ERROR) and rerun or confirm it"],
        "conman showschedules",
    ),
)

_BY_CODE = {e.code.upper(): e for e in ENTRIES}
_RC = re.compile(r"^(?:RC|RETURN ?CODE|EXIT(?: STATUS)?)?\s*[=:]?\s*(-?\d{1,3})$")


def lookup(query: str) -> tuple[Entry | None, list[Entry]]:
    """The entry for ``query`` (exact, then fuzzy) and up to five close alternatives."""
    q = " ".join(query.strip().upper().split())[:80]
    if not q:
        return None, []
    m = _RC.match(q)
    if m:
        q = f"RC={int(m.group(1))}"
    if q in _BY_CODE:
        return _BY_CODE[q], []
    prefixed = [e for code, e in _BY_CODE.items() if code.startswith(q) or q.startswith(code)]
    if len(prefixed) == 1:
        return prefixed[0], []
    close = difflib.get_close_matches(q, list(_BY_CODE), n=5, cutoff=0.6)
    words = set(re.findall(r"[A-Z]{3,}", q))
    by_words = [
        e for e in ENTRIES if words and words <= set(re.findall(r"[A-Z]{3,}", f"{e.title} {e.meaning}".upper()))
    ]
    alternatives = [_BY_CODE[c] for c in close] + [e for e in by_words if e.code not in close]
    if len(alternatives) == 1:
        return alternatives[0], []
    return None, alternatives[:5]


def as_markdown() -> str:
    """The whole reference as one Markdown document, so the knowledge base can search it."""
    lines = ["# HWA message, return code and status reference", ""]
    for kind, heading in (("message", "Messages"), ("return_code", "Return codes"), ("status", "Statuses")):
        lines += [f"## {heading}", ""]
        for e in (e for e in ENTRIES if e.kind == kind):
            lines += [f"### {e.code}: {e.title}", "", e.meaning, ""]
            if e.causes:
                lines += ["Likely causes: " + "; ".join(e.causes) + ".", ""]
            if e.checks:
                lines += ["What to check: " + "; ".join(e.checks) + ".", ""]
    return "\n".join(lines)


AWS_CODE = re.compile(r"\bAWS[A-Z]{3}\d{3}[EIW]\b")
