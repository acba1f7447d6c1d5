"""The README's "Configuration" section, generated from every service's Settings class.

``python -m ticketing.devstack config`` rewrites the part of README.md between the markers;
a test fails when the README and the Settings classes disagree.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

SERVICES = (
    "auth", "tickets", "orders", "payments", "query", "expiration", "notifications", "client",
)  # fmt: skip
README = Path(__file__).resolve().parents[5] / "README.md"
START, END = "<!-- configuration:start -->", "<!-- configuration:end -->"


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"ticketing.{service}.config")
    cls: type[BaseSettings] = getattr(module, f"{service.capitalize()}Settings")
    return cls


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    text = json.dumps(value) if isinstance(value, list | bool) else str(value)
    return f"`{text}`" if text else '`""`'


def render() -> str:
    lines = [
        "Every setting is an environment variable: the service's prefix plus the field name.",
        "`make dev` sets them for you; Kubernetes sets them with `envFrom` ConfigMaps and",
        "Secrets (see `infra/k8s/README.md`).",
        "",
    ]
    for service in SERVICES:
        cls = settings_class(service)
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines += [f"**{service}** (`{cls.__name__}`)", "", "| variable | default | meaning |"]
        lines.append("|---|---|---|")
        for name, field in cls.model_fields.items():
            meaning = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


def with_section(readme: str, section: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{section}\n{END}{tail}"


def write_readme(path: Path = README) -> None:
    path.write_text(with_section(path.read_text(), render()))
