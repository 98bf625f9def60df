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
* the lean path (``lab_project.lean``): ``count_lean_hops`` counts the jobs one request hands
  its (lazily borrowed) thread; ``wsgi_app`` / ``time_per_wsgi_request`` price the same view
  through Django's WSGIHandler in process, the baseline of "async costs more CPU than WSGI".
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
    "CPU_APPS",
    "ExecutorHandler",
    "InlineExecutor",
    "PerRequest",
    "compare_cpu_per_request",
    "compare_per_request",
    "count_lean_hops",
    "count_sync_hops",
    "raw_json_app",
    "time_per_request",
    "time_per_wsgi_request",
    "wsgi_app",
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


# -- the lean path ---------------------------------------------------------------------------------
async def count_lean_hops(path: str) -> tuple[int, bool]:
    """(jobs one request through a LeanASGIHandler hands its thread, whether it borrowed one)."""
    from lab_project.lean.executor import LazyRequestExecutor
    from lab_project.lean.handler import LeanASGIHandler

    jobs: list[int] = []
    borrowed: list[bool] = []

    class CountingLazyExecutor(LazyRequestExecutor):
        def submit(self, fn, /, *args, **kwargs):
            jobs.append(1)
            return super().submit(fn, *args, **kwargs)

        def release(self) -> None:
            borrowed.append(self.bound is not None)
            super().release()

    class CountingLeanHandler(LeanASGIHandler):
        executor_class = CountingLazyExecutor

    await call_asgi(CountingLeanHandler(), path)
    return len(jobs), borrowed == [True]


def wsgi_app():
    """Django's WSGIHandler, as gunicorn would call it."""
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def _wsgi_environ(path: str) -> dict:
    import io
    import sys

    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip


def _call_wsgi(app, path: str) -> int:
    status = []
    body = app(_wsgi_environ(path), lambda s, headers, exc_info=None: status.append(s))
    try:
        b"".join(body)
    finally:
        body.close()  # sends request_finished, as a WSGI server must
    return int(status[0].split()[0])


def time_per_wsgi_request(app, path: str, requests: int = 300) -> PerRequest:
    """``time_per_request`` for a WSGI app, called on this thread as a WSGI worker thread would."""
    for _ in range(20):
        _call_wsgi(app, path)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        _call_wsgi(app, path)
    return PerRequest((time.perf_counter() - wall) / requests, (time.process_time() - cpu) / requests)


def _stock_asgi():
    from django.core.handlers.asgi import ASGIHandler

    return ASGIHandler()


def _lean_asgi():
    from lab_project.lean.handler import LeanASGIHandler

    return LeanASGIHandler()


# name -> (kind, app factory, path): each server's natural trivial view
CPU_APPS = {
    "WSGI (sync view)": ("wsgi", wsgi_app, "/time/trivial/sync/"),
    "stock ASGI (async view)": ("asgi", _stock_asgi, "/time/trivial/async/"),
    "lean ASGI (async view)": ("asgi", _lean_asgi, "/time/trivial/async/"),
}


async def compare_cpu_per_request(requests: int = 200, rounds: int = 5) -> dict[str, PerRequest]:
    """Best-of-``rounds`` cost per request of WSGI, stock ASGI and lean ASGI, interleaved, in process.

    The WSGI handler runs on a thread of its own (as a gunicorn worker thread does) so the
    event loop's thread stays free; CPU is the whole process's either way.
    """
    import asyncio

    apps = {name: (kind, make(), path) for name, (kind, make, path) in CPU_APPS.items()}

    async def one(name: str, subject) -> PerRequest:
        kind, app, path = subject
        if kind == "wsgi":
            return await asyncio.to_thread(time_per_wsgi_request, app, path, requests)
        return await time_per_request(app, path, requests)

    samples = await interleaved(apps, one, rounds=rounds)
    return {name: PerRequest(min(s.wall for s in values), min(s.cpu for s in values)) for name, values in samples.items()}
