"""``python -m ticketing.query rebuild`` (settings from the QUERY_* environment)."""

import argparse
import asyncio
import sys

from ticketing.query.config import QuerySettings
from ticketing.query.rebuild import rebuild_read_model


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.query")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild", help="empty the read model and replay the whole stream")
    parser.parse_args(argv)
    report = asyncio.run(rebuild_read_model(QuerySettings()))
    print(
        f"replayed {report.replayed} events ({report.duplicates} duplicates, "
        f"{report.unknown} unknown, {len(report.unresolved)} unresolved)"
    )
    return 1 if report.unresolved else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
