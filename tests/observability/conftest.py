"""Fixtures of the observability tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from observability.capture import JsonLines


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Every line logged at INFO or above while the test runs, rendered as in production."""
    root = logging.getLogger()
    handler, level = JsonLines(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
