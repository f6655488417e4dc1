"""Run the worker: ``python worker.py`` (embedded defaults) — see README.md.

On embedded defaults (``./dev run``) the HTTP API is served beside it (api/embedded.py).
"""

from api.embedded import serve_beside_worker
from runtime.main import main

if __name__ == "__main__":
    main(beside=[serve_beside_worker])
