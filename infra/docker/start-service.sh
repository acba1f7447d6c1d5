#!/bin/sh
# The start command of the one image (see /Dockerfile), chosen by the service it was built for
# (SERVICE, baked in from the build argument). exec: the service is PID 1 and gets SIGTERM.
set -eu
case "${SERVICE:?the image sets SERVICE at build time}" in
    expiration)
        # An arq worker with a probe server, not an ASGI app. In a pod the kubelet probes the
        # pod's address: listen on every interface (the worker's default is loopback).
        EXPIRATION_HEALTH_HOST="${EXPIRATION_HEALTH_HOST:-0.0.0.0}"
        export EXPIRATION_HEALTH_HOST
        exec python -m ticketing.expiration "$@"
        ;;
    *)
        exec uvicorn --factory "ticketing.${SERVICE}.app:create_app" \
            --host 0.0.0.0 --port 8000 "$@"
        ;;
esac
