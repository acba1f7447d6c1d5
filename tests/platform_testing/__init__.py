"""What the cross-service, contract and browser tests share besides fixtures: the platform in
one process and the people on it (on the tests' path: ``pythonpath`` in pyproject.toml)."""

from platform_testing.people import Browser, Json, expect
from platform_testing.platform import BASE_URL, Platform, PlatformOptions

__all__ = ["BASE_URL", "Browser", "Json", "Platform", "PlatformOptions", "expect"]
