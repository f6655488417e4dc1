"""The API as a real server process, and an HTTP client that keeps every answer it received.

``ApiServer`` runs ``python starter.py api serve --port 0 --port-file F`` with a given
environment, waits for the port and for ``/healthz``, logs to a file, and stops by pid.
``ApiClient`` is one identity's view of it (a bearer token or none); every response any
client got is kept in a ``Transcript`` so the secret scan can read all of them at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ROOT

PROBLEM_JSON = "application/problem+json"
PREFIX = "/api/servicetitan"


@dataclass
class Transcript:
    """Every request line and response (status, headers, body) the clients saw."""

    entries: list[str] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        request = response.request
        self.entries.append(
            f"{request.method} {request.url}\n{response.status_code}\n{headers}\n"
            f"{response.content.decode(errors='replace')}"
        )

    def text(self) -> str:
        return "\n".join(self.entries)


@dataclass
class ApiServer:
    """``starter.py api serve`` on a free loopback port, with its own log file."""

    env: dict[str, str]
    workdir: Path
    name: str = "api"
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, ready_timeout: float = 90.0) -> ApiServer:
        port_file = self.workdir / f"{self.name}-{os.getpid()}.port"
        port_file.unlink(missing_ok=True)
        environment = {**os.environ, **self.env, "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "starter.py", "api", "serve", "--host", "127.0.0.1", "--port", "0",
             "--port-file", str(port_file)],
            cwd=ROOT,
            env=environment,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"api server exited with {self.process.returncode}:\n{self.logs()[-4000:]}"
                )
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text().strip())
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                        return self
            time.sleep(0.1)
        raise TimeoutError(f"api server not ready after {ready_timeout:.0f}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class ApiClient:
    """One identity talking to the server: ``token`` None sends no Authorization header.

    ``http`` is a shared connection pool (keep-alive); without one each request connects anew.
    """

    base_url: str
    token: str | None
    transcript: Transcript
    label: str = ""
    http: httpx.Client | None = field(default=None, repr=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        response = (self.http or httpx).request(
            method,
            f"{self.base_url}{path}",
            json=json_body,
            params=params,
            headers=sent,
            content=content,
            timeout=60,
        )
        self.transcript.record(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status and a stable ``type`` URI."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(PROBLEM_JSON), (content_type, response.text[:300])
    body = json.loads(response.content)
    assert body["status"] == status, body
    assert str(body["type"]).startswith("https://servicetitan-sync.dev/problems/"), body
    assert body.get("title"), body
    return dict(body)
