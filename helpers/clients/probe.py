"""Time a request made from another thread, to see what the event loop is doing meanwhile.

A client on the kernel's own loop cannot observe a frozen loop (it is frozen too), so the
probe runs in a thread of its own with a synchronous httpx client.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

__all__ = ["time_request_in_thread"]

_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lab-probe")


def _timed_get(url: str, timeout: float) -> float:
    started = time.perf_counter()
    httpx.get(url, timeout=timeout).raise_for_status()
    return time.perf_counter() - started


def time_request_in_thread(url: str, *, timeout: float = 30.0) -> asyncio.Future[float]:
    """Start GET ``url`` in a background thread now; ``await`` the result for its seconds.

    Await it (never block on it): the request can only finish while the loop serving it runs.
    """
    return asyncio.wrap_future(_executor.submit(_timed_get, url, timeout))
