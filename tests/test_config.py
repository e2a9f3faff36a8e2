"""Settings: precedence, secrets, clear startup errors, and the shipped example file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from resync_mcp.config import EngineSettings, Settings, load_settings
from resync_mcp.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    import os

    for key in list(os.environ):
        if key.startswith("RESYNC_"):
            monkeypatch.delenv(key)


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "resync.toml"
    path.write_text(text)
    return str(path)


ENGINE = '[engines.prod]\nbase_url = "https://mdm.example:31116"\nusername = "ops"\n'


def test_cli_beats_env_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _toml(tmp_path, ENGINE + '[server]\nport = 8001\nhost = "127.0.0.3"\ntransport = "http"\n')
    monkeypatch.setenv("RESYNC_ENGINES__PROD__PASSWORD", "pw")
    monkeypatch.setenv("RESYNC_SERVER__PORT", "9000")
    monkeypatch.setenv("RESYNC_SERVER__HOST", "127.0.0.2")
    s = load_settings(cfg, {"server": {"host": "127.0.0.9"}})
    assert s.server.host == "127.0.0.9"  # CLI
    assert s.server.port == 9000  # env over file
    assert s.server.transport == "http"  # file over default
    assert s.engines["prod"].secret() is not None


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(None, {})
    with pytest.raises(Exception, match="frozen"):
        s.server.port = 1  # type: ignore[misc]


def test_secret_in_the_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    cfg = _toml(tmp_path, ENGINE + 'password = "hunter2"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "engines.prod.password" in str(err.value) and "RESYNC_ENGINES__PROD__PASSWORD" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_secret_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    cfg = _toml(tmp_path, ENGINE + f'password_file = "{tmp_path / "pw"}"\n')
    secret = load_settings(cfg).engines["prod"].secret()
    assert secret is not None and secret.get_secret_value() == "from-file"


def test_secrets_never_show_in_repr_or_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESYNC_ENGINES__PROD__PASSWORD", "s3cr3t-value")
    s = load_settings(_toml(tmp_path, ENGINE))
    assert "s3cr3t-value" not in repr(s) and "s3cr3t-value" not in s.model_dump_json()
    monkeypatch.setenv("RESYNC_ENGINES__PROD__TOKEN", "tok-s3cr3t")
    monkeypatch.setenv("RESYNC_ENGINES__PROD__CONNECT_TIMEOUT", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings(_toml(tmp_path, ENGINE))
    assert "s3cr3t" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("[server]\nport = 99999\n", {}, "server.port"),
        ("", {"RESYNC_LIMITS__MAX_LIMIT": "lots"}, "RESYNC_LIMITS__MAX_LIMIT"),
        ('[engines.prod]\nbase_url = "ftp://x"\nauth = "none"\n', {}, "engines.prod.base_url"),
        ('[engines.prod]\nbase_url = "https://x:1"\n', {}, "needs 'username'"),
        ('[engines.prod]\nbase_url = "https://x:1"\nauth = "bearer"\n', {}, "needs a token"),
        ('default_engine = "nope"\n', {}, "default_engine"),
        ('[engines."Bad Name"]\nbase_url = "https://x:1"\nauth = "none"\n', {}, "engine name"),
        ("[server]\nportt = 1\n", {}, "server.portt"),
        ("not toml [", {}, "not valid TOML"),
    ],
)
def test_bad_settings_fail_at_startup_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str], needle: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings(_toml(tmp_path, text))
    assert needle in str(err.value)


def test_tls_verification_is_on_by_default() -> None:
    e = EngineSettings(base_url="https://mdm:31116", auth="none")
    assert e.verify_tls is True and e.ca_bundle is None


def test_example_file_documents_every_setting_with_its_default() -> None:
    text = (ROOT / "config" / "resync.example.toml").read_text()
    data = tomllib.loads(text)
    loaded = load_settings(str(ROOT / "config" / "resync.example.toml"))
    for section in (
        "server",
        "limits",
        "cache",
        "resilience",
        "security",
        "auth",
        "audit",
        "knowledge",
        "graph",
        "demo",
    ):
        model = getattr(loaded, section)
        for name in type(model).model_fields:
            if f"# {name} =" in text:
                assert getattr(type(model)(), name) is None, f"{section}.{name} is commented out but has a default"
                continue
            assert name in data[section], f"{section}.{name} missing from the example"
            assert data[section][name] == _plain(getattr(type(model)(), name)), f"{section}.{name} is not the default"
    for name in ("log_level", "log_format"):
        assert data[name] == Settings.model_fields[name].default
    for name in EngineSettings.model_fields:
        assert f"{name} =" in text or f"# {name} =" in text, f"engine setting {name} undocumented"


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value
