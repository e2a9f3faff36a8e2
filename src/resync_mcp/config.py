"""Settings: the only module that reads environment variables and configuration files.

Precedence, highest first: CLI flags (passed in as overrides), ``RESYNC_*`` environment
variables (nested with ``__``, e.g. ``RESYNC_SERVER__PORT``), the TOML file, defaults.
Secrets (engine passwords and tokens) come only from the environment or from files named
in the TOML file; a secret written into the TOML file itself is refused at startup.
"""

from __future__ import annotations

import base64
import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from resync_mcp.errors import ConfigError
from resync_mcp.paths import user_dir

if TYPE_CHECKING:
    from resync_mcp.security.policy import Principal

ENV_PREFIX = "RESYNC_"
DEFAULT_CONFIG_PATHS = (Path("config/resync.toml"),)
_ENGINE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SECRET_KEYS = frozenset({"password", "token"})
DEMO_ENGINE = "demo"


def _key_32(value: SecretStr | None, file: Path | None, setting: str) -> bytes | None:
    """32 bytes of base64 from the environment (``value``) or a file, or None when neither is set.

    Raises:
        ConfigError: when the file cannot be read or the key is not 32 bytes of base64.
    """
    raw: str | None = None
    if value is not None:
        raw = value.get_secret_value()
    elif file is not None:
        try:
            raw = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"Cannot read {setting}_file: {exc.strerror}.") from None
    if raw is None:
        return None
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(
            f"Setting {setting} must be 32 random bytes in base64.",
            hint="Create one with: python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'",
        )
    return key


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineSettings(_Frozen):
    """One HWA engine (master domain manager) reached over REST API v2."""

    base_url: str = Field(description="Engine URL up to the port, e.g. https://mdm.example:31116")
    auth: Literal["basic", "bearer", "none"] = "basic"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    token: SecretStr | None = None
    token_file: Path | None = None
    verify_tls: bool = True
    ca_bundle: Path | None = None
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=30.0, gt=0, le=600)
    plan_id: str = Field(default="current", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    api_path: str = Field(default="/twsd/api/v2", pattern=r"^/[A-Za-z0-9_/.-]*$")
    # Writes in the caller's own name (HWA's audit then names the person): [[credential]] entries
    # of principal, username and password_file/password_env (token_* for bearer); no secret inside.
    acting_credentials_file: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+$", value.rstrip("/")):
            raise ValueError("must be an http(s) URL with a host and no path, e.g. https://mdm.example:31116")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> EngineSettings:
        if self.auth == "basic" and not self.username:
            raise ValueError("auth = 'basic' needs 'username' (and a password from the environment or a file)")
        if self.auth == "basic" and self.password is None and self.password_file is None:
            raise ValueError("auth = 'basic' needs a password: set the environment variable or 'password_file'")
        if self.auth == "bearer" and self.token is None and self.token_file is None:
            raise ValueError("auth = 'bearer' needs a token: set the environment variable or 'token_file'")
        if self.acting_credentials_file is not None and self.auth == "none":
            raise ValueError("acting_credentials_file needs auth = 'basic' or 'bearer'")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise ValueError(f"ca_bundle {self.ca_bundle} is not a readable file")
        return self

    def secret(self) -> SecretStr | None:
        """The credential for this engine's auth scheme, read from its file if given.

        Raises:
            ConfigError: when the secret file cannot be read.
        """
        value, path = (self.password, self.password_file) if self.auth == "basic" else (self.token, self.token_file)
        if value is not None or path is None:
            return value
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the secret file for an engine: {exc.strerror}.",
                hint="Check the path and permissions of password_file / token_file.",
            ) from None


