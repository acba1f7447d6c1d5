"""Every process ``make dev`` runs under its supervisor, with its command and environment.

``TICKETING_REPLICAS=N`` runs N processes of every HTTP service and of the expiration worker
(``orders``, ``orders-2``, ...), as Kubernetes runs replicas. The gateway balances between them
twice over: on the public port (the Ingress) and on one internal port per service (what a
Kubernetes Service is), which the service-to-service calls use (the client's calls to the
APIs, the Stripe sandbox's webhooks to payments). So a replica killed or restarted is seen the
way production sees it: the others take its share, and no caller is tied to the first one.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ticketing.devstack.keys import PRIVATE, PUBLIC
from ticketing.testkit.embedded import free_port

HTTP_SERVICES = ("auth", "tickets", "orders", "payments", "query", "notifications", "client")
DATABASE_SERVICES = ("auth", "tickets", "orders", "payments", "query", "notifications")
STRIPE_SANDBOX_KEY = "sk_test_sandbox"
DEV_WEBHOOK_SECRET = "whsec_dev"  # public: payments refuses it outside development
PAYMENT_GRACE_SECONDS = "30"  # orders and the expiration worker must agree (DESIGN §3)
MAX_REPLICAS = 8  # two cores run eight copies of the platform, barely
REPLICATED = (*HTTP_SERVICES, "expiration")
BALANCED = ("auth", "tickets", "orders", "payments", "query")  # called by other processes


@dataclass(frozen=True)
class DevConfig:
    port: int
    data_dir: Path
    expiration_window_seconds: int
    replicas: int = 1

    @classmethod
    def from_environment(cls) -> DevConfig:
        """Raises ``ValueError`` with a message for the person who set a bad value."""
        return cls(
            port=int(os.environ.get("TICKETING_PORT", "8080")),
            data_dir=Path(os.environ.get("TICKETING_DATA_DIR", ".dev")).resolve(),
            expiration_window_seconds=int(os.environ.get("EXPIRATION_WINDOW_SECONDS", "900")),
            replicas=parse_replicas(os.environ.get("TICKETING_REPLICAS", "1")),
        )


def parse_replicas(text: str) -> int:
    """``TICKETING_REPLICAS``: a whole number from 1 to ``MAX_REPLICAS``."""
    if not (text.strip().isdigit() and 1 <= int(text) <= MAX_REPLICAS):
        raise ValueError(
            f"TICKETING_REPLICAS must be a whole number from 1 to {MAX_REPLICAS}, not {text!r}"
        )
    return int(text)


def replica_name(service: str, index: int) -> str:
    """The first replica keeps the plain name, so one replica looks as it always did."""
    return service if index == 1 else f"{service}-{index}"


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None  # asked before the ready line is printed


def load_or_create_secret(path: Path) -> str:
    """A dev secret (the client's CSRF key) made on the first ``make dev`` and kept, so forms
    opened before a restart still submit after it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_or_create_keys(directory: Path) -> tuple[str, str]:
    """The dev JWT key pair, generated on the first ``make dev`` (by ``keys.py``, in a
    process of its own) and kept in the data dir."""
    private, public = directory / PRIVATE, directory / PUBLIC
    if not private.exists():
        subprocess.run(
            [sys.executable, "-m", "ticketing.devstack.keys", str(directory)], check=True
        )
    return private.read_text(), public.read_text()


def _uvicorn(module: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", f"{module}:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


def plan_processes(
    config: DevConfig,
    *,
    database_urls: dict[str, str],
    nats_url: str,
    redis_url: str,
    keys: tuple[str, str],
) -> list[Process]:
    """Every process of the platform with its command and environment."""
    private_key, public_key = keys
    replica_ports = {name: [free_port() for _ in range(config.replicas)] for name in REPLICATED}
    ports = {name: free_port() for name in ("stripe", "mail")}
    # Service-to-service calls go through the gateway's balancer of the service (a Service)
    # when it has replicas to balance; with one, straight to it: a Kubernetes Service costs
    # no process, the balancer is a Python proxy (a third of a core under the client's load).
    balancers = {name: free_port() for name in BALANCED} if config.replicas > 1 else {}
    ports.update(balancers)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    replica_urls = {
        name: [f"http://127.0.0.1:{port}" for port in replica_ports[name]] for name in REPLICATED
    }
    if not balancers:
        urls.update({name: replica_urls[name][0] for name in BALANCED})
    processes: list[Process] = []
    webhook_secret = os.environ.get("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    sandboxed = "STRIPE_SECRET_KEY" not in os.environ
    extra = {
        "auth": {
            "AUTH_JWT_PRIVATE_KEY": private_key,
            # behind the gateway every client has its address: the gateway's first hop
            "AUTH_TRUST_FORWARDED_FOR": "true",
            "AUTH_ADMIN_EMAILS": os.environ.get("AUTH_ADMIN_EMAILS", "admin@example.com"),
        },
        "orders": {
            "ORDERS_EXPIRATION_WINDOW_SECONDS": str(config.expiration_window_seconds),
            "ORDERS_PAYMENT_GRACE_SECONDS": PAYMENT_GRACE_SECONDS,
        },
        "payments": {
            "PAYMENTS_STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", STRIPE_SANDBOX_KEY),
            "PAYMENTS_STRIPE_WEBHOOK_SECRET": webhook_secret,
            # 3-D Secure returns the buyer to the order page on the public port
            "PAYMENTS_CLIENT_URL": f"http://localhost:{config.port}",
        },
        "notifications": notifications_env(config, mail_port=ports["mail"]),
        "client": {
            "CLIENT_CSRF_SECRET": load_or_create_secret(config.data_dir / "keys" / "csrf_secret"),
            **{
                f"CLIENT_{svc.upper()}_URL": urls[svc]
                for svc in ("auth", "tickets", "orders", "payments", "query")
            },
        },
    }
    if sandboxed:
        extra["payments"]["PAYMENTS_STRIPE_API_BASE"] = urls["stripe"]
        extra["client"]["CLIENT_PAYMENT_AUTHENTICATION_ORIGIN"] = urls["stripe"]
    for name in HTTP_SERVICES:
        prefix = f"{name.upper()}_"
        env = {f"{prefix}ENVIRONMENT": "development"}
        if name in database_urls:  # the services behind the client: database, bus, sessions
            env[f"{prefix}DATABASE_URL"] = database_urls[name]
            env[f"{prefix}NATS_URL"] = nats_url
            env[f"{prefix}JWT_PUBLIC_KEY"] = public_key
        env.update(extra.get(name, {}))
        for index, url in enumerate(replica_urls[name], start=1):
            command = _uvicorn(f"ticketing.{name}.app", replica_ports[name][index - 1])
            health = f"{url}/readyz"
            processes.append(Process(replica_name(name, index), command, dict(env), health))
    for index, port in enumerate(replica_ports["expiration"], start=1):
        processes.append(
            Process(
                replica_name("expiration", index),
                [sys.executable, "-m", "ticketing.expiration"],
                {
                    "EXPIRATION_ENVIRONMENT": "development",
                    "EXPIRATION_NATS_URL": nats_url,
                    "EXPIRATION_REDIS_URL": redis_url,
                    "EXPIRATION_HEALTH_PORT": str(port),
                    "EXPIRATION_PAYMENT_GRACE_SECONDS": PAYMENT_GRACE_SECONDS,
                },
                f"http://127.0.0.1:{port}/readyz",
            )
        )
    mail_dir = str(config.data_dir / "mail")
    # The gateway's process also catches mail and, sandboxed, serves the Stripe sandbox, which
    # delivers signed webhooks to payments as Stripe does: three stand-ins, one process.
    gateway = [sys.executable, "-m", "ticketing.devstack.gateway", "--port", str(config.port)]
    gateway += ["--smtp-port", str(ports["mail"])]
    if sandboxed:
        webhook_url = f"{urls['payments']}/api/payments/webhook"
        gateway += ["--stripe-port", str(ports["stripe"]), "--stripe-webhook-url", webhook_url]
        gateway += ["--stripe-webhook-secret", webhook_secret]
    upstreams = {name: replica_urls[name] for name in HTTP_SERVICES}
    processes.append(
        Process(
            "gateway",
            gateway,
            {
                "DEVSTACK_UPSTREAMS": json.dumps(upstreams),
                "DEVSTACK_BALANCERS": json.dumps(balancers),
                "DEVSTACK_MAIL_DIR": mail_dir,
                # every process's /metrics (workers: their probe port), for /dev/metrics
                "DEVSTACK_METRICS": json.dumps(
                    {
                        replica_name(name, index): url
                        for name in REPLICATED
                        for index, url in enumerate(replica_urls[name], start=1)
                    }
                ),
            },
            f"http://127.0.0.1:{config.port}/healthz",
        )
    )
    return processes


def notifications_env(config: DevConfig, *, mail_port: int) -> dict[str, str]:
    """Notifications sends to the local mail catcher (read at /dev/mail) and links to the
    public port."""
    return {
        "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
        "NOTIFICATIONS_SMTP_PORT": str(mail_port),
        "NOTIFICATIONS_SMTP_SECURITY": "none",
        "NOTIFICATIONS_CLIENT_BASE_URL": f"http://localhost:{config.port}",
    }
