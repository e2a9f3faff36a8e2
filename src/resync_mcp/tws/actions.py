"""The write side of the HWA REST API v2 (hwa-rest-api.md §4): one method per action.

Every method sends exactly one request through the client's stage chain with
``idempotent=False``: never cached, never retried. Justification (reason, ticket) travels in
the ``Justification-*`` headers, so it lands in HWA's own audit too. Answers are the
engine's ``{id, url}`` (``ResourceResponseV2``) unless said otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from resync_mcp.errors import HwaError
from resync_mcp.tws.client import HwaClient, check_id


@dataclass(frozen=True)
class Justification:
    category: str = "resync-mcp"
    description: str = ""
    ticket: str | None = None

    def headers(self) -> dict[str, str]:
        # Header values must be single-line ASCII-safe text; the guard upstream bounds length.
        out = {"Justification-Category": self.category, "Justification-Description": _header(self.description)}
        if self.ticket:
            out["Justification-Ticket-Num"] = _header(self.ticket)
        return out


def _header(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:512]


class ResourceResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    url: str | None = None


class ModelObject(BaseModel):
    """``ModelObjectX {kind, key, def}``: a definition in the database (hwa-rest-api.md §5)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    kind: str | None = None
    key: str | None = None
    definition: dict[str, Any] = Field(default_factory=dict, alias="def")


class HwaActions:
    def __init__(self, client: HwaClient) -> None:
        self.client = client
        self.engine = client.engine

    async def _act(
        self,
        method: str,
        path: str,
        what: str,
        kind: str,
        why: Justification,
        *,
        object_id: str | None = None,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> bytes:
        fetched = await self.client._send(
            method, path, what, kind=kind, object_id=object_id, params=params, body=body, headers=why.headers()
        )
        return fetched.content

    def _answer(self, fetched_content: bytes, what: str) -> ResourceResponse:
        try:
            return ResourceResponse.model_validate_json(fetched_content)
        except ValueError as exc:
            raise HwaError(f"HWA engine '{self.engine}' answered {what} with something unreadable.") from exc

    async def job_action(
        self,
        job_id: str,
        action: str,
        why: Justification,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> ResourceResponse:
        """PUT /plan/job/{job_id}/action/{action}."""
        check_id(job_id, "job")
        what = f"sending {action} to job {job_id}"
        path = f"/plan/job/{job_id}/action/{action}"
        content = await self._act("PUT", path, what, "job", why, object_id=job_id, body=body, params=params)
        return self._answer(content, what)

    async def bulk_job_action(
        self, action: str, oql: str, max_objects: int, why: Justification
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """PUT /plan/job/action/{action}?oql=…&max_object_affected=N (FilterActionResponseV2):
        the ids acted on, and (id, message) for each failure. The engine's default N is 1."""
        what = f"sending {action} to the jobs matching a filter"
        path = f"/plan/job/action/{action}"
        content = await self._act(
            "PUT", path, what, "query", why, params={"oql": oql, "max_object_affected": max_objects}
        )
        try:
            data = json.loads(content)
            ok = [str(r["id"]) for r in data.get("successfulResourceResponses") or []]
            failed = [(str(r.get("id")), str(r.get("message", ""))) for r in data.get("failedResourceResponses") or []]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HwaError(f"HWA engine '{self.engine}' answered {what} with something unreadable.") from exc
        return ok, failed

    async def rerun(self, run_id: str, why: Justification, details: dict[str, Any]) -> ResourceResponse:
        """PUT /plan/job/run/{run_id}/action/rerun with RerunDetailsV2. The body is always sent as
        JSON (``{}`` at least): without the JSON content type the engine answers 415."""
        check_id(run_id, "job run")
        what = f"rerunning run {run_id}"
        path = f"/plan/job/run/{run_id}/action/rerun"
        return self._answer(await self._act("PUT", path, what, "job", why, object_id=run_id, body=details), what)

    async def stream_action(self, jobstream_id: str, action: str, why: Justification) -> ResourceResponse:
        check_id(jobstream_id, "job stream")
        what = f"sending {action} to job stream {jobstream_id}"
        path = f"/plan/jobstream/{jobstream_id}/action/{action}"
        return self._answer(await self._act("PUT", path, what, "jobstream", why, object_id=jobstream_id), what)

    async def submit_stream(self, model_id: str, why: Justification, options: dict[str, Any]) -> list[str]:
        """POST /plan/jobstream/{model_id}/submit; the ids of the job stream instances created.
        Which model id the engine expects (``def.id`` or ``def.abstractId``) is unconfirmed."""
        check_id(model_id, "job stream definition")
        what = f"submitting job stream definition {model_id}"
        fetched = await self.client._send(
            "POST", f"/plan/jobstream/{model_id}/submit", what, kind="jobstream", body=options, headers=why.headers()
        )
        try:
            results = _results(fetched.content)
        except ValueError as exc:
            raise HwaError(f"HWA engine '{self.engine}' answered {what} with something unreadable.") from exc
        return [str(r["id"]) for r in results if isinstance(r, dict) and "id" in r]

    async def submit_job(self, model_id: str, why: Justification, options: dict[str, Any]) -> ResourceResponse:
        check_id(model_id, "job definition")
        what = f"submitting job definition {model_id}"
        fetched = await self.client._send(
            "POST", f"/plan/job/{model_id}/submit", what, kind="job", body=options, headers=why.headers()
        )
        return self._answer(fetched.content, what)

    async def submit_adhoc(self, why: Justification, options: dict[str, Any]) -> str:
        """POST /plan/job/submit-ad-hoc-job. The engine answers a composite key (``WS;JOBS;NAME``),
        not the job's UUID: callers look the job up again to act on it."""
        what = "submitting an ad hoc job"
        fetched = await self.client._send(
            "POST", "/plan/job/submit-ad-hoc-job", what, kind="job", body=options, headers=why.headers()
        )
        return self._answer(fetched.content, what).id

    async def reply_prompt(self, prompt_id: str, answer: bool, why: Justification) -> ResourceResponse:
        check_id(prompt_id, "prompt")
        what = f"replying to prompt {prompt_id}"
        path = f"/plan/prompt/{prompt_id}/action/reply"
        content = await self._act("PUT", path, what, "prompt", why, object_id=prompt_id, body={"answer": answer})
        return self._answer(content, what)

    async def workstation_action(
        self, workstation_id: str, action: str, why: Justification, params: dict[str, Any] | None = None
    ) -> ResourceResponse:
        check_id(workstation_id, "workstation")
        what = f"sending {action} to workstation {workstation_id}"
        path = f"/plan/workstation/{workstation_id}/action/{action}"
        content = await self._act("PUT", path, what, "workstation", why, object_id=workstation_id, params=params)
        return self._answer(content, what)

    async def find_model(self, kind: str, model_filter: str) -> list[ModelObject]:
        """GET /model/{jobstream|jobdefinition}?model_filter=…: definitions to submit."""
        what = f"looking up {kind} definitions"
        fetched = await self.client._get(
            f"/model/{kind}", what, kind="model", params={"model_filter": model_filter, "limit": 20}, plan_scoped=False
        )
        try:
            return [ModelObject.model_validate(r) for r in _results(fetched.content) if isinstance(r, dict)]
        except ValueError as exc:
            raise HwaError(f"HWA engine '{self.engine}' answered {what} with something unreadable.") from exc


def _results(content: bytes) -> list[Any]:
    data = json.loads(content)
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise ValueError("no results")
    return results
