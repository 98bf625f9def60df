"""What every lab server has in common, whichever way it runs.

    Server                      address (host, port, url, ws_url), start/stop, ``async with``
    ├── LabServer               uvicorn as a task on this event loop (the kernel's)
    ├── ThreadServer            uvicorn on a thread with its own event loop
    └── ProcessServer           a child process, ready when ``ready()`` says so
        ├── GunicornServer      WSGI, gthread workers
        ├── RunserverServer     Django's development server
        ├── RawBroadcastServer  (helpers.measure.fanout) a framework-free WebSocket broadcast
        └── ThrowawayRedis      (helpers.testing) a redis-server tests may crash

A subclass says how to start, how to stop and whether it runs; the rest is here.
"""

from __future__ import annotations

from typing import Any, Self

from helpers.server.errors import LabServerError

__all__ = ["Server"]


class Server:
    scheme = "http"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port: int | None = port or None

    # -- address ----------------------------------------------------------------------------
    @property
    def netloc(self) -> str:
        if self.port is None:
            raise LabServerError(f"the {type(self).__name__} has not been started: call await server.start()")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, ending in ``/``."""
        return f"{self.scheme}://{self.netloc}/"

    @property
    def ws_url(self) -> str:
        """Base WebSocket URL, ending in ``/``."""
        return f"ws://{self.netloc}/"

    # -- life ---------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        raise NotImplementedError

    async def start(self, timeout: float = 15.0) -> Self:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- conveniences -------------------------------------------------------------------------
    def chat(self, room: str, user: str | None = None, **options: Any):
        """A chat session in ``room`` on this server: ``async with server.chat("lobby", user="alice")``."""
        from helpers.clients.chat import chat  # clients build on servers, not the other way round

        return chat(self, room, user, **options)

    def describe(self) -> str:
        """Extra words for ``repr`` (worker counts and the like)."""
        return ""

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "not started"
        state = "running" if self.is_running else "stopped"
        extra = f" {self.describe()}" if self.describe() else ""
        return f"<{type(self).__name__} {where}{extra} {state}>"
