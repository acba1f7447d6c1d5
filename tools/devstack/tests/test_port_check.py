"""``make dev`` refuses a busy port, and only a busy one (it binds as uvicorn will)."""

import socket
from collections.abc import Iterator

import pytest

from ticketing.devstack.stack import port_is_free


def _listener() -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


@pytest.fixture
def port_in_time_wait() -> int:
    """A port whose only trace is a connection in TIME_WAIT, as right after a ``make dev``
    stopped: the server's side closed first, so its end lingers for a minute."""
    listener = _listener()
    port: int = listener.getsockname()[1]
    visitor = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()
    visitor.recv(1)  # the server's FIN arrived
    visitor.close()
    listener.close()
    return port


@pytest.fixture
def listening_port() -> Iterator[int]:
    listener = _listener()
    yield listener.getsockname()[1]
    listener.close()


def test_a_port_with_only_time_wait_connections_is_free(port_in_time_wait: int) -> None:
    assert port_is_free(port_in_time_wait)


def test_a_port_someone_listens_on_is_busy(listening_port: int) -> None:
    assert not port_is_free(listening_port)
