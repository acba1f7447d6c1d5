"""``python -m ticketing.query rebuild`` (settings from the QUERY_* environment)."""

import argparse
import asyncio
import sys

from ticketing.query.config import QuerySettings
from ticketing.query.rebuild import HistoryLostError, rebuild_read_model


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.query")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "rebuild", help="replace the read model by the last snapshot and the events after it"
    )
    parser.parse_args(argv)
    try:
        report = asyncio.run(rebuild_read_model(QuerySettings()))
    except HistoryLostError as exc:
        print(f"rebuild refused: {exc}", file=sys.stderr)
        return 2
    print(
        f"replayed {report.replayed} events ({report.duplicates} duplicates, "
        f"{report.unknown} unknown, {len(report.unresolved)} unresolved) "
        f"onto {report.restored} rows of the snapshot through event {report.through}"
    )
    return 1 if report.unresolved else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
