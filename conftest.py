"""Every test's kind, from where it lives and what it uses, so `pytest -m unit` needs no rule
written on each test (the markers are registered in pyproject.toml, `--strict-markers`):

- ``browser``: under tests/browser (Chromium; its own pytest run, see the Makefile);
- ``integration``: the rest of tests/ (across services, processes or the deployment files), and
  every test that uses real PostgreSQL, NATS or Redis: it requests, itself or through another
  fixture, the session fixture ``infrastructure`` (ticketing.testkit.fixtures);
- ``unit``: all other tests: beside their code, on no infrastructure (some start a process of
  their own, e.g. uvicorn to measure it, or the Stripe sandbox), seconds each at most;
- ``faults`` (besides the kind): a part is made to fail for real, as the test's name says
  (tests read as specifications): a server down, gone or stopped, a process crashed, killed,
  dying or restarted, an outage, an unreachable peer
  (``test_a_stopped_relay_delays_emails_until_it_is_back``).

A marker written on a test wins: ``@pytest.mark.integration`` on a test that starts servers
another way, ``@pytest.mark.faults`` on a fault its name does not tell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
KINDS = ("unit", "integration", "browser")
FAULT_WORDS = re.compile(
    r"(?:^|_)(?:outages?|down|gone|stopped|crash(?:ed|es)?|restarts?|restarted|dies|dying"
    r"|killed|unreachable)(?:_|$)"
)


def kind_of(item: pytest.Item) -> str:
    where = item.path.relative_to(ROOT).parts
    if where[:2] == ("tests", "browser"):
        return "browser"
    if where[0] == "tests" or "infrastructure" in getattr(item, "fixturenames", ()):
        return "integration"
    return "unit"


def injects_faults(item: pytest.Item) -> bool:
    return bool(FAULT_WORDS.search(getattr(item, "originalname", item.name)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in KINDS):
            item.add_marker(kind_of(item))
        if item.get_closest_marker("faults") is None and injects_faults(item):
            item.add_marker("faults")
