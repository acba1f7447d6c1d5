"""``python -m ticketing.auth ban EMAIL`` (settings from the AUTH_* environment)."""

import argparse
import asyncio
import sys

from ticketing.auth.commands import ban_user
from ticketing.auth.config import AuthSettings
from ticketing.common.errors import CustomError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.auth")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ban", help="ban a user everywhere").add_argument("email")
    args = parser.parse_args(argv)
    try:
        user = asyncio.run(ban_user(AuthSettings(), args.email))
    except CustomError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"banned {user.email} ({user.id})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
