"""Serve lab_project with uvicorn as a background task of the running event loop.

In a Jupyter kernel that loop is the kernel's own, so cells and the server share one thread:
a cell can ``await`` requests to the server, and a cell that blocks the loop freezes it.

Three things stock ``uvicorn.Server`` does that would hurt inside a kernel are contained here:

* On a bind failure or a failed lifespan start-up it calls ``sys.exit``. Raised inside a
  background task, ``SystemExit`` escapes the event loop and ends the kernel. We bind the
  socket ourselves first (so a taken port is a clear exception before uvicorn runs) and catch
  ``SystemExit`` inside the task.
* It installs its own SIGINT/SIGTERM handlers and re-raises captured signals on exit. The
  kernel owns signals ("Interrupt kernel" must cancel the cell, not the server).
* Its graceful shutdown waits for every open connection without limit unless told otherwise;
  SSE streams and WebSockets never finish by themselves. Stopping here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from helpers._chat import ChatSession, chat
from helpers._django import prepare_database, setup_django
from helpers._errors import LabServerError, PortInUseError

DEFAULT_APP = "lab_project.asgi:application"


class _DropCancelledRequestTracebacks(logging.Filter):
    """Hide uvicorn's "Exception in ASGI application" traceback for a cancelled request.

    When a bounded stop cancels open streams, uvicorn logs each cancellation as if the app had
    crashed. The stop already says how many requests it cancelled; the tracebacks only alarm.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, asyncio.CancelledError) and record.getMessage().startswith("Exception in ASGI"))


logging.getLogger("uvicorn.error").addFilter(_DropCancelledRequestTracebacks())


class _KernelFriendlyServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process (a Jupyter kernel, pytest) owns its signal handlers; leave them alone.
        yield


def load_app(app_path: str = DEFAULT_APP) -> Any:
    """Import ``module:attribute`` and return the ASGI app, with an error that says what to fix."""
    module_name, _, attribute = app_path.partition(":")
    setup_django()
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute or "application")
    except Exception as exc:
        raise LabServerError(
            f"could not load the ASGI app {app_path!r}: {type(exc).__name__}: {exc}. "
            "Fix that error (the traceback above points at it) and call start() again; "
            "the kernel is unharmed."
        ) from exc


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: the OS picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, as asyncio's own create_server uses: asyncio sets TCP_NODELAY only on
    # accepted sockets whose proto says TCP. Without it Nagle holds a response's body until
    # the client ACKs its headers — a ~40 ms stall on every request of a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # SO_REUSEADDR lets a restarted server take its port back from TIME_WAIT at once; on Linux
    # it still refuses a port that another socket is listening on, so clashes are detected.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {host} is already in use (another program, or a lab server "
                "started elsewhere). Pass port=0 to let the OS pick a free port, or stop "
                "whatever holds it."
            ) from exc
        raise LabServerError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.setblocking(False)
    return sock


def lab_uvicorn_config(app: Any, *, stop_timeout: float, log_level: str) -> uvicorn.Config:
    """The uvicorn settings of every lab server that runs inside this process."""
    return uvicorn.Config(
        app,
        lifespan="on",
        log_level=log_level,
        log_config=None,  # keep the kernel's logging configuration as the user left it
        access_log=False,
        timeout_graceful_shutdown=stop_timeout,
        # Each request starts from an empty context. Without it, a request that paused
        # reading (a body over 64 KiB) leaks its context into later requests on the same
        # connection (CPython issue 140947), and with it Django's per-request
        # ThreadSensitiveContext: those requests would then share one thread.
        reset_contextvars=True,
    )


class LabServer:
    """One uvicorn server for lab_project, running as a task on the current event loop."""

    def __init__(
        self,
        app: Any = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stop_timeout: float = 3.0,
        log_level: str = "warning",
    ) -> None:
        if app is None:
            app = load_app()
        self.host = host
        self._requested_port = port
        self.stop_timeout = stop_timeout
        self._config = lab_uvicorn_config(app, stop_timeout=stop_timeout, log_level=log_level)
        self._server: _KernelFriendlyServer | None = None
        self._task: asyncio.Task | None = None
        self._socket: socket.socket | None = None
        self._failure: BaseException | None = None
        self.port: int | None = None

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base HTTP URL, ending in ``/``."""
        return f"http://{self._netloc}/"

    @property
    def ws_url(self) -> str:
        """Base WebSocket URL, ending in ``/``."""
        return f"ws://{self._netloc}/"

    @property
    def _netloc(self) -> str:
        if self.port is None:
            raise LabServerError("the server has not been started: call await server.start()")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return bool(self._task and not self._task.done() and self._server and self._server.started)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, timeout: float = 15.0) -> LabServer:
        """Start serving; return once the socket accepts connections, or raise LabServerError."""
        if self.is_running:
            return self
        self._failure = None
        self._socket = bind_socket(self.host, self._requested_port)
        self.port = self._socket.getsockname()[1]
        self._server = _KernelFriendlyServer(self._config)
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
            failure = self._failure
            await self._abort()
            raise LabServerError(
                "the server stopped during start-up"
                + (f" ({type(failure).__name__}: {failure})" if failure else "")
                + "; see the log above for uvicorn's reason. The kernel is unharmed."
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

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def chat(self, room: str, user: str | None = None, **options: Any) -> ChatSession:
        """A chat session in ``room`` on this server: ``async with server.chat("lobby", user="alice")``."""
        return chat(self, room, user, **options)

    async def __aenter__(self) -> LabServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        where = self.url if self.port is not None else "not started"
        return f"<LabServer {where} {state}>"


_current: dict[asyncio.AbstractEventLoop, LabServer] = {}


def _forget(server: LabServer) -> None:
    for loop, known in list(_current.items()):
        if known is server:
            del _current[loop]


def current_server() -> LabServer | None:
    """The server ``start()`` runs on this event loop, if any."""
    server = _current.get(asyncio.get_running_loop())
    return server if server and server.is_running else None


async def _prepare_database_or_explain(*, fresh: bool) -> None:
    try:
        await prepare_database(fresh=fresh)
    except Exception as exc:
        raise LabServerError(
            f"could not set up the lab's database: {type(exc).__name__}: {exc}. Check "
            "DATABASE_URL (unset means the SQLite file in LAB_DATA_DIR) and DJANGO_SETTINGS_MODULE, "
            "then call start() again; the kernel is unharmed."
        ) from exc


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
            await _prepare_database_or_explain(fresh=True)
        return running
    await _prepare_database_or_explain(fresh=fresh_db)
    server = LabServer(load_app(app), host=host, port=port, stop_timeout=stop_timeout)
    await server.start(timeout=timeout)
    _current[asyncio.get_running_loop()] = server
    return server
