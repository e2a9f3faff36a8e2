"""Command line: argument parsing only; the work lives in app, demo and the simulator."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import anyio

from resync_mcp import __version__
from resync_mcp.client_config import CLIENTS
from resync_mcp.config import DEMO_ENGINE, Settings, load_settings
from resync_mcp.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resync-mcp", description="MCP server for HCL Workload Automation (HWA/TWS).")
    p.add_argument("--version", action="version", version=f"resync-mcp {__version__}")
    p.add_argument(
        "--config",
        help="TOML settings file (default: $RESYNC_CONFIG, then resync.toml in the user's config folder, "
        "then ./config/resync.toml)",
    )
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the MCP server")
    serve.add_argument("--transport", choices=["stdio", "http", "sse"])
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--engine", help="default engine name")
    _demo_flags(serve, with_switch=True)

    sim = sub.add_parser("simulator", help="serve the HWA REST API v2 simulator over HTTP")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=31116)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument("--jobs", type=int, default=2000)
    sim.add_argument("--username", help="accept only this Basic user (password from $RESYNC_SIMULATOR_PASSWORD)")
    sim.add_argument(
        "--oql-fields",
        choices=["paths", "confirmed"],
        default="paths",
        help="OQL filter fields accepted: any V2 JSON path of the object (default), or only those "
        "confirmed on real engines",
    )
    sim.add_argument(
        "--adhoc-state",
        choices=["HOLD", "READY"],
        default="HOLD",
        help="the state an ad hoc job starts in (real labs saw both; default HOLD)",
    )
    sim.add_argument(
        "--faults",
        metavar="JSON",
        help='fault modes at start, e.g. \'{"latency_ms": 20, "error_rate": 0.1, "seed": 1}\'; '
        "switch them later with PUT/DELETE /_sim/faults",
    )

    demo = sub.add_parser("demo", help="play an operator scenario against the built-in simulator")
    _demo_flags(demo, with_switch=False)

    sub.add_parser("check", help="validate settings and probe each engine (secrets are never printed)")
    cc = sub.add_parser("client-config", help="print the snippet that adds this server to an assistant")
    cc.add_argument("client", choices=CLIENTS)

    kb = sub.add_parser("kb", help="manage the knowledge base (runbooks, documents)")
    ksub = kb.add_subparsers(dest="kb_command", required=True)
    ingest = ksub.add_parser("ingest", help="add or update files and folders (.md, .txt, .html, .pdf)")
    ingest.add_argument("paths", nargs="+")
    ksub.add_parser("list", help="documents in the knowledge base")
    remove = ksub.add_parser("remove", help="remove a document by its source")
    remove.add_argument("source")
    ksub.add_parser("stats", help="counts")

    audit = sub.add_parser("audit", help="verify, read and manage the audit chain")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="check every link and checkpoint; exit 1 at the first bad record")
    fleet = asub.add_parser("verify-fleet", help="verify every replica's exported checkpoints (and chains) at once")
    fleet.add_argument("--dir", type=Path, help="the shared location (default: audit.external_dir)")
    fleet.add_argument("--chains", type=Path, help="a folder holding <replica_id>/audit.db: verify every link too")
    for name, helptext in (("show", "print records, one safe line each"), ("export", "JSONL, one record per line")):
        cmd = asub.add_parser(name, help=helptext + " (decrypted with the KEK)")
        cmd.add_argument("--since", help="ISO time, inclusive")
        cmd.add_argument("--until", help="ISO time, inclusive")
        cmd.add_argument("--principal")
        cmd.add_argument("--tool")
        cmd.add_argument("--outcome", choices=["ok", "error", "denied", "unknown"])
        cmd.add_argument("--limit", type=int)
    asub.add_parser("rotate-key", help="start a new data-key epoch (recorded in the chain)")
    shred = asub.add_parser("shred", help="destroy a subject's data keys (crypto-shredding)")
    shred.add_argument("--subject", required=True, help="the principal id whose records become unreadable")
    return p


def _demo_flags(p: argparse.ArgumentParser, *, with_switch: bool) -> None:
    if with_switch:
        p.add_argument("--demo", action="store_true", help=f"add a built-in simulated engine named '{DEMO_ENGINE}'")
    p.add_argument("--demo-seed", type=int)
    p.add_argument("--demo-jobs", type=int)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    o: dict[str, Any] = {}
    server = {
        k: v
        for k, v in (
            ("transport", getattr(args, "transport", None)),
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
        )
        if v is not None
    }
    if server and args.command == "serve":
        o["server"] = server
    demo: dict[str, Any] = {}
    if getattr(args, "demo", False) or args.command == "demo":
        demo["enabled"] = True
    if getattr(args, "demo_seed", None) is not None:
        demo["seed"] = args.demo_seed
    if getattr(args, "demo_jobs", None) is not None:
        demo["jobs"] = args.demo_jobs
    if demo:
        o["demo"] = demo
    if getattr(args, "engine", None):
        o["default_engine"] = args.engine
    if args.log_level:
        o["log_level"] = args.log_level
    return o


_GLOBAL = ("--config", "--log-level")


def _hoist_globals(argv: list[str]) -> list[str]:
    """``--config`` and ``--log-level`` are accepted anywhere on the line (``serve --config F``
    is what people write), so they are moved in front of the subcommand before parsing."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GLOBAL and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 2
            continue
        if arg.split("=", 1)[0] in _GLOBAL and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_hoist_globals(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "client-config":  # before settings: the secrets it lists are missing
            from pathlib import Path

            from resync_mcp import client_config

            return client_config.run(args.client, Path(args.config) if args.config else None)
        settings = load_settings(args.config, _overrides(args))
        if args.command == "demo" and not settings.engines and settings.log_level == "INFO":
            settings = settings.model_copy(update={"log_level": "WARNING"})
        from resync_mcp import logs

        logs.configure(settings.log_level, settings.log_format)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "audit":
            return _audit(settings, args)
        if args.command == "kb":
            return _kb(settings, args)
        if args.command == "demo":
            from resync_mcp.demo import run_demo

            return anyio.run(run_demo, settings)
        if args.command == "simulator":
            return _simulator(args)
        return anyio.run(_check, settings)
    except ConfigError as exc:
        print(f"resync-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _kb(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from resync_mcp.knowledge.base import Embedder, KnowledgeBase

    k = settings.knowledge
    kb = KnowledgeBase(
        k.path,
        chunk_chars=k.chunk_chars,
        chunk_overlap=k.chunk_overlap,
        starter=k.starter_runbooks,
        embedder=Embedder(k.embed_precision),
    )
    if args.kb_command == "ingest":
        report = kb.ingest([Path(p) for p in args.paths], progress=_progress())
        print(
            f"\n{report.files} file(s): {report.added} chunks stored ({report.embedded} embedded), "
            f"{report.unchanged} unchanged, {len(report.errors)} error(s)"
        )
        for err in report.errors:
            print(f"  error: {err}")
        return 1 if report.errors and not report.added and not report.unchanged else 0
    if args.kb_command == "list":
        for d in kb.documents():
            standing = "" if d.status == "current" else f" [{d.status}]"
            print(f"{d.doc_id}  {d.kind:<9} {d.chunks:>4} chunks  {d.title}{standing}  ({d.source})")
        return 0
    if args.kb_command == "remove":
        removed = kb.remove(args.source)
        print(f"removed {removed} chunk(s)" if removed else f"no document with source {args.source}")
        return 0 if removed else 1
    print(json.dumps(kb.stats(), indent=1))
    return 0


def _progress() -> Any:
    """A progress line on stderr for long ingests (stdout stays the report)."""

    def show(n: int, total: int, what: str) -> None:
        width = 30
        bar = "#" * (width * n // max(1, total))
        sys.stderr.write(f"\r[{bar:<{width}}] {n}/{total} {what[-50:]:<50}")
        if n == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from resync_mcp.audit import setup
    from resync_mcp.audit.reader import Filter
    from resync_mcp.clock import SystemClock

    a, clock = settings.audit, SystemClock()
    if args.audit_command == "verify":
        return setup.run_verify(a)
    if args.audit_command == "verify-fleet":
        from resync_mcp.audit.fleet import verify_fleet

        shared = args.dir or a.external_dir
        if shared is None:
            raise ConfigError("No shared audit location.", hint="Pass --dir, or set audit.external_dir.")
        trusted = {k.lower() for k in a.trusted_keys}  # none configured: each folder's published key
        return verify_fleet(shared, trusted=trusted, chains=args.chains, db_name=setup.DB_NAME)
    if args.audit_command in ("show", "export"):
        flt = Filter(args.since, args.until, args.principal, args.tool, args.outcome)
        return setup.run_show(a, clock, flt, jsonl=args.audit_command == "export", limit=args.limit)
    if args.audit_command == "rotate-key":
        return setup.run_rotate(a, clock)
    return setup.run_shred(a, clock, args.subject)


def _serve(settings: Settings) -> int:
    if not settings.engine_names():
        raise ConfigError(
            "No engine is configured.", hint="Add [engines.NAME] to the config file, or run `resync-mcp serve --demo`."
        )
    srv = settings.server
    if srv.transport == "stdio":  # answers at once, builds behind (server/gate.py)
        from resync_mcp.server.stdio import serve_stdio

        anyio.run(serve_stdio, settings)
        return 0

    from mcp.server.transport_security import TransportSecuritySettings

    from resync_mcp.app import build_app
    from resync_mcp.server.serve import serve

    _refuse_open_door(settings)
    app = build_app(settings)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(srv.allowed_hosts)
        or [f"127.0.0.1:{srv.port}", f"localhost:{srv.port}", f"[::1]:{srv.port}"],
        allowed_origins=[
            *(list(srv.allowed_origins) or [f"http://127.0.0.1:{srv.port}", f"http://localhost:{srv.port}"]),
            *srv.cors_origins,
        ],
    )

    async def run() -> None:
        await serve(app, srv, security)

    anyio.run(run)
    return 0


def _refuse_open_door(settings: Settings) -> None:
    """Without auth, HTTP listens on loopback only, unless a lab says otherwise, loudly."""
    import ipaddress

    host, auth = settings.server.host, settings.auth
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if auth.mode != "none" or loopback:
        return
    if not auth.allow_remote_without_auth:
        raise ConfigError(
            f"Refusing to serve {host} without authentication: anyone who reaches it could act on the plan.",
            hint="Set auth.mode = 'static' (RESYNC_AUTH__MODE, with RESYNC_AUTH__TOKENS_FILE) or 'oauth' "
            "(with auth.issuer, auth.jwks_url, auth.audience), or listen on 127.0.0.1.",
        )
    import structlog

    structlog.get_logger("resync_mcp.auth").warning(
        "UNAUTHENTICATED_REMOTE_SERVER",
        host=host,
        message="auth.allow_remote_without_auth is set: every client that reaches this address acts as "
        f"{settings.security.operator_id} with role {settings.operator_role()}. Lab use only.",
    )


def _simulator(args: argparse.Namespace) -> int:
    import os

    from resync_mcp.clock import SystemClock
    from resync_mcp.simulator import Credentials, Simulator, serve
    from resync_mcp.simulator.faults import Faults

    creds = Credentials(args.username, os.environ.get("RESYNC_SIMULATOR_PASSWORD")) if args.username else None
    faults = Faults()
    if args.faults:
        try:
            changes = json.loads(args.faults)
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            faults.configure(**changes)
        except ValueError as exc:  # JSONDecodeError and pydantic's ValidationError are ValueErrors
            raise ConfigError(f"--faults is not a valid fault configuration: {str(exc).splitlines()[0]}.") from None
    sim = Simulator.create(
        args.seed,
        args.jobs,
        SystemClock(),
        credentials=creds,
        faults=faults,
        oql_fields=args.oql_fields,
        adhoc_state=args.adhoc_state,
    )
    print(
        f"HWA simulator: seed {args.seed}, {args.jobs} jobs, OQL fields {args.oql_fields}, ad hoc jobs start "
        f"{args.adhoc_state}, http://{args.host}:{args.port}/twsd/api/v2/plan/job",
        file=sys.stderr,
    )
    serve.run(sim.app(), args.host, args.port)
    return 0


async def _check(settings: Settings) -> int:
    from resync_mcp.app import build_app

    print(f"resync-mcp {__version__}: settings are valid.")
    for name, eng in settings.engines.items():
        secret = "set" if (eng.password or eng.token or eng.password_file or eng.token_file) else "not set"
        print(
            f"  engine {name}: {eng.base_url}{eng.api_path} auth={eng.auth} user={eng.username or '-'} "
            f"secret={secret} verify_tls={eng.verify_tls} plan={eng.plan_id}"
        )
    if settings.demo.enabled:
        print(f"  engine {DEMO_ENGINE}: built-in simulator, seed {settings.demo.seed}, {settings.demo.jobs} jobs")
    print(f"  default engine: {settings.resolved_default_engine() or '(none: tools need engine=)'}")
    print(f"  server: {settings.server.transport} {settings.server.host}:{settings.server.port}{settings.server.path}")
    app = build_app(settings)
    failures = 0
    try:
        for name in app.engines.names:
            try:
                info = await app.engines.get(name).engine_info(fresh=True)  # live: past every cache tier
                print(f"  probe {name}: ok, HWA {info.display_version or info.full_version or '?'}")
            except Exception as exc:  # any failure is reported, none is fatal to the others
                failures += 1
                text = exc.for_model() if hasattr(exc, "for_model") else type(exc).__name__
                print(f"  probe {name}: FAILED: {text}")
    finally:
        await app.aclose()
    return 1 if failures else 0
