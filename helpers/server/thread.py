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


from helpers.server.errors import LabServerError
from helpers.server.inprocess import DEFAULT_APP, InProcessServer, load_app, prepare_database_or_explain

__all__ = ["ThreadServer", "start_thread_server"]


class ThreadServer(InProcessServer):
    """One uvicorn server for lab_project on a daemon thread running its own event loop."""

    def __init__(self, app: Any = None, **options: Any) -> None:
        super().__init__(app, **options)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task | None = None

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
        sock = self._bind()
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"lab-thread-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise LabServerError(f"the server thread stopped during start-up{self._failure_words()}")
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


async def start_thread_server(
    *, app: str = DEFAULT_APP, port: int = 0, fresh_db: bool = False, timeout: float = 15.0
) -> ThreadServer:
    """Boot lab_project under uvicorn on a new thread with its own event loop; return it running."""
    await prepare_database_or_explain(fresh=fresh_db)
    return await ThreadServer(load_app(app), port=port).start(timeout)
