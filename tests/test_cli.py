"""The command line: check never prints secrets, bad settings exit 2 with the setting's name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import resync_mcp
from resync_mcp.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    import os

    for key in list(os.environ):
        if key.startswith("RESYNC_"):
            monkeypatch.delenv(key)


def test_check_reports_engines_without_their_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text('[engines.prod]\nbase_url = "http://127.0.0.1:9"\nusername = "ops"\nconnect_timeout = 0.5\n')
    monkeypatch.setenv("RESYNC_ENGINES__PROD__PASSWORD", "Sup3r-S3cret")
    code = main(
        [
            "--config",
            str(cfg),
            "check",
        ]
    )
    out = capsys.readouterr()
    assert code == 1  # nothing listens on port 9: the probe fails, and says so
    assert "engine prod: http://127.0.0.1:9/twsd/api/v2 auth=basic user=ops secret=set" in out.out
    assert "probe prod: FAILED" in out.out
    assert "Sup3r-S3cret" not in out.out + out.err


def test_check_probes_the_demo_engine(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RESYNC_DEMO__ENABLED", "true")
    monkeypatch.setenv("RESYNC_DEMO__JOBS", "50")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "engine demo: built-in simulator, seed 42, 50 jobs" in out and "probe demo: ok, HWA 10.2.8" in out


def test_bad_setting_exits_2_naming_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RESYNC_SERVER__PORT", "0")
    assert main(["serve", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "server.port" in err and "RESYNC_SERVER__PORT" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("faults", "named"),
    [("[1]", "JSON object"), ('{"bogus": 1}', "bogus"), ('{"latency_ms": "slow"}', "latency_ms"), ("{", "--faults")],
)
def test_simulator_refuses_bad_fault_settings_naming_them(
    faults: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulator", "--faults", faults]) == 2  # refused before anything listens
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_serve_without_engines_says_how_to_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert "serve --demo" in capsys.readouterr().err


def test_demo_plays_the_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--demo-jobs", "300", "--demo-seed", "11"]) == 0
    out = capsys.readouterr().out
    for question in ("Q1.", "Q2. What failed overnight?", "Q3. Show the log", "Q4. What waits on it?"):
        assert question in out
    assert "exit status" in out
    assert "impact (dependency graph):" in out and "Q5. Is a deadline at risk" in out  # impact and deadline risk
    assert "Q7. Diagnose" in out and "runbook: " in out and "(kb://doc/" in out  # a diagnosis citing a runbook
    assert any(f"confidence {band}: " in out for band in ("high", "medium", "low"))  # and saying how far it holds
    assert "Q8. Rerun" in out and "preview: rerun job" in out and "done: ABEND -> " in out
    assert "Replayed" in out  # the repeated call with the same key sent nothing
    assert "None" not in out  # a job without a return code shows "rc -"


def test_demo_verdicts_and_columns() -> None:
    from resync_mcp.demo import _n, _rc, _verdict

    passed = {"deadline": "2026-11-29T18:56:00+00:00", "as_of": "2026-11-30T02:00:00+00:00", "at_risk": True}
    ahead = {**passed, "deadline": "2026-11-30T04:00:00+00:00"}
    assert _verdict(passed) == "MISSED" and _verdict(ahead) == "AT RISK"
    assert _verdict({**ahead, "at_risk": False}) == "on time"
    assert (_rc(None), _rc(0), _n(1, "prompt"), _n(2, "prompt")) == ("-", "0", "1 prompt", "2 prompts")


def test_public_surface_is_pinned() -> None:
    assert resync_mcp.__all__ == ["__version__"]
    out = subprocess.run([sys.executable, "-m", "resync_mcp", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("resync-mcp ")


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "{cfg}", "check"],
        ["check", "--config", "{cfg}"],
        ["check", "--config={cfg}"],
        ["check", "--log-level", "WARNING", "--config", "{cfg}"],
    ],
)
def test_config_is_accepted_anywhere_on_the_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text("[demo]\nenabled = true\njobs = 20\n")
    assert main([a.replace("{cfg}", str(cfg)) for a in argv]) == 0
    assert "built-in simulator, seed 42, 20 jobs" in capsys.readouterr().out


def test_the_config_is_found_in_the_users_config_folder_after_the_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from resync_mcp.paths import user_dir

    for key in [k for k in __import__("os").environ if k.startswith("RESYNC_")]:
        monkeypatch.delenv(key)
    folder = user_dir("config")  # the test's own HOME (conftest)
    folder.mkdir(parents=True)
    (folder / "resync.toml").write_text("[demo]\nenabled = true\njobs = 30\n")
    assert main(["check"]) == 0
    assert "built-in simulator, seed 42, 30 jobs" in capsys.readouterr().out
    named = tmp_path / "other.toml"
    named.write_text("[demo]\nenabled = true\njobs = 40\n")
    monkeypatch.setenv("RESYNC_CONFIG", str(named))  # the environment comes first
    assert main(["check"]) == 0
    assert "40 jobs" in capsys.readouterr().out
