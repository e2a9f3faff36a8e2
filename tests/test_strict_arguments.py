"""A misspelled argument never changes what a call does: unknown names are refused with the
closest known one, before anything is read or written; every other bad value gets one plain
sentence, never pydantic's text; a single value is accepted where a list is expected."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from pydantic import ValidationError

from resync_mcp.app import App
from resync_mcp.simulator import Simulator
from tests.conftest import call

pytestmark = pytest.mark.anyio
PYDANTIC = ("validation error", "pydantic", "Input should", "For further information", "type=")


def _known(app: App, tool: str) -> set[str]:
    model = app.server._tool_manager.get_tool(tool).fn_metadata.arg_model  # type: ignore[union-attr]
    return {f.alias or n for n, f in model.model_fields.items()}


async def test_every_input_schema_forbids_unknown_arguments(mcp: Client) -> None:
    tools = (await mcp.list_tools()).tools
    assert len(tools) > 30
    assert all(t.input_schema.get("additionalProperties") is False for t in tools), [
        t.name for t in tools if t.input_schema.get("additionalProperties") is not False
    ]


@pytest.mark.parametrize("typo", ["Preview", "preveiw", "preview ", "PREVIEW", "pre_view"])
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("set_job_priority", lambda sim: {"job": sim.plan.jobs[3].id, "priority": 40}),
        ("hold_job", lambda sim: {"job": sim.plan.jobs[3].id}),
        ("set_workstation_limit", lambda sim: {"workstation": sim.plan.workstations[1].name, "limit": 0}),
    ],
)
async def test_a_misspelled_preview_writes_nothing_and_names_the_right_argument(
    app: App, mcp: Client, sim: Simulator, tool: str, args: Any, typo: str
) -> None:
    engine = app.engines.get("demo")
    before = engine.requests_made
    result = await mcp.call_tool(tool, {**args(sim), typo: True, "reason": "typo test"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and f"unknown argument '{typo}'" in text and "did you mean 'preview'" in text
    assert "Nothing was read or changed" in text and not any(p in text for p in PYDANTIC)
    assert sim.writes == [] and engine.requests_made == before  # not even the pre-write read


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("find_jobs", {"limit": 999}, "'limit' must be at most 200"),
        ("find_jobs", {"limit": "many"}, "'limit' must be a whole number"),
        ("find_jobs", {"critical": "maybe"}, "'critical' must be true or false"),
        ("get_job", {}, "'job' is required"),
        ("find_jobs", {"status": [1, {"x": 2}]}, "'status.1' must be text"),
        ("get_job_log", {"job": "x" * 500}, "'job' is too long"),
    ],
)
async def test_bad_values_get_one_plain_sentence(mcp: Client, tool: str, args: dict[str, Any], expected: str) -> None:
    result = await mcp.call_tool(tool, args)
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and expected in text and not any(p in text for p in PYDANTIC), text


async def test_a_single_value_is_taken_as_a_one_element_list(mcp: Client, sim: Simulator) -> None:
    one = await call(mcp, "find_jobs", {"status": "ERROR", "limit": 200})
    listed = await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 200})
    assert one["jobs"] == listed["jobs"] and one["total"] == listed["total"] > 0


_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES, value=st.one_of(st.booleans(), st.integers(), st.text(max_size=20), st.none()))
def test_an_unknown_argument_never_passes_any_tools_validation(
    app_tools: dict[str, Any], name: str, value: Any
) -> None:
    """Property: for every tool, an argument name outside its schema is refused by name (the
    fixture is read-only here, so sharing it across examples is safe)."""
    for tool_name, tool in app_tools.items():
        known = {f.alias or n for n, f in tool.fn_metadata.arg_model.model_fields.items()}
        if name in known:
            continue
        with pytest.raises(ValidationError) as err:
            tool.fn_metadata.validate_arguments({name: value})
        extra = [e for e in err.value.errors() if e["type"] == "extra_forbidden"]
        assert [e["loc"] for e in extra] == [(name,)], tool_name


@pytest.fixture
def app_tools(app: App) -> dict[str, Any]:
    return {t.name: t for t in app.server._tool_manager.list_tools()}


async def test_arguments_are_validated_once_per_call_and_reach_the_tool_as_checked(
    app: App, mcp: Client, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's validation is the one the tool gets: the SDK's own second pass reuses it, for
    this call only (a later call with other arguments is validated afresh)."""
    model = app.server._tool_manager.get_tool("find_jobs").fn_metadata.arg_model  # type: ignore[union-attr]
    seen: list[dict[str, Any]] = []
    real = model.model_validate.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, obj: Any, *a: Any, **k: Any) -> Any:
        seen.append(dict(obj))
        return real(cls, obj, *a, **k)

    monkeypatch.setattr(model, "model_validate", classmethod(counting))
    first = await mcp.call_tool("find_jobs", {"status": "ERROR", "limit": 3})
    second = await mcp.call_tool("find_jobs", {"status": ["SUCC"], "limit": 2})
    assert not first.is_error and not second.is_error
    assert seen == [{"status": "ERROR", "limit": 3}, {"status": ["SUCC"], "limit": 2}]  # once each
    firsts, seconds = first.structured_content["jobs"], second.structured_content["jobs"]  # type: ignore[index]
    assert 0 < len(firsts) <= 3 and 0 < len(seconds) <= 2  # each call got its own limit and status
    assert "SUCC" not in {j["status"] for j in firsts} and {j["status"] for j in seconds} == {"SUCC"}
