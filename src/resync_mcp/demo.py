"""`resync-mcp demo`: an operator's morning, played through a real MCP client session.

The simulator runs in-process, the server is the real one, and every question goes
through the SDK's client exactly as an assistant's would.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.config import Settings


class ScenarioError(RuntimeError):
    pass


async def _call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    if result.is_error or result.structured_content is None:
        text = result.content[0].text if result.content and hasattr(result.content[0], "text") else "?"
        raise ScenarioError(f"{tool} failed: {text}")
    return dict(result.structured_content)


async def run_demo(settings: Settings, out: Callable[[str], None] = print) -> int:
    """Play the scenario; returns a process exit code."""
    app = build_app(settings)
    await app.start()
    try:
        async with Client(app.server) as client:
            tools = await client.list_tools()
            out(
                f"resync-mcp demo: simulated engine 'demo', seed {settings.demo.seed}, "
                f"{settings.demo.jobs} jobs; {len(tools.tools)} tools over MCP "
                f"(protocol {client.protocol_version}).\n"
            )

            out("Q1. How does the plan look?")
            s = await _call(client, "plan_summary", {})
            out(
                f"    {s['total_jobs']} jobs as of {s['as_of']}; by common status: "
                + ", ".join(f"{k} {v}" for k, v in s["by_common_status"].items())
            )
            out(
                f"    critical {s['critical_jobs']}, late {s['late_jobs']}, held {s['held_jobs']}; "
                f"plan window {s['plan_window_start']} .. {s['plan_window_end']}\n"
            )

            out("Q2. What failed overnight?")
            failed = await _call(client, "find_jobs", {"status": ["ERROR"], "sort": "-sched_time", "limit": 10})
            out(
                f"    {failed['total']} jobs in ERROR (showing {failed['returned']}"
                f"{', truncated' if failed['truncated'] else ''}):"
            )
            idents = [f"{j['workstation']}#{j['job_stream']}.{j['name']}" for j in failed["jobs"]]
            width = max(map(len, idents), default=0)
            for ident, j in zip(idents, failed["jobs"], strict=True):
                out(
                    f"    - {ident:<{width}}  {j['status']:<5} rc {_rc(j['return_code']):>3}"
                    f"{'  CRITICAL' if j['critical'] else ''}"
                )
            if not failed["jobs"]:
                out("    nothing failed.")
                return 0

            # "Worst" = a critical failure first, then the highest return code.
            worst = max(failed["jobs"], key=lambda j: (j["critical"], j["return_code"] or 0))
            out(f"\nQ3. Show the log of the worst one: {worst['job_stream']}.{worst['name']}")
            job = await _call(client, "get_job", {"job": worst["id"]})
            log = await _call(client, "get_job_log", {"job": worst["id"], "tail": 8})
            info = log["jobinfo"] or {}
            out(
                f"    status {job['job']['status']} rc {_rc(job['job']['return_code'])}, "
                f"started {job['job']['start']}, "
                f"exit status {info.get('exit_status')}, elapsed {info.get('elapsed')}, "
                f"CPU {info.get('cpu_user_s')}s user"
            )
            for line in log["first_errors"][:3]:
                out(f"    first error, line {line['n']}: {line['text']}")
            out(f"    last {len(log['lines'])} of {log['total_lines']} lines:")
            for line in log["lines"]:
                out(f"      {line['n']:>5} | {line['text']}")
            out(f"    allowed actions in this state: {', '.join(job['allowed_actions'])}")

            out("\nQ4. What waits on it?")
            deps = await _call(client, "job_dependencies", {"job": worst["id"], "direction": "successors", "depth": 3})
            nodes = deps["nodes"]
            out(f"    {len(nodes)} successors within 3 levels{' (truncated)' if deps['truncated'] else ''}:")
            for n in nodes[:12]:
                out(f"    {'  ' * (n['depth'] - 1)}- {n['job_stream']}.{n['name']} ({n['status']})")
            if len(nodes) > 12:
                out(f"    ... and {len(nodes) - 12} more")

            impact = await _call(client, "impact_of_failure", {"job": worst["id"]})
            streams = ", ".join(f"{k} {v}" for k, v in list(impact["by_job_stream"].items())[:3])
            out(
                f"    impact (dependency graph): {impact['blocked_total']} jobs blocked downstream ({streams}); "
                f"{len(impact['critical_affected'])} critical, {len(impact['deadlines_affected'])} with a deadline"
            )

            out("\nQ5. Is a deadline at risk, and which predecessor drives it?")
            critical = await _call(client, "find_jobs", {"critical": True, "status": ["WAITING", "READY", "RUNNING"]})
            risks = []
            for j in critical["jobs"][:8]:
                cp = await _call(client, "critical_path", {"target": j["id"]})
                if cp["deadline"]:
                    risks.append(cp)
            risks.sort(key=lambda cp: cp["slack_s"])
            for cp in risks[:2]:
                driver = cp["driver"]["name"] if cp["driver"] else "nothing upstream"
                verdict = _verdict(cp)
                out(
                    f"    {cp['target']['job_stream']}.{cp['target']['name']}: deadline {cp['deadline']}, expected "
                    f"{cp['expected_finish']}, slack {cp['slack_s'] / 60:.0f} min: {verdict}; driven by {driver}"
                )
            if not risks:
                out("    no unfinished critical job with a deadline.")

            out("\nQ6. Anything blocking workstations or waiting for an operator?")
            ws = await _call(client, "list_workstations", {"limit": 50})
            blocked = [w for w in ws["workstations"] if w["blocking"]]
            for w in blocked:
                out(f"    - {w['name']}: {w['blocking']}")
            prompts = await _call(client, "list_prompts", {"waiting_only": True})
            out(
                f"    {_n(len(blocked), 'workstation')} blocking; "
                f"{_n(prompts['waiting_for_reply'], 'prompt')} waiting for a reply."
            )

            out(f"\nQ7. Diagnose {worst['name']} in one call: what does our knowledge say?")
            diag = await _call(client, "diagnose_job", {"job": worst["id"]})
            for e in diag["explanations"][:2]:
                out(f"    {e['code']}: {e['title']}. What to check: {'; '.join(e['what_to_check'][:2])}")
            cited = [("runbook", r["title"], r["uri"], r["passage"]) for r in diag["runbooks"]] + [
                ("knowledge", p["title"], p["uri"], p) for p in diag["passages"]
            ]
            shown: set[tuple[str, str]] = set()
            for label, title, uri, passage in cited:
                section = passage["section"].split(" > ")[-1] if passage else ""
                if (uri, section) in shown or len(shown) >= 3:
                    continue
                shown.add((uri, section))
                out(f"    {label}: {title} [{section}] ({uri})")
            if not cited:
                out("    no runbook matched; see the notes: " + "; ".join(diag["notes"]))
            out(f"    confidence {diag['confidence']}: {diag['assessment']}")

            out(f"\nQ8. Rerun {worst['name']} now that the cause is fixed: preview first, then a confirmed rerun.")
            args = {
                "job": worst["id"],
                "reason": "input restored; rerun requested by the on-call operator",
                "ticket": "INC-DEMO-1",
            }
            preview = await _call(client, "rerun_job", {**args, "preview": True})
            down = preview["downstream"] or {}
            out(f"    preview: {preview['action']}; now {preview['state_before']}. {preview['message']}")
            if down:
                out(f"    downstream: {down['effect']} e.g. {', '.join(down['examples'][:3]) or 'none'}")
            out("    (the operator reads the preview and confirms; the assistant presents the token)")
            done = await _call(
                client,
                "rerun_job",
                {**args, "confirmation_token": preview["confirmation_token"]},
            )
            out(
                f"    {done['outcome']}: {done['state_before']} -> {done['state_after']}; "
                f"new run {done['engine_reference']}; idempotency key {done['idempotency_key']}"
            )
            again = await _call(client, "rerun_job", {**args, "idempotency_key": done["idempotency_key"]})
            out(f"    the same call repeated with its key: {textwrap.shorten(again['message'], 90, placeholder=' …')}")

            out("\nEvery answer above came from MCP tool calls; structured output of the last call:")
            out("    " + json.dumps({k: again[k] for k in ("engine", "as_of", "tool", "outcome", "idempotency_key")}))
        return 0
    except ScenarioError as exc:
        out(f"demo failed: {exc}")
        return 1
    finally:
        await app.aclose()


def _rc(code: object) -> str:
    """A return code, or "-" when the job has none (it has not ended)."""
    return "-" if code is None else str(code)


def _verdict(cp: dict[str, Any]) -> str:
    """MISSED once the deadline has passed (at the time the data was read), AT RISK before."""
    if cp["deadline"] and datetime.fromisoformat(cp["deadline"]) <= datetime.fromisoformat(cp["as_of"]):
        return "MISSED"
    return "AT RISK" if cp["at_risk"] else "on time"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