class ServerSettings(_Frozen):
    transport: Literal["stdio", "http", "sse"] = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    path: str = Field(default="/mcp", pattern=r"^/[A-Za-z0-9_/-]*$")
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    shutdown_grace_s: float = Field(default=10.0, ge=0, le=600)  # calls in flight may finish after SIGTERM
    sse_retry_ms: int = Field(default=2000, ge=100, le=60_000)  # reconnect delay a client is told (Streamable HTTP)
    sse_replay_events: int = Field(default=1000, ge=10, le=100_000)  # events kept for a reconnecting client
    header_timeout_s: float = Field(default=10.0, ge=0.5, le=300)  # HTTP: request headers must arrive within this
    body_timeout_s: float = Field(default=30.0, ge=0.5, le=3600)  # HTTP: then the request body within this
    cors_origins: tuple[str, ...] = ()  # HTTP: browser origins allowed to call (CORS); none by default
    max_connections: int = Field(default=200, ge=1, le=100_000)  # HTTP: more are answered 503
    max_sessions: int = Field(default=1000, ge=1, le=100_000)  # Streamable HTTP sessions at once
    session_idle_s: float = Field(default=1800.0, ge=10, le=86_400)  # a session unused this long is closed
    max_sessions_per_principal: int = Field(default=50, ge=1, le=100_000)  # one caller cannot take every session
    max_sse_streams: int = Field(default=200, ge=1, le=100_000)  # long-lived GET streams at once; more: 503
    # Streamable HTTP without sessions: any replica answers any request (no sticky routing)
    stateless: bool = False
    # Env only (RESYNC_SERVER__REQUEST_STATE_KEYS, comma-separated, the first seals): the key every
    # replica shares to seal a multi-round-trip request's state (2026 confirmation in the call)
    request_state_keys: SecretStr | None = None
    metrics: bool = True  # GET /metrics (Prometheus text) beside /healthz and /readyz


ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


class AuthSettings(_Frozen):
    """Who may call the server over HTTP (stdio is the local user's own process)."""

    mode: Literal["none", "static", "oauth"] = "none"
    allow_remote_without_auth: bool = False  # lab only: mode none on a non-loopback address
    tokens_file: Path | None = None  # static: [[token]] principal, roles, sha256
    issuer: str | None = None  # oauth: the authorization server (the token's iss)
    jwks_url: str | None = None  # oauth: its signing keys
    audience: str | None = None  # oauth: this server's canonical resource URL (the token's aud)
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    leeway_s: int = Field(default=60, ge=0, le=60)  # clock skew allowed on exp, nbf, iat
    jwks_refresh_s: float = Field(default=300.0, ge=1, le=86_400)  # at most one refetch per interval
    jwks_timeout_s: float = Field(default=5.0, ge=0.5, le=60)
    scope_roles: dict[str, str] = Field(
        default_factory=lambda: {"hwa.read": "viewer", "hwa.operate": "operator", "hwa.admin": "admin"}
    )
    roles_claim: str | None = None  # a claim (dotted path) whose values map through claim_roles
    claim_roles: dict[str, str] = Field(default_factory=dict)
    introspection_url: str | None = None  # oauth: RFC 7662 endpoint for opaque (non-JWT) tokens
    introspection_client_id: str | None = None  # this server's client at that endpoint
    introspection_secret: SecretStr | None = None  # env only: RESYNC_AUTH__INTROSPECTION_SECRET
    introspection_cache_s: float = Field(default=60.0, ge=0, le=3600)  # an active verdict is kept this long at most

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        if self.mode == "static" and self.tokens_file is None:
            raise ValueError("auth.mode = 'static' needs auth.tokens_file (RESYNC_AUTH__TOKENS_FILE)")
        if self.mode == "oauth":
            missing = [n for n in ("issuer", "audience") if not getattr(self, n)]
            if not (self.jwks_url or self.introspection_url):
                missing.append("jwks_url (or introspection_url)")
            if missing:
                raise ValueError(f"auth.mode = 'oauth' needs auth.{', auth.'.join(missing)}")
        bad = set(self.algorithms) - set(ASYMMETRIC_ALGORITHMS)
        if bad or not self.algorithms:
            raise ValueError(
                f"auth.algorithms may list only {', '.join(ASYMMETRIC_ALGORITHMS)} (never none or HMAC): "
                f"not {', '.join(sorted(bad)) or 'an empty list'}"
            )
        roles = {"viewer", "operator", "admin"}
        unknown = (set(self.scope_roles.values()) | set(self.claim_roles.values())) - roles
        if unknown:
            raise ValueError(f"auth roles must be viewer, operator or admin: not {', '.join(sorted(unknown))}")
        return self


