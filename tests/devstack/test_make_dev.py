"""`make dev` as a person uses it: start, wait for the ready line, use it, Ctrl-C, nothing left;
and killed outright (a test timeout), nothing left either."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest

from ticketing.testkit.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 120
T = TypeVar("T")


def _processes_of(root: psutil.Process, data_dir: Path) -> list[psutil.Process]:
    """Everything make dev started: its descendants and the postgres it daemonised."""
    found = root.children(recursive=True)
    for proc in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.fixture
def make_dev(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``make dev`` up and ready; parametrised (indirectly) with ``TICKETING_REPLICAS``."""
    port = free_port()
    data_dir = tmp_path / "dev-data"
    env = {
        **os.environ,
        "TICKETING_PORT": str(port),
        "TICKETING_DATA_DIR": str(data_dir),
        "TICKETING_REPLICAS": str(getattr(request, "param", 1)),
    }
    process = subprocess.Popen(
        ["make", "--no-print-directory", "dev"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "ready:" in line:
                break
        assert any("ready:" in line for line in lines), "".join(lines[-60:])
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def until(attempt: Callable[[], T], *, timeout: float = 60) -> T:
    """``attempt()``'s result once it stops raising AssertionError (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.25)


def buy_and_read_the_mail(base_url: str, ticket_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A second person buys the ticket; the receipt and the seller's notice reach /dev/mail."""
    with httpx.Client(base_url=base_url, timeout=10) as buyer:
        signup = buyer.post(
            "/api/users/signup", json={"email": "buyer@example.com", "password": "password123"}
        )
        assert signup.status_code == 201, signup.text

        def created(path: str, body: dict[str, str]) -> dict[str, Any]:
            response = buyer.post(path, json=body)
            assert response.status_code == 201, response.text  # 404 until the event arrived
            created: dict[str, Any] = response.json()
            return created

        order = until(lambda: created("/api/orders", {"ticketId": ticket_id}))
        until(lambda: created("/api/payments", {"orderId": order["id"], "token": "tok_visa"}))

        def mail(to: str, subject: str) -> dict[str, Any]:
            messages = buyer.get("/dev/mail", params={"to": to}).json()["messages"]
            found = [m for m in messages if m["subject"] == subject]
            assert len(found) == 1, [m["subject"] for m in messages]
            return found[0]

        receipt = until(lambda: mail("buyer@example.com", "Receipt: Smoke test"))
        sold = until(lambda: mail("dev@example.com", "Sold: Smoke test"))
        assert buyer.get("/dev/mail.html").status_code == 200
    return receipt, sold


def pay_with_3d_secure_and_close_the_tab(base_url: str, seller: httpx.Client) -> str:
    """A buyer authenticates on the sandbox's 3-D Secure page and never comes back to the
    site: the sandbox's signed webhook alone must complete the order. Returns its status."""
    ticket = seller.post("/api/tickets", json={"title": "Webhook test", "price": 20})
    assert ticket.status_code == 201, ticket.text
    with httpx.Client(base_url=base_url, timeout=10) as buyer:
        email = "closes-the-tab@example.com"
        buyer.post("/api/users/signup", json={"email": email, "password": "password123"})

        def placed() -> dict[str, Any]:
            response = buyer.post("/api/orders", json={"ticketId": ticket.json()["id"]})
            assert response.status_code == 201, response.text
            order: dict[str, Any] = response.json()
            return order

        order = until(placed)

        def needs_authentication() -> str:
            body = {"orderId": order["id"], "token": "tok_threeDSecure2Required"}
            response = buyer.post("/api/payments", json=body)
            assert response.status_code == 202, response.text
            url: str = response.json()["nextActionUrl"]
            return url

        bank_page = until(needs_authentication)
        completed = httpx.post(f"{bank_page}/complete")  # the bank's page; no redirect followed
        assert completed.status_code == 303

        def settled() -> str:
            status: str = buyer.get(f"/api/orders/{order['id']}").json()["status"]
            assert status == "complete"
            return status

        return until(settled)


# Two replicas: every request and event may land on either process of a service, and the
# buyer still gets exactly one receipt.
@pytest.mark.parametrize("make_dev", [1, 2], ids=["one-replica", "two-replicas"], indirect=True)
def test_make_dev_serves_the_platform_and_stops_cleanly(
    make_dev: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base_url, process = make_dev
    started = _processes_of(psutil.Process(process.pid), tmp_path / "dev-data")
    assert len(started) > 5

    with httpx.Client(base_url=base_url, timeout=10) as browser:
        signup = browser.post(
            "/api/users/signup", json={"email": "dev@example.com", "password": "password123"}
        )
        ticket = browser.post("/api/tickets", json={"title": "Smoke test", "price": 12.5})
        home = browser.get("/")
    assert signup.status_code == 201
    assert ticket.status_code == 201
    assert home.status_code == 200
    assert "dev@example.com" in home.text  # the first HTML already knows who is signed in

    receipt, sold = buy_and_read_the_mail(base_url, ticket.json()["id"])
    assert "12.50 USD" in receipt["text"]
    assert "12.50 USD" in sold["text"]
    with httpx.Client(base_url=base_url, timeout=10) as seller:
        seller.post(
            "/api/users/signin", json={"email": "dev@example.com", "password": "password123"}
        )
        assert pay_with_3d_secure_and_close_the_tab(base_url, seller) == "complete"

    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does
    assert process.wait(timeout=60) in (0, 2, 130, -signal.SIGINT)  # make dies of the SIGINT too
    _, alive = psutil.wait_procs(started, timeout=15)
    assert [p.pid for p in alive] == [], f"left behind: {[p.cmdline() for p in alive]}"


def test_a_killed_make_dev_leaves_no_process_behind(
    make_dev: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    _, process = make_dev
    started = _processes_of(psutil.Process(process.pid), tmp_path / "dev-data")
    devstack = next(p for p in started if p.cmdline()[1:] == ["-m", "ticketing.devstack", "up"])

    devstack.kill()  # the python process itself (not make, not uv): no handler of ours runs

    _, alive = psutil.wait_procs(started, timeout=15)
    assert [p.pid for p in alive] == [], f"left behind: {[p.cmdline() for p in alive]}"
