"""A real nginx (Debian package) balancing round-robin over local replicas, started on loopback
in its own folder and stopped by pid, as a team would put one in front of resync-mcp."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format upstreams '$upstream_addr $request_method $status';
    access_log {root}/access.log upstreams;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream resync {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://resync;
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is required in CI (scripts/ensure-services.sh installs it)")
        pytest.skip("nginx is not installed; `apt-get install nginx-light` or run .ci/run")
    return binary


def upstreams_used(root: Path) -> set[str]:
    """The replica addresses nginx sent requests to (from its access log)."""
    lines = (root / "access.log").read_text().splitlines()
    return {addr.strip() for line in lines for addr in line.split(" ")[0].split(",") if addr.strip() != "-"}


@contextmanager
def nginx(root: Path, port: int, upstreams: list[int]) -> Iterator[str]:
    """nginx on 127.0.0.1:port in front of the given local ports; yields its URL."""
    binary = nginx_binary()
    root.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in upstreams)
    conf = root / "nginx.conf"
    conf.write_text(CONF.format(root=root, port=port, servers=servers))
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(root), "-g", "daemon off;"], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # until it listens (it answers 502 while no replica is up)
            try:
                httpx.get(url + "/healthz", timeout=0.5)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}") from None
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