class LimitSettings(_Frozen):
    default_limit: int = Field(default=25, ge=1, le=1000)
    max_limit: int = Field(default=200, ge=1, le=5000)
    log_default_lines: int = Field(default=100, ge=1, le=10_000)
    log_max_lines: int = Field(default=500, ge=1, le=100_000)
    log_max_bytes: int = Field(default=24_000, ge=1024, le=1_000_000)
    regex_timeout_ms: int = Field(default=200, ge=10, le=10_000)
    max_dependency_depth: int = Field(default=5, ge=1, le=20)
    max_dependency_nodes: int = Field(default=200, ge=10, le=5000)

    @model_validator(mode="after")
    def _ordered(self) -> LimitSettings:
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit must not exceed max_limit")
        if self.log_default_lines > self.log_max_lines:
            raise ValueError("log_default_lines must not exceed log_max_lines")
        return self


class CacheSettings(_Frozen):
    enabled: bool = True
    ttl_running_s: float = Field(default=5.0, ge=0, le=3600)
    ttl_finished_s: float = Field(default=300.0, ge=0, le=86_400)
    ttl_log_running_s: float = Field(default=5.0, ge=0, le=3600)
    ttl_log_finished_s: float = Field(default=3600.0, ge=0, le=86_400)
    ttl_listing_s: float = Field(default=10.0, ge=0, le=3600)
    ttl_object_s: float = Field(default=30.0, ge=0, le=3600)
    ttl_engine_s: float = Field(default=600.0, ge=0, le=86_400)
    ttl_not_found_s: float = Field(default=10.0, ge=0, le=3600)
    swr_s: float = Field(default=10.0, ge=0, le=3600)
    max_stale_s: float = Field(default=300.0, ge=0, le=86_400)
    # While the invalidation bus is down another replica's write cannot reach this one: what is
    # cached then is fresh for at most this long.
    bus_down_ttl_s: float = Field(default=3.0, ge=0, le=300)
    l1_max_entries: int = Field(default=20_000, ge=10, le=10_000_000)
    l1_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=16 * 1024**3)
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://")
    redis_prefix: str = Field(default="resync:", pattern=r"^[A-Za-z0-9_:.-]{1,40}$")
    redis_timeout_ms: int = Field(default=50, ge=1, le=10_000)
    l2_key: SecretStr | None = None  # base64 of 32 bytes; env only (RESYNC_CACHE__L2_KEY)
    l2_key_file: Path | None = None

    def l2_key_bytes(self) -> bytes | None:
        """The AES-256 key for values stored in Redis, or None to store them unencrypted.

        Raises:
            ConfigError: when the key cannot be read or is not 32 bytes of base64.
        """
        return _key_32(self.l2_key, self.l2_key_file, "cache.l2_key")


class ResilienceSettings(_Frozen):
    total_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_base_s: float = Field(default=0.2, gt=0, le=60)
    retry_cap_s: float = Field(default=2.0, gt=0, le=300)
    retry_max_retry_after_s: float = Field(default=10.0, ge=0, le=3600)
    retry_budget_ratio: float = Field(default=0.2, ge=0, le=10)
    breaker_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_open_s: float = Field(default=15.0, gt=0, le=3600)
    breaker_probes: int = Field(default=1, ge=1, le=100)
    breaker_timeout_threshold: int = Field(default=2, ge=1, le=1000)
    bulkhead_limit: int = Field(default=8, ge=1, le=1000)
    bulkhead_queue: int = Field(default=32, ge=0, le=100_000)
    redis_breaker_threshold: int = Field(default=3, ge=1, le=1000)
    redis_breaker_open_s: float = Field(default=5.0, gt=0, le=3600)


