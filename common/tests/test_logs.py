"""Every process logs one JSON object per line with the same fields, and never a secret
(DESIGN §10): the formatter and its redaction, without any service running."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from ticketing.common import correlation, logs

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLW9mLWEtdG9rZW4"


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of our own, rendered by the services' JSON formatter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.formatter("json"))
    logger = logging.getLogger(f"test.logs.{id(buffer)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def read(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_line_has_every_field_even_outside_a_request(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines

    logger.warning("Outbox relay could not publish (%s); retrying", "timeout")

    [line] = read(buffer)
    assert line["message"] == "Outbox relay could not publish (timeout); retrying"
    assert line["level"] == "warning"
    assert {"timestamp", "service", "request_id", "trace_id", "logger"} <= line.keys()


def test_a_line_carries_the_request_and_event_bound_around_it(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    headers = {correlation.REQUEST_ID_HEADER: "req-7"}

    with correlation.handling("tickets", "e-1", "order.created", headers):
        logger.info("Reserved")
    logger.info("After")

    handled, after = read(buffer)
    assert (handled["service"], handled["request_id"]) == ("tickets", "req-7")
    assert (handled["event_id"], handled["event_type"]) == ("e-1", "order.created")
    assert isinstance(handled["trace_id"], str) and len(handled["trace_id"]) == 32
    assert after["request_id"] is None and "event_id" not in after


PEM_BODY = "MC4CAQAwBQYDK2VwBCIEIAbcDefGhi"


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("Signing in with password=%s", "hunter2-secret"),
        ("Cookie: session=%s", JWT),
        ("Stripe said no to %s", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
        ("Webhook %s", "whsec_abcdefABCDEF0123456789"),
        ("Header Authorization: Bearer %s", "abc.def-ghi"),
        ("Key %s", f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----"),
    ],
)
def test_secrets_in_a_message_are_masked(
    lines: tuple[logging.Logger, io.StringIO], message: str, secret: str
) -> None:
    logger, buffer = lines

    logger.info(message, secret)

    [line] = read(buffer)
    assert logs.REDACTED in str(line["message"])
    for part in (secret, PEM_BODY, JWT.rsplit(".", 1)[-1]):
        assert part not in buffer.getvalue()


def test_fields_named_like_secrets_are_masked_however_deep(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines

    logger.info(
        "Calling Stripe",
        extra={"headers": {"Authorization": "Basic c2VjcmV0", "accept": "json"}, "token": "t0k"},
    )

    [line] = read(buffer)
    assert line["headers"] == {"Authorization": logs.REDACTED, "accept": "json"}
    assert line["token"] == logs.REDACTED


def test_configuring_twice_installs_one_handler_and_routes_uvicorn_through_it() -> None:
    logs.configure_logging("orders")
    logs.configure_logging("orders")

    ours = [h for h in logging.getLogger().handlers if getattr(h, "_ticketing_handler", False)]
    assert len(ours) == 1
    for name in logs.UVICORN_LOGGERS:
        assert logging.getLogger(name).handlers == [] and logging.getLogger(name).propagate


def test_console_format_is_for_people_json_for_collectors() -> None:
    record = logging.LogRecord("ticketing.test", logging.INFO, __file__, 1, "Ready", None, None)

    console = logs.formatter("console").format(record)
    as_json = logs.formatter("json").format(record)

    assert "Ready" in console and not console.startswith("{")
    assert json.loads(as_json)["message"] == "Ready"


def test_structlog_loggers_go_through_the_same_pipeline() -> None:
    logs.configure_logging("orders")
    logger = structlog.get_logger("ticketing.test")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.formatter("json"))
    logging.getLogger("ticketing.test").addHandler(handler)
    try:
        logger.info("Charged", password="p4ss")
    finally:
        logging.getLogger("ticketing.test").removeHandler(handler)

    line = json.loads(buffer.getvalue().splitlines()[-1])
    assert (line["message"], line["password"]) == ("Charged", logs.REDACTED)
