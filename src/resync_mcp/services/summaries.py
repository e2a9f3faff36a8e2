"""Pure mappings from HWA payload models to the compact views the tools return."""

from __future__ import annotations

from resync_mcp.services import joblog
from resync_mcp.services.views import DependencyView, JobSummary, StreamSummary
from resync_mcp.tws.models import DependencyInPlanV2, JobInPlanV2, JobStreamInPlanV2


def allowed_actions(status: str | None, held: bool, unresolved: int, engine_keys: list[str] | None = None) -> list[str]:
    """Actions the job's state allows: the engine's own hint (``actions[]``, keys such as
    ``RERUN_JOB``) when it sends one, else the documented rules (hwa-rest-api.md §6.7) with
    kill, hold and cancel inferred. Either way the engine has the last word when a tool acts."""
    hinted = [k.upper().removesuffix("_JOB").lower() for k in engine_keys or [] if k.upper().endswith("_JOB")]
    if hinted:
        return list(dict.fromkeys(hinted))
    s = (status or "").upper()
    out = []
    if s in ("SUCC", "ABEND", "FAIL"):
        out.append("rerun")
    if s == "EXEC":
        out.append("kill")
    if s in ("PEND", "ABEND", "SUCC"):
        out += ["confirm_succ", "confirm_abend"]
    if s not in ("SUCC", "ABEND", "FAIL", "CANCL", "SUPPR", "EXEC", "PEND") and not held:
        out.append("hold")
    if held or s == "HOLD":
        out.append("release")
    if unresolved and s in ("HOLD", "READY"):
        out.append("release_dependencies")
    if s not in ("SUCC", "ABEND", "FAIL", "CANCL", "SUPPR"):
        out.append("cancel")
    return out


def summarize_job(job: JobInPlanV2) -> JobSummary:
    run = job.last_run
    times = run.time_info if run else None
    tr = job.time_restrictions
    return JobSummary(
        id=job.id,
        name=job.name,
        job_stream=job.job_stream_name,
        job_stream_id=job.job_stream_id,
        workstation=job.workstation,
        folder=job.folder,
        status=job.internal_status,
        common_status=job.last_run_common_status,
        return_code=run.return_code if run else None,
        priority=job.priority,
        critical=bool(job.job_options and job.job_options.critical),
        late=bool(job.job_status_flags and job.job_status_flags.job_late),
        sched_time=job.sched_time,
        start=times.actual_start_time if times else None,
        end=times.actual_end_time if times else None,
        deadline=tr.deadline_time if tr else None,
        last_run_id=run.id if run else None,
    )


def summarize_stream(s: JobStreamInPlanV2) -> StreamSummary:
    st = s.job_stream_stats
    errors = None if st is None else (st.number_of_abended_job or 0) + (st.number_of_failed_job or 0)
    return StreamSummary(
        id=s.id,
        name=s.name,
        workstation=s.workstation,
        folder=s.folder,
        status=s.composite_status.status if s.composite_status else None,
        common_status=s.common_status,
        sched_time=s.sched_time,
        start=s.time_info.actual_start_time if s.time_info else None,
        end=s.time_info.actual_end_time if s.time_info else None,
        jobs=st.number_of_job if st else None,
        jobs_successful=st.number_of_successfull_job if st else None,
        jobs_error=errors,
        jobs_running=st.number_of_executing_job if st else None,
        jobs_waiting=st.number_of_not_running_job if st else None,
        carry_forward=s.js_options.carry_forward if s.js_options else None,
    )


def describe_dep(d: DependencyInPlanV2) -> DependencyView:
    t = d.dependency_type
    if t in ("INTERNAL", "EXTERNAL_JOB"):
        target = f"job {d.job_stream_name}.{d.job_name} to end {'/'.join(d.status_conditions or ['SUCC'])}"
    elif t == "EXTERNAL_JOBSTREAM":
        target = f"job stream {d.job_stream_name} to complete"
    elif t == "RESOURCE":
        target = f"{d.quantity or 1} unit(s) of resource {d.name} (available: {d.available})"
    elif t == "PROMPT":
        target = f"a reply to prompt {d.prompt_name}: {d.text!r} ({d.prompt_status})"
    elif t == "FILE":
        target = f"file {d.qualifier} ({d.status})"
    else:
        target = t.lower()
    return DependencyView(
        type=t,
        satisfied=d.satisfied,
        status=d.dependency_status,
        target=joblog.clean(target),
        job_id=d.job_id,
        job_stream_id=d.job_stream_id,
        predecessor_status=d.predecessor_state,
    )
