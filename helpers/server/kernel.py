"""Serve lab_project with uvicorn as a background task of the running event loop.

In a Jupyter kernel that loop is the kernel's own, so cells and the server share one thread:
a cell can ``await`` requests to the server, and a cell that blocks the loop freezes it.
See ``helpers.server.inprocess`` for what is contained so that uvicorn cannot hurt the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from helpers.server.errors import LabServerError
from helpers.server.inprocess import (
    DEFAULT_APP,
    InProcessServer,
    load_app,
    prepare_database_or_explain,
)
from helpers.server.playground import Playground, PlaygroundSocket, django_handler

__all__ = ["LabServer", "current_server", "start"]


class LabServer(InProcessServer):
    """One uvicorn server for lab_project, running as a task on the current event loop."""

    def __init__(self, app: Any = None, **options: Any) -> None:
        super().__init__(app, **options)
        self._task: asyncio.Task | None = None
        self._socket: socket.socket | None = None

    @property
    def is_running(self) -> bool:
        return bool(self._task and not self._task.done() and self._server and self._server.started)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, timeout: float = 15.0) -> LabServer:
        """Start serving; return once the socket accepts connections, or raise LabServerError."""
        if self.is_running:
            return self
        self._socket = self._bind()
        self._task = asyncio.get_running_loop().create_task(self._serve_contained(), name=f"lab-server:{self.port}")
        try:
            async with asyncio.timeout(timeout):
                while not self._server.started:
                    if self._task.done():
                        break
                    await asyncio.sleep(0.01)
        except TimeoutError:
            await self._abort()
            raise LabServerError(
                f"the server did not start within {timeout} s; if the app's start-up is slow, "
                "pass a larger timeout"
            ) from None
        except BaseException:  # the cell was interrupted: leave nothing half-started
            await self._abort()
            raise
        if not self._server.started:
            failure, words = self._failure, self._failure_words()
            await self._abort()
            raise LabServerError(
                f"the server stopped during start-up{words}; see the log above for uvicorn's reason. "
                "The kernel is unharmed."
            ) from failure
        return self

    async def _serve_contained(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        except SystemExit as exc:
            # uvicorn's way of saying "start-up failed"; as an exception it would end the kernel.
            self._failure = exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failure = exc

    async def stop(self, timeout: float | None = None) -> None:
        """Stop within ``timeout`` (default: ``stop_timeout`` + 2 s); afterwards the port is free.

        Open streams and WebSockets get ``stop_timeout`` seconds to finish; then uvicorn
        cancels their tasks (so their clean-up code runs), and if even that hangs we cancel
        the server task itself.
        """
        if self._task is None:
            return
        bound = self.stop_timeout + 2.0 if timeout is None else timeout
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=bound)
        except TimeoutError:
            self._server.force_exit = True
            await self._abort()
        finally:
            self._close_socket()
            self._task = None
            _forget(self)

    async def _abort(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close_socket()
        self._task = None

    # -- your own code, on this server (chapter 18; see helpers.server.playground) --------------
    @property
    def playground(self) -> Playground:
        """What cells mounted on this server, and the errors their code raised (``.errors``)."""
        if getattr(self, "_playground", None) is None:
            self._playground = Playground()
        return self._playground

    def view(self, route: str, *, name: str | None = None):
        """Decorator: serve a cell's view at ``route`` (under ``try/``); see ``Playground.view``."""
        return self.playground.view(route, name=name)

    def consumer(self, route: str):
        """Decorator: serve a cell's Channels consumer at ``route`` (under ``ws/try/``)."""
        return self.playground.consumer(route)

    def unmount(self, route: str) -> None:
        self.playground.unmount(route)

    def mounted(self) -> list[str]:
        return self.playground.mounted()

    def experiment(self, *, middleware=None, add_middleware=(), **settings: Any):
        """``with server.experiment(add_middleware=[...], DEBUG=True):`` — undone when the block ends."""
        return self.playground.experiment(django_handler(self.app), middleware=middleware, add_middleware=add_middleware, **settings)

    def websocket(self, route: str, **options: Any) -> PlaygroundSocket:
        """``async with server.websocket("ws/try/echo/") as ws:`` a session with a mounted consumer."""
        return self.playground.websocket(self.url, route, **options)

    async def trace(self, path: str, *, method: str = "GET"):
        """Where one request to ``path`` ran: loop, thread hops, middleware, signals, queries.

        The request goes through this server's own Django handler (same middleware, same URLs,
        same database) in process, so the trace holds this request only. See helpers.measure.trace.
        """
        from helpers.measure.trace import trace_request

        return await trace_request(django_handler(self.app), path, method=method)

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


_current: dict[asyncio.AbstractEventLoop, LabServer] = {}


def _forget(server: LabServer) -> None:
    for loop, known in list(_current.items()):
        if known is server:
            del _current[loop]


def current_server() -> LabServer | None:
    """The server ``start()`` runs on this event loop, if any."""
    server = _current.get(asyncio.get_running_loop())
    return server if server and server.is_running else None


async def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    fresh_db: bool = False,
    app: str = DEFAULT_APP,
    timeout: float = 15.0,
    stop_timeout: float = 3.0,
) -> LabServer:
    """Boot lab_project under uvicorn on this event loop and return the running server.

    ``port=0`` (the default) lets the OS choose a free port. ``fresh_db=True`` empties the
    database first, so a notebook run from the top always sees the same ids. Calling
    ``start()`` again while a server runs on this loop returns that server.
    """
    running = current_server()
    if running is not None:
        if fresh_db:
            await prepare_database_or_explain(fresh=True)
        return running
    await prepare_database_or_explain(fresh=fresh_db)
    server = LabServer(load_app(app), host=host, port=port, stop_timeout=stop_timeout)
    await server.start(timeout=timeout)
    _current[asyncio.get_running_loop()] = server
    return server
