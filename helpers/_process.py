"""Serve lab_project from a separate uvicorn process.

The in-kernel server shares a loop (and a core) with the cells that call it. A separate
process is what a deployment looks like: chat across processes over Redis, and load tests
whose client must not run on the server's loop, need one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from helpers._chat import ChatSession, chat
from helpers._errors import LabServerError
from helpers._server import DEFAULT_APP, bind_socket

ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    sock = bind_socket(host, 0)
    try:
        return sock.getsockname()[1]
    finally:
        sock.close()


class ProcessServer:
    """lab_project under ``python -m uvicorn`` in a child process."""

    def __init__(
        self,
        *,
        app: str = DEFAULT_APP,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 1,
        env: Mapping[str, str | None] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self.env_overrides = dict(env or {})
        self.extra_args = list(extra_args or [])
        self._process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(prefix="lab-server-")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app,
            "--host", self.host, "--port", str(self.port),
            "--workers", str(self.workers),
            "--log-level", "warning", "--no-access-log",
            "--timeout-graceful-shutdown", "3",
            "--reset-contextvars",  # see LabServer: keeps one context (and thread) per request
            *self.extra_args,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")
        for key, value in self.env_overrides.items():
            if value is None:
                env.pop(key, None)  # None removes a variable, e.g. REDIS_URL for the in-memory layer
            else:
                env[key] = value
        return env

    async def start(self, timeout: float = 30.0) -> ProcessServer:
        """Start the process; return once ``/health/`` answers, or raise with its log."""
        if self.is_running:
            return self
        self._process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise LabServerError(
                        f"the server process exited with code {self._process.returncode} during start-up:\n{self.log()}"
                    )
                try:
                    if (await client.get(self.url + "health/")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        await self.stop()
        raise LabServerError(f"the server process did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        """What the process printed so far (stdout and stderr)."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn's graceful stop), then SIGKILL after ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    def chat(self, room: str, user: str | None = None, **options) -> ChatSession:
        """A chat session in ``room`` on this process: ``async with process.chat("lobby", user="bob")``."""
        return chat(self, room, user, **options)

    async def __aenter__(self) -> ProcessServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<ProcessServer {self.url} {'running' if self.is_running else 'stopped'}>"


async def start_process(*, timeout: float = 30.0, **options) -> ProcessServer:
    """Start lab_project in a separate uvicorn process (see ``ProcessServer`` for options).

    ``env={"REDIS_URL": None}`` runs it without Redis; by default it inherits this process's
    environment, so it shares the same database and Redis as the kernel.
    """
    return await ProcessServer(**options).start(timeout=timeout)
