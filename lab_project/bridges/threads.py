"""Which thread runs the sync code that async code hands over with ``sync_to_async``.

The same probe runs inside a view (where Django's ASGI handler has opened a
``ThreadSensitiveContext`` for the request) and in a notebook cell (where nothing has), so a
cell can put the two answers side by side.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, dataclass

from asgiref.sync import SyncToAsync, sync_to_async


def current_thread_name() -> str:
    return threading.current_thread().name


def sleep_then_name(seconds: float) -> str:
    """Blocking work standing in for a sync library call; answers the thread it ran on."""
    time.sleep(seconds)
    return current_thread_name()


@dataclass(frozen=True)
class ProbeRun:
    thread_sensitive: bool
    threads: list[str]  # the thread each call ran on, in call order
    elapsed: float  # seconds for all calls, started together with asyncio.gather

    def as_dict(self) -> dict:
        return asdict(self)


async def probe(*, thread_sensitive: bool, calls: int, seconds: float) -> ProbeRun:
    """Start ``calls`` blocking calls at once through ``sync_to_async`` and see where they ran."""
    bridged = sync_to_async(sleep_then_name, thread_sensitive=thread_sensitive)
    started = time.perf_counter()
    threads = await asyncio.gather(*(bridged(seconds) for _ in range(calls)))
    return ProbeRun(thread_sensitive, list(threads), time.perf_counter() - started)


async def asgiref_shared_thread_name() -> str:
    """The thread behind asgiref's process-wide single-thread executor.

    Thread-sensitive calls made with no ``ThreadSensitiveContext`` (and no outer
    ``async_to_sync``) all queue on this one thread: that is where a notebook cell's
    ``sync_to_async`` code runs.
    """
    return await asyncio.wrap_future(SyncToAsync.single_thread_executor.submit(current_thread_name))
