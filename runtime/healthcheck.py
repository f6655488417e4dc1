"""``python -m runtime.healthcheck``: exit 0 while the worker's heartbeat is fresh.

The Dockerfile's HEALTHCHECK. It reads DATA_DIR the same way the worker does (the settings
class), so the two always agree on where the heartbeat lives, and it imports nothing heavy:
it runs every 30 seconds in every worker container.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.settings import ConfigurationError, load_settings
from runtime.health import STALE_AFTER_SECONDS, heartbeat_age, heartbeat_path


def check(data_dir: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy?, one line saying why)."""
    path = heartbeat_path(data_dir)
    age = heartbeat_age(path, now)
    if age is None:
        return False, f"unhealthy: no heartbeat at {path} (worker not polling yet, or stopped)"
    if age > max_age:
        return False, f"unhealthy: last heartbeat {age:.0f}s ago (limit {max_age:.0f}s)"
    return True, f"healthy: last heartbeat {age:.0f}s ago"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.healthcheck", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=STALE_AFTER_SECONDS,
        help="seconds after which the heartbeat counts as stale (default %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    healthy, message = check(settings.data_dir, args.max_age)
    print(message, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
