"""The streams are bounded by the settings and reconciled when they drift (DESIGN §4 "Bounded
and durable"): real NATS JetStream, one namespace per test."""

import logging
from uuid import uuid4

import pytest
from nats.js.api import StorageType, StreamConfig

from ticketing.common.bus import Bus, StreamConfigError
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.common.settings import MIB, BusSettings
from ticketing.testkit.events import publish_event
from ticketing.testkit.fixtures import Infrastructure
from ticketing.testkit.http import eventually

HOUR = 3600.0


def settings(infrastructure: Infrastructure, namespace: str, **limits: float) -> BusSettings:
    values = {
        "bus_max_age_seconds": 2 * HOUR,
        "bus_max_bytes": 8 * MIB,
        "bus_dlq_max_age_seconds": 5 * HOUR,
        "bus_dlq_max_bytes": 2 * MIB,
        **limits,
    }
    return BusSettings(
        environment="test",
        nats_url=infrastructure.nats_url,
        bus_namespace=namespace,
        **values,  # type: ignore[arg-type]
    )


async def stream_config(bus: Bus, name: str) -> StreamConfig:
    config: StreamConfig = (await bus.js.stream_info(name)).config
    return config


async def connected(bus: Bus) -> Bus:
    await bus.connect(attempts=1)
    return bus


async def test_a_service_bounds_both_streams_by_its_settings(
    infrastructure: Infrastructure, bus_namespace: str
) -> None:
    service = await connected(Bus.from_settings(settings(infrastructure, bus_namespace)))
    try:
        events = await stream_config(service, service.names.stream)
        dead_letters = await stream_config(service, service.names.dlq_stream)
    finally:
        await service.close()

    assert (events.max_age, events.max_bytes) == (2 * HOUR, 8 * MIB)
    assert (dead_letters.max_age, dead_letters.max_bytes) == (5 * HOUR, 2 * MIB)
    assert events.duplicate_window == 600
    assert events.storage == StorageType.FILE


async def test_a_drifted_stream_is_reconciled_and_every_change_logged(
    infrastructure: Infrastructure, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """``bus`` (a tool's bus) created the streams unbounded, as an earlier version did."""
    namespace = bus.names.namespace
    caplog.set_level(logging.WARNING, logger="ticketing.bus")

    service = await connected(Bus.from_settings(settings(infrastructure, namespace)))
    await service.close()

    events = await stream_config(bus, bus.names.stream)
    assert (events.max_age, events.max_bytes) == (2 * HOUR, 8 * MIB)
    changes = [r.getMessage() for r in caplog.records if "reconciled" in r.getMessage()]
    assert len(changes) == 2  # the events stream and the dead-letter stream
    assert f"Stream {bus.names.stream} reconciled: max_age 0.0 -> 7200.0" in changes[0]
    assert "max_bytes -1 -> 8388608" in changes[0]


async def test_narrowed_subjects_are_widened_back_keeping_the_events(bus: Bus) -> None:
    names = bus.names
    event = UserCreated(data=UserCreatedData(id=uuid4(), email="a@example.com"))
    await publish_event(bus, event)
    narrowed = (await stream_config(bus, names.stream)).evolve(
        subjects=[f"{names.namespace}.user.>"]
    )
    await bus.js.update_stream(narrowed)

    tool = await connected(Bus(bus.url, names.namespace))
    await tool.close()

    events = await stream_config(bus, names.stream)
    assert events.subjects == [f"{names.namespace}.>"]
    assert (await bus.js.stream_info(names.stream)).state.messages == 1


async def test_a_tool_never_changes_the_limits_a_service_set(
    infrastructure: Infrastructure, bus_namespace: str
) -> None:
    service = await connected(Bus.from_settings(settings(infrastructure, bus_namespace)))
    await service.close()

    tool = await connected(Bus(infrastructure.nats_url, bus_namespace))
    try:
        events = await stream_config(tool, tool.names.stream)
    finally:
        await tool.close()

    assert (events.max_age, events.max_bytes) == (2 * HOUR, 8 * MIB)


async def test_events_older_than_the_max_age_are_gone(
    infrastructure: Infrastructure, bus_namespace: str
) -> None:
    service = await connected(
        Bus.from_settings(settings(infrastructure, bus_namespace, bus_max_age_seconds=1))
    )
    try:
        await publish_event(
            service, UserCreated(data=UserCreatedData(id=uuid4(), email="old@example.com"))
        )

        async def aged_out() -> None:
            state = (await service.js.stream_info(service.names.stream)).state
            assert (state.messages, state.last_seq) == (0, 1)

        await eventually(aged_out, timeout=30)
        events = await stream_config(service, service.names.stream)
    finally:
        await service.close()

    assert events.duplicate_window == 1  # never longer than what the stream keeps


async def test_limits_jetstream_refuses_stop_the_service_with_the_reason(
    infrastructure: Infrastructure, bus: Bus
) -> None:
    """``bus`` created the streams; three replicas cannot be had on the one test server."""
    three_replicas = settings(infrastructure, bus.names.namespace).model_copy(
        update={"bus_stream_replicas": 3}
    )
    service = Bus.from_settings(three_replicas)
    try:
        with pytest.raises(StreamConfigError, match="num_replicas 1 -> 3"):
            await service.connect(attempts=1)
    finally:
        await service.close()


async def test_by_default_events_are_kept_a_week_and_dead_letters_a_month(
    infrastructure: Infrastructure, bus_namespace: str
) -> None:
    defaults = BusSettings(
        environment="test", nats_url=infrastructure.nats_url, bus_namespace=bus_namespace
    )
    service = await connected(Bus.from_settings(defaults))
    try:
        events = await stream_config(service, service.names.stream)
        dead_letters = await stream_config(service, service.names.dlq_stream)
    finally:
        await service.close()

    assert (events.max_age, events.max_bytes) == (7 * 24 * HOUR, 1024 * MIB)
    assert (dead_letters.max_age, dead_letters.max_bytes) == (30 * 24 * HOUR, 128 * MIB)
