"""What notifications' tests share besides fixtures (on the tests' path: pyproject.toml)."""
