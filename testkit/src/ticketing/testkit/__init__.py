"""Test helpers every service's tests use: real infrastructure fixtures and HTTP clients."""
