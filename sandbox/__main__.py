"""``python -m sandbox …`` (see :mod:`sandbox.cli`)."""

from sandbox.cli import main

raise SystemExit(main())
