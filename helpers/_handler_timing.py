"""Time what a Django handler does per request between "request parsed" and "response ready",
and count how often it leaves the event loop for a worker thread meanwhile.

That span — the middleware chain and the view, ``BaseHandler.get_response_async`` — is where
middleware adaptation happens. Timing it in-process keeps out the HTTP round trip and the
handler's fixed per-request work, whose noise would bury a difference of a hundred µs.

Each request runs in its own ``ThreadSensitiveContext``, as under ``ASGIHandler``, but on one
long-lived worker thread: under ASGIHandler every request gets a fresh thread anyway (it closes
the response with ``sync_to_async``), so the thread's creation is not the middleware's cost.
That worker counts the calls handed to it: the thread hops.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import ThreadSensitiveContext


class _CountingWorker(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="lab-request")
        self.calls = 0

    def submit(self, fn, /, *args, **kwargs):
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


@dataclass
class HandlerTiming:
    """Per-request seconds and thread hops (``sync_to_async`` calls) of one handler."""

    seconds: list[float] = field(default_factory=list)
    hops: int = 0  # over all timed requests

    @property
    def thread_hops(self) -> float:
        """Thread hops per request."""
        return self.hops / len(self.seconds) if self.seconds else 0.0

    @property
    def lower_quartile(self) -> float:
        """The steadiest summary on a busy machine: a request nothing else interrupted."""
        return statistics.quantiles(self.seconds, n=4)[0]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


async def time_handlers(
    handlers: Mapping[str, Any], path: str, *, requests: int = 1000, warmup: int = 50, host: str = "127.0.0.1"
) -> dict[str, HandlerTiming]:
    """``GET path`` through each Django ASGIHandler ``requests`` times, taking turns.

    The handlers alternate request by request (ABBA order), so a burst of load from elsewhere
    on the machine lands on all of them alike.
    """
    scope = {
        "type": "http", "method": "GET", "path": path, "query_string": b"",
        "headers": [(b"host", host.encode())], "server": (host, 80), "client": (host, 50000),
    }
    timings = {name: HandlerTiming() for name in handlers}
    order = list(handlers.items())
    with _CountingWorker() as worker:

        async def one(name: str, handler: Any, record: bool) -> None:
            request, error = handler.create_request(scope, io.BytesIO())
            if request is None:
                raise RuntimeError(f"{name}: the handler refused the request ({error.status_code})")
            calls_before, started = worker.calls, time.perf_counter()
            async with ThreadSensitiveContext(executor=worker):
                response = await handler.get_response_async(request)
            if record:
                timings[name].seconds.append(time.perf_counter() - started)
                timings[name].hops += worker.calls - calls_before
            if response.status_code != 200:
                raise RuntimeError(f"{name}: GET {path} answered {response.status_code}")

        for index in range(warmup + requests):
            for name, handler in order if index % 2 == 0 else order[::-1]:
                await one(name, handler, record=index >= warmup)
    return timings
