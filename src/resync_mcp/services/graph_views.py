"""What the graph tools answer: the result models of services/graph.py."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class GraphJob(BaseModel):
    id: str
    name: str
    job_stream: str | None
    status: str | None
    critical: bool = False
    deadline: datetime | None = None


class ImpactResult(BaseModel):
    engine: str
    as_of: datetime = Field(description="When the graph was last read from the engine")
    job: GraphJob
    blocked_total: int = Field(description="Jobs downstream that cannot run or complete until this job succeeds")
    by_job_stream: dict[str, int] = Field(description="Blocked jobs per job stream (the 25 largest)")
    critical_affected: list[GraphJob]
    deadlines_affected: list[GraphJob] = Field(description="Blocked jobs with a deadline, earliest first")
    nearest: list[GraphJob] = Field(description="The closest blocked jobs")
    truncated: bool
    note: str | None = None


class CauseView(BaseModel):
    node: str
    kind: str
    name: str
    reason: str
    path: list[str] = Field(description="Names from the job up to the cause")


class RootCauseResult(BaseModel):
    engine: str
    as_of: datetime
    job: GraphJob
    causes: list[CauseView]
    note: str | None = None


class CriticalPathResult(BaseModel):
    engine: str
    as_of: datetime
    target: GraphJob
    expected_finish: datetime
    deadline: datetime | None
    slack_s: float | None = Field(description="Deadline minus expected finish; negative means late")
    at_risk: bool
    driver: GraphJob | None = Field(description="The predecessor whose finish drives the target's")
    path: list[GraphJob] = Field(description="From the driving predecessor to the target")
    note: str | None = None


class RiskView(BaseModel):
    job: GraphJob
    expected_finish: datetime
    slack_s: float = Field(description="Deadline minus expected finish; negative means late")
    driver: str | None = Field(description="The predecessor whose finish drives the job's")


class DeadlineRisks(BaseModel):
    engine: str
    ready: bool = Field(description="False until the whole plan has been read once: see progress")
    as_of: datetime = Field(description="When the plan behind at_risk was read (until ready: late_now)")
    progress: str | None = Field(description="The background read of the whole plan, while one runs")
    at_risk_total: int | None = Field(description="Unfinished jobs expected to miss their deadline")
    at_risk: list[RiskView] = Field(description="Least slack first")
    late_now: list[GraphJob] = Field(description="Until ready: the jobs the engine already flags late")
    late_now_total: int | None = None
    note: str | None = None
