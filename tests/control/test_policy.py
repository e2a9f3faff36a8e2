"""The policy decision and tool exposure: pure, table-tested."""

from __future__ import annotations

import pytest

from resync_mcp.config import Settings, load_settings
from resync_mcp.errors import ConfigError
from resync_mcp.security.policy import RULES, Allow, Deny, NeedsConfirmation, Policy, Principal, decide, exposed

POLICY = Policy(confirm=frozenset({"kill_job", "rerun_job", "cancel_job"}))
RO = Policy(confirm=frozenset(), read_only=True)


def who(*roles: str) -> Principal:
    return Principal("p", frozenset(roles))


@pytest.mark.parametrize(
    ("roles", "tool", "args", "policy", "expected"),
    [
        (("viewer",), "get_job", {}, POLICY, Allow),
        (("viewer",), "hold_job", {}, POLICY, Deny),
        (("operator",), "hold_job", {}, POLICY, Allow),
        (("operator",), "kill_job", {}, POLICY, NeedsConfirmation),
        (("operator",), "kill_job", {"preview": True}, POLICY, NeedsConfirmation),  # the preview hands out a token
        (("operator",), "stop_workstation", {}, POLICY, Deny),  # admin toolset
        (("operator",), "submit_adhoc_job", {}, POLICY, Deny),
        (("admin",), "stop_workstation", {}, POLICY, Allow),  # not in this policy's confirm list
        (("admin",), "kill_job", {}, RO, Deny),  # read_only beats every role
        (("admin",), "get_job", {}, RO, Allow),
        (("operator",), "no_such_tool", {}, POLICY, Deny),
        ((), "hold_job", {}, POLICY, Deny),
        (("viewer", "operator"), "rerun_job", {}, POLICY, NeedsConfirmation),  # roles add up
    ],
)
def test_decide(roles: tuple[str, ...], tool: str, args: dict[str, object], policy: Policy, expected: type) -> None:
    assert isinstance(decide(who(*roles), tool, args, policy), expected)


def test_a_denial_says_which_toolset_is_missing() -> None:
    d = decide(who("viewer"), "kill_job", {}, POLICY)
    assert isinstance(d, Deny) and "'operate'" in d.reason and "viewer" in d.reason


def test_exposure_follows_toolsets_lists_and_the_read_only_switch() -> None:
    read = {n for n, r in RULES.items() if r.toolset == "read"}
    assert exposed(["read"], [], [], read_only=False) == read
    assert exposed(["read"], ["hold_job"], [], read_only=False) == read | {"hold_job"}
    ops = exposed(["read", "operate"], [], ["kill_job"], read_only=False)
    assert "rerun_job" in ops and "kill_job" not in ops and "stop_workstation" not in ops
    assert exposed(["read", "operate", "admin"], ["kill_job"], [], read_only=True) == read


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"toolsets": ["read", "operat"]}, "operat"),
        ({"allow_tools": ["kil_job"]}, "kil_job"),
        ({"deny_tools": ["rm_rf"]}, "rm_rf"),
        ({"confirm_tools": ["nope"]}, "nope"),
    ],
)
def test_unknown_names_fail_at_startup(section: dict[str, object], named: str, settings: Settings) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"security": section})
    assert named in str(info.value) and "security" in str(info.value)


def test_defaults_read_only_for_real_engines_everything_for_the_simulator(settings: Settings) -> None:
    real = load_settings(None, {"engines": {"prod": {"base_url": "https://h:31116", "auth": "none"}}})
    assert real.enabled_toolsets() == ("read",) and real.operator_role() == "operator"
    assert settings.simulator_only() and settings.enabled_toolsets() == ("read", "operate", "admin")
    mixed = load_settings(
        None, {"demo": {"enabled": True}, "engines": {"prod": {"base_url": "https://h:31116", "auth": "none"}}}
    )
    assert mixed.enabled_toolsets() == ("read",)  # a real engine is configured: nothing is on by default
