"""uvicorn inside this process: the socket, the settings and the app every in-process lab
server (``LabServer`` on this loop, ``ThreadServer`` on a thread of its own) shares.

Three things stock ``uvicorn.Server`` does that would hurt inside a kernel are contained here
and in the servers:

* On a bind failure or a failed lifespan start-up it calls ``sys.exit``. Raised inside a
  background task, ``SystemExit`` escapes the event loop and ends the kernel. We bind the
  socket ourselves first (so a taken port is a clear exception before uvicorn runs) and the
  servers catch ``SystemExit``.
* It installs its own SIGINT/SIGTERM handlers and re-raises captured signals on exit. The
  kernel owns signals ("Interrupt kernel" must cancel the cell, not the server).
* Its graceful shutdown waits for every open connection without limit unless told otherwise;
  SSE streams and WebSockets never finish by themselves. Stopping is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from helpers.server.base import Server
from helpers.server.database import prepare_database, setup_django
from helpers.server.errors import LabServerError, PortInUseError
from lab_project.header_limits import BoundedHeadersProtocol

__all__ = ["ASGI_APPS", "DEFAULT_APP", "InProcessServer", "asgi_app_from_env", "KernelFriendlyServer", "bind_socket", "free_port", "lab_uvicorn_config", "load_app", "prepare_database_or_explain"]

# The entry points a lab server can run; LAB_ASGI picks the default for every server the helpers
# start (in process, on a thread, in a child process). Stock unless told otherwise, so the
# chapters teach real Django; ``LAB_ASGI=lean`` runs the whole lab on chapter 13's lean path.
ASGI_APPS = {
    "stock": "lab_project.asgi:application",
    "fast": "lab_project.fast_asgi:application",
    "lean": "lab_project.lean_asgi:application",
}


def asgi_app_from_env() -> str:
    """The ``module:attribute`` that ``LAB_ASGI`` (stock, fast or lean; default stock) names."""
    choice = (os.environ.get("LAB_ASGI") or "stock").strip().lower()
    if choice not in ASGI_APPS:
        raise ValueError(f"LAB_ASGI={choice!r} is not one of {', '.join(ASGI_APPS)} (unset means stock).")
    return ASGI_APPS[choice]


DEFAULT_APP = asgi_app_from_env()


class _DropCancelledRequestTracebacks(logging.Filter):
    """Hide uvicorn's "Exception in ASGI application" traceback for a cancelled request.

    When a bounded stop cancels open streams, uvicorn logs each cancellation as if the app had
    crashed. The stop already says how many requests it cancelled; the tracebacks only alarm.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, asyncio.CancelledError) and record.getMessage().startswith("Exception in ASGI"))


logging.getLogger("uvicorn.error").addFilter(_DropCancelledRequestTracebacks())


class KernelFriendlyServer(uvicorn.Server):
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
        # httptools with a bound on the request line and headers (431 past 32 KiB): stock
        # uvicorn buffers headers of any size.
        http=BoundedHeadersProtocol,
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for a child process to bind)."""
    sock = bind_socket(host, 0)
    try:
        return sock.getsockname()[1]
    finally:
        sock.close()


async def prepare_database_or_explain(*, fresh: bool) -> None:
    try:
        await prepare_database(fresh=fresh)
    except Exception as exc:
        raise LabServerError(
            f"could not set up the lab's database: {type(exc).__name__}: {exc}. Check "
            "DATABASE_URL (unset means the SQLite file in LAB_DATA_DIR) and DJANGO_SETTINGS_MODULE, "
            "then call start() again; the kernel is unharmed."
        ) from exc


class InProcessServer(Server):
    """uvicorn serving ``app`` inside this process; subclasses decide which loop runs it."""

    def __init__(
        self,
        app: Any = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stop_timeout: float = 3.0,
        log_level: str = "warning",
    ) -> None:
        super().__init__(host=host)
        self.app = load_app() if app is None else app
        self._requested_port = port
        self.stop_timeout = stop_timeout
        self._config = lab_uvicorn_config(self.app, stop_timeout=stop_timeout, log_level=log_level)
        self._server: KernelFriendlyServer | None = None
        self._failure: BaseException | None = None

    def _bind(self) -> socket.socket:
        """Bind the port (a clash raises here, before uvicorn) and make a fresh uvicorn server."""
        self._failure = None
        sock = bind_socket(self.host, self._requested_port)
        self.port = sock.getsockname()[1]
        self._server = KernelFriendlyServer(self._config)
        return sock

    def _failure_words(self) -> str:
        failure = self._failure
        return f" ({type(failure).__name__}: {failure})" if failure else ""
