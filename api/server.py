"""Serving the API with uvicorn: as its own process (``starter.py api serve``) or as a task
beside the worker (``./dev run``).

uvicorn's own signal handling is switched off: the process that runs the server decides when
it stops (the worker on its own SIGINT/SIGTERM, ``serve_forever`` likewise), then asks uvicorn
to finish the requests in flight. Port 0 picks a free port; the port file (written once the
server listens, removed when it stops) tells a test or script which one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.wiring import build_context
from core.logging import get_logger
from core.settings import Settings
from servicetitan.http import close_shared_http_client

log = get_logger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 10


class ApiServer(uvicorn.Server):
    """uvicorn without signal handlers of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (uvicorn listens on it); port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@dataclass
class RunningApi:
    server: ApiServer
    task: asyncio.Task[None]
    sock: socket.socket
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):  # noqa: S104 - for display: where to point a browser
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Finish requests in flight (for a few seconds at most), then close."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), GRACEFUL_SHUTDOWN_SECONDS)
        except TimeoutError:
            self.server.force_exit = True
            await self.task
        finally:
            self.sock.close()


async def start(app: FastAPI, host: str, port: int) -> RunningApi:
    """Serve ``app`` from a task of the running loop; returns once it accepts connections."""
    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,  # uvicorn's records go through the process's (redacting) logging
        access_log=True,
        server_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = ApiServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="api-server")
    while not server.started:
        if task.done():
            sock.close()
            await task
            raise RuntimeError("the API server did not start (see the log above)")
        await asyncio.sleep(0.01)
    return RunningApi(server, task, sock, host, sock.getsockname()[1])


def _write_port_file(port_file: Path, port: int) -> None:
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(port_file)


async def serve_forever(
    settings: Settings, host: str, port: int, port_file: Path | None = None
) -> None:
    """``starter.py api serve``: until SIGINT/SIGTERM; the port file exists while serving."""
    owned = await asyncio.to_thread(build_context, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        running = await start(create_app(settings, context=owned), host, port)
        if port_file is not None:
            _write_port_file(port_file, running.port)
        log.info("api serving", url=running.url, docs=f"{running.url}/docs")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([running.task, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        await running.stop()
        log.info("api stopped")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if port_file is not None:
            for path in (port_file, port_file.with_name(port_file.name + ".tmp")):
                path.unlink(missing_ok=True)
        await owned.database.close()
        await close_shared_http_client()  # the pool of connection tests and reconciles
