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
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import ThreadSensitiveContext

from helpers.clients.asgi import http_scope
from helpers.measure.compare import interleaved
from helpers.measure.stats import lower_quartile, median
from helpers.measure.threads import CountingExecutor

__all__ = ["HandlerTiming", "time_handlers"]


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
        return lower_quartile(self.seconds)

    @property
    def median(self) -> float:
        return median(self.seconds)


async def time_handlers(
    handlers: Mapping[str, Any], path: str, *, requests: int = 1000, warmup: int = 50
) -> dict[str, HandlerTiming]:
    """``GET path`` through each Django ASGIHandler ``requests`` times, taking turns request by
    request, so a burst of load from elsewhere on the machine lands on all of them alike."""
    scope = http_scope(path)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-request") as thread:
        worker = CountingExecutor(thread)

        async def one(name: str, handler: Any) -> tuple[float, int]:
            request, error = handler.create_request(scope, io.BytesIO())
            if request is None:
                raise RuntimeError(f"{name}: the handler refused the request ({error.status_code})")
            calls_before, started = worker.submitted, time.perf_counter()
            async with ThreadSensitiveContext(executor=worker):
                response = await handler.get_response_async(request)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: GET {path} answered {response.status_code}")
            return time.perf_counter() - started, worker.submitted - calls_before

        samples = await interleaved(handlers, one, rounds=requests, warmup=warmup)
    return {
        name: HandlerTiming([seconds for seconds, _ in runs], sum(hops for _, hops in runs))
        for name, runs in samples.items()
    }
