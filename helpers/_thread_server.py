"""Serve lab_project with uvicorn on a thread of its own, with an event loop of its own.

The in-kernel server shares the kernel's loop with the cells: a view that blocks that loop
freezes the cell measuring it as well. On its own thread the server can be blocked (or
loaded) while the cell's loop keeps time. It is still this process — the same Django
settings, database and in-memory state — and the GIL is shared, so for throughput figures use
a separate process (``start_process``) instead.

uvicorn only installs signal handlers on the main thread, so none are touched here; stopping
is bounded like the in-kernel server's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any


from helpers._errors import LabServerError
from helpers._server import (
    DEFAULT_APP,
    _KernelFriendlyServer,
    _prepare_database_or_explain,
    bind_socket,
    lab_uvicorn_config,
    load_app,
)


class ThreadServer:
    """One uvicorn server for lab_project on a daemon thread running its own event loop."""

    def __init__(
        self,
        app: Any = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stop_timeout: float = 3.0,
        log_level: str = "warning",
    ) -> None:
        self.app = load_app() if app is None else app
        self.host = host
        self._requested_port = port
        self.stop_timeout = stop_timeout
        self._log_level = log_level
        self.port: int | None = None
        self._server: _KernelFriendlyServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise LabServerError("the server has not been started: call await server.start()")
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:]

    @property
    def is_running(self) -> bool:
        return bool(self._thread and self._thread.is_alive() and self._server and self._server.started)

    # -- the server thread ---------------------------------------------------------------------
    def _run(self, sock) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._main_task = asyncio.current_task()
            try:
                await self._server.serve(sockets=[sock])
            except SystemExit as exc:  # uvicorn's "start-up failed"; it must not end the thread silently
                self._failure = exc
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                self._failure = exc
            finally:
                sock.close()

        asyncio.run(serve())

    # -- lifecycle -----------------------------------------------------------------------------
    def start_blocking(self, timeout: float = 15.0) -> ThreadServer:
        """Start and wait (blocking this thread) until the socket accepts connections."""
        if self.is_running:
            return self
        self._failure = None
        sock = bind_socket(self.host, self._requested_port)
        self.port = sock.getsockname()[1]
        config = lab_uvicorn_config(self.app, stop_timeout=self.stop_timeout, log_level=self._log_level)
        self._server = _KernelFriendlyServer(config)
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"lab-thread-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise LabServerError(
                    "the server thread stopped during start-up"
                    + (f" ({type(self._failure).__name__}: {self._failure})" if self._failure else "")
                )
            if time.monotonic() > deadline:
                self.stop_blocking()
                raise LabServerError(f"the server thread did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop_blocking(self, timeout: float | None = None) -> None:
        """Stop within ``timeout`` (default ``stop_timeout`` + 2 s); afterwards the port is free."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        bound = self.stop_timeout + 2.0 if timeout is None else timeout
        self._server.should_exit = True
        thread.join(bound)
        if thread.is_alive() and self._loop is not None and self._main_task is not None:
            # Something on the server's loop ignores the graceful stop: cancel the server itself.
            self._server.force_exit = True
            self._loop.call_soon_threadsafe(self._main_task.cancel)
            thread.join(2.0)
        if thread.is_alive():
            raise LabServerError(
                "the server thread did not stop: a view is blocking its event loop (time.sleep, "
                "a sync call). It is a daemon thread and ends with the process."
            )

    async def start(self, timeout: float = 15.0) -> ThreadServer:
        return await asyncio.to_thread(self.start_blocking, timeout)

    async def stop(self, timeout: float | None = None) -> None:
        await asyncio.to_thread(self.stop_blocking, timeout)

    async def __aenter__(self) -> ThreadServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "not started"
        return f"<ThreadServer {where} {'running' if self.is_running else 'stopped'}>"


async def start_thread_server(
    *, app: str = DEFAULT_APP, port: int = 0, fresh_db: bool = False, timeout: float = 15.0
) -> ThreadServer:
    """Boot lab_project under uvicorn on a new thread with its own event loop; return it running."""
    await _prepare_database_or_explain(fresh=fresh_db)
    return await ThreadServer(load_app(app), port=port).start(timeout)
