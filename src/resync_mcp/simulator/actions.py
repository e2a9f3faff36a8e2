"""The simulated engine's write side: which actions each state allows, and what they do.

Legality follows what a real engine is known to do (hwa-rest-api.md §6.7 and the lab captures):
rerun only from SUCC, ABEND or FAIL; confirm SUCC refused on a job already SUCC; on a freshly
submitted job, hold, then kill, then confirm-succ each accepted (LAB-SUB), whatever state the job
was in (HOLD, READY or already running); a confirmation while a job runs decides how it ends
(conman docs). Where nothing is known it is an inference, marked [I]: hold, release and kill are
accepted on any job that has not ended (kill stops a run, and has nothing to stop before one),
cancel and dependency releases only before the job starts, and nothing applies to an ended job
except rerun and confirm. A refused action answers as the real engine does for a wrong state:
HTTP 500 carrying AWSJSY404E wrapping AWSBIN076E.

Every action first pins what has already run (``SimPlan.pin_started``), then changes the
plan; plan time keeps moving, so a released job starts, a rerun runs, a kill ends a run.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resync_mcp.simulator.plan import TERMINAL, PastRun, Pin, SimJob, SimJobStream, SimPlan, SimWorkstation

NOT_STARTED = frozenset({"HOLD", "READY", "FENCE"})
RERUNNABLE = frozenset({"SUCC", "ABEND", "FAIL"})
UNCONFIRMABLE = frozenset({"CANCL", "SUPPR"})  # [I]: never ran, nothing to confirm
WRONG_STATE = "AWSBIN076E"
# SIGTERM's 128+15. What the real engine reports as the return code of a killed job was not captured.
KILLED_RC = 143


def _hold(job: SimJob, now: datetime) -> None:
    job.held = True


def _release(job: SimJob, now: datetime) -> None:
    job.held, job.release_at = False, now
    if job.forced == "HOLD":
        job.forced = None


def _cancel(job: SimJob, now: datetime) -> None:
    job.cancelled = True


def _cancel_pending(job: SimJob, now: datetime) -> None:
    job.cancel_pending = True


# What hold, release and cancel do to one job that has not started: a job action applies it to
# the job, a job-stream action to each of the stream's waiting jobs.
_WAITING_EFFECTS: dict[str, Callable[[SimJob, datetime], None]] = {
    "hold": _hold,
    "release": _release,
    "cancel": _cancel,
    "cancel-pending": _cancel_pending,
}


@dataclass
class ActionError(Exception):
    status: int
    message: str
    code: str | None = None


def wrong_state(what: str, state: str) -> ActionError:
    return ActionError(
        500,
        f"AWSJSY404E The operation could not be performed. AWSBIN076E The operation is not possible because "
        f"{what} is in an incorrect state ({state}).",
        WRONG_STATE,
    )


class Actions:
    def __init__(self, plan: SimPlan, seed: int) -> None:
        self.plan = plan
        self._rng = random.Random(seed)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _begin(self, now: datetime) -> None:
        self.plan.pin_started(now)

    def _done(self) -> None:
        self.plan.changed()

    # ---------------------------------------------------------------- jobs
    def job(self, job: SimJob, action: str, now: datetime, body: dict[str, Any], params: dict[str, str]) -> None:
        self._begin(now)
        status = job.status
        what = f"job {job.name}"
        if action in ("hold", "release"):
            self._need(status not in TERMINAL, what, status)
            _WAITING_EFFECTS[action](job, now)
        elif action in _WAITING_EFFECTS:  # cancel, cancel-pending
            self._need(status in NOT_STARTED, what, status)
            _WAITING_EFFECTS[action](job, now)
        elif action in ("release-all-dependencies", "release-dependencies"):
            self._need(status in NOT_STARTED, what, status)
            known = {d.id for d in job.deps}
            if action == "release-all-dependencies":
                ids = known
            else:
                ids = {str(d.get("id")) for d in body.get("dependencies", []) if isinstance(d, dict)}
                if not ids:
                    raise ActionError(400, "The request body must list the dependencies to release, each with its id.")
                unknown = ids - known
                if unknown:
                    raise ActionError(404, f"No dependency with the provided ID was found: {sorted(unknown)[0]}.")
            job.released_deps |= ids
            job.release_at = now
        elif action == "kill":
            self._need(status not in TERMINAL and status != "PEND", what, status)
            if job.pin is not None and job.pin.end is None:  # running: the run ends ABEND
                job.pin = Pin(job.pin.start, now, "ABEND")
                job.rc, job.killed = KILLED_RC, True
        elif action in ("confirm-succ", "confirm-abend"):
            target = "SUCC" if action == "confirm-succ" else "ABEND"
            self._need(status != target and status not in UNCONFIRMABLE, what, status)
            if job.pin is None:  # not started: confirmed without running
                job.pin = Pin(now, now, target)
            elif job.pin.end is None:  # running: the confirmation decides how the run ends
                job.confirmed_as = target
            else:
                job.pin = Pin(job.pin.start, job.pin.end, target)
            job.confirmed = True
            job.output_conditions = [str(c) for c in body.get("conditions", []) if isinstance(c, str)]
        elif action == "update-priority":
            self._need(status not in TERMINAL, what, status)
            raw = params.get("priority", "")
            if not raw.isdigit() or not 0 <= int(raw) <= 101:
                raise ActionError(400, "Parameter priority must be an integer between 0 and 101.")
            job.priority = int(raw)
        else:
            raise ActionError(404, f"No action {action} for jobs.")
        self._done()

    def rerun(self, job: SimJob, now: datetime, body: dict[str, Any]) -> str:
        """Rerun the job's last run as a new run; with ``successorsInfo`` also its ended successors."""
        self._begin(now)
        self._need(job.status in RERUNNABLE and job.pin is not None, f"job {job.name}", job.status)
        targets = [job]
        depth = (body.get("successorsInfo") or {}).get("depth") if isinstance(body.get("successorsInfo"), dict) else 0
        if isinstance(depth, int) and depth > 0:
            targets += [s for s in self._successors(job, depth) if s.pin is not None and s.pin.status is not None]
        for j in targets:
            assert j.pin is not None and j.pin.end is not None and j.pin.status is not None
            j.past.append(PastRun(j.pin.status, j.pin.start, j.pin.end, j.rc if j.pin.status != "FAIL" else None))
            j.run_ids.append(self._uuid())
            # The new run succeeds: in the simulator an operator's rerun fixes what failed.
            j.pin, j.rerun_at, j.rc, j.fail_launch = None, now, 0, False
            j.killed = j.confirmed = False
            j.confirmed_as = None
        if isinstance(body.get("priority"), int):
            job.priority = int(body["priority"])
        self.plan.index()
        self._done()
        return job.run_ids[-1]

    def _successors(self, job: SimJob, depth: int) -> list[SimJob]:
        found: list[SimJob] = []
        frontier = {job.idx}
        for _ in range(depth):
            nxt = {
                j.idx
                for j in self.plan.jobs
                if j.idx not in frontier
                and any(d.type in ("INTERNAL", "EXTERNAL_JOB") and d.target in frontier for d in j.deps)
            }
            found += [self.plan.jobs[i] for i in sorted(nxt) if self.plan.jobs[i] not in found]
            frontier = nxt
        return found

    # ---------------------------------------------------------------- job streams
    def stream(self, stream: SimJobStream, action: str, now: datetime) -> None:
        effect = _WAITING_EFFECTS.get(action)
        if effect is None:
            raise ActionError(404, f"No action {action} for job streams.")
        self._begin(now)
        waiting = [self.plan.jobs[i] for i in stream.jobs if self.plan.jobs[i].status in NOT_STARTED]
        self._need(bool(waiting), f"job stream {stream.name}", stream.status)
        for job in waiting:
            effect(job, now)
        self._done()

    def submit_stream(self, model: SimJobStream, now: datetime, body: dict[str, Any]) -> SimJobStream:
        """A new instance of the model's job stream, with copies of its jobs."""
        self._begin(now)
        arrival = _instant(body.get("inputArrivalTime")) or now
        alias = body.get("alias")
        if alias is not None and not _NAME.match(str(alias)):
            raise ActionError(400, "The alias must be 1-16 letters, digits, '_' or '-'.")
        new = SimJobStream(
            len(self.plan.streams),
            self._uuid(),
            str(alias or model.name),
            model.folder,
            model.workstation,
            arrival.replace(microsecond=0),
            int(body.get("priority") or model.priority),
            model.limit,
            False,
        )
        if alias is not None:
            new.original_name = model.name
        self.plan.streams.append(new)
        mapping: dict[int, int] = {}
        for old_idx in model.jobs:
            old = self.plan.jobs[old_idx]
            job = self._copy_job(old, new)
            mapping[old_idx] = job.idx
            for dep in old.deps:
                if dep.type == "INTERNAL" and dep.target in mapping:
                    job.deps.append(type(dep)("INTERNAL", self._uuid(), mapping[dep.target]))
        self.plan.index()
        self._done()
        return new

    def _copy_job(self, old: SimJob, stream: SimJobStream, name: str | None = None) -> SimJob:
        job = SimJob(
            idx=len(self.plan.jobs),
            id=self._uuid(),
            name=name or old.name,
            stream=stream.idx,
            workstation=old.workstation if name is None else stream.workstation,
            priority=old.priority,
            duration_s=old.duration_s,
            rc=old.rc if name is None else 0,
            fail_launch=False,
            forced=None,
            at_offset_s=None,
            critical=old.critical,
            deadline_slack_s=None,
            confirm=old.confirm,
            prior_abend_rc=None,
        )
        job.run_ids = [self._uuid()]
        job.job_number = 10_000 + job.idx
        self.plan.jobs.append(job)
        stream.jobs.append(job.idx)
        return job

    def submit_job(self, model: SimJob, now: datetime, body: dict[str, Any]) -> SimJob:
        self._begin(now)
        name = str(body.get("alias") or model.name)
        if not _NAME.match(name):
            raise ActionError(400, "The alias must be 1-40 letters, digits, '_' or '-'.")
        sid = body.get("jobStreamId")
        stream = self.plan.stream_by_id.get(str(sid)) if sid else self._jobs_stream(model.workstation, now)
        if stream is None:
            raise ActionError(404, "No job stream with the provided ID was found in the plan.")
        self._unique(stream, name)
        job = self._copy_job(model, stream, name)
        job.workstation = model.workstation
        self.plan.index()
        self._done()
        return job

    def submit_adhoc(self, ws: SimWorkstation, now: datetime, name: str, duration_s: int, held: bool) -> SimJob:
        """An ad hoc job in the workstation's JOBS stream; ``held`` starts it in HOLD until released
        (one lab), else it starts as soon as it can (another lab saw READY)."""
        self._begin(now)
        stream = self._jobs_stream(self.plan.workstations.index(ws), now)
        self._unique(stream, name)
        template = SimJob(0, "", name, 0, 0, 10, duration_s, 0, False, None, None, False, None, False, None)
        job = self._copy_job(template, stream, name)
        job.held = held
        self.plan.index()
        self._done()
        return job

    def _unique(self, stream: SimJobStream, name: str) -> None:
        if any(self.plan.jobs[i].name == name for i in stream.jobs):
            raise ActionError(409, f"The job {name} is already present in the destination job stream {stream.name}.")

    def _jobs_stream(self, ws_idx: int, now: datetime) -> SimJobStream:
        """The workstation's default JOBS stream, where submitted and ad hoc jobs land."""
        for s in self.plan.streams:
            if s.name == "JOBS" and s.workstation == ws_idx:
                return s
        stream = SimJobStream(len(self.plan.streams), self._uuid(), "JOBS", "/", ws_idx, now, 10, -1, False)
        self.plan.streams.append(stream)
        return stream

    # ---------------------------------------------------------------- prompts, workstations
    def reply(self, prompt: Any, answer: bool, now: datetime) -> None:
        self._begin(now)
        self._need(prompt.answer is None, f"prompt {prompt.name}", "answered")
        prompt.answer = answer
        self._done()

    def workstation(self, ws: SimWorkstation, action: str, now: datetime, params: dict[str, str]) -> None:
        self._begin(now)
        if action in ("update-fence", "update-limit"):
            name, hi = ("fence", 101) if action == "update-fence" else ("limit", 1024)
            raw = params.get(name, "")
            if not raw.isdigit() or not 0 <= int(raw) <= hi:
                raise ActionError(400, f"Parameter {name} must be an integer between 0 and {hi}.")
            setattr(ws, name, int(raw))
        elif action in ("link", "unlink"):
            ws.linked = action == "link"
        elif action in ("start", "stop"):
            ws.running = action == "start"
        else:
            raise ActionError(404, f"No action {action} for workstations.")
        self._done()

    @staticmethod
    def _need(ok: bool, what: str, state: str) -> None:
        if not ok:
            raise wrong_state(what, state)


_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ActionError(400, "inputArrivalTime must be an ISO-8601 instant.") from None


def adhoc_name(body: dict[str, Any]) -> str:
    """The ad hoc job's name: its alias, else the command's first word (as in the lab's SLEEP)."""
    if body.get("alias"):
        return str(body["alias"])
    task = body.get("task")
    if not isinstance(task, dict) or not task:
        raise ActionError(400, "The task is required: an object keyed by task type, e.g. {'UNIX': {...}}.")
    spec = next(iter(task.values()))
    command = str(spec.get("taskString", "")) if isinstance(spec, dict) else ""
    word = command.strip().split(" ")[0].rsplit("/", 1)[-1] if command.strip() else ""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", word).upper()[:40]
    if not name:
        raise ActionError(400, "The task needs a taskString (the command to run).")
    return name
