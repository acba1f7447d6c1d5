"""``python -m ticketing.devstack up|seed``: run the platform, or fill it with demo data."""

from __future__ import annotations

import argparse
import sys

from ticketing.devstack.seed import seed
from ticketing.devstack.stack import DevConfig, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.devstack")
    parser.add_argument("command", choices=["up", "seed"])
    args = parser.parse_args(argv)
    config = DevConfig.from_environment()
    if args.command == "up":
        return run(config)
    return seed(f"http://127.0.0.1:{config.port}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
