"""Chapter 13 (``notebooks/13_where_the_time_goes.ipynb``): where one request's time goes.

The instruments it shares with other chapters live in ``helpers.measure`` (thread counting,
profiles, the lean load client, CPU pinning) and ``helpers.clients.asgi`` (one request in
process). What is only this chapter's lesson is here:

* ``time_per_request`` / ``compare_per_request``: the wall-clock and CPU cost of one request
  through an ASGI app, in process, best of interleaved rounds;
* ``ExecutorHandler`` runs Django's handler with a chosen executor per request, and
  ``count_sync_hops`` uses it to count the thread-sensitive ``sync_to_async`` calls (the hops to
  the request's thread and back) one request makes;
* ``InlineExecutor`` runs "thread-sensitive" work on the calling thread. A measuring instrument
  only — it answers "what would this request cost with no threads at all?" for views that do
  not touch the database — never something to serve with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

from asgiref.sync import ThreadSensitiveContext

from helpers.clients.asgi import call_asgi
from helpers.measure.compare import interleaved
from helpers.measure.threads import CountingExecutor
from lab_project.raw_asgi import app as raw_json_app  # the floor: no framework

__all__ = [
    "ExecutorHandler",
    "InlineExecutor",
    "PerRequest",
    "compare_per_request",
    "count_sync_hops",
    "raw_json_app",
    "time_per_request",
]


@dataclass
class PerRequest:
    """Mean cost of one request: wall-clock seconds, and CPU seconds of the whole process
    (every thread). On a shared machine CPU time is the steadier of the two: other programs
    stretch the wall clock, but hardly the CPU this process spends."""

    wall: float
    cpu: float


async def time_per_request(app, path: str, requests: int = 300) -> PerRequest:
    """Mean cost of ``requests`` sequential requests (after a short warm-up)."""
    for _ in range(20):
        await call_asgi(app, path)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        await call_asgi(app, path)
    return PerRequest((time.perf_counter() - wall) / requests, (time.process_time() - cpu) / requests)


async def compare_per_request(apps: dict[str, object], path: str, requests: int = 100, rounds: int = 7) -> dict[str, PerRequest]:
    """The best (lowest) cost per request of each app over interleaved rounds.

    Best-of, as ``timeit`` reports: on a shared machine other programs only ever add time, so
    the fastest round is the one closest to what the code itself costs.
    """

    async def one(name: str, app) -> PerRequest:
        return await time_per_request(app, path, requests)

    samples = await interleaved(apps, one, rounds=rounds)
    return {name: PerRequest(min(s.wall for s in values), min(s.cpu for s in values)) for name, values in samples.items()}


class InlineExecutor(Executor):
    """Runs each job at once on the submitting thread. A measuring instrument, not a server."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            future.set_exception(exc)
        return future


class ExecutorHandler:
    """Wrap a Django ASGIHandler so each request runs with a given executor factory."""

    def __init__(self, handler, make_executor: Callable[[], Executor]) -> None:
        self.handler = handler
        self.make_executor = make_executor
        self.last_executor: Executor | None = None

    async def __call__(self, scope, receive, send):
        executor = self.last_executor = self.make_executor()
        async with ThreadSensitiveContext(executor=executor):
            await self.handler.handle(scope, receive, send)


async def count_sync_hops(handler, path: str) -> int:
    """How many thread-sensitive sync calls one request through ``handler`` makes."""
    inner = ThreadPoolExecutor(max_workers=1)
    counting = ExecutorHandler(handler, lambda: CountingExecutor(inner))
    try:
        await call_asgi(counting, path)
    finally:
        inner.shutdown(wait=True)
    return counting.last_executor.submitted
