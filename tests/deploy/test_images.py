"""The images: one Dockerfile for every service (build argument SERVICE), hadolint-clean, pinned,
two-step (dependencies from the lock, then the sources), non-root; skaffold builds each service
from it, the manifests run exactly those images, and the build context is an allowlist."""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

SITE_PACKAGES = "/app/.venv/lib/python3.11/site-packages"
START_SCRIPT = "infra/docker/start-service.sh"


def skaffold_artifacts(repo: Path) -> dict[str, dict[str, Any]]:
    """image name -> its skaffold artifact."""
    config: dict[str, Any] = yaml.safe_load((repo / "skaffold.yaml").read_text())
    return {artifact["image"]: artifact for artifact in config["build"]["artifacts"]}


def stages(repo: Path) -> list[str]:
    """The Dockerfile's build stages, each from its FROM line on, continuation lines joined."""
    text = (repo / "Dockerfile").read_text().replace("\\\n", " ")
    return ["FROM " + stage for stage in re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]]


def instructions(stage: str, keyword: str) -> list[str]:
    return [
        " ".join(line.split()[1:]) for line in stage.splitlines() if line.split()[:1] == [keyword]
    ]


def workspace_members(repo: Path) -> list[str]:
    """The directories of the workspace members, as the root pyproject.toml globs them."""
    globs = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    return sorted(
        str(path.parent.relative_to(repo))
        for pattern in globs["members"]
        for path in repo.glob(f"{pattern}/pyproject.toml")
    )


def test_one_dockerfile_no_per_service_copies(repo: Path) -> None:
    assert (repo / "Dockerfile").is_file()
    assert sorted(str(p.relative_to(repo)) for p in repo.glob("services/*/Dockerfile")) == []


def test_the_dockerfile_passes_hadolint(repo: Path, hadolint: str) -> None:
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_skaffold_builds_every_service_from_the_one_dockerfile_by_its_build_arg(
    repo: Path, service_names: list[str]
) -> None:
    artifacts = skaffold_artifacts(repo)

    assert sorted(artifacts) == [f"ticketing/{name}" for name in service_names]
    for name in service_names:
        artifact = artifacts[f"ticketing/{name}"]
        assert artifact["context"] == "."
        assert artifact["docker"] == {
            "dockerfile": "Dockerfile",
            "buildArgs": {"SERVICE": name, "CODE_OWNER": "10001"},
        }


def application_images(objects: list[dict[str, Any]]) -> set[str]:
    return {
        container["image"]
        for obj in objects
        if obj["kind"] in ("Deployment", "StatefulSet")
        for container in obj["spec"]["template"]["spec"]["containers"]
        if "ticketing/" in container["image"]
    }


