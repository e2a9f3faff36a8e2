"""Job logs in the style of a UNIX agent's jobmanrc output, with the JOBINFO trailer.

The banner and trailer layout follows what operators see in stdlist files (header with job,
user, JCL file and job number; trailer with exit status, elapsed time and CPU usage). The
exact trailer wording of HWA 10.2.x was not captured verbatim (hwa-rest-api.md §3, LAB-RB);
the client-side parser in services/joblog.py accepts the variants it is likely to meet.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from resync_mcp.simulator.plan import _ABEND_CAUSES, SimJob, SimPlan

_BANNER = "=" * 63


def _stamp(ts: datetime) -> str:
    return ts.strftime("%a %m/%d/%Y %H:%M:%S UTC")


def render_log(plan: SimPlan, job: SimJob, attempt: int, now: datetime) -> str | None:
    """The log of one run, or None when the run has not started (no log yet)."""
    last = attempt == len(job.run_ids) - 1
    stream = plan.streams[job.stream]
    ws = plan.workstations[job.workstation]
    if last:
        if job.start is None:
            return None
        start, end, rc, status = job.start, job.end, job.rc, job.status
    else:
        past = job.past[attempt]
        start, end, rc, status = past.start, past.end, (past.rc if past.rc is not None else 1), past.status
    rng = random.Random(hash((plan.seed, job.idx, attempt)) & 0xFFFFFFFF)
    obj = job.name.split("_")[2] if job.name.count("_") >= 2 else "DATA"
    lines = [
        _BANNER,
        f"= JOB       : {ws.name}#{stream.folder}{stream.name}[({stream.sched_time:%H%M %m/%d/%y}),"
        f"({stream.id[:16].upper()})].{job.name}",
        "= USER      : batch",
        f"= JCLFILE   : /opt/batch/bin/{job.name.lower()}.sh",
        f"= Job Number: {job.job_number + 100 * attempt}",
        f"= {_stamp(start)}",
        _BANNER,
        f"AWSBIJ139I jobmanrc: launching /opt/batch/bin/{job.name.lower()}.sh",
    ]
    if status == "FAIL":
        lines.append(f"AWSBIJ154E The job could not be launched: user 'batch' unknown on {ws.node_name}.")
    # Big logs exist in real plans; about 2% of jobs write tens of thousands of lines.
    n_body = rng.choice([12, 30, 60, 120]) if rng.random() > 0.02 else 20_000
    span = ((end or now) - start).total_seconds()
    done = n_body if end is not None else max(1, int(n_body * 0.4))
    for i in range(done if status != "FAIL" else 0):
        ts = start + timedelta(seconds=span * i / max(1, n_body))
        lines.append(
            f"{ts:%H:%M:%S} INFO  {obj.lower()}: processed batch {i + 1}/{n_body} ({rng.randint(100, 99999)} records)"
        )
    if job.log_note and last:
        lines.append(f"{start:%H:%M:%S} INFO  {job.log_note}")
    if end is None:
        return "\n".join(lines) + "\n"
    if rc != 0 and status in ("ABEND", "PEND"):
        cause = next((text for code, text in _ABEND_CAUSES if code == rc), "ERROR: step failed")
        lines.append(f"{end:%H:%M:%S} " + cause.format(obj=obj, obj_l=obj.lower()))
        lines.append(f"{end:%H:%M:%S} ERROR step {rng.randint(1, 9)} ended with return code {rc}")
    exit_status = rc if status != "FAIL" else -1
    cpu_user = round(span * rng.uniform(0.05, 0.6), 2)
    lines += [
        _BANNER,
        "= JOBINFO",
        f"= Exit Status           : {exit_status}",
        f"= Elapsed Time (hh:mm:ss) : {_hms(span)}",
        f"= Job CPU usage (user)  : {cpu_user}s",
        f"= Job CPU usage (system): {round(cpu_user / 5, 2)}s",
        f"= {_stamp(end)}",
        _BANNER,
    ]
    return "\n".join(lines) + "\n"


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
