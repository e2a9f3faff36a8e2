"""Plan objects rendered as REST API v2 payloads, and the OQL field paths over them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from resync_mcp.clock import iso
from resync_mcp.simulator.oql import Getter
from resync_mcp.simulator.plan import COMMON_OF, TERMINAL, SimDep, SimJob, SimJobStream, SimPlan

ENGINE_ID = "3b6e9c0e-0000-4000-8000-00000000a001"


def _duration(seconds: float) -> str:
    return f"PT{int(seconds)}S"


def common_status(plan: SimPlan, job: SimJob) -> str:
    if (job.forced == "HOLD" or job.held) and job.status == "HOLD":
        return "HELD"  # held by a user: priority 0, shown as HELD in the consoles
    return COMMON_OF[job.status]


def job_composite(job: SimJob) -> dict[str, Any]:
    """``JobInPlanCompositeStatusV2`` of the job's current run."""
    return {
        "status": job.status,
        "canceled": job.status == "CANCL",
        "cancelPending": job.cancel_pending and job.status != "CANCL",
        "started": job.start is not None,
        "error": job.status in ("ABEND", "FAIL"),
    }


def stream_composite(stream: SimJobStream) -> dict[str, Any]:
    """``JobStreamInPlanCompositeStatusV2``."""
    return {"status": stream.status, "started": stream.start is not None, "error": stream.status == "STUCK"}


def _actions(job: SimJob) -> list[dict[str, str]]:
    # The engine's own per-state action hints, following simulator/actions.py's rules; what real
    # engines put here is not known (hwa-rest-api.md §6.7).
    status, keys = job.status, []
    if status in ("SUCC", "ABEND", "FAIL"):
        keys.append("RERUN_JOB")
    if status not in TERMINAL:
        keys += ["HOLD_JOB", "RELEASE_JOB"]
        if status != "PEND":
            keys.append("KILL_JOB")
    if status in ("HOLD", "READY", "FENCE"):
        keys += ["CANCEL_JOB", "RELEASE_ALL_DEPENDENCIES_JOB"]
    if status not in ("SUCC", "CANCL", "SUPPR"):
        keys.append("CONFIRM_SUCC_JOB")
    if status not in ("ABEND", "CANCL", "SUPPR"):
        keys.append("CONFIRM_ABEND_JOB")
    return [{"key": k} for k in keys]


def render_runs(plan: SimPlan, job: SimJob) -> list[dict[str, Any]]:
    ws = plan.workstations[job.workstation]
    runs: list[dict[str, Any]] = []
    for n, run_id in enumerate(job.run_ids):
        last = n == len(job.run_ids) - 1
        if not last:  # an earlier attempt, ended and rerun
            past = job.past[n]
            start, end, status, rc = past.start, past.end, past.status, past.rc
            times = {
                "actualStartTime": iso(start),
                "actualEndTime": iso(end),
                "elapsedTime": _duration((end - start).total_seconds()),
            }
        else:
            status, rc = job.status, (job.rc if job.status in ("ABEND", "SUCC", "PEND") else None)
            times = {}
            if job.start:
                times["actualStartTime"] = iso(job.start)
            if job.end:
                times["actualEndTime"] = iso(job.end)
                times["elapsedTime"] = _duration((job.end - job.start).total_seconds() if job.start else 0)
        times["estimatedDuration"] = _duration(job.duration_s)
        run: dict[str, Any] = {
            "id": run_id,
            "jobId": job.id,
            "name": job.name,
            "jobNumber": job.job_number + 100 * n,
            "runAttempt": n + 1,
            "commonStatus": COMMON_OF[status],
            "compositeStatus": {
                "status": status,
                "canceled": status == "CANCL",
                "cancelPending": last and job.cancel_pending and status != "CANCL",
                "started": (not last) or job.start is not None,
                "error": status in ("ABEND", "FAIL"),
            },
            "timeInfo": times,
            "lastInRerunChain": last,
            "rerunType": "RERUN" if n > 0 else None,
            "confirmed": last and job.confirmed,
            "actualWorkstation": ws.key,
        }
        if rc is not None:
            run["returnCode"] = rc
        runs.append({k: v for k, v in run.items() if v is not None})
    return runs


