"""What the devstack tests share: starting `make dev` the way the Makefile does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

StartDev = Callable[[dict[str, str]], subprocess.CompletedProcess[str]]


@pytest.fixture
def start_dev(tmp_path: Path) -> StartDev:
    """Run ``python -m ticketing.devstack up`` (what `make dev` runs) to its end, with ``env``
    on top of ours and its data under ``tmp_path``: for the refusals, which answer before
    anything starts (a test of one asserts that ``tmp_path`` stays empty)."""

    def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ticketing.devstack", "up"],
            env={**os.environ, "TICKETING_DATA_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return start
