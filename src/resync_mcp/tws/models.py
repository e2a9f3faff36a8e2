"""Typed views of HWA REST API v2 payloads (spec 2.1.6.0, HWA 10.2.8).

Field names and types are the spec's (camelCase on the wire, snake_case here through an alias
generator); tests/contract checks them against a transcription of the spec. Every model keeps
unknown fields (``extra="allow"``) so a newer engine that adds fields does not break the client.
The spec requires almost nothing, so every field is optional except a plan object's ``id``,
which the engine assigns (readOnly) and without which nothing can be read again or acted on.
Query results omit parts of objects (``dependencies`` are "not filled if result of a query").
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class HwaModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def wire(self) -> dict[str, object]:
        """The payload as the API spells it."""
        return self.model_dump(by_alias=True, exclude_none=True)


class CompositeStatus(HwaModel):
    """``JobInPlanCompositeStatusV2`` / ``JobStreamInPlanCompositeStatusV2``."""

    status: str | None = None  # internal status: JobInPlanStatus / JobStreamInPlanStatus
    substatus: str | None = None
    canceled: bool | None = None
    cancel_pending: bool | None = None
    dont_run: bool | None = None
    started: bool | None = None
    error: bool | None = None


class TimeInfo(HwaModel):
    actual_start_time: str | None = None
    actual_end_time: str | None = None
    elapsed_time: str | None = None  # ISO-8601 duration, e.g. PT5S
    estimated_duration: str | None = None


class JobRunInstanceV2(HwaModel):
    id: str
    job_id: str | None = None
    name: str | None = None
    job_number: int | None = None
    run_attempt: int | None = None
    step: str | None = None
    common_status: str | None = None
    composite_status: CompositeStatus | None = None
    return_code: int | None = None
    time_info: TimeInfo | None = None
    rerun_type: str | None = None
    last_in_rerun_chain: bool | None = None
    confirmed: bool | None = None
    actual_workstation: str | None = None
    submitted_time: str | None = None


class DependencyInPlanV2(HwaModel):
    """A dependency; the fields present depend on ``dependencyType``."""

    dependency_type: str  # INTERNAL, EXTERNAL_JOB, EXTERNAL_JOBSTREAM, JOIN, FILE, RESOURCE, INTERNETWORK, PROMPT
    id: str | None = None
    dependency_status: str | None = None  # SATISFIED, UNSATISFIED, UNDECIDED, UNBOUND
    satisfied: bool | None = None
    mandatory: bool | None = None
    conditional: bool | None = None
    critical: bool | None = None
    status_conditions: list[str] | None = None
    # job / job-stream predecessors (an INTERNAL one has no jobStreamId: it is the same stream)
    job_id: str | None = None
    job_name: str | None = None
    job_stream_id: str | None = None
    job_stream_name: str | None = None
    job_stream_workstation: str | None = None
    job_stream_sched_time: str | None = None
    predecessor_status: CompositeStatus | None = None  # an object in the spec

    @field_validator("predecessor_status", mode="before")
    @classmethod
    def _status_object(cls, value: Any) -> Any:
        # Tolerate the bare internal status an older or non-conformant engine might send.
        return {"status": value} if isinstance(value, str) else value

    @property
    def predecessor_state(self) -> str | None:
        """The predecessor's internal status (SUCC, ABEND, HOLD ...)."""
        return self.predecessor_status.status if self.predecessor_status else None

    # RESOURCE
    name: str | None = None
    quantity: int | None = None
    quantity_held: int | None = None
    available: int | None = None
    # PROMPT (its id is the prompt's id)
    prompt_name: str | None = None
    text: str | None = None
    prompt_status: str | None = None  # PromptStatus: NOT_ASKED, ASKED, ANSWERED_YES, ANSWERED_NO
    # FILE
    qualifier: str | None = None
    status: str | None = None


class TimeRestrictionsInPlanV2(HwaModel):
    start_time: str | None = None
    deadline_time: str | None = None
    latest_start_time: str | None = None
    late_start_action: str | None = None
    max_duration: str | None = None
    min_duration: str | None = None
    time_dependent: bool | None = None


class JobOptions(HwaModel):
    requires_confirmation: bool | None = None
    critical: bool | None = None
    every: bool | None = None
    no_operation: bool | None = None


class JobStatusFlags(HwaModel):
    job_late: bool | None = None
    deadline_has_passed: bool | None = None
    restarted: bool | None = None
    job_stream_cancelled: bool | None = None


class JobDefinitionInPlanV2(HwaModel):
    task: object | None = None
    is_command: bool | None = None
    user_logins: list[str] | None = None
    estimated_duration: str | None = None
    recovery_option: str | None = None


class ActionV2(HwaModel):
    key: str | None = None
    id: str | None = None


class DependenciesStats(HwaModel):
    number_of_dependencies: int | None = None
    number_of_unresolved_dependencies: int | None = None