def render_dep(plan: SimPlan, dep: SimDep) -> dict[str, Any]:
    satisfied = plan.dep_satisfied(dep)
    out: dict[str, Any] = {
        "id": dep.id,
        "dependencyType": dep.type,
        "dependencyStatus": "SATISFIED" if satisfied else "UNSATISFIED",
        "satisfied": satisfied,
        "mandatory": True,
    }
    if dep.type in ("INTERNAL", "EXTERNAL_JOB"):
        pred = plan.jobs[dep.target]
        stream = plan.streams[pred.stream]
        out |= {
            "jobId": pred.id,
            "jobName": pred.name,
            "jobStreamName": stream.name,
            "jobStreamWorkstation": plan.workstations[stream.workstation].key,
            "jobStreamFolder": stream.folder,
            "jobStreamSchedTime": iso(stream.sched_time),
            "predecessorStatus": job_composite(pred),  # an object in the spec, not a string
            "statusConditions": ["SUCC"],
        }
        if dep.type == "EXTERNAL_JOB":  # InternalDependencyInPlanV2 has no jobStreamId: same stream
            out["jobStreamId"] = stream.id
    elif dep.type == "EXTERNAL_JOBSTREAM":
        stream = plan.streams[dep.target]
        out |= {
            "jobStreamId": stream.id,
            "jobStreamName": stream.name,
            "jobStreamWorkstation": plan.workstations[stream.workstation].key,
            "jobStreamFolder": stream.folder,
            "jobStreamSchedTime": iso(stream.sched_time),
            "predecessorStatus": stream_composite(stream),
        }
    elif dep.type == "RESOURCE":
        res = plan.resource_by_id[dep.ref]
        out |= {"name": res.name, "workstation": res.workstation, "quantity": dep.quantity, "available": res.quantity}
    elif dep.type == "PROMPT":
        prompt = plan.prompt_by_id[dep.ref]
        out |= {
            "id": prompt.id,  # the spec: a prompt dependency's id is the prompt's identifier
            "promptName": prompt.name,
            "number": prompt.number,
            "text": prompt.text,
            "promptStatus": prompt_status(prompt.answer),
            "promptType": "Predefined Prompt",
        }
    elif dep.type == "FILE":
        f = plan.file_by_qualifier[dep.ref]
        out |= {
            "qualifier": f.qualifier,
            "workstation": f.workstation,
            "status": "Exists" if f.exists else "Not Checked",
        }
    return out


def prompt_status(answer: bool | None) -> str:
    """``PromptStatusType``: the spec's enum (NOT_ASKED, ASKED, ANSWERED_YES, ANSWERED_NO); every
    simulated prompt has been asked. (The dependency's description says "Answered Yes", but its
    enum is the same upper-case one.)"""
    return "ASKED" if answer is None else "ANSWERED_YES" if answer else "ANSWERED_NO"


def render_job(plan: SimPlan, job: SimJob, now: datetime, *, with_deps: bool) -> dict[str, Any]:
    stream = plan.streams[job.stream]
    ws = plan.workstations[job.workstation]
    deadline = plan.deadline(job)
    late = plan.is_late(job, now)
    unresolved = sum(1 for d in job.deps if not plan.dep_satisfied(d))
    tr: dict[str, Any] = {"timeDependent": job.at_offset_s is not None}
    if job.at_offset_s is not None:
        tr["startTime"] = iso(stream.sched_time + timedelta(seconds=job.at_offset_s))
    if deadline is not None:
        tr["deadlineTime"] = iso(deadline)
    out: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "key": f"{plan.workstations[stream.workstation].key}#{stream.folder}{stream.name}.{job.name}",
        "flowNodeType": "JOB",
        "workstation": ws.key,
        "workstationId": ws.id,
        "folder": stream.folder,
        "jobStreamId": stream.id,
        "jobStreamName": stream.name,
        "jobStreamWorkstation": plan.workstations[stream.workstation].key,
        "schedTime": iso(stream.sched_time),
        "priority": 0 if job.forced == "HOLD" or job.held else job.priority,
        "origPriority": job.priority,
        "dependenciesStats": {"numberOfDependencies": len(job.deps), "numberOfUnresolvedDependencies": unresolved},
        "timeRestrictions": tr,
        "jobOptions": {
            "requiresConfirmation": job.confirm,
            "critical": job.critical,
            "every": False,
            "noOperation": False,
        },
        "jobStatusFlags": {
            "jobLate": late,
            "deadlineHasPassed": deadline is not None and now > deadline,
            "restarted": len(job.run_ids) > 1,
        },
        "jobDefinition": {
            "task": {"UNIX": {"taskString": f"/opt/batch/bin/{job.name.lower()}.sh", "isCommand": False}},
            "userLogins": ["batch"],
            "estimatedDuration": _duration(job.duration_s),
            "recoveryOption": "STOP",
        },
        "lastRunCommonStatus": common_status(plan, job),
        "lastRunCompositeStatus": job_composite(job),
        "jobruns": render_runs(plan, job),
        "actions": _actions(job),
        "engineId": ENGINE_ID,
    }
    if job.critical:
        out["criticalStart"] = iso(stream.sched_time)
    if with_deps:
        out["dependencies"] = [render_dep(plan, d) for d in job.deps]
    return out


