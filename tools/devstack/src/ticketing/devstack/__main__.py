"""``python -m ticketing.devstack up|seed|config``: run the platform, fill it with demo data,
or regenerate the README's configuration section."""

from __future__ import annotations

import argparse
import sys
import warnings

from ticketing.devstack.processes import DevConfig


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
    # Each command imports what it needs: `up` stays running as the supervisor for the whole
    # session, and the others' pydantic-settings and httpx would be 13 MiB of it.
    if args.command == "up":
        from ticketing.devstack.stack import run

        return run(config)
    if args.command == "config":
        from ticketing.devstack.configuration import write_readme

        write_readme()
        return 0
    from ticketing.devstack.seed import seed

    return seed(f"http://127.0.0.1:{config.port}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