class SecuritySettings(_Frozen):
    read_only: bool = False
    toolsets: tuple[str, ...] | None = None  # None: read only, or every toolset when only the simulator is configured
    allow_tools: tuple[str, ...] = ()
    deny_tools: tuple[str, ...] = ()
    role: Literal["viewer", "operator", "admin"] | None = None  # None: operator, or admin with only the simulator
    operator_id: str = Field(default="local-operator", pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    confirm_tools: tuple[str, ...] | None = None  # None: every destructive tool
    confirmation_ttl_s: float = Field(default=300.0, ge=10, le=3600)
    idempotency_ttl_s: float = Field(default=86_400.0, ge=60, le=7 * 86_400)
    max_reason_chars: int = Field(default=500, ge=10, le=4000)
    bulk_max_objects: int = Field(default=50, ge=1, le=1000)  # cap on max_object_affected of bulk actions
    # Calls per minute per principal and toolset (0: no limit); bursts of a tenth of it.
    rate_per_minute: dict[str, int] = Field(default_factory=lambda: {"read": 600, "operate": 60, "admin": 30})

    @model_validator(mode="after")
    def _names_known(self) -> SecuritySettings:
        from resync_mcp.security.policy import RULES, exposed

        exposed(self.toolsets or (), self.allow_tools, self.deny_tools, read_only=self.read_only)
        unknown = set(self.confirm_tools or ()) - set(RULES)
        if unknown:
            raise ValueError(f"unknown tool name(s) in confirm_tools: {', '.join(sorted(unknown))}")
        return self


class AuditSettings(_Frozen):
    enabled: bool = True
    dir: Path | None = None  # the SQLite chain and its local checkpoints; None: <user data folder>/audit
    kek: SecretStr | None = None  # base64 of 32 bytes; env only (RESYNC_AUDIT__KEK)
    kek_file: Path | None = None
    signing_key_file: Path | None = None  # Ed25519 private key (PEM); default in the user's config folder
    trusted_keys: tuple[str, ...] = ()  # hex Ed25519 public keys accepted on checkpoints; () = this server's own
    external_dir: Path | None = None  # checkpoints are also written here (other storage, a witness)
    external_default: bool = True  # without external_dir: copy checkpoints to the user's state folder
    # In a fleet: this replica's name, in every record; its checkpoints go to external_dir/<replica_id>
    replica_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    checkpoint_every: int = Field(default=1000, ge=1, le=1_000_000)
    checkpoint_interval_s: float = Field(default=300.0, ge=1, le=86_400)
    group_commit_max: int = Field(default=256, ge=1, le=100_000)
    group_commit_ms: float = Field(default=50.0, ge=1, le=10_000)

    @property
    def path(self) -> Path:
        return self.dir if self.dir is not None else user_dir("data") / "audit"

    def kek_bytes(self) -> bytes | None:
        """The key-encryption key, or None when neither the env nor a file gives one.

        Raises:
            ConfigError: when the key cannot be read or is not 32 bytes of base64.
        """
        return _key_32(self.kek, self.kek_file, "audit.kek")


class KnowledgeSettings(_Frozen):
    enabled: bool = True
    dir: Path | None = None  # the LanceDB database; None: <user data folder>/knowledge
    starter_runbooks: bool = True  # ingest the runbooks and message reference shipped with the package
    warm_up: bool = True  # load the database and the model in the background after startup
    warm_up_delay_s: float = Field(default=2.0, ge=0, le=600)  # after the client's first requests
    chunk_chars: int = Field(default=900, ge=200, le=8000)
    chunk_overlap: int = Field(default=150, ge=0, le=2000)
    max_results: int = Field(default=8, ge=1, le=50)
    # bfloat16 embeds about 3 times faster on a CPU with native bfloat16 (AVX512-BF16 or AMX), with
    # the same vectors to four decimals; "auto" uses it only there (emulated, it would be slower).
    embed_precision: Literal["auto", "float32", "bfloat16"] = "auto"

    @property
    def path(self) -> Path:
        return self.dir if self.dir is not None else user_dir("data") / "knowledge"

    @model_validator(mode="after")
    def _overlap_below_size(self) -> KnowledgeSettings:
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError("chunk_overlap must be smaller than chunk_chars")
        return self


class GraphSettings(_Frozen):
    backend: Literal["embedded", "neo4j"] = "embedded"
    max_age_s: float = Field(default=60.0, ge=1, le=3600)  # refresh (changed jobs only) when older
    walk_max_jobs: int = Field(default=5000, ge=10, le=1_000_000)  # a one-job question reads at most this many
    walk_budget_s: float = Field(default=10.0, gt=0, le=600)  # and spends at most this long reading
    build_at_start: bool = False  # read the whole plan in the background at start, not on first need
    full_check_s: float = Field(default=600.0, ge=10, le=86_400)  # compare every job at least this often
    neo4j_uri: str | None = Field(default=None, pattern=r"^(neo4j|bolt)(\+s|\+ssc)?://")
    neo4j_user: str | None = None
    neo4j_password: SecretStr | None = None  # env only: RESYNC_GRAPH__NEO4J_PASSWORD
    neo4j_database: str | None = None

    @model_validator(mode="after")
    def _neo4j_needs_uri(self) -> GraphSettings:
        if self.backend == "neo4j" and not self.neo4j_uri:
            raise ValueError("backend 'neo4j' needs neo4j_uri")
        return self


class DemoSettings(_Frozen):
    enabled: bool = False
    seed: int = Field(default=42, ge=0)
    jobs: int = Field(default=2000, ge=10, le=100_000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid", case_sensitive=False
    )

    engines: dict[str, EngineSettings] = Field(default_factory=dict)
    default_engine: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    server: ServerSettings = ServerSettings()
    limits: LimitSettings = LimitSettings()
    cache: CacheSettings = CacheSettings()
    resilience: ResilienceSettings = ResilienceSettings()
    demo: DemoSettings = DemoSettings()
    security: SecuritySettings = SecuritySettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    graph: GraphSettings = GraphSettings()

    @field_validator("engines")
    @classmethod
    def _engine_names(cls, value: dict[str, EngineSettings]) -> dict[str, EngineSettings]:
        for name in value:
            if not _ENGINE_NAME.match(name):
                raise ValueError(f"engine name {name!r} must be lowercase letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _default_engine_known(self) -> Settings:
        names = set(self.engine_names())
        if self.default_engine is not None and self.default_engine not in names:
            raise ValueError(f"default_engine {self.default_engine!r} is not one of {sorted(names) or 'none'}")
        if self.demo.enabled and DEMO_ENGINE in self.engines:
            raise ValueError(f"engine name {DEMO_ENGINE!r} is reserved for the built-in simulator")
        return self

    def engine_names(self) -> list[str]:
        names = list(self.engines)
        if self.demo.enabled:
            names.append(DEMO_ENGINE)
        return names

    def simulator_only(self) -> bool:
        """Only the built-in simulated engine is configured: nothing real can be harmed."""
        return self.demo.enabled and not self.engines

    def enabled_toolsets(self) -> tuple[str, ...]:
        if self.security.toolsets is not None:
            return self.security.toolsets
        return ("read", "operate", "admin") if self.simulator_only() else ("read",)

    def exposed_tools(self) -> frozenset[str]:
        """The tools this server has at all: the enabled toolsets, plus allow, minus deny."""
        from resync_mcp.security.policy import exposed

        sec = self.security
        return exposed(self.enabled_toolsets(), sec.allow_tools, sec.deny_tools, read_only=sec.read_only)

    def local_tools(self) -> frozenset[str]:
        """What the server's own principal (stdio, HTTP without auth) is shown: the exposed tools
        its role may call."""
        from resync_mcp.security.policy import Policy, visible

        policy = Policy(frozenset(), read_only=self.security.read_only)
        return frozenset(visible(self.local_principal(), self.exposed_tools(), policy))

    def local_principal(self) -> Principal:
        """The server's own caller: stdio, and HTTP without auth."""
        from resync_mcp.security.policy import Principal

        return Principal(self.security.operator_id, frozenset({self.operator_role()}))

    def operator_role(self) -> str:
        return self.security.role or ("admin" if self.simulator_only() else "operator")

    def resolved_default_engine(self) -> str | None:
        if self.default_engine:
            return self.default_engine
        names = self.engine_names()
        if self.demo.enabled:
            return DEMO_ENGINE
        return names[0] if len(names) == 1 else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, _toml_path.get()))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file, refusing secrets written into it."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is None:
            return
        try:
            with path.open("rb") as fh:
                self._data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.", hint="Fix --config.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from None
        if "neo4j_password" in (self._data.get("graph") or {}):
            raise ConfigError(
                f"Setting graph.neo4j_password must not be written in the config file {path}.",
                hint=f"Set {ENV_PREFIX}GRAPH__NEO4J_PASSWORD in the environment instead.",
            )
        if "request_state_keys" in (self._data.get("server") or {}):
            raise ConfigError(
                f"Setting server.request_state_keys must not be written in the config file {path}.",
                hint=f"Set {ENV_PREFIX}SERVER__REQUEST_STATE_KEYS in the environment instead.",
            )
        if "kek" in (self._data.get("audit") or {}):
            raise ConfigError(
                f"Setting audit.kek must not be written in the config file {path}.",
                hint=f"Set {ENV_PREFIX}AUDIT__KEK in the environment or 'kek_file' in the config instead.",
            )
        if "l2_key" in (self._data.get("cache") or {}):
            raise ConfigError(
                f"Setting cache.l2_key must not be written in the config file {path}.",
                hint=f"Set {ENV_PREFIX}CACHE__L2_KEY in the environment or 'l2_key_file' in the config instead.",
            )
        for name, engine in (self._data.get("engines") or {}).items():
            leaked = _SECRET_KEYS & set(engine if isinstance(engine, dict) else {})
            if leaked:
                key = sorted(leaked)[0]
                raise ConfigError(
                    f"Setting engines.{name}.{key} must not be written in the config file {path}.",
                    hint=f"Set {ENV_PREFIX}ENGINES__{name.upper()}__{key.upper()} in the environment "
                    f"or '{key}_file' in the config instead.",
                )

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class _PathHolder:
    """Passes the chosen TOML path to the source for one load call."""

    def __init__(self) -> None:
        self._path: Path | None = None

    def get(self) -> Path | None:
        return self._path

    def set(self, path: Path | None) -> None:
        self._path = path