def render_stream(plan: SimPlan, stream: SimJobStream, now: datetime, *, with_jobs: bool) -> dict[str, Any]:
    ws = plan.workstations[stream.workstation]
    states = [plan.jobs[i].status for i in stream.jobs]
    out: dict[str, Any] = {
        "id": stream.id,
        "name": stream.name,
        "key": f"{ws.key}#{stream.folder}{stream.name}",
        "flowNodeType": "JOBSTREAM",
        "originalJobStreamName": stream.original_name or stream.name,
        "workstation": ws.key,
        "workstationId": ws.id,
        "folder": stream.folder,
        "schedTime": iso(stream.sched_time),
        # A date-time in the spec (the lab's items carry UTC times plus a separate timeZone).
        "scheduledDate": iso(stream.sched_time.replace(hour=0, minute=0, second=0, microsecond=0)),
        "timeZone": "UTC",
        "priority": stream.priority,
        "limit": stream.limit,
        "commonStatus": _stream_common(stream.status),
        "compositeStatus": stream_composite(stream),
        "jsStatusFlags": {"released": stream.status != "HOLD", "lateJobStream": False},
        "jsOptions": {"carryForward": stream.carry_forward, "monitored": False},
        # Carried forward from an earlier plan: a simulated plan starts fresh, so never.
        "jsDefinitionFlags": {"carriedForward": False, "aliased": stream.original_name is not None},
        "timeInfo": {
            k: v
            for k, v in (
                ("actualStartTime", iso(stream.start) if stream.start else None),
                ("actualEndTime", iso(stream.end) if stream.end else None),
            )
            if v
        },
        "jobStreamStats": {
            "numberOfJob": len(states),
            "numberOfSuccessfullJob": states.count("SUCC"),
            "numberOfAbendedJob": states.count("ABEND"),
            "numberOfFailedJob": states.count("FAIL"),
            "numberOfExecutingJob": states.count("EXEC") + states.count("INTRO"),
            "numberOfNotRunningJob": sum(s in ("HOLD", "READY", "FENCE") for s in states),
        },
        "engineId": ENGINE_ID,
    }
    if stream.original_name is not None:
        out["aliasJobStreamName"] = stream.name
    if with_jobs:
        out["jobs"] = [render_job(plan, plan.jobs[i], now, with_deps=False) for i in stream.jobs]
    return out


def _stream_common(status: str) -> str:
    return {"SUCC": "SUCCESSFUL", "EXEC": "RUNNING", "STUCK": "ERROR", "READY": "READY", "HOLD": "WAITING"}.get(
        status, "UNDECIDED"
    )


# ------------------------------------------------------------------- OQL field paths
# Job fields that change only with the plan's shape (an action, a submit), never with time:
# their index survives a new tick (simulator/oql.py Index).
STATIC_JOB_FIELDS = frozenset(
    {
        "id",
        "name",
        "jobStreamName",
        "jobStreamId",
        "workstation",
        "folder",
        "dependencies.jobId",
        "dependencies.jobStreamId",
    }
)

STATIC_STREAM_FIELDS = frozenset({"id", "name", "workstation", "folder"})