class JobInPlanV2(HwaModel):
    id: str
    name: str = ""
    key: str | None = None
    flow_node_type: str | None = None
    workstation: str | None = None
    workstation_id: str | None = None
    folder: str | None = None
    folder_id: str | None = None
    job_stream_id: str | None = None
    job_stream_name: str | None = None
    job_stream_workstation: str | None = None
    sched_time: str | None = None
    priority: int | None = None
    orig_priority: int | None = None
    dependencies: list[DependencyInPlanV2] | None = None
    dependencies_stats: DependenciesStats | None = None
    time_restrictions: TimeRestrictionsInPlanV2 | None = None
    job_options: JobOptions | None = None
    job_status_flags: JobStatusFlags | None = None
    job_definition: JobDefinitionInPlanV2 | None = None
    critical_start: str | None = None
    last_run_common_status: str | None = None
    last_run_composite_status: CompositeStatus | None = None
    jobruns: list[JobRunInstanceV2] | None = None
    actions: list[ActionV2] | None = None
    engine_id: str | None = None

    @property
    def internal_status(self) -> str | None:
        if self.last_run_composite_status and self.last_run_composite_status.status:
            return self.last_run_composite_status.status
        run = self.last_run
        return run.composite_status.status if run and run.composite_status else None

    @property
    def last_run(self) -> JobRunInstanceV2 | None:
        return self.jobruns[-1] if self.jobruns else None


class JobStreamStats(HwaModel):
    number_of_job: int | None = None
    number_of_successfull_job: int | None = None  # sic: the API's spelling
    number_of_abended_job: int | None = None
    number_of_failed_job: int | None = None
    number_of_executing_job: int | None = None
    number_of_not_running_job: int | None = None


class JsOptions(HwaModel):
    carry_forward: bool | None = None
    monitored: bool | None = None


class JsStatusFlags(HwaModel):
    released: bool | None = None
    late_job_stream: bool | None = None


class JsDefinitionFlags(HwaModel):
    aliased: bool | None = None
    carried_forward: bool | None = None


class JobStreamInPlanV2(HwaModel):
    id: str
    name: str = ""
    key: str | None = None
    flow_node_type: str | None = None
    original_job_stream_name: str | None = None
    alias_job_stream_name: str | None = None
    workstation: str | None = None
    folder: str | None = None
    sched_time: str | None = None
    scheduled_date: str | None = None  # a date-time in the spec
    time_zone: str | None = None
    priority: int | None = None
    limit: int | None = None
    common_status: str | None = None
    composite_status: CompositeStatus | None = None
    js_status_flags: JsStatusFlags | None = None
    js_options: JsOptions | None = None
    js_definition_flags: JsDefinitionFlags | None = None
    time_restrictions: TimeRestrictionsInPlanV2 | None = None
    time_info: TimeInfo | None = None
    jobs: list[JobInPlanV2] | None = None
    job_stream_stats: JobStreamStats | None = None
    dependencies: list[DependencyInPlanV2] | None = None


class WorkstationInPlanV2(HwaModel):
    id: str
    name: str = ""
    key: str | None = None
    type: str | None = None
    os: str | None = None
    node_name: str | None = None
    limit: int | None = None
    fence: int | None = None
    run_number: int | None = None
    domain_name: str | None = None
    time_zone: str | None = None
    version: str | None = None
    active_states: list[str] | None = None
    active_flags: list[str] | None = None
    ignore: bool | None = None


class ResourceHolder(HwaModel):
    job_id: str | None = None
    job: str | None = None
    job_key: str | None = None
    job_stream_id: str | None = None
    quantity: int | None = None


class ResourceInPlanV2(HwaModel):
    id: str
    name: str = ""
    workstation: str | None = None
    quantity: int | None = None
    quantity_available: int | None = None
    quantity_in_use: int | None = None
    holders: list[ResourceHolder] | None = None
    status: str | None = None


class PromptInPlanV2(HwaModel):
    id: str
    name: str | None = None
    number: int | None = None
    text: str | None = None
    type: str | None = None
    status: str | None = None  # PromptStatusType: NOT_ASKED, ASKED, ANSWERED_YES, ANSWERED_NO
    time_asked: str | None = None
    time_respond: str | None = None
    job_id: str | None = None
    job_stream_id: str | None = None


class EngineInfoV2(HwaModel):
    full_version: str | None = None
    display_version: str | None = None
    license_type: str | None = None
    timezone: str | None = None
    locale: str | None = None
    capabilities: dict[str, dict[str, str]] | None = None  # an object of objects in the spec
    tenant_id: str | None = None
    tenant_name: str | None = None


T = TypeVar("T", bound=HwaModel)


class Page(BaseModel, Generic[T]):
    """``PaginatedResponse``: total ``count`` (with Include-Count), ``next``/``previous`` URLs."""

    model_config = ConfigDict(extra="allow")

    count: int | None = None
    next: str | None = None
    previous: str | None = None
    results: list[T] = Field(default_factory=list)
    # Set by the client, never by the engine: how this page was computed when it was not.
    local_note: str | None = Field(default=None, exclude=True)


class GroupedCountResponse(HwaModel):
    count: int | None = None
    grouped_count: dict[str, int] = Field(default_factory=dict)
