"""The route table of ``infra/routes.yaml``: which service answers which path prefix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

ROUTES_FILE = Path(__file__).resolve().parents[5] / "infra" / "routes.yaml"


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str

    def matches(self, path: str) -> bool:
        if self.prefix == "/":
            return True
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")


def load_routes(path: Path = ROUTES_FILE) -> list[Route]:
    """Routes, longest prefix first, so the first match is the most specific one."""
    raw = yaml.safe_load(path.read_text())["routes"]
    routes = [Route(prefix=item["prefix"], service=item["service"]) for item in raw]
    return sorted(routes, key=lambda route: len(route.prefix), reverse=True)


def route_for(path: str, routes: list[Route]) -> Route | None:
    return next((route for route in routes if route.matches(path)), None)
