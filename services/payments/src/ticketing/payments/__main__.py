"""``python -m ticketing.payments refunds [--retry INTENT]`` (settings from PAYMENTS_*).

Lists the refunds Stripe kept refusing (parked after ``PAYMENTS_REFUND_MAX_ATTEMPTS``), with
their last error; ``--retry`` puts one back in the refund loop's queue once the cause is fixed.
"""

import argparse
import asyncio
import sys

import sqlalchemy as sa

from ticketing.common.db import create_migration_engine, create_sessionmaker
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.models import RefundOwed
from ticketing.payments.refunds import parked_refunds


async def _refunds(settings: PaymentsSettings, retry: str | None) -> list[str]:
    engine = create_migration_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            if retry is not None:
                await session.execute(
                    sa.update(RefundOwed)
                    .where(RefundOwed.intent_id == retry)
                    .values(parked_at=None, attempts=0)
                )
                await session.commit()
            return [
                f"{r.intent_id}\torder {r.order_id}\t{r.attempts} attempts\t{r.last_error}"
                for r in await parked_refunds(session)
            ]
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.payments")
    commands = parser.add_subparsers(dest="command", required=True)
    refunds = commands.add_parser("refunds", help="list parked refunds")
    refunds.add_argument("--retry", metavar="INTENT", help="queue a parked refund again")
    args = parser.parse_args(argv)
    lines = asyncio.run(_refunds(PaymentsSettings(), args.retry))
    print("\n".join(lines) if lines else "no parked refunds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
