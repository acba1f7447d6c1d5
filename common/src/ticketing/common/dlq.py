"""Dead letters: keep them, list them, replay them (``python -m ticketing.common.dlq list|replay
[--consumer NAME] [--seq N ...]``).

A dead letter is the original event bytes plus headers saying which consumer gave up, on which
subject, after how many deliveries and why (``dead_letter``, used by the consumer and by the
``MAX_DELIVERIES`` backstop). Its ``Nats-Msg-Id`` is ``<consumer>:<stream seq>``, so the same
message dead-lettered twice (by both) is kept once.

**A replay reaches only the consumer that gave up.** Other consumers of the subject handled
the event already; sending it to all of them would make each handle it a second time. So a
replay is not published on the event's own subject. It goes to
``<namespace>.replay.<consumer>.<type>``, which only that consumer's durable subscribes to
(``replay_filter``, in every consumer's filter). A fresh ``Nats-Msg-Id`` lets it through
JetStream's dedupe. The event id inside stays the same, so a consumer that handled it meanwhile
skips it. A replayed letter is removed from the dead-letter stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from uuid import uuid4

from nats.js.errors import NotFoundError

from ticketing.common.bus import Bus, BusNames

logger = logging.getLogger("ticketing.dlq")


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    consumer: str
    subject: str
    error: str
    deliveries: int
    payload: str


def replay_filter(names: BusNames, consumer: str) -> str:
    """The subjects on which ``consumer`` (and no other) receives its replayed letters."""
    return f"{names.namespace}.replay.{consumer}.>"


def replay_subject(names: BusNames, consumer: str, event_type: str) -> str:
    return f"{names.namespace}.replay.{consumer}.{event_type}"


def event_type_of(names: BusNames, subject: str) -> str | None:
    """The event type a subject carries (its own or a replay one); None if not ours."""
    prefix = f"{names.namespace}."
    if not subject.startswith(prefix):
        return None
    rest = subject.removeprefix(prefix)
    if rest.startswith("replay."):
        parts = rest.split(".", 2)  # "replay", consumer, type
        return parts[2] if len(parts) == 3 and parts[2] else None
    return rest or None


async def dead_letter(
    bus: Bus,
    *,
    consumer: str,
    event_type: str,
    subject: str,
    data: bytes,
    stream_seq: int,
    deliveries: int,
    reason: str,
) -> None:
    """Keep a message, visible and replayable, in the dead-letter stream."""
    logger.error(
        "%s: dead-lettering %s (stream seq %s): %s", consumer, event_type, stream_seq, reason
    )
    await bus.publish(
        bus.names.dlq_subject(consumer, event_type.replace(".", "_")),
        data,
        msg_id=f"{consumer}:{stream_seq}",
        headers={
            "Ticketing-Consumer": consumer,
            "Ticketing-Subject": subject,
            "Ticketing-Error": reason[:1000],
            "Ticketing-Deliveries": str(deliveries),
        },
    )


async def list_dead_letters(bus: Bus, consumer: str | None = None) -> list[DeadLetter]:
    """Every dead letter, oldest first (only ``consumer``'s if given)."""
    info = await bus.js.stream_info(bus.names.dlq_stream)
    letters: list[DeadLetter] = []
    if info.state.messages == 0:
        return letters
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await bus.js.get_msg(bus.names.dlq_stream, seq)
        except NotFoundError:
            continue  # replayed (deleted) already
        headers = raw.headers or {}
        letter = DeadLetter(
            seq=seq,
            consumer=headers.get("Ticketing-Consumer", "?"),
            subject=headers.get("Ticketing-Subject", "?"),
            error=headers.get("Ticketing-Error", ""),
            deliveries=int(headers.get("Ticketing-Deliveries", "0")),
            payload=(raw.data or b"").decode(errors="replace"),
        )
        if consumer is None or letter.consumer == consumer:
            letters.append(letter)
    return letters


async def replay_dead_letters(
    bus: Bus, seqs: set[int] | None = None, consumer: str | None = None
) -> list[DeadLetter]:
    """Send dead letters (all, those with the given sequence numbers, those of ``consumer``)
    back to the consumer that dead-lettered each, and to no other."""
    replayed: list[DeadLetter] = []
    for letter in await list_dead_letters(bus, consumer):
        if seqs is not None and letter.seq not in seqs:
            continue
        event_type = event_type_of(bus.names, letter.subject)
        if event_type is None or letter.consumer == "?":
            continue  # cannot know where it belongs; leave it for a human
        await bus.publish(
            replay_subject(bus.names, letter.consumer, event_type),
            letter.payload.encode(),
            msg_id=f"replay-{uuid4()}",
        )
        await bus.js.delete_msg(bus.names.dlq_stream, letter.seq)
        replayed.append(letter)
    return replayed


async def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.common.dlq")
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--seq", type=int, action="append", help="only these (repeatable)")
    parser.add_argument("--consumer", help="only the letters this consumer (service) gave up")
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--namespace", default=os.environ.get("BUS_NAMESPACE", "ticketing"))
    args = parser.parse_args(argv)
    bus = Bus(args.nats_url, args.namespace)
    await bus.connect(attempts=1)
    try:
        if args.command == "list":
            letters = await list_dead_letters(bus, args.consumer)
        else:
            seqs = set(args.seq) if args.seq else None
            letters = await replay_dead_letters(bus, seqs, args.consumer)
        for letter in letters:
            print(json.dumps(asdict(letter)))
        print(f"{len(letters)} dead letter(s) {'listed' if args.command == 'list' else 'replayed'}")
    finally:
        await bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run_command(sys.argv[1:])))
