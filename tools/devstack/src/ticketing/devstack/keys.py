"""``python -m ticketing.devstack.keys DIR``: write make dev's JWT key pair into ``DIR``.

A process of its own, run once on the first ``make dev`` (``processes.load_or_create_keys``):
generating the pair imports ``common.auth`` (FastAPI, pydantic, PyNaCl), which would stay
tens of MiB of the supervisor for the whole session after one call.
"""

from __future__ import annotations

import sys
from pathlib import Path

PRIVATE, PUBLIC = "jwt_private.pem", "jwt_public.pem"


def write_key_pair(directory: Path) -> None:
    """A new Ed25519 pair as PEM files; the private one readable by its owner only."""
    from ticketing.common.auth import generate_key_pair  # here: processes imports the names

    directory.mkdir(parents=True, exist_ok=True)
    pair = generate_key_pair()
    private = directory / PRIVATE
    private.write_text(pair.private_pem)
    private.chmod(0o600)
    (directory / PUBLIC).write_text(pair.public_pem)


if __name__ == "__main__":
    write_key_pair(Path(sys.argv[1]))
