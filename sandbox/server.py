"""Serving a sandbox over real HTTP with uvicorn: in this process (a thread) or as a command.

Only loopback addresses are accepted: the sandbox has admin endpoints without authentication
and must never be reachable from another machine. The one exception is the docker-compose demo,
where the worker runs in another container and can only reach the sandbox over the compose
network: ``allow_non_loopback=True`` (``--allow-non-loopback`` on the command line) lifts the
check for that case alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from sandbox.app import TruncatedBody, create_app
from sandbox.state import Sandbox

LOOPBACK_NAMES = {"localhost"}


def require_loopback(host: str, *, allow_non_loopback: bool = False) -> None:
    if allow_non_loopback or host in LOOPBACK_NAMES:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(
        f"the sandbox listens on loopback only (127.0.0.1, ::1), not {host!r} "
        "(--allow-non-loopback exists for the docker-compose demo only)"
    )


class _QuietTruncation(logging.Filter):
    """Drop uvicorn's traceback for connections the sandbox cut on purpose (truncate faults)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, TruncatedBody)


def quiet_truncation_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietTruncation) for f in logger.filters):
        logger.addFilter(_QuietTruncation())


def bind(host: str, port: int, *, allow_non_loopback: bool = False) -> socket.socket:
    """A bound (not yet listening) TCP socket; port 0 picks a free port."""
    require_loopback(host, allow_non_loopback=allow_non_loopback)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def make_server(sandbox: Sandbox, log_level: str = "warning") -> uvicorn.Server:
    quiet_truncation_logs()
    config = uvicorn.Config(
        create_app(sandbox),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        server_header=False,
    )
    return uvicorn.Server(config)


@dataclass
class RunningServer:
    """A sandbox served from a background thread (see :func:`serve_in_thread`)."""

    sandbox: Sandbox
    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down; requests still hanging (timeout faults) are abandoned after a second."""
        self.server.should_exit = True
        self.thread.join(min(1.0, timeout))
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


@contextlib.contextmanager
def serve_in_thread(
    sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> Iterator[RunningServer]:
    """Serve ``sandbox`` on ``host:port`` from a daemon thread for the ``with`` block."""
    sock = bind(host, port)
    server = make_server(sandbox, log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    running = RunningServer(sandbox, host, sock.getsockname()[1], server, thread)
    try:
        yield running
    finally:
        running.stop()
        sock.close()


def serve_forever(
    sandbox: Sandbox,
    host: str,
    port: int,
    port_file: Path | None,
    log_level: str = "warning",
    on_ready: Callable[[int], None] | None = None,
    *,
    allow_non_loopback: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM/SIGHUP; write the port to ``port_file`` once listening.

    The port file is removed however serving ends. uvicorn re-raises the stop signal once it
    has shut down; with the default SIGTERM/SIGHUP action that would kill the process before
    any clean-up, so ``_stopping`` turns them into a shutdown and ``SystemExit(0)``.
    """
    sock = bind(host, port, allow_non_loopback=allow_non_loopback)
    actual_port = sock.getsockname()[1]
    server = make_server(sandbox, log_level)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        if port_file is not None:
            tmp = port_file.with_name(port_file.name + ".tmp")
            tmp.write_text(f"{actual_port}\n")
            tmp.replace(port_file)
        if on_ready is not None:
            on_ready(actual_port)
        await task

    try:
        with _stopping(server):
            asyncio.run(main())
    finally:
        sock.close()
        if port_file is not None:
            with contextlib.suppress(FileNotFoundError):
                port_file.unlink()
            with contextlib.suppress(FileNotFoundError):
                port_file.with_name(port_file.name + ".tmp").unlink()


@contextlib.contextmanager
def _stopping(server: uvicorn.Server) -> Iterator[None]:
    """Stop signals end the block through ``finally`` blocks, never by the default action.

    While uvicorn serves, it handles SIGINT and SIGTERM itself and re-raises them once shut
    down: SIGTERM then lands here and raises ``SystemExit(0)``. SIGHUP, which uvicorn ignores,
    asks it to shut down the same way. Outside serving, both raise ``SystemExit(0)`` at once.
    Only the main thread can set handlers; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP and server.started and not server.should_exit:
            server.should_exit = True
            return
        raise SystemExit(0)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
