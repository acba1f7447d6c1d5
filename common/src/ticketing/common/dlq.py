"""Dead letters: list them and replay them (``python -m ticketing.common.dlq list|replay``).

A dead letter is the original event bytes plus headers saying which consumer gave up, on which
subject, after how many deliveries and why. Replaying publishes the event again on its original
subject under a fresh ``Nats-Msg-Id`` (the event id inside stays the same, so consumers that
did handle it skip it) and removes it from the dead-letter stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict, dataclass
from uuid import uuid4

from nats.js.errors import NotFoundError

from ticketing.common.bus import Bus


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    consumer: str
    subject: str
    error: str
    deliveries: int
    payload: str


async def list_dead_letters(bus: Bus) -> list[DeadLetter]:
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
        letters.append(
            DeadLetter(
                seq=seq,
                consumer=headers.get("Ticketing-Consumer", "?"),
                subject=headers.get("Ticketing-Subject", "?"),
                error=headers.get("Ticketing-Error", ""),
                deliveries=int(headers.get("Ticketing-Deliveries", "0")),
                payload=(raw.data or b"").decode(errors="replace"),
            )
        )
    return letters


async def replay_dead_letters(bus: Bus, seqs: set[int] | None = None) -> list[DeadLetter]:
    """Republish dead letters (all, or those with the given sequence numbers)."""
    replayed: list[DeadLetter] = []
    for letter in await list_dead_letters(bus):
        if seqs is not None and letter.seq not in seqs:
            continue
        if not letter.subject.startswith(f"{bus.names.namespace}."):
            continue  # cannot know where it belongs; leave it for a human
        await bus.publish(letter.subject, letter.payload.encode(), msg_id=f"replay-{uuid4()}")
        await bus.js.delete_msg(bus.names.dlq_stream, letter.seq)
        replayed.append(letter)
    return replayed


async def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.common.dlq")
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--seq", type=int, action="append", help="only these (repeatable)")
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--namespace", default=os.environ.get("BUS_NAMESPACE", "ticketing"))
    args = parser.parse_args(argv)
    bus = Bus(args.nats_url, args.namespace)
    await bus.connect(attempts=1)
    try:
        if args.command == "list":
            letters = await list_dead_letters(bus)
        else:
            letters = await replay_dead_letters(bus, set(args.seq) if args.seq else None)
        for letter in letters:
            print(json.dumps(asdict(letter)))
        print(f"{len(letters)} dead letter(s) {'listed' if args.command == 'list' else 'replayed'}")
    finally:
        await bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run_command(sys.argv[1:])))
