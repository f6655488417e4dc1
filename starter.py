"""Operator command line: ``python starter.py --help``."""

from cli.app import main

if __name__ == "__main__":
    main()