def test_the_dev_manifests_run_exactly_the_images_skaffold_builds(
    repo: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    # skaffold swaps in what it built where a manifest names the artifact's image exactly
    assert application_images(rendered["dev"]) == set(skaffold_artifacts(repo))


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_released_manifests_run_those_images_from_the_registry_at_a_pinned_tag(
    repo: Path, rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    images = application_images(rendered[overlay])
    untagged = {image.rpartition(":")[0] for image in images}

    assert all(re.fullmatch(r"[^:]+:\d+\.\d+\.\d+", image) for image in images), images
    assert {name.partition("/")[2] for name in untagged} == set(skaffold_artifacts(repo))


def test_skaffold_deploys_the_dev_overlay_with_kubectl(repo: Path) -> None:
    config = yaml.safe_load((repo / "skaffold.yaml").read_text())

    assert config["apiVersion"].startswith("skaffold/v4")
    assert config["manifests"]["kustomize"]["paths"] == ["infra/k8s/overlays/dev"]
    assert "kubectl" in config["deploy"]


def test_skaffold_syncs_service_and_common_sources_into_site_packages(
    repo: Path, http_service_names: list[str]
) -> None:
    for name in http_service_names:
        rules = skaffold_artifacts(repo)[f"ticketing/{name}"]["sync"]["manual"]
        assert rules == [
            {
                "src": f"services/{name}/src/**/*.py",
                "dest": SITE_PACKAGES,
                "strip": f"services/{name}/src/",
            },
            {"src": "common/src/**/*.py", "dest": SITE_PACKAGES, "strip": "common/src/"},
        ]


def test_the_images_are_pinned(repo: Path) -> None:
    assert [stage.split()[1] for stage in stages(repo)] == [
        "ghcr.io/astral-sh/uv:0.13.8",
        "python:3.11.14-slim-bookworm",
        "python:3.11.14-slim-bookworm",
    ]


def test_dependencies_are_installed_from_the_lock_before_any_source_is_copied(
    repo: Path,
) -> None:
    builder = stages(repo)[1]
    steps = [
        " ".join(line.split())
        for line in builder.splitlines()
        if line.split()[:1] in (["COPY"], ["RUN"]) and "--from=" not in line
    ]
    (dependencies,) = [i for i, step in enumerate(steps) if "--no-install-workspace" in step]
    (sources,) = [i for i, step in enumerate(steps) if "--no-editable" in step]
    copied_first = [step.split()[1:-1] for step in steps[:dependencies]]

    assert dependencies < sources
    assert copied_first[0] == ["uv.lock", "pyproject.toml"]
    assert {Path(path).name for paths in copied_first for path in paths} == {
        "uv.lock",
        "pyproject.toml",
    }, "nothing but the lock and the pyproject files before the dependency layer"
    assert sorted(str(Path(paths[0]).parent) for paths in copied_first[1:]) == (
        workspace_members(repo)
    ), "every member's pyproject.toml, or `uv sync --locked` cannot check the lock"
    assert steps[dependencies].endswith(
        'uv sync --locked --no-dev --no-install-workspace --package "ticketing-${SERVICE}"'
    )
    assert steps[sources].endswith(
        'uv sync --locked --no-dev --package "ticketing-${SERVICE}" --no-editable'
    )
    for step in (steps[dependencies], steps[sources]):
        assert "--mount=type=cache,target=/root/.cache/uv" in step


def test_the_final_stage_holds_the_venv_and_the_start_script_and_runs_as_non_root(
    repo: Path,
) -> None:
    final = stages(repo)[-1]

    assert instructions(final, "COPY") == [
        "--from=builder --chown=${CODE_OWNER}:${CODE_OWNER} /app/.venv /app/.venv",
        f"--chmod=0755 {START_SCRIPT} /usr/local/bin/start-service",
    ]
    assert instructions(final, "USER") == ["10001"]
    assert instructions(final, "EXPOSE") == ["8000"]
    assert instructions(final, "CMD") == ['["start-service"]']
    assert "SERVICE=${SERVICE}" in instructions(final, "ENV")[0]
    assert "HEALTHCHECK" not in final


def test_the_start_script_runs_the_expiration_worker_and_every_other_service_under_uvicorn(
    repo: Path,
) -> None:
    script = (repo / START_SCRIPT).read_text()
    worker, other = re.findall(r"^\s+(\S+)\)\n(.*?);;", script, flags=re.MULTILINE | re.DOTALL)

    assert worker[0] == "expiration"
    assert "exec python -m ticketing.expiration" in worker[1]
    # the kubelet probes the pod's address; the worker listens on loopback unless told
    assert 'EXPIRATION_HEALTH_HOST="${EXPIRATION_HEALTH_HOST:-0.0.0.0}"' in worker[1]
    assert other[0] == "*"
    assert " ".join(other[1].replace("\\\n", " ").split()) == (
        'exec uvicorn --factory "ticketing.${SERVICE}.app:create_app" '
        '--host 0.0.0.0 --port 8000 "$@"'
    )
    assert (repo / START_SCRIPT).stat().st_mode & 0o111, "executable for `docker run` too"


def test_the_start_script_is_valid_sh(repo: Path) -> None:
    result = subprocess.run(["sh", "-n", START_SCRIPT], cwd=repo, capture_output=True, check=False)

    assert result.returncode == 0, result.stderr


def test_the_build_context_lets_in_the_lock_the_pyprojects_and_the_image_sources(
    repo: Path, in_build_context: Callable[[str], bool]
) -> None:
    needed = [
        "uv.lock",
        "pyproject.toml",
        START_SCRIPT,
        "common/src/ticketing/common/auth.py",
        "services/auth/src/ticketing/auth/app.py",
        "services/auth/src/ticketing/auth/migrations/env.py",
        *(f"{member}/pyproject.toml" for member in workspace_members(repo)),
    ]

    assert [path for path in needed if not in_build_context(path)] == []


def test_the_build_context_keeps_out_tests_testkit_tools_docs_and_local_state(
    in_build_context: Callable[[str], bool],
) -> None:
    kept_out = [
        "testkit/src/ticketing/testkit/fixtures.py",
        "tests/conftest.py",
        "services/auth/tests/conftest.py",
        "common/tests/test_bus.py",
        "tools/stripe_sandbox/src/ticketing/stripe_sandbox/app.py",
        "tools/devstack/src/ticketing/devstack/stack.py",
        "docs/architecture.md",
        "benchmarks/run.py",
        "infra/k8s/base/kustomization.yaml",
        "README.md",
        "Dockerfile",
        ".git/HEAD",
        ".venv/bin/python",
        ".dev/postgres/PG_VERSION",
        "services/auth/src/ticketing/auth/__pycache__/app.cpython-311.pyc",
        "common/src/ticketing/common/__pycache__/auth.cpython-311.pyc",
    ]

    assert [path for path in kept_out if in_build_context(path)] == []
