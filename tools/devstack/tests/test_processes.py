"""make dev refuses a busy port before it starts anything (the supervisor: test_supervisor)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import StartDev


def test_make_dev_refuses_a_busy_port_with_a_clear_message(
    tmp_path: Path, start_dev: StartDev
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = start_dev({"TICKETING_PORT": str(port)})

    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written
