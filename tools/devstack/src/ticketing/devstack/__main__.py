"""``python -m ticketing.devstack up|seed|config``: run the platform, fill it with demo data,
or regenerate the README's configuration section."""

from __future__ import annotations

import argparse
import sys
import warnings

from ticketing.devstack.configuration import write_readme
from ticketing.devstack.seed import seed
from ticketing.devstack.stack import DevConfig, run


def main(argv: list[str]) -> int:
    # pgserver asks platformdirs for a runtime dir; its fallback is fine, the warning is noise
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    parser = argparse.ArgumentParser(prog="python -m ticketing.devstack")
    parser.add_argument("command", choices=["up", "seed", "config"])
    args = parser.parse_args(argv)
    try:
        config = DevConfig.from_environment()
    except ValueError as error:
        print(f"make dev: {error}", file=sys.stderr)
        return 2
    if args.command == "up":
        return run(config)
    if args.command == "config":
        write_readme()
        return 0
    return seed(f"http://127.0.0.1:{config.port}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
