"""The simulator's model (database) and engine routes: ``GET /model/<type>`` for every V2 model
type, ``GET /model/<type>/{id}``, ``/engine/info``, ``/engine/users``, ``/engine/groups`` and
``/objects-info``.

Model listings page like the plan ones (``limit`` defaults to the spec's 10000, ``offset``,
``next``/``previous``) and answer the ``ModelObject<Type>`` envelope ``{kind, key, def}``. The
simulator derives its definitions from the plan (one job definition per job name, one job stream
definition per job stream name, workstations, prompts, resources, folders, the master domain);
types the plan has nothing for answer an empty page, as the lab's engine did for calendars.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resync_mcp.simulator.core import Simulator
from resync_mcp.simulator.oql import plan_filter
from resync_mcp.simulator.plan import SimPlan
from resync_mcp.simulator.web import API, BadRequest, error, guarded, paginate, select

KINDS = {  # path segment -> ModelObjectKind
    "calendar": "Calendar",
    "credentials": "Credentials",
    "domain": "Domain",
    "folder": "Folder",
    "jobdefinition": "JobDefinition",
    "jobstream": "JobStream",
    "prompt": "Prompt",
    "resource": "Resource",
    "runcyclegroup": "RunCycleGroup",
    "variable": "Variable",
    "variabletable": "VariableTable",
    "workloadapplicationtemplate": "WorkloadApplicationTemplate",
    "workstation": "Workstation",
    "workstationclass": "WorkstationClass",
}
OBJECT_TYPES: tuple[str, ...] = (
    "JOB_IN_PLAN",
    "JOBSTREAM_IN_PLAN",
    "WORKSTATION_IN_PLAN",
    "RESOURCE_IN_PLAN",
    "PROMPT_IN_PLAN",
    "FILE_IN_PLAN",
    "DEPENDENCY_IN_PLAN",
)
# Action keys per object type, in the style the lab saw (ADD_DEPENDENCIES_JOB): one per action path.
_ACTIONS = {
    "JOB_IN_PLAN": (
        "job",
        [
            "hold",
            "release",
            "cancel",
            "cancel-pending",
            "kill",
            "confirm-succ",
            "confirm-abend",
            "rerun",
            "release-dependencies",
            "release-all-dependencies",
            "add-dependencies",
            "remove-dependencies",
            "update-priority",
        ],
    ),
    "JOBSTREAM_IN_PLAN": (
        "jobstream",
        [
            "hold",
            "release",
            "cancel",
            "cancel-pending",
            "release-dependencies",
            "release-all-dependencies",
            "add-dependencies",
            "remove-dependencies",
        ],
    ),
    "WORKSTATION_IN_PLAN": ("workstation", ["link", "unlink", "start", "stop", "update-fence", "update-limit"]),
    "RESOURCE_IN_PLAN": ("resource", ["update-quantity"]),
    "PROMPT_IN_PLAN": ("prompt", ["reply"]),
    "FILE_IN_PLAN": ("file", []),
    "DEPENDENCY_IN_PLAN": ("dependency", []),
}


def model_id(seed: int, kind: str, name: str) -> str:
    """A stable definition id per name: the simulator's model is one definition per plan name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"resync-sim:{seed}:{kind}:{name}"))


class Models:
    """The simulated database, derived from the plan on each request (plans grow on submits)."""

    def __init__(self, plan: SimPlan) -> None:
        self.plan = plan

    def streams(self) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for s in self.plan.streams:
            if s.name != "JOBS":
                models.setdefault(model_id(self.plan.seed, "jobstream", s.original_name or s.name), s)
        return models

    def jobs(self) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for j in self.plan.jobs:
            models.setdefault(model_id(self.plan.seed, "jobdefinition", j.name), j)
        return models

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """``ModelObject<Kind>`` envelopes of one model type."""
        plan, seed = self.plan, self.plan.seed
        ws = plan.workstations
        defs: list[tuple[str, dict[str, Any]]] = []
        if kind == "jobstream":
            for mid, s in self.streams().items():
                name = s.original_name or s.name
                defs.append(
                    (
                        f"{ws[s.workstation].key}#{s.folder}{name}",
                        {
                            "id": mid,
                            "abstractId": model_id(seed, "abstract", name),
                            "name": name,
                            "workstation": ws[s.workstation].key,
                            "folder": s.folder,
                            "priority": s.priority,
                            "limit": s.limit,
                            "options": ["carryForward"] if s.carry_forward else [],
                        },
                    )
                )
        elif kind == "jobdefinition":
            for mid, j in self.jobs().items():
                stream = plan.streams[j.stream]
                task = {
                    "UNIX": {
                        "taskString": f"/opt/batch/bin/{j.name.lower()}.sh",
                        "isCommand": False,
                        "userName": "batch",
                    }
                }
                defs.append(
                    (
                        f"{ws[j.workstation].key}#{stream.folder}{j.name}",
                        {
                            "id": mid,
                            "name": j.name,
                            "type": "UNIX",
                            "task": task,
                            "workstation": ws[j.workstation].key,
                            "folder": stream.folder,
                        },
                    )
                )
        elif kind == "workstation":
            for w in ws:
                defs.append(
                    (
                        w.key,
                        {
                            "id": model_id(seed, kind, w.name),
                            "name": w.name,
                            "type": w.type,
                            "os": w.os,
                            "nodeName": w.node_name,
                            "domain": w.domain,
                            "folder": "/",
                        },
                    )
                )
        elif kind == "domain":
            defs.append(
                (
                    "MASTERDM",
                    {
                        "id": model_id(seed, kind, "MASTERDM"),
                        "name": "MASTERDM",
                        "master": True,
                        "managerWorkstation": ws[0].key,
                        "folder": "/",
                    },
                )
            )
        elif kind == "folder":
            for folder in sorted({s.folder for s in plan.streams} - {"/"}):
                name = folder.strip("/").rsplit("/", 1)[-1]
                defs.append((folder, {"id": model_id(seed, kind, folder), "name": name, "parent": "/"}))
        elif kind == "prompt":
            for p in plan.prompts:
                defs.append(
                    (f"/{p.name}", {"id": model_id(seed, kind, p.name), "name": p.name, "text": p.text, "folder": "/"})
                )
        elif kind == "resource":
            for r in plan.resources:
                defs.append(
                    (
                        f"{r.workstation}#/{r.name}",
                        {
                            "id": model_id(seed, kind, r.name),
                            "name": r.name,
                            "quantity": r.quantity,
                            "workstation": r.workstation,
                            "folder": "/",
                        },
                    )
                )
        elif kind == "variabletable":
            defs.append(
                (
                    "/MAIN_TABLE",
                    {
                        "id": model_id(seed, kind, "MAIN_TABLE"),
                        "name": "MAIN_TABLE",
                        "default": True,
                        "variables": {},
                        "folder": "/",
                    },
                )
            )
        return [{"kind": KINDS[kind], "key": key, "def": d} for key, d in defs]


