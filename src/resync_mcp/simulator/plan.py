"""A seeded, deterministic production plan and its state as a function of plan time.

The generator lays out folders, workstations, job streams and jobs with internal and
external dependencies, resources, prompts and files. Each job carries a fixed destiny
(duration, exit code, launch failure, user hold ...) drawn from the seed. Its *state* at a
given plan time is then computed by one pass in topological order: a job starts when its
job stream's input arrival time and ``at`` time have come, every predecessor ended
successfully, and its resource, prompt and file dependencies are satisfied; it ends
after its duration. Advancing plan time therefore makes jobs start, end and fail
deterministically, and every common status is consistent with its internal status.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from resync_mcp.tws.status import COMMON_OF

__all__ = ["COMMON_OF", "SimPlan", "generate_plan"]

TERMINAL_OK = frozenset({"SUCC", "SUPPR"})
TERMINAL_BAD = frozenset({"ABEND", "FAIL", "CANCL"})
TERMINAL = TERMINAL_OK | TERMINAL_BAD

_FOLDERS = {
    "/FINANCE/": ("FIN", ["GL", "AP", "AR", "LEDGER", "TAX", "FX"]),
    "/RETAIL/": ("RTL", ["POS", "STOCK", "PRICE", "ORDERS", "PROMO"]),
    "/HR/": ("HR", ["PAYROLL", "TIMESHEET", "BENEFITS"]),
    "/OPS/": ("OPS", ["BACKUP", "ARCHIVE", "PURGE", "STATS", "REPORT"]),
    "/": ("CORE", ["EOD", "BATCH", "INTERFACE", "FEED"]),
}
_VERBS = ["LOAD", "EXTRACT", "XFORM", "MERGE", "CHECK", "SEND", "RECV", "CALC", "POST", "CLOSE", "SORT"]
_WS_TYPES = ["FTA", "AGENT", "AGENT", "FTA", "X-AGENT", "S-AGENT", "POOL"]
_OSES = {"FTA": "UNIX", "AGENT": "UNIX", "X-AGENT": "OTHER", "S-AGENT": "UNIX", "POOL": "UNIX", "MANAGER": "UNIX"}
_ABEND_CAUSES = [
    (1, "ERROR: input file /data/in/{obj}.dat not found"),
    (2, "ERROR: ORA-00942: table or view does not exist"),
    (4, "WARNING: record count mismatch: expected 10234, got 10198"),
    (8, "ERROR: database deadlock detected while updating {obj}"),
    (12, "ERROR: sftp: connection refused by remote host"),
    (16, "FATAL: java.lang.OutOfMemoryError: Java heap space"),
    (127, "/bin/sh: /opt/batch/bin/{obj_l}.sh: No such file or directory"),
    (137, "Killed: process exceeded memory limit (signal 9)"),
]


_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)


def _uuid(rng: random.Random) -> str:
    """``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, without building the object
    (a 100,000-job plan makes about 370,000 of them)."""
    h = f"{(rng.getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(slots=True)
class SimWorkstation:
    id: str
    name: str
    type: str
    os: str
    node_name: str
    domain: str
    limit: int
    fence: int
    linked: bool
    running: bool

    @property
    def key(self) -> str:
        return f"/{self.name}"


@dataclass(slots=True)
class SimResource:
    id: str
    name: str
    workstation: str
    quantity: int


@dataclass(slots=True)
class SimPrompt:
    id: str
    name: str
    number: int
    text: str
    answer: bool | None  # None = not answered yet
    asked_offset_s: int


@dataclass(slots=True)
class SimFile:
    workstation: str
    qualifier: str
    exists: bool


@dataclass(slots=True)
class SimDep:
    type: str  # INTERNAL, EXTERNAL_JOB, EXTERNAL_JOBSTREAM, RESOURCE, PROMPT, FILE
    id: str
    target: int = -1  # job index or job-stream index
    quantity: int = 1
    ref: str = ""  # resource id, prompt id or file qualifier


@dataclass(slots=True)
class PastRun:
    """A run that ended and was rerun: kept as history, never re-evaluated."""

    status: str
    start: datetime
    end: datetime
    rc: int | None


@dataclass(slots=True)
class Pin:
    """A fact that happened: the current run started (and maybe ended) at these times.

    Actions pin every started job first, so later changes (a rerun upstream, an unlinked
    workstation) cannot rewrite what already ran."""

    start: datetime
    end: datetime | None = None
    status: str | None = None  # set once the run ended


@dataclass(slots=True)
class SimJob:
    idx: int
    id: str
    name: str
    stream: int
    workstation: int
    priority: int
    duration_s: int
    rc: int  # destined exit code when it runs to completion
    fail_launch: bool
    forced: str | None  # CANCL / SUPPR / user HOLD decided by the plan
    at_offset_s: int | None  # `at` time, seconds after the stream's input arrival
    critical: bool
    deadline_slack_s: int | None
    confirm: bool
    prior_abend_rc: int | None  # a failed earlier run, rerun before the plan window
    deps: list[SimDep] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    past: list[PastRun] = field(default_factory=list)  # one per earlier run id
    job_number: int = 0
    # what operators did (simulator/actions.py)
    held: bool = False
    release_at: datetime | None = None
    released_deps: set[str] = field(default_factory=set)
    cancelled: bool = False
    cancel_pending: bool = False
    rerun_at: datetime | None = None
    pin: Pin | None = None
    output_conditions: list[str] = field(default_factory=list)
    confirmed: bool = False
    confirmed_as: str | None = None  # a confirmation received while the run was going: how it ends
    killed: bool = False
    log_note: str | None = None  # a line the job prints (any text: logs are untrusted input)
    # state, recomputed by evaluate()
    status: str = "HOLD"
    start: datetime | None = None
    end: datetime | None = None
    planned_end: datetime | None = None


@dataclass(slots=True)
class SimJobStream:
    idx: int
    id: str
    name: str
    folder: str
    workstation: int
    sched_time: datetime
    priority: int
    limit: int
    carry_forward: bool
    jobs: list[int] = field(default_factory=list)
    original_name: str | None = None  # set when submitted with an alias (the name is the alias)
    status: str = "HOLD"
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class SimPlan:
    seed: int
    start: datetime
    workstations: list[SimWorkstation]
    streams: list[SimJobStream]
    jobs: list[SimJob]
    resources: list[SimResource]
    prompts: list[SimPrompt]
    files: list[SimFile]
    evaluated_at: datetime | None = None
    version: int = 0  # moves whenever any object's state may have changed (memos key on it)
    shape: int = 0  # moves when objects, dependencies or attributes change (an action, a submit), not with time
    by_id: dict[str, SimJob] = field(default_factory=dict)
    run_index: dict[str, tuple[SimJob, int]] = field(default_factory=dict)
    stream_by_id: dict[str, SimJobStream] = field(default_factory=dict)
    ws_by_id: dict[str, SimWorkstation] = field(default_factory=dict)
    resource_by_id: dict[str, SimResource] = field(default_factory=dict)
    prompt_by_id: dict[str, SimPrompt] = field(default_factory=dict)
    file_by_qualifier: dict[str, SimFile] = field(default_factory=dict)
    _streams_done: set[int] = field(default_factory=set)  # evaluated in the current pass

    def __post_init__(self) -> None:
        self.by_id = {j.id: j for j in self.jobs}
        self.run_index = {rid: (j, n) for j in self.jobs for n, rid in enumerate(j.run_ids)}
        self.stream_by_id = {s.id: s for s in self.streams}
        self.ws_by_id = {w.id: w for w in self.workstations}
        self.resource_by_id = {r.id: r for r in self.resources}
        self.prompt_by_id = {p.id: p for p in self.prompts}
        self.file_by_qualifier = {f.qualifier: f for f in self.files}
        self.version += 1
        self.shape += 1

    # ------------------------------------------------------------------ state
    def evaluate(self, now: datetime) -> None:
        """Recompute every job's and job stream's state at plan time ``now``."""
        if self.evaluated_at == now:
            return
        streams = self.streams
        self._streams_done = set()
        for job in self.jobs:  # index order is a topological order: deps point backwards
            self._evaluate_job(job, streams[job.stream], now)
        for stream in streams:
            if stream.idx not in self._streams_done:
                self._evaluate_stream(stream)
        self.evaluated_at = now
        self.version += 1

    def _evaluate_job(self, job: SimJob, stream: SimJobStream, now: datetime) -> None:
        job.start = job.end = None
        pin = job.pin
        if pin is not None and pin.status is not None:  # ended: history, not a forecast
            job.status, job.start, job.end, job.planned_end = pin.status, pin.start, pin.end, pin.end
            return
        if pin is not None:  # started: it runs its course from the pinned start
            self._run_from(job, pin.start, now)
            job.planned_end = pin.start + timedelta(seconds=job.duration_s)
            return
        ready_at = stream.sched_time
        if job.at_offset_s is not None:
            ready_at = max(ready_at, stream.sched_time + timedelta(seconds=job.at_offset_s))
        for moment in (job.release_at, job.rerun_at):
            if moment is not None:
                ready_at = max(ready_at, moment)
        blocked = False
        for dep in job.deps:
            if dep.id in job.released_deps:
                continue
            if dep.type in ("INTERNAL", "EXTERNAL_JOB"):
                pred = self.jobs[dep.target]
                if pred.status in TERMINAL_OK and pred.end is not None:
                    ready_at = max(ready_at, pred.end)
                else:
                    blocked = True
            elif dep.type == "EXTERNAL_JOBSTREAM":
                pstream = self.streams[dep.target]
                if pstream.idx not in self._streams_done:  # its state now, not the last pass's
                    self._evaluate_stream(pstream)
                    self._streams_done.add(pstream.idx)
                if pstream.status == "SUCC" and pstream.end is not None:
                    ready_at = max(ready_at, pstream.end)
                else:
                    blocked = True
            elif not self.dep_satisfied(dep):
                blocked = True
        job.planned_end = ready_at + timedelta(seconds=5 + job.duration_s)
        if job.cancelled or (job.cancel_pending and not blocked):
            job.status = "CANCL"  # cancel-pending takes effect once the dependencies resolve
            return
        if job.forced in ("CANCL", "SUPPR") and job.rerun_at is None:
            job.status = job.forced
            return
        if job.held or job.forced == "HOLD" or blocked or now < ready_at:
            job.status = "HOLD"
            return
        ws = self.workstations[job.workstation]
        if not ws.linked or not ws.running or ws.limit == 0:
            job.status = "READY"
            return
        if job.priority <= ws.fence:
            job.status = "FENCE"
            return
        start = ready_at + timedelta(seconds=5)
        if now < start:
            job.status = "READY"
            return
        self._run_from(job, start, now)

    def _run_from(self, job: SimJob, start: datetime, now: datetime) -> None:
        end = start + timedelta(seconds=job.duration_s)
        if job.fail_launch:
            job.status, job.start, job.end = "FAIL", start, start
        elif now < start + timedelta(seconds=2):
            job.status, job.start = "INTRO", start
        elif now < end:
            job.status, job.start = "EXEC", start
        else:
            job.start, job.end = start, end
            if job.confirmed_as is not None:
                job.status = job.confirmed_as
            elif job.rc != 0:
                job.status = "ABEND"
            else:
                job.status = "PEND" if job.confirm else "SUCC"

    def _evaluate_stream(self, stream: SimJobStream) -> None:
        states = [self.jobs[i].status for i in stream.jobs]
        starts = [s for i in stream.jobs if (s := self.jobs[i].start) is not None]
        stream.start = min(starts) if starts else None
        stream.end = None
        if all(s in TERMINAL_OK or s == "CANCL" for s in states):
            stream.status = "SUCC"
            ends = [e for i in stream.jobs if (e := self.jobs[i].end) is not None]
            stream.end = max(ends) if ends else stream.sched_time
        elif any(s in ("ABEND", "FAIL") for s in states):
            stream.status = "STUCK" if not any(s in ("EXEC", "INTRO") for s in states) else "EXEC"
        elif any(s in ("EXEC", "INTRO", "WAIT", "PEND") for s in states):
            stream.status = "EXEC"
        elif any(s in ("READY", "FENCE") for s in states):
            stream.status = "READY"
        else:
            stream.status = "HOLD"

    def dep_satisfied(self, dep: SimDep) -> bool:
        if dep.type == "RESOURCE":
            return self.resource_by_id[dep.ref].quantity >= dep.quantity
        if dep.type == "PROMPT":
            return self.prompt_by_id[dep.ref].answer is True
        if dep.type == "FILE":
            return self.file_by_qualifier[dep.ref].exists
        if dep.type in ("INTERNAL", "EXTERNAL_JOB"):
            return self.jobs[dep.target].status in TERMINAL_OK
        return self.streams[dep.target].status == "SUCC"

    def pin_started(self, now: datetime) -> None:
        """Freeze what has happened by ``now``: every started run keeps its start (and end)."""
        self.evaluate(now)
        for job in self.jobs:
            if job.start is not None and job.start <= now:
                ended = job.end is not None and job.end <= now
                job.pin = Pin(job.start, job.end if ended else None, job.status if ended else None)

    def changed(self) -> None:
        """An action changed the plan: the next evaluation must not reuse the last one."""
        self.evaluated_at = None
        self.version += 1
        self.shape += 1

    def index(self) -> None:
        """Rebuild the lookups after jobs, runs or job streams were added."""
        self.__post_init__()

    def is_late(self, job: SimJob, now: datetime) -> bool:
        deadline = self.deadline(job)
        if deadline is None:
            return False
        if job.status in TERMINAL:
            return job.end is not None and job.end > deadline
        return now > deadline

    def deadline(self, job: SimJob) -> datetime | None:
        if job.deadline_slack_s is None:
            return None
        stream = self.streams[job.stream]
        # Deadlines are planned from the unconstrained schedule, as a scheduler would set them.
        base = stream.sched_time + timedelta(seconds=job.duration_s + 600 * (1 + job.idx - stream.jobs[0]))
        return base + timedelta(seconds=job.deadline_slack_s)


# ---------------------------------------------------------------------- generator
def generate_plan(seed: int, n_jobs: int, start: datetime) -> SimPlan:
    """Build a plan of exactly ``n_jobs`` jobs whose first job stream arrives at ``start``."""
    if not 10 <= n_jobs <= 100_000:
        raise ValueError("n_jobs must be between 10 and 100,000")
    rng = random.Random(seed)
    workstations = _workstations(rng, n_jobs)
    resources = [
        SimResource(_uuid(rng), f"{name}_SLOTS", workstations[0].key, rng.choice([0, 1, 2, 4, 8]))
        for name in ("DB2", "ORACLE", "SFTP", "TAPE", "ETL", "PRINT")[: max(3, min(6, n_jobs // 200))]
    ]
    prompts = [
        SimPrompt(
            _uuid(rng),
            f"PRM_{i:03d}",
            i + 1,
            rng.choice(["Restart?", "Has the bank file arrived? Reply YES to continue.", "Confirm month-end close"]),
            rng.choice([None, True, True]),
            rng.randint(0, 3600),
        )
        for i in range(max(2, n_jobs // 500))
    ]
    files: list[SimFile] = []
    streams: list[SimJobStream] = []
    jobs: list[SimJob] = []
    folders = list(_FOLDERS)
    horizon_s = 14 * 3600
    js_index = 0
    while len(jobs) < n_jobs:
        folder = folders[js_index % len(folders)] if js_index < len(folders) else rng.choice(folders)
        prefix, objects = _FOLDERS[folder]
        cycle = rng.choice(["DAILY", "NIGHTLY", "EOD", "HOURLY", "WEEKLY"])
        ws_idx = rng.randrange(1, len(workstations))
        sched = start + timedelta(seconds=int(horizon_s * (js_index / max(1, n_jobs / 8)) ** 1.1) % horizon_s)
        stream = SimJobStream(
            js_index,
            _uuid(rng),
            f"{prefix}_{cycle}_{js_index:04d}",
            folder,
            ws_idx,
            sched.replace(second=0),
            rng.choice([10, 10, 20, 50]),
            rng.choice([-1, -1, 10, 50]),
            rng.random() < 0.1,
        )
        streams.append(stream)
        size = min(n_jobs - len(jobs), rng.randint(3, 14))
        for k in range(size):
            jobs.append(_job(rng, len(jobs), stream, k, objects, prefix, workstations, ws_idx))
            _add_deps(rng, jobs, streams, stream, k, resources, prompts, files, workstations)
        js_index += 1
    plan = SimPlan(seed, start, workstations, streams, jobs, resources, prompts, files)
    return plan


def _workstations(rng: random.Random, n_jobs: int) -> list[SimWorkstation]:
    count = max(3, min(200, n_jobs // 250))
    out = [SimWorkstation(_uuid(rng), "MDM", "MANAGER", "UNIX", "mdm.sim.local", "MASTERDM", 50, 0, True, True)]
    for i in range(1, count):
        kind = _WS_TYPES[i % len(_WS_TYPES)]
        name = f"{'AGT' if 'AGENT' in kind else kind[:3]}{i:03d}"
        linked = rng.random() > 0.06
        limit = 0 if rng.random() < 0.03 else rng.choice([10, 20, 50, 100])
        fence = rng.choice([0, 0, 0, 0, 0, 0, 0, 15])
        out.append(
            SimWorkstation(
                _uuid(rng), name, kind, _OSES[kind], f"{name.lower()}.sim.local", "MASTERDM", limit, fence, linked, True
            )
        )
    return out


def _job(
    rng: random.Random,
    idx: int,
    stream: SimJobStream,
    k: int,
    objects: list[str],
    prefix: str,
    workstations: list[SimWorkstation],
    ws_idx: int,
) -> SimJob:
    obj = rng.choice(objects)
    roll = rng.random()
    forced = "CANCL" if roll < 0.005 else "SUPPR" if roll < 0.01 else "HOLD" if roll < 0.02 else None
    fail = rng.random() < 0.005
    rc = 0 if rng.random() > 0.02 else rng.choice(_ABEND_CAUSES)[0]
    critical = rng.random() < 0.03
    has_deadline = critical or rng.random() < 0.05
    job = SimJob(
        idx=idx,
        id=_uuid(rng),
        name=f"{prefix}_{rng.choice(_VERBS)}_{obj}_{k:02d}"[:40],
        stream=stream.idx,
        workstation=ws_idx if rng.random() > 0.15 else rng.randrange(1, len(workstations)),
        priority=rng.choice([10, 10, 10, 20, 50, 101 if critical else 10]),
        duration_s=int(min(4 * 3600, rng.lognormvariate(5.0, 1.1))) + 1,
        rc=rc,
        fail_launch=fail,
        forced=forced,
        at_offset_s=rng.choice([None, None, None, 1800, 3600]) if k == 0 else None,
        critical=critical,
        deadline_slack_s=rng.randint(-1800, 3 * 3600) if has_deadline else None,
        confirm=rng.random() < 0.01,
        prior_abend_rc=rng.choice(_ABEND_CAUSES)[0] if rng.random() < 0.01 else None,
    )
    job.run_ids = [_uuid(rng) for _ in range(2 if job.prior_abend_rc is not None else 1)]
    if job.prior_abend_rc is not None:  # an earlier, failed attempt that ended before this plan window
        first = stream.sched_time - timedelta(hours=2)
        job.past.append(PastRun("ABEND", first, first + timedelta(seconds=job.duration_s // 2 + 1), job.prior_abend_rc))
    job.job_number = 10_000 + idx
    stream.jobs.append(idx)
    return job


def _add_deps(
    rng: random.Random,
    jobs: list[SimJob],
    streams: list[SimJobStream],
    stream: SimJobStream,
    k: int,
    resources: list[SimResource],
    prompts: list[SimPrompt],
    files: list[SimFile],
    workstations: list[SimWorkstation],
) -> None:
    job = jobs[-1]
    if k > 0:
        for pred in sorted({stream.jobs[rng.randrange(0, k)], stream.jobs[k - 1]}):
            job.deps.append(SimDep("INTERNAL", _uuid(rng), pred))
    if k == 0 and stream.idx > 0 and rng.random() < 0.12:
        earlier = streams[rng.randrange(max(0, stream.idx - 40), stream.idx)]
        job.deps.append(SimDep("EXTERNAL_JOB", _uuid(rng), rng.choice(earlier.jobs)))
    if k == 0 and stream.idx > 1 and rng.random() < 0.03:
        job.deps.append(SimDep("EXTERNAL_JOBSTREAM", _uuid(rng), rng.randrange(0, stream.idx - 1)))
    if rng.random() < 0.03:
        res = rng.choice(resources)
        job.deps.append(SimDep("RESOURCE", _uuid(rng), quantity=1, ref=res.id))
    if rng.random() < 0.004:
        job.deps.append(SimDep("PROMPT", _uuid(rng), ref=rng.choice(prompts).id))
    if rng.random() < 0.02:
        ws = workstations[job.workstation]
        qualifier = f"/data/in/{job.name.lower()}_{len(files):04d}.trg"
        files.append(SimFile(ws.key, qualifier, rng.random() > 0.3))
        job.deps.append(SimDep("FILE", _uuid(rng), ref=qualifier))
