"""Control tools: thin adapters over the control service, built from one table.

Every control tool takes its own arguments plus the same safety arguments (``preview``,
``reason``, ``ticket``, ``idempotency_key``, ``confirmation_token``, ``engine``). A
confirmation is asked inside the call when the policy wants one and the client can elicit:
the SDK's ``Resolve`` runs the question as live elicitation on 2025-era sessions and as
the multi-round-trip form on 2026-era ones. Clients that cannot elicit use the two-step
flow: a preview returns a single-use token, and the real call presents it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from resync_mcp.security.policy import RULES, NeedsConfirmation, decide
from resync_mcp.server.pipeline import AuthorizeStage, Pipeline, authz_var
from resync_mcp.server.tools import Engine, Runner
from resync_mcp.services.control.service import Confirmation, ControlService
from resync_mcp.services.control.views import ActionResult
from resync_mcp.tws.upstream import scope_var

NOT_ASKED = "not-asked"
REQUIRED: Any = inspect.Parameter.empty

JobRef = Annotated[
    str, Field(min_length=1, max_length=140, description="Job id (UUID) or JOBSTREAM.JOB (WORKSTATION#JOBSTREAM.JOB)")
]
StreamId = Annotated[str, Field(min_length=36, max_length=36, description="Job stream id (from find_job_streams)")]
WsRef = Annotated[str, Field(min_length=1, max_length=40, description="Workstation name or id")]


class ConfirmForm(BaseModel):
    confirm: bool = Field(description="Yes, do it now")


@dataclass(frozen=True)
class ToolDef:
    name: str
    title: str
    doc: str
    params: Sequence[tuple[str, Any, Any]]  # name, annotation, default (REQUIRED for none)


SAFETY: list[tuple[str, Any, Any]] = [
    ("engine", Engine, None),
    (
        "preview",
        Annotated[bool, Field(description="true: change nothing; show the target, what would happen and downstream")],
        False,
    ),
    (
        "reason",
        Annotated[
            str | None,
            Field(max_length=4000, description="Why (required for destructive actions); sent to HWA's audit too"),
        ],
        None,
    ),
    ("ticket", Annotated[str | None, Field(max_length=64, description="Change or incident ticket number")], None),
    (
        "idempotency_key",
        Annotated[
            str | None,
            Field(
                max_length=100,
                pattern=r"^[A-Za-z0-9_.:-]+$",
                description="Repeat a call safely: the same key returns the first outcome, nothing is sent twice",
            ),
        ],
        None,
    ),
    (
        "confirmation_token",
        Annotated[str | None, Field(max_length=100, description="From a preview, once a person has confirmed")],
        None,
    ),
]

_JOB = [("job", JobRef, REQUIRED)]
_STREAM = [("job_stream", StreamId, REQUIRED)]
_WS = [("workstation", WsRef, REQUIRED)]

TOOLS: list[ToolDef] = [
    ToolDef(
        "rerun_job",
        "Rerun a job",
        "Rerun an ended job (SUCC, ABEND or FAIL) as a new run. Options: a step, another job definition "
        "(rerun from), a start time, a priority, and its ended successors too.",
        [
            *_JOB,
            ("step", Annotated[str | None, Field(max_length=40, description="Step to rerun from")], None),
            (
                "from_job_definition",
                Annotated[str | None, Field(max_length=140, description="Job definition to rerun from")],
                None,
            ),
            ("start_time", Annotated[str | None, Field(max_length=40, description="ISO-8601 UTC start time")], None),
            ("priority", Annotated[int | None, Field(ge=0, le=101, description="Priority of the new run")], None),
            ("with_successors", Annotated[bool, Field(description="Also rerun its ended successors")], False),
            ("successors_depth", Annotated[int, Field(ge=1, le=5, description="How deep, with successors")], 1),
        ],
    ),
    ToolDef("hold_job", "Hold a job", "Hold a job that has not started, so it does not start until released.", _JOB),
    ToolDef("release_job", "Release a job", "Release a held job; it starts once its dependencies are met.", _JOB),
    ToolDef(
        "release_job_dependencies",
        "Release job dependencies",
        "Release all dependencies of a job that has not started, or only the listed ones (ids from get_job).",
        [
            *_JOB,
            (
                "dependencies",
                Annotated[list[str] | None, Field(max_length=50, description="Dependency ids; omit for all")],
                None,
            ),
        ],
    ),
    ToolDef(
        "cancel_job",
        "Cancel a job",
        "Cancel a job that has not started; with pending=true it is cancelled once its dependencies resolve.",
        [*_JOB, ("pending", Annotated[bool, Field(description="Cancel pending (when dependencies resolve)")], False)],
    ),
    ToolDef("kill_job", "Kill a job", "Kill a running (EXEC) job; it ends ABEND.", _JOB),
    ToolDef(
        "confirm_job",
        "Confirm a job",
        "Confirm a job as SUCC or ABEND: one waiting for confirmation (PEND), or change an ended one's outcome.",
        [
            *_JOB,
            ("status", Annotated[Literal["SUCC", "ABEND"], Field(description="The outcome to confirm")], REQUIRED),
            (
                "output_conditions",
                Annotated[list[str] | None, Field(max_length=20, description="Output conditions to set")],
                None,
            ),
        ],
    ),
    ToolDef(
        "set_job_priority",
        "Set job priority",
        "Change the priority of a job that has not ended (0-101; 101 = GO).",
        [*_JOB, ("priority", Annotated[int, Field(ge=0, le=101, description="New priority")], REQUIRED)],
    ),
    ToolDef("hold_job_stream", "Hold a job stream", "Hold the jobs of a job stream that have not started.", _STREAM),
    ToolDef("release_job_stream", "Release a job stream", "Release the held jobs of a job stream.", _STREAM),
    ToolDef(
        "cancel_job_stream", "Cancel a job stream", "Cancel the jobs of a job stream that have not started.", _STREAM
    ),
    ToolDef(
        "bulk_job_action",
        "Act on several jobs",
        "Hold, release, release dependencies of, or cancel every job a filter selects: a job stream pattern "
        "(never a bare wildcard) plus optional status, name and workstation. Acts only when no more than "
        "max_object_affected jobs match; preview lists them.",
        [
            (
                "action",
                Annotated[
                    Literal["hold", "release", "release_all_dependencies", "cancel", "cancel_pending"],
                    Field(description="What to do to each job"),
                ],
                REQUIRED,
            ),
            ("job_stream", Annotated[str, Field(max_length=40, description="Job stream name pattern")], REQUIRED),
            (
                "status",
                Annotated[list[str] | None, Field(max_length=10, description="Only jobs in these statuses")],
                None,
            ),
            ("name", Annotated[str | None, Field(max_length=40, description="Job name pattern")], None),
            ("workstation", Annotated[str | None, Field(max_length=40, description="Workstation pattern")], None),
            (
                "max_object_affected",
                Annotated[int, Field(ge=1, le=1000, description="At most this many jobs; more matches refuse")],
                REQUIRED,
            ),
        ],
    ),
    ToolDef(
        "submit_job_stream",
        "Submit a job stream",
        "Add a job stream from its definition to the plan, with an optional alias, input arrival time and variables.",
        [
            ("job_stream", Annotated[str, Field(max_length=120, description="Definition: NAME or WS#NAME")], REQUIRED),
            ("alias", Annotated[str | None, Field(max_length=40, description="Name of the new instance")], None),
            (
                "input_arrival_time",
                Annotated[str | None, Field(max_length=40, description="ISO-8601 UTC input arrival time")],
                None,
            ),
            (
                "variables",
                Annotated[dict[str, str] | None, Field(max_length=50, description="Variables for this instance")],
                None,
            ),
        ],
    ),
    ToolDef(
        "submit_job",
        "Submit a job",
        "Add a defined job to a job stream of the plan (default: the workstation's JOBS stream).",
        [
            ("job", Annotated[str, Field(max_length=120, description="Job definition: NAME or WS#NAME")], REQUIRED),
            ("job_stream", Annotated[str | None, Field(max_length=36, description="Destination job stream id")], None),
            ("alias", Annotated[str | None, Field(max_length=40, description="Name of the job in the plan")], None),
        ],
    ),
    ToolDef(
        "submit_adhoc_job",
        "Submit an ad hoc job",
        "Run a command on a workstation as an ad hoc job (in its JOBS stream); reports the new job's id.",
        [
            *_WS,
            ("command", Annotated[str, Field(min_length=1, max_length=4096, description="The command")], REQUIRED),
            ("name", Annotated[str | None, Field(max_length=40, description="Job name (default: the command)")], None),
            ("user", Annotated[str | None, Field(max_length=64, description="User to run it as")], None),
            ("task_type", Annotated[Literal["UNIX", "WINDOWS"], Field(description="Task type")], "UNIX"),
        ],
    ),
    ToolDef(
        "reply_prompt",
        "Reply to a prompt",
        "Answer a prompt YES or NO; a YES lets the jobs waiting on it start.",
        [
            ("prompt", Annotated[str, Field(min_length=36, max_length=36, description="Prompt id")], REQUIRED),
            ("answer", Annotated[bool, Field(description="true = YES, false = NO")], REQUIRED),
        ],
    ),
    ToolDef(
        "set_workstation_fence",
        "Set workstation fence",
        "Set a workstation's fence: jobs with priority at or below it do not start.",
        [*_WS, ("fence", Annotated[int, Field(ge=0, le=101, description="New fence")], REQUIRED)],
    ),
    ToolDef(
        "set_workstation_limit",
        "Set workstation limit",
        "Set how many jobs may run at once on a workstation (0 stops new jobs).",
        [*_WS, ("limit", Annotated[int, Field(ge=0, le=1024, description="New job limit")], REQUIRED)],
    ),
    ToolDef("link_workstation", "Link a workstation", "Link a workstation to its domain manager.", _WS),
    ToolDef("unlink_workstation", "Unlink a workstation", "Unlink a workstation; no new jobs reach it.", _WS),
    ToolDef("start_workstation", "Start a workstation", "Start a workstation's processes.", _WS),
    ToolDef("stop_workstation", "Stop a workstation", "Stop a workstation's processes; no new jobs start there.", _WS),
]


def _outcome(value: Any) -> Confirmation:
    if isinstance(value, AcceptedElicitation):
        data = value.data
        if isinstance(data, ConfirmForm):
            return "accepted" if data.confirm else "declined"
        return None  # not asked
    if isinstance(value, DeclinedElicitation):
        return "declined"
    return "cancelled"


def register(mcp: MCPServer, control: ControlService, run: Runner, pipeline: Pipeline) -> None:
    def authority() -> AuthorizeStage:
        return next(s for s in pipeline.stages if isinstance(s, AuthorizeStage))

    for spec in TOOLS:
        mcp.add_tool(
            _make_tool(spec, control, run, authority),
            name=spec.name,
            title=spec.title,
            description=spec.doc,  # the safety arguments are explained once, in the server instructions
            annotations=ToolAnnotations(
                read_only_hint=False,
                destructive_hint=RULES[spec.name].destructive,
                idempotent_hint=RULES[spec.name].idempotent,
                open_world_hint=True,
            ),
        )


def _make_tool(
    spec: ToolDef, control: ControlService, run: Runner, authority: Callable[[], AuthorizeStage]
) -> Callable[..., Any]:
    own = [p[0] for p in spec.params] + [p[0] for p in SAFETY]
    resolver = _make_resolver(spec.name, own, control, authority)

    async def tool(**kw: Any) -> ActionResult:
        confirmation = _outcome(kw.pop("confirmation", None))
        engine = kw.get("engine")

        async def act() -> ActionResult:
            authz = authz_var.get()
            assert authz is not None  # AuthorizeStage always runs first
            principal, decision = authz
            return await control.execute(spec.name, engine, kw, principal, decision, confirmation)

        return await run(spec.name, engine, dict(kw), act)

    params = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=default)
        for name, ann, default in [*spec.params, *SAFETY]
    ]
    confirmation_ann = Annotated[ElicitationResult[ConfirmForm], Resolve(resolver)]
    params.append(inspect.Parameter("confirmation", inspect.Parameter.KEYWORD_ONLY, annotation=confirmation_ann))
    tool.__signature__ = inspect.Signature(params, return_annotation=ActionResult)  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in params} | {"return": ActionResult}
    tool.__name__ = tool.__qualname__ = spec.name
    tool.__doc__ = spec.doc
    return tool


def _make_resolver(
    name: str, arg_names: list[str], control: ControlService, authority: Callable[[], AuthorizeStage]
) -> Callable[..., Any]:
    """Decides whether a person is asked, and what, before the tool body runs."""

    async def resolver(**kw: Any) -> Elicit[ConfirmForm] | str:
        ctx: Context[Any, Any] = kw.pop("ctx")
        stage = authority()
        principal = stage.current()
        decision = decide(principal, name, kw, stage.policy)
        if not isinstance(decision, NeedsConfirmation) or not _can_elicit(ctx):
            return NOT_ASKED
        token = scope_var.set(principal.scope)
        try:
            question = await control.question(name, kw.get("engine"), kw, principal, decision)
        finally:
            scope_var.reset(token)
        return NOT_ASKED if question is None else Elicit(question.text, ConfirmForm)

    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
    params += [inspect.Parameter(a, inspect.Parameter.KEYWORD_ONLY) for a in arg_names]
    resolver.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    resolver.__annotations__ = {"ctx": Context, "return": Any}
    resolver.__name__ = resolver.__qualname__ = f"confirm_{name}"
    return resolver


def _can_elicit(ctx: Context[Any, Any]) -> bool:
    """A form elicitation is possible (a bare ``elicitation: {}`` counts as form, as the SDK reads it)."""
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)
