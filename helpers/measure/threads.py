"""Threads, counted: how many a block of code starts, and how many jobs an executor is handed.

Stock Django under ASGI starts threads and hops to them per request; counting them is steadier
than timing them on a shared machine (a count does not change with the load next door).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass

__all__ = ["CountingExecutor", "ThreadStarts", "count_thread_starts"]


class _ThreadStartCounter:
    """One audit hook for the process (hooks cannot be removed); counts while a block is active."""

    def __init__(self) -> None:
        self.active = 0
        self.count = 0
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            sys.addaudithook(self._hook)
            self._installed = True

    def _hook(self, event: str, args: tuple) -> None:
        if self.active and event in ("_thread.start_joinable_thread", "_thread.start_new_thread"):
            self.count += 1


_thread_starts = _ThreadStartCounter()


@dataclass
class ThreadStarts:
    count: int = 0


@contextlib.contextmanager
def count_thread_starts() -> Iterator[ThreadStarts]:
    """``with count_thread_starts() as started: ...``; then ``started.count`` threads began."""
    _thread_starts.install()
    result = ThreadStarts()
    before = _thread_starts.count
    _thread_starts.active += 1
    try:
        yield result
    finally:
        _thread_starts.active -= 1
        result.count = _thread_starts.count - before


class CountingExecutor(Executor):
    """Wraps an executor and counts the jobs submitted to it."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.submitted = 0

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        self.submitted += 1
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)
