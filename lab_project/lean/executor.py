"""A request's thread, borrowed only when the request first runs thread-sensitive sync code.

Stock Django gives every request a new single-thread executor, and the sync receivers of
``request_started`` start its thread at once. ``LazyRequestExecutor`` is what the lean handler
puts in the request's ``ThreadSensitiveContext`` instead: it holds no thread until asgiref
submits the first job, then borrows one from an ``ExecutorPool`` for the rest of the request.
A request that never runs sync code (an SSE stream, an async view on the async cache) never
holds an OS thread.

Unlike the fast handler's pool, the lean pool keeps a thread's *open* database connections
when the request ends, as a WSGI worker thread does: that is what makes ``CONN_MAX_AGE`` > 0
reuse connections. Wrappers without an open connection are dropped, so the next request on the
thread starts as on a fresh one. After every job the worker notes whether its thread still has
connection wrappers: the handler reads that note to know whether ``close_old_connections`` /
``reset_queries`` have anything to do for this request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future

from lab_project.where_the_time_goes.executor_pool import ExecutorPool, RequestExecutor


def _thread_has_connection_wrappers() -> bool:
    from django.db import connections

    return bool(connections.all(initialized_only=True))


def keep_open_connections_only() -> None:
    """After a request, on its thread: drop the connection wrappers that hold no connection.

    An open connection stays (``close_old_connections`` left it open because ``CONN_MAX_AGE``
    allows it); everything else is forgotten as a thread exit would forget it.
    """
    from django.db import connections

    for alias in connections:
        try:
            wrapper = getattr(connections._connections, alias)  # this thread's wrapper, if any
        except AttributeError:
            continue
        if wrapper.connection is None:
            del connections[alias]
    _note_thread_state()


def close_connections_of_this_thread() -> None:
    """Before a pooled thread stops: close what it kept (a dropped DB must not see it linger)."""
    from django.db import connections

    for wrapper in connections.all(initialized_only=True):
        wrapper.close()
    _note_thread_state()


# Written by the worker thread after each job, read by the loop: one bool per thread.
_thread_state: dict[int, bool] = {}


def _note_thread_state() -> None:
    _thread_state[threading.get_ident()] = _thread_has_connection_wrappers()


def _run_and_note(fn: Callable, args: tuple, kwargs: dict):
    try:
        return fn(*args, **kwargs)
    finally:
        _note_thread_state()


class LazyRequestExecutor(Executor):
    """One request's thread-sensitive executor; borrows a pooled thread on the first job."""

    def __init__(self, pool: ExecutorPool) -> None:
        self.pool = pool
        self.bound: RequestExecutor | None = None
        self.worker_ident: int | None = None
        self._lock = threading.Lock()
        # request_started receivers the handler skipped while no thread was bound. If the thread
        # it then borrows kept connections, they run there first, before any of the request's code.
        self.deferred_on_bind: Callable[[], None] | None = None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._lock:
            if self.bound is None:
                self.bound = self.pool.acquire()
                self.bound.submit(self._started_on_thread)
        return self.bound.submit(_run_and_note, fn, args, kwargs)

    def _started_on_thread(self) -> None:
        self.worker_ident = threading.get_ident()
        deferred, self.deferred_on_bind = self.deferred_on_bind, None
        if deferred is not None and _thread_has_connection_wrappers():
            deferred()
        _note_thread_state()

    @property
    def thread_has_connections(self) -> bool:
        """Whether the request's thread may hold database connections now (True when unsure)."""
        if self.bound is None:
            return False
        if self.bound.busy or self.worker_ident is None:
            return True  # work still queued or running: only the thread itself can say
        return _thread_state.get(self.worker_ident, True)

    def release(self) -> None:
        """Give the thread (if one was borrowed) back to the pool. Never blocks."""
        with self._lock:
            bound, self.bound = self.bound, None
        if bound is not None:
            self.pool.release(bound)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The pool owns the threads: shutting the lazy executor down only gives its thread back."""
        self.release()


_default_pool: ExecutorPool | None = None


def default_lean_pool() -> ExecutorPool:
    """The process's pool of request threads for the lean handler."""
    global _default_pool
    if _default_pool is None:
        _default_pool = ExecutorPool(
            # "": ThreadPoolExecutor's own names (ThreadPoolExecutor-N_0), as stock's per-request
            # executors have, so thread names a chapter prints read the same under LAB_ASGI=lean.
            thread_name_prefix="",
            cleanup=keep_open_connections_only,
            on_retire=close_connections_of_this_thread,
        )
    return _default_pool
