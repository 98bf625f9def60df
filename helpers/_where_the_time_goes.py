"""Chapter 13's instruments: where one request's time goes, and what a server sustains.

* ``request_in_process(app, path)`` sends one GET straight into an ASGI app (no socket, no server), so a
  timing or a profile of it is framework cost only.
* ``count_thread_starts()`` counts threads started, via the interpreter's audit event.
* ``count_sync_hops(app, path)`` counts the thread-sensitive ``sync_to_async`` calls one request
  makes (each one a hop to the request's thread and back).
* ``InlineExecutor`` runs "thread-sensitive" work on the calling thread. A measuring instrument
  only — it answers "what would this request cost with no threads at all?" for views that do
  not touch the database — never something to serve with.
* ``hammer(url, clients, seconds)`` is a deliberately lean keep-alive HTTP/1.1 load client.
  Hand-written on purpose: a client has to spend much less CPU per request than the server it
  measures, and a full-featured client (httpx) costs about as much per request as the faster
  Django handler does, which would make the client the bottleneck on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from asgiref.sync import ThreadSensitiveContext

from lab_project.where_the_time_goes.raw_app import application as raw_json_app  # the floor: no framework

__all__ = ["raw_json_app"]  # re-exported; the rest of the public names are listed in helpers/__init__.py


# -- one request, in process ---------------------------------------------------------------------
def http_scope(path: str, query: bytes = b"") -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def request_in_process(app, path: str) -> tuple[int, bytes]:
    """Send one GET for ``path`` (query allowed) into ``app``; return (status, body).

    The client never disconnects; a cancelled call is a request whose task was cancelled.
    """
    path, _, query = path.partition("?")
    request_sent = False
    finished = asyncio.Event()
    status, body = 0, bytearray()

    async def receive():
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # Django listens for a disconnect while it works: none comes
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    try:
        await app(http_scope(path, query.encode()), receive, send)
    finally:
        finished.set()
    return status, bytes(body)


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
        await request_in_process(app, path)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        await request_in_process(app, path)
    return PerRequest((time.perf_counter() - wall) / requests, (time.process_time() - cpu) / requests)


async def compare_per_request(apps: dict[str, object], path: str, requests: int = 100, rounds: int = 7) -> dict[str, PerRequest]:
    """The best (lowest) cost per request of each app over interleaved rounds.

    Best-of, as ``timeit`` reports: on a shared machine other programs only ever add time, so
    the fastest round is the one closest to what the code itself costs.
    """
    samples: dict[str, list[PerRequest]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            samples[name].append(await time_per_request(app, path, requests))
    return {name: PerRequest(min(s.wall for s in values), min(s.cpu for s in values)) for name, values in samples.items()}


async def _profiled(app, path: str, requests: int, interval: float):
    from pyinstrument import Profiler

    for _ in range(20):
        await request_in_process(app, path)
    profiler = Profiler(interval=interval, async_mode="enabled")
    profiler.start()
    for _ in range(requests):
        await request_in_process(app, path)
    profiler.stop()
    return profiler


def profile_requests(app, path: str, requests: int = 200, interval: float = 0.0002):
    """A pyinstrument profile of ``requests`` sequential requests, run on a fresh event loop in
    another thread (so the profile holds only this work, not the notebook's own loop).

    ``async_mode="enabled"`` charges the time a coroutine waits (for a worker thread, say) to
    the ``await`` that waited, which is where a request's wall-clock time actually goes.
    """
    return in_thread(_profiled, app, path, requests, interval)


def profile_share(profiler, name: str) -> float:
    """Share of a profile's time spent inside ``name`` (``"Class.method"``, a function name, or
    part of a file path), counting nested calls once."""
    root = profiler.last_session.root_frame()

    def matches(frame) -> bool:
        qualified = f"{frame.class_name}.{frame.function}" if frame.class_name else (frame.function or "")
        return name == qualified or name == frame.function or name in (frame.file_path or "")

    def inside(frame) -> float:
        if matches(frame):
            return frame.time
        return sum(inside(child) for child in frame.children)

    return inside(root) / root.time if root.time else 0.0


def profile_top(profiler, lines: int = 12) -> str:
    """The functions that took the most time (self time; ``[await]`` is time spent waiting)."""
    text = profiler.output_text(unicode=True, color=False, flat=True, show_all=True)
    body = [line for line in text.splitlines() if line[:1].isdigit()]
    return "\n".join(body[:lines])


# -- threads -----------------------------------------------------------------------------------------
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
    from concurrent.futures import ThreadPoolExecutor

    inner = ThreadPoolExecutor(max_workers=1)
    counting = ExecutorHandler(handler, lambda: CountingExecutor(inner))
    try:
        await request_in_process(counting, path)
    finally:
        inner.shutdown(wait=True)
    return counting.last_executor.submitted


# -- load ------------------------------------------------------------------------------------------------
@dataclass
class Throughput:
    label: str
    clients: int
    seconds: float
    ok: int
    errors: int
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        return f"{self.label}: ≈{self.rate:.0f} req/s with {self.clients} clients, p50 ≈{p50:.1f} ms, errors ≈{self.errors}"


async def _one_client(host: str, port: int, request: bytes, deadline: float, out: Throughput) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if head[9:12] == b"200":
                out.ok += 1
                out.latencies.append(time.perf_counter() - sent)
            else:
                out.errors += 1
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        out.errors += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def hammer(url: str, *, clients: int, seconds: float, label: str = "") -> Throughput:
    """``clients`` kept-alive connections sending GET ``url`` back to back for ``seconds``."""
    if not 1 <= clients <= 2000 or not 0 < seconds <= 120:
        raise ValueError(f"clients must be 1..2000 and seconds 0..120, got {clients}, {seconds}")
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    out = Throughput(label or url, clients, seconds, 0, 0)
    started = time.perf_counter()
    await asyncio.gather(*(_one_client(parts.hostname, parts.port, request, started + seconds, out) for _ in range(clients)))
    out.seconds = time.perf_counter() - started
    return out


async def compare_served(
    urls: dict[str, str], *, clients: int, seconds: float = 2.0, rounds: int = 3
) -> dict[str, list[Throughput]]:
    """Load each URL in turn, ``rounds`` times interleaved (so drift hits every server alike)."""
    results: dict[str, list[Throughput]] = {label: [] for label in urls}
    for label, url in urls.items():  # warm-up: first connections, lazy imports, caches
        await hammer(url, clients=min(clients, 8), seconds=0.3, label=label)
    for _ in range(rounds):
        for label, url in urls.items():
            results[label].append(await hammer(url, clients=clients, seconds=seconds, label=label))
    return results


def median_rate(runs: list[Throughput]) -> float:
    return statistics.median(run.rate for run in runs)


def best_rate(runs: list[Throughput]) -> float:
    """The best round: on a shared machine other programs only ever take throughput away."""
    return max(run.rate for run in runs)


async def _read_whole_stream(host: str, port: int, request: bytes) -> int:
    """Send one GET and read its (chunked) response to the end; return the event count."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200":
            raise OSError(f"status {head[9:12].decode()}")
        events = 0
        while True:  # chunked transfer coding: size line, data, CRLF; a 0-size chunk ends it
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            events += chunk.count(b"\n\n")
            if size == 0:
                return events
    finally:
        writer.close()


