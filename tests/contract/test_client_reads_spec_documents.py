"""Anything a real engine may send, by the spec, is read by the client without losing a field:
documents generated from the transcribed schemas (every property filled, every dependency
variant, enums cycled; and sparse ones with only what the spec requires) parse with the
client's models, and the models give back exactly the document they read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from resync_mcp.tws.actions import ModelObject, ResourceResponse
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.models import (
    DependencyInPlanV2,
    EngineInfoV2,
    GroupedCountResponse,
    JobInPlanV2,
    JobRunInstanceV2,
    JobStreamInPlanV2,
    Page,
    PromptInPlanV2,
    ResourceInPlanV2,
    WorkstationInPlanV2,
)
from tests.contract.spec import example, schemas

pytestmark = pytest.mark.anyio
READS: list[tuple[str, type[BaseModel]]] = [
    ("JobInPlanV2", JobInPlanV2),
    ("JobRunInstanceV2", JobRunInstanceV2),
    ("DependencyInPlanV2", DependencyInPlanV2),
    ("JobStreamInPlanV2", JobStreamInPlanV2),
    ("WorkstationInPlanV2", WorkstationInPlanV2),
    ("ResourceInPlanV2", ResourceInPlanV2),
    ("PromptInPlanV2", PromptInPlanV2),
    ("EngineInfoV2", EngineInfoV2),
    ("GroupedCountResponse", GroupedCountResponse),
    ("PaginatedResponseV221", Page[JobInPlanV2]),
    ("PaginatedResponseV223", Page[JobStreamInPlanV2]),
    ("ResourceResponseV2", ResourceResponse),
    ("ModelObjectJobStream", ModelObject),
    ("ModelObjectJobDefinition", ModelObject),
]


def _documents(schema: str) -> list[tuple[str, Any]]:
    docs = [(f"full variant {v}", example(schema, v)) for v in range(4)]
    docs.append(("sparse", example(schema, 0, sparse=True)))
    if "oneOf" in schemas()[schema]:  # one full document per dependency type
        docs += [(f"{kind} variant", example(f"[{schema}]", 1)[i]) for i, kind in enumerate(schemas()[schema]["oneOf"])]
    return docs


@pytest.mark.parametrize(("schema", "model"), READS, ids=[s for s, _ in READS])
def test_the_client_reads_every_spec_document_and_keeps_every_field(schema: str, model: type[BaseModel]) -> None:
    for label, doc in _documents(schema):
        parsed = model.model_validate(doc)
        assert parsed.model_dump(by_alias=True, exclude_unset=True) == doc, f"{schema} {label} changed on reading"


def test_a_predecessor_status_arrives_as_an_object_and_its_internal_state_is_read() -> None:
    doc = example("[DependencyInPlanV2]", 2)[0]
    assert doc["dependencyType"] == "INTERNAL" and isinstance(doc["predecessorStatus"], dict)
    dep = DependencyInPlanV2.model_validate(doc)
    assert dep.predecessor_state == doc["predecessorStatus"]["status"]
    # An engine that still sends the bare internal status is read too, not refused.
    assert (
        DependencyInPlanV2.model_validate(
            {"dependencyType": "INTERNAL", "predecessorStatus": "ABEND"}
        ).predecessor_state
        == "ABEND"
    )


async def test_the_client_reads_a_spec_generated_job_through_its_http_path() -> None:
    doc = example("JobInPlanV2", 1)
    doc["id"] = "6d19eaf1-c9da-3799-96ed-131f07832a01"

    def engine(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/twsd/api/v2/plan/job/{doc['id']}"
        return httpx.Response(200, json=doc)

    async with httpx.AsyncClient(transport=httpx.MockTransport(engine), base_url="http://hwa.invalid") as http:
        job = await HwaClient(http, engine="spec").get_job(doc["id"])
    assert job.job_options is not None and isinstance(job.job_options.every, bool)
    assert job.dependencies and {d.dependency_type for d in job.dependencies} == set(
        schemas()["DependencyInPlanV2"]["oneOf"]
    )
    assert job.wire() == doc