def job_fields(plan: SimPlan, now: datetime) -> dict[str, Getter]:
    def stream(j: SimJob) -> SimJobStream:
        return plan.streams[j.stream]

    def run_starts(j: SimJob) -> Any:
        return iso(j.start) if j.start else None

    def run_ends(j: SimJob) -> Any:
        return iso(j.end) if j.end else None

    def rc(j: SimJob) -> Any:
        return j.rc if j.status in ("ABEND", "SUCC", "PEND") else None

    def dep_jobs(j: SimJob) -> list[str]:
        return [plan.jobs[d.target].id for d in j.deps if d.type in ("INTERNAL", "EXTERNAL_JOB")]

    def dep_streams(j: SimJob) -> list[str]:
        out = []
        for d in j.deps:
            if d.type in ("INTERNAL", "EXTERNAL_JOB"):
                out.append(plan.streams[plan.jobs[d.target].stream].id)
            elif d.type == "EXTERNAL_JOBSTREAM":
                out.append(plan.streams[d.target].id)
        return out

    def deadline(j: SimJob) -> Any:
        d = plan.deadline(j)
        return iso(d) if d else None

    sched = [iso(s.sched_time) for s in plan.streams]  # formatted once, not once per job and filter

    def at_time(j: SimJob) -> Any:
        at = j.at_offset_s
        return None if at is None else iso(stream(j).sched_time + timedelta(seconds=at))

    return {
        "id": lambda j: j.id,
        "name": lambda j: j.name,
        "jobStreamName": lambda j: stream(j).name,
        "jobStreamId": lambda j: stream(j).id,
        "workstation": lambda j: plan.workstations[j.workstation].key,
        "folder": lambda j: stream(j).folder,
        "priority": lambda j: 0 if j.forced == "HOLD" else j.priority,
        "schedTime": lambda j: sched[j.stream],
        "lastRunCommonStatus": lambda j: common_status(plan, j),
        "lastRunCompositeStatus.status": lambda j: j.status,
        "jobruns.compositeStatus.status": lambda j: j.status,
        "jobruns.commonStatus": lambda j: common_status(plan, j),
        "jobruns.returnCode": rc,
        "jobruns.timeInfo.actualStartTime": run_starts,
        "jobruns.timeInfo.actualEndTime": run_ends,
        "jobOptions.critical": lambda j: j.critical,
        "jobOptions.requiresConfirmation": lambda j: j.confirm,
        "jobStatusFlags.jobLate": lambda j: plan.is_late(j, now),
        "timeRestrictions.deadlineTime": deadline,
        "timeRestrictions.startTime": at_time,
        "dependencies.jobId": dep_jobs,
        "dependencies.jobStreamId": dep_streams,
    }


def stream_fields(plan: SimPlan) -> dict[str, Getter]:
    return {
        "id": lambda s: s.id,
        "name": lambda s: s.name,
        "workstation": lambda s: plan.workstations[s.workstation].key,
        "folder": lambda s: s.folder,
        "schedTime": lambda s: iso(s.sched_time),
        "priority": lambda s: s.priority,
        "commonStatus": lambda s: _stream_common(s.status),
        "compositeStatus.status": lambda s: s.status,
        "jsOptions.carryForward": lambda s: s.carry_forward,
    }


def workstation_fields() -> dict[str, Getter]:
    return {
        "id": lambda w: w.id,
        "name": lambda w: w.name,
        "type": lambda w: w.type,
        "limit": lambda w: w.limit,
        "fence": lambda w: w.fence,
        "activeStates": lambda w: workstation_states(w),
    }


def render_workstation(w: Any) -> dict[str, Any]:
    """``WorkstationInPlanV2``."""
    return {
        "id": w.id,
        "name": w.name,
        "key": w.key,
        "type": w.type,
        "os": w.os,
        "nodeName": w.node_name,
        "tcpPort": 31111,
        "limit": w.limit,
        "fence": w.fence,
        "runNumber": 14,
        "domainName": w.domain,
        "timeZone": "UTC",
        "version": "10.2.8",
        "activeStates": workstation_states(w),
        "activeFlags": ["AUTO_LINK", "FULL_STATUS", "TCP_IP_LINK"],
        "ignore": False,
        "engineId": ENGINE_ID,
    }


def workstation_states(ws: Any) -> list[str]:
    states = []
    if ws.linked:
        states += ["LINKED", "FULLY_LINKED"]
    if ws.running:
        states += ["RUNNING", "JOBMAN_UP", "WRITER_UP", "ONLINE"]
    if ws.type == "MANAGER":
        states += ["MANAGER", "MASTER"]
    return states
