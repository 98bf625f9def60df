"""Serve lab_project from a separate uvicorn process.

The in-kernel server shares a loop (and a core) with the cells that call it. A separate
process is what a deployment looks like: chat across processes over Redis, and load tests
whose client must not run on the server's loop, need one.

The default app is ``DEFAULT_APP``, which ``LAB_ASGI`` chooses (stock, fast or lean; see
``helpers.server.inprocess``); the child inherits ``LAB_ASGI`` with the rest of the environment.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import httpx

from helpers.server.base import Server
from helpers.server.child import ChildProcess
from helpers.server.inprocess import DEFAULT_APP, free_port

__all__ = ["ProcessServer", "start_process"]


class ProcessServer(ChildProcess, Server):
    """lab_project under ``python -m uvicorn`` in a child process.

    Subclasses for other programs override ``command()`` and, when the program does not serve
    lab_project's ``/health/``, ``ready()``.
    """

    what = "the server process"

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
        ChildProcess.__init__(self, env=env)
        Server.__init__(self, host=host, port=port or free_port(host))
        self.app = app
        self.workers = workers
        self.extra_args = list(extra_args or [])

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app,
            "--host", self.host, "--port", str(self.port),
            "--workers", str(self.workers),
            "--log-level", "warning", "--no-access-log",
            "--timeout-graceful-shutdown", "3",
            "--reset-contextvars",  # see LabServer: keeps one context (and thread) per request
            "--http", "lab_project.header_limits:BoundedHeadersProtocol",  # 431 past 32 KiB of headers
            *self.extra_args,
        ]  # fmt: skip

    async def start(self, timeout: float = 60.0) -> ProcessServer:
        """Start the process; return once ``ready()`` (``/health/`` answers), or raise with its log."""
        if not self.is_running:
            await self.spawn_and_wait(self.ready, timeout)
        return self

    async def ready(self) -> bool:
        """True once the process serves: lab_project's ``/health/`` answers 200."""
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                return (await client.get(self.url + "health/")).status_code == 200
        except httpx.TransportError:
            return False


async def start_process(*, timeout: float = 60.0, **options) -> ProcessServer:
    """Start lab_project in a separate uvicorn process (see ``ProcessServer`` for options).

    The generous timeout is for a busy machine: a process pinned to one shared core (chapter 13)
    once took over 30 s to import Django and answer ``/health/`` on a loaded 2-core box.

    ``env={"REDIS_URL": "off"}`` runs it without Redis; by default it inherits this process's
    environment, so it shares the same database and Redis as the kernel.
    """
    return await ProcessServer(**options).start(timeout=timeout)
