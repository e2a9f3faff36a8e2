"""The spec oracle itself: the transcription is whole, and the validator can fail."""

from __future__ import annotations

import json

import pytest

from tests.contract.spec import FIXTURE, PRIMITIVES, example, parse_type, schemas, validate


def _refs(expr: str) -> str:
    base, _ = parse_type(expr)
    while base[:1] in "[{":
        base = base[1:-1]
    return base


def test_the_fixture_names_its_source_and_every_reference_resolves() -> None:
    head = json.loads(FIXTURE.read_text())
    assert "WA_API3_v2.json" in head["source"] and "2.1.6.0" in head["source"]
    assert any("maximum: 0" in q for q in head["quirks"])
    for name, schema in schemas().items():
        for prop, expr in schema.get("properties", {}).items():
            ref = _refs(expr)
            assert ref in PRIMITIVES or ref in schemas(), f"{name}.{prop} refers to unknown {ref}"
            assert parse_type(expr)[1] <= {"ro", "wo"}, f"{name}.{prop}"
        for prop in schema.get("required", []):
            assert prop in schema["properties"], f"{name} requires undefined {prop}"
        for variant in schema.get("oneOf", {}).values():
            assert "dependencyType" in schemas()[variant]["properties"]


def test_every_generated_document_validates_strictly_against_its_own_schema() -> None:
    objects = [n for n, s in schemas().items() if "properties" in s]
    for name in objects:
        for variant in range(3):
            for sparse in (False, True):
                doc = example(name, variant, sparse=sparse)
                assert validate(doc, name, strict=True) == [], (name, variant, sparse)


@pytest.mark.parametrize(
    ("doc", "schema", "fragment"),
    [
        (
            {
                "dependencyType": "INTERNAL",
                "jobId": "6d19eaf1-c9da-3799-96ed-131f07832a01",
                "predecessorStatus": "SUCC",
            },
            "DependencyInPlanV2",
            "expected a JobInPlanCompositeStatusV2 object",
        ),
        ({"dependencyType": "INTERNAL"}, "DependencyInPlanV2", "required property 'jobId'"),
        ({"dependencyType": "TELEPATHY"}, "DependencyInPlanV2", "selects no DependencyInPlanV2 variant"),
        ({"jobOptions": {"every": "yes"}}, "JobInPlanV2", "expected a boolean"),
        ({"status": "Answered Yes"}, "PromptInPlanV2", "is not one of PromptStatusType"),
        ({"originalJobStreamName": "JS", "scheduledDate": "2026-11-24"}, "JobStreamInPlanV2", "is not a date-time"),
        ({"capabilities": ["PLAN"]}, "EngineInfoV2", "expected an object"),
        ({"jobId": "MDMDA;JOBS;SLEEP"}, "ResourceHolderInPlan", "does not match the spec's id pattern"),
        ({"priority": None}, "JobInPlanV2", "null is not allowed"),
        ({"jobruns": [{"timeInfo": {"elapsedTime": "5 seconds"}}]}, "JobInPlanV2", "not an ISO-8601 duration"),
        ({"results": [], "simulator": {}}, "EngineInfoV2", "not a property of EngineInfoV2"),
        ({"isGetNamesFromJobDefinition": True}, "JobRunInstanceV2", "writeOnly"),
    ],
)
def test_the_validator_reports_what_a_real_engine_would_not_send(doc: object, schema: str, fragment: str) -> None:
    errors = validate(doc, schema, strict=True)
    assert any(fragment in e for e in errors), errors


def test_unknown_fields_pass_unless_strict_and_the_bounds_artifact_is_ignored() -> None:
    # A real engine may add fields (kept by a tolerant reader); a stream limit of -1 is valid
    # although the spec's generator wrote minimum: 0, maximum: 0 on every integer.
    doc = {"originalJobStreamName": "JS", "limit": -1, "priority": 101, "newerField": 1}
    assert validate(doc, "JobStreamInPlanV2") == []
    assert validate(doc, "JobStreamInPlanV2", strict=True) == [
        "$.newerField: not a property of JobStreamInPlanV2 in the spec"
    ]
