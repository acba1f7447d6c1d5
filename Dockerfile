# syntax=docker/dockerfile:1
# The image of every service: the service is a build argument, a directory under services/.
#   docker build --build-arg SERVICE=auth -t ticketing/auth .
# Build context: the repository root (the uv workspace); .dockerignore lets in only the lock,
# the pyproject.toml files and the sources an image needs (never testkit, tests or docs).
#
# Two steps, so that a source change does not reinstall the dependencies:
#   1. the locked, non-dev third-party dependencies of ticketing-${SERVICE}, from uv.lock and the
#      pyproject.toml files alone (every member's: `--locked` checks the lock against all);
#   2. the sources of common and the service, installed non-editable.
# The final stage holds that venv and the start script, nothing else.

FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

FROM python:3.11.14-slim-bookworm AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY uv.lock pyproject.toml ./
COPY common/pyproject.toml common/
COPY testkit/pyproject.toml testkit/
COPY services/auth/pyproject.toml services/auth/
COPY services/client/pyproject.toml services/client/
COPY services/expiration/pyproject.toml services/expiration/
COPY services/notifications/pyproject.toml services/notifications/
COPY services/orders/pyproject.toml services/orders/
COPY services/payments/pyproject.toml services/payments/
COPY services/query/pyproject.toml services/query/
COPY services/tickets/pyproject.toml services/tickets/
COPY tools/devstack/pyproject.toml tools/devstack/
COPY tools/stripe_sandbox/pyproject.toml tools/stripe_sandbox/
ARG SERVICE
RUN --mount=type=cache,target=/root/.cache/uv \
    : "${SERVICE:?build with --build-arg SERVICE=<a directory under services/>}" \
    && uv sync --locked --no-dev --no-install-workspace --package "ticketing-${SERVICE}"
COPY common/src common/src
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package "ticketing-${SERVICE}" --no-editable

FROM python:3.11.14-slim-bookworm
ARG SERVICE
# Owner of the installed code: root (read-only for the app) by default; `skaffold dev` passes
# CODE_OWNER=10001 so that file sync may overwrite the synced .py files in site-packages.
ARG CODE_OWNER=0
RUN groupadd --system --gid 10001 ticketing \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin ticketing
COPY --from=builder --chown=${CODE_OWNER}:${CODE_OWNER} /app/.venv /app/.venv
COPY --chmod=0755 infra/docker/start-service.sh /usr/local/bin/start-service
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 SERVICE=${SERVICE}
WORKDIR /app
USER 10001
EXPOSE 8000
CMD ["start-service"]