@dataclass
class StreamRun:
    streams: int
    completed: int
    seconds: float
    ideal_seconds: float

    @property
    def share_of_ideal(self) -> float:
        """Ideal completion time / actual (1.0 = every stream finished on schedule)."""
        return self.ideal_seconds / self.seconds if self.completed == self.streams and self.seconds else 0.0


async def stream_many(url: str, *, streams: int, ideal_seconds: float, timeout: float = 120.0) -> StreamRun:
    """Open ``streams`` SSE streams at once and time until the last one has ended."""
    parts = urlsplit(url)
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    started = time.perf_counter()
    results = await asyncio.wait_for(
        asyncio.gather(
            *(_read_whole_stream(parts.hostname, parts.port, request) for _ in range(streams)), return_exceptions=True
        ),
        timeout,
    )
    seconds = time.perf_counter() - started
    completed = sum(1 for r in results if isinstance(r, int) and r > 0)
    return StreamRun(streams, completed, seconds, ideal_seconds)


@contextlib.contextmanager
def on_cpus(cpus: set[int]) -> Iterator[None]:
    """Run the calling thread — and processes or threads it starts meanwhile — on ``cpus`` only.

    Linux keeps CPU affinity per thread and hands it down to children, so a server process
    started inside this block runs every one of its threads on ``cpus``.
    """
    import os

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpus_for_pinning() -> tuple[set[int], set[int]] | None:
    """(server CPU, client CPUs) for a pinned run, or None on a machine with a single CPU."""
    import os

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[-1]}, set(cpus[:-1])


def in_thread(coroutine_function, *args, **kwargs):
    """Run ``coroutine_function(*args)`` on a fresh event loop in another thread (for profiles)."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine_function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - re-raised below on the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=target, name="lab-measure")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
