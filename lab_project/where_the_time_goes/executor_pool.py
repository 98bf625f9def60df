"""Single-thread executors lent to one request at a time, then kept for the next one.

Stock Django gives every request a brand-new single-thread executor: the thread starts on the
request's first thread-sensitive ``sync_to_async`` call and is joined, from yet another new
thread, when the request ends. This pool keeps those executors instead.

The rules that make reuse safe:

* One request per executor. ``acquire`` hands out an idle executor or makes a new one; it never
  waits for another request to finish (see ``acquire`` for why).
* Back in the pool only when its work is done. ``release`` queues a clean-up job on the thread.
  If the request left work running there (a sync view still running after a disconnect, say),
  the executor becomes idle only when that clean-up completes; otherwise at once, because one
  worker thread runs jobs in order: the next request's jobs queue behind the clean-up.
* The clean-up does for Django what a thread exit would: it drops the thread's database
  connection wrappers (``django.db.connections`` is thread-critical, i.e. per thread), so the
  next request opens its own, exactly as on a fresh thread.
* Bounded: at most ``max_idle`` executors wait in the pool; more are shut down on return.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

logger = logging.getLogger("lab")


@dataclass
class PoolCounts:
    """How executors were obtained and retired, for tests and the chapter's figures."""

    created: int = 0
    reused: int = 0
    retired: int = 0
    idle: int = 0
    lent: int = 0


def forget_request_state() -> None:
    """Run on the worker thread after a request: what the thread's exit would have dropped.

    Django keeps database connections per thread. On a fresh thread per request each request
    opens its own connection and the old wrapper dies with the old thread (closed at
    ``request_finished`` when ``CONN_MAX_AGE`` is 0; left to the garbage collector otherwise).
    Deleting the wrappers here gives a reused thread the same outcome.
    """
    from django.db import connections

    for alias in connections:
        try:
            del connections[alias]
        except AttributeError:  # this thread never touched that alias
            pass


class RequestExecutor(ThreadPoolExecutor):
    """A single-thread executor that knows whether any job it was given is still unfinished."""

    def __init__(self, thread_name_prefix: str) -> None:
        super().__init__(max_workers=1, thread_name_prefix=thread_name_prefix)
        self._unfinished = 0
        self._count_lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._count_lock:
            self._unfinished += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        # Registered before asyncio's own callback (run_in_executor wraps the future after
        # submit returns), so the count drops before the awaiting coroutine can resume.
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future | None) -> None:
        with self._count_lock:
            self._unfinished -= 1

    @property
    def busy(self) -> bool:
        with self._count_lock:
            return self._unfinished > 0


class ExecutorPool:
    """Idle single-thread executors for thread-sensitive request code."""

    def __init__(
        self,
        max_idle: int = 256,
        thread_name_prefix: str = "lab-request",
        *,
        cleanup: Callable[[], None] = forget_request_state,
        on_retire: Callable[[], None] | None = None,
    ) -> None:
        """``cleanup`` runs on the thread after each request; ``on_retire`` before its thread stops
        (the lean handler closes the thread's kept database connections there)."""
        if max_idle < 0:
            raise ValueError(f"max_idle must be >= 0, got {max_idle}")
        self.max_idle = max_idle
        self.thread_name_prefix = thread_name_prefix
        self.cleanup = cleanup
        self.on_retire = on_retire
        self._idle: deque[RequestExecutor] = deque()
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._returning = 0  # released, clean-up not finished yet
        self._counts = PoolCounts()
        _pools.add(self)

    def acquire(self) -> RequestExecutor:
        """An executor that no other in-flight request holds.

        When none is idle a new one is made (what stock Django does for every request) rather
        than waiting: a request that waited for another request's executor could wait for
        ever — an SSE stream holds its executor for the stream's whole life, and a view that
        calls its own server would wait for itself.
        """
        with self._lock:
            self._counts.lent += 1
            if self._idle:
                self._counts.reused += 1
                return self._idle.pop()  # most recently used first: its thread is warm
            self._counts.created += 1
        return RequestExecutor(self.thread_name_prefix)

    def release(self, executor: RequestExecutor) -> None:
        """Give ``executor`` back once nothing of its request is left on it. Never blocks.

        Usually the request's jobs have all finished: the clean-up job is queued and the
        executor is idle at once — whatever the next request submits runs after the clean-up,
        on the same one thread. If a job is still pending or running (a sync view the client
        gave up on), the executor comes back only when the clean-up, queued behind it, is done.
        """
        with self._lock:
            self._counts.lent -= 1
            self._returning += 1
        left_over_work = executor.busy
        try:
            cleanup = executor.submit(self.cleanup)
        except RuntimeError:  # shut down already (interpreter exit): nothing runs on it any more
            self._cleaned(executor, None, put_back=False)
            return
        if left_over_work:
            cleanup.add_done_callback(lambda done: self._cleaned(executor, done, put_back=True))
        else:
            self._put_back(executor)
            cleanup.add_done_callback(lambda done: self._cleaned(executor, done, put_back=False))

    def _put_back(self, executor: RequestExecutor) -> None:
        with self._lock:
            keep = len(self._idle) < self.max_idle
            if keep:
                self._idle.append(executor)
            else:
                self._counts.retired += 1
        if not keep:
            self._retire(executor)

    def _retire(self, executor: RequestExecutor) -> None:
        if self.on_retire is not None:
            try:
                executor.submit(self.on_retire)  # queued: runs before the worker exits
            except RuntimeError:  # already shut down
                pass
        executor.shutdown(wait=False)  # the worker exits on its own; nobody waits for it

    def _cleaned(self, executor: RequestExecutor, done: Future | None, put_back: bool) -> None:
        # Runs on the executor's own thread, as the clean-up job's done-callback.
        failed = done is None or done.exception() is not None
        if failed and done is not None:
            logger.error("lab: per-request clean-up failed: %r", done.exception())
        if put_back and not failed:
            self._put_back(executor)
        elif put_back or done is None:
            with self._lock:
                self._counts.retired += 1
            self._retire(executor)
        with self._lock:
            self._returning -= 1
            self._returned.notify_all()

    def counts(self) -> PoolCounts:
        with self._lock:
            return PoolCounts(**{**self._counts.__dict__, "idle": len(self._idle)})

    def wait_returned(self, timeout: float = 5.0) -> bool:
        """Block until every released executor is cleaned up and back (or retired); False on timeout."""
        with self._lock:
            return self._returned.wait_for(lambda: self._returning == 0, timeout=timeout)

    def _forget_after_fork(self) -> None:
        # A forked child has none of the parent's threads: idle executors there would accept
        # work that no thread ever runs. Start the child with an empty pool.
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._idle = deque()
        self._returning = 0
        self._counts = PoolCounts()

    def shutdown_idle(self) -> None:
        """Stop the idle executors' threads (at server shutdown). The pool stays usable."""
        with self._lock:
            idle, self._idle = list(self._idle), deque()
            self._counts.retired += len(idle)
        for executor in idle:
            self._retire(executor)


_pools: weakref.WeakSet[ExecutorPool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for pool in list(_pools):
        pool._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
