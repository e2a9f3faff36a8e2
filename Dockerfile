# resync-mcp as a small, non-root image. The runbook search (torch, the embedding model, LanceDB)
# is an extra: build with --build-arg EXTRAS=knowledge to include it (about 1 GB more).
FROM python:3.11-slim AS build
ARG EXTRAS=""
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
RUN python -m venv /opt/resync \
 && /opt/resync/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/resync/bin/pip install --no-cache-dir -c constraints.txt ".${EXTRAS:+[$EXTRAS]}"

FROM python:3.11-slim
COPY --from=build /opt/resync /opt/resync
RUN useradd --system --uid 10001 --home-dir /var/lib/resync --create-home resync
USER 10001
ENV PATH=/opt/resync/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    XDG_DATA_HOME=/var/lib/resync/data \
    XDG_CONFIG_HOME=/var/lib/resync/config \
    RESYNC_SERVER__TRANSPORT=http \
    RESYNC_SERVER__HOST=0.0.0.0 \
    RESYNC_SERVER__PORT=8000 \
    RESYNC_KNOWLEDGE__ENABLED=false
EXPOSE 8000
# A balancer or orchestrator probes these; stopping sends SIGTERM, which drains calls in flight.
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
STOPSIGNAL SIGTERM
ENTRYPOINT ["resync-mcp"]
CMD ["serve"]
