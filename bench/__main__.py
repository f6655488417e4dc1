"""``python -m bench [--quick]``."""

from bench.cli import main

main()
