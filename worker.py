"""Run the worker: ``python worker.py`` (embedded defaults) — see README.md."""

from runtime.main import main

if __name__ == "__main__":
    main()