_toml_path = _PathHolder()


def find_config_file(explicit: str | None) -> Path | None:
    """--config, then $RESYNC_CONFIG, then resync.toml in the user's config folder, then
    ./config/resync.toml (a checkout), whichever exists first."""
    chosen = explicit or os.environ.get(f"{ENV_PREFIX}CONFIG")
    if chosen:
        return Path(chosen)
    candidates = (user_dir("config") / "resync.toml", *DEFAULT_CONFIG_PATHS)
    return next((p for p in candidates if p.is_file()), None)


def load_settings(config_file: str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build frozen settings from CLI overrides, environment and TOML file.

    Raises:
        ConfigError: naming the first bad setting, where it came from and how to fix it.
    """
    _toml_path.set(find_config_file(config_file))
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    finally:
        _toml_path.set(None)


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        dotted = ".".join(loc) or "(settings)"
        env = ENV_PREFIX + "__".join(p.upper() for p in loc) if loc else ""
        # Never echo the offending input: it may be a secret.
        msg = str(err["msg"]).removeprefix("Value error, ")
        where = f" (config key {dotted}, or env {env})" if env else ""
        lines.append(f"Setting {dotted} is invalid: {msg}{where}.")
    more = len(exc.errors()) - 5
    if more > 0:
        lines.append(f"... and {more} more.")
    return " ".join(lines)