_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda o: o["def"].get("id"),
    "name": lambda o: o["def"].get("name"),
    "folder": lambda o: o["def"].get("folder"),
}


def model_routes(sim: Simulator, models: Models) -> list[Route]:
    def listing(kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            sim.state()
            objs = models.objects(kind)
            selector = request.query_params.get("model_filter")
            if selector:
                pred = plan_filter(selector, "jobstream")

                def keep(o: dict[str, Any]) -> bool:
                    ws, _, rest = o["key"].partition("#")
                    folder, _, name = rest.rpartition("/")
                    return pred(ws.strip("/") or "@", (folder + "/") if folder else "/", name, "")

                objs = [o for o in objs if keep(o)]
            return paginate(request, select(sim, request, objs, _FIELDS, "model"), lambda o: o)

        return handler

    def one(kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            sim.state()
            wanted = request.path_params["object_id"]
            for o in models.objects(kind):
                if o["def"].get("id") == wanted:
                    return JSONResponse(o)
            label = KINDS[kind].lower().replace("jobstream", "job stream")
            return error(404, f"No {label} definition has been found with the provided id.")

        return handler

    async def engine_info(request: Request) -> Response:
        return JSONResponse(
            {
                "fullVersion": "10.2.8.0",
                "displayVersion": "10.2.8",
                "licenseType": "PERSERVER",  # what the lab's engine reported
                "timezone": "UTC",
                "locale": "en",
                "capabilities": {},  # an object in the spec; its real content was never captured
            }
        )

    async def users(request: Request) -> Response:
        return JSONResponse({"users": ["wauser"]})

    async def groups(request: Request) -> Response:
        return JSONResponse({"groups": []})

    async def objects_info(request: Request) -> Response:
        wanted = request.query_params.get("object_type")
        if wanted is not None and wanted not in OBJECT_TYPES:
            raise BadRequest("The specified object type has not valid info.")
        out: dict[str, Any] = {}
        for kind in [wanted] if wanted else OBJECT_TYPES:
            segment, actions = _ACTIONS[kind]
            suffix = kind.removesuffix("_IN_PLAN").replace("JOBSTREAM", "JOB_STREAM")
            out[kind] = {
                "actions": [
                    {
                        "key": f"{a.upper().replace('-', '_')}_{suffix}",
                        "label": a.replace("-", " ").capitalize(),
                        "httpMethod": "PUT",
                        "parametricUrl": f"{API}/plan/{segment}/{{id}}/action/{a}",
                    }
                    for a in actions
                ]
            }
        return JSONResponse(out)

    def g(handler: Callable[[Request], Any]) -> Any:
        return guarded(sim, handler)

    routes = [
        Route(f"{API}/engine/info", g(engine_info), methods=["GET"]),
        Route(f"{API}/engine/users", g(users), methods=["GET"]),
        Route(f"{API}/engine/groups", g(groups), methods=["GET"]),
        Route(f"{API}/objects-info", g(objects_info), methods=["GET"]),
    ]
    for kind in KINDS:
        routes.append(Route(f"{API}/model/{kind}", g(listing(kind)), methods=["GET"]))
        routes.append(Route(f"{API}/model/{kind}/{{object_id}}", g(one(kind)), methods=["GET"]))
    return routes
