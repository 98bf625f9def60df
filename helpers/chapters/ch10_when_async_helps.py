"""Chapter 10's experiments: one function per question, shared by the notebook and lab-bench.

Every experiment loads servers running in *other processes* (see ``start_bench_servers``), so
the client measuring does not share a loop or a GIL with the server measured. Each returns the
raw figures; the notebook prints them, asserts the verdict and draws them, and the benchmark
command saves them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from helpers.measure.compare import interleaved
from helpers.measure.load import LoadResult, combine_results, run_load
from helpers.server.process import ProcessServer
from helpers.measure.process_stats import usage
from helpers.measure.streams import HeldStreams, TokenStreamTimes, hold_sse_streams, read_token_streams
from helpers.server.wsgi import GunicornServer

__all__ = ["BenchServers", "Comparison", "StreamCapacity", "TokenComparison", "measure_cpu_bound", "measure_long_lived", "measure_overhead", "measure_simple_db", "measure_slow_io", "measure_stream_capacity", "measure_sync_behind", "measure_token_streaming", "start_bench_servers"]

# Benchmarks run with DEBUG off: with DEBUG on, Django keeps every SQL query of a request in
# memory and renders its rich error pages — a cost no deployment pays.
BENCH_ENV = {"LAB_DEBUG": "0"}
RAW_ASGI_APP = "lab_project.raw_asgi:app"


@dataclass
class BenchServers:
    """The three servers chapter 10 compares, each in its own process."""

    asgi: ProcessServer  # lab_project under uvicorn, one worker
    wsgi: GunicornServer  # lab_project under gunicorn, one gthread worker with ``threads`` threads
    raw: ProcessServer  # the framework-free ASGI app under the same uvicorn

    @property
    def wsgi_threads(self) -> int:
        return self.wsgi.threads

    async def stop(self) -> None:
        await asyncio.gather(self.asgi.stop(), self.wsgi.stop(), self.raw.stop())

    async def __aenter__(self) -> BenchServers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<BenchServers\n  asgi={self.asgi!r}\n  wsgi={self.wsgi!r}\n  raw={self.raw!r}>"


async def start_bench_servers(*, threads: int = 10, env: dict | None = None) -> BenchServers:
    """Start uvicorn (1 worker), gunicorn (1 gthread worker × ``threads``) and the raw ASGI app.

    They share this process's environment (so the same database), plus ``BENCH_ENV``.
    """
    env = {**BENCH_ENV, **(env or {})}
    servers = await asyncio.gather(
        ProcessServer(env=env).start(),
        GunicornServer(env=env, threads=threads).start(),
        ProcessServer(app=RAW_ASGI_APP, env=env).start(),
        return_exceptions=True,
    )
    failures = [s for s in servers if isinstance(s, BaseException)]
    if failures:
        await asyncio.gather(*(s.stop() for s in servers if not isinstance(s, BaseException)))
        raise failures[0]
    return BenchServers(*servers)


@dataclass
class Comparison:
    """Load results under one label each, for the same question."""

    question: str
    results: dict[str, LoadResult]

    def rps(self, label: str) -> float:
        return self.results[label].throughput_rps

    def ratio(self, label: str, other: str) -> float:
        """Throughput of ``label`` over throughput of ``other``."""
        return self.rps(label) / self.rps(other) if self.rps(other) else float("inf")

    def lines(self) -> list[str]:
        return [r.line() for r in self.results.values()]

    def errors(self) -> int:
        return sum(r.errors for r in self.results.values())

    def to_dict(self) -> dict:
        return {"question": self.question, "results": {k: r.summary() for k, r in self.results.items()}}


async def _compare(question: str, runs: dict[str, tuple], *, clients: int, duration: float, progress: bool) -> Comparison:
    """``runs`` maps a label to (server, path); each gets the same clients for ``duration`` s.

    The time is split in two halves run in mirrored order (A B B A): load that other programs put
    on the machine for a while then falls on every contender alike, not on one of them.
    """

    async def half(label: str, run: tuple) -> LoadResult:
        server, path = run
        return await run_load(
            server.url + path, clients=clients, duration=duration / 2, label=label, progress=progress, server_pid=server.pid
        )

    halves = await interleaved(runs, half, rounds=2)
    return Comparison(question, {label: combine_results(parts) for label, parts in halves.items()})


# -- what the framework costs: the same trivial answer, four ways ---------------------------------
async def measure_overhead(
    servers: BenchServers, *, clients: int = 16, duration: float = 2.0, progress: bool = False
) -> Comparison:
    return await _compare(
        "the same trivial response: raw ASGI, Django async and sync views under uvicorn, Django under gunicorn",
        {
            "raw ASGI app (uvicorn)": (servers.raw, "trivial/"),
            "Django async view (uvicorn)": (servers.asgi, "helps/trivial/async/"),
            "Django sync view (uvicorn)": (servers.asgi, "helps/trivial/sync/"),
            "Django sync view (gunicorn)": (servers.wsgi, "helps/trivial/sync/"),
        },
        clients=clients, duration=duration, progress=progress,
    )  # fmt: skip


# -- when it helps ------------------------------------------------------------------------------
async def _async_view_vs_threads(
    servers: BenchServers, question: str, path: str, *, clients: int, duration: float, progress: bool
) -> Comparison:
    """The contenders of every "does async help?" question: the ``async`` view under uvicorn
    against its ``sync`` twin under gunicorn's bounded thread pool (``{kind}`` in ``path``)."""
    return await _compare(
        question,
        {
            "async view (uvicorn)": (servers.asgi, path.format(kind="async")),
            f"sync view (gunicorn, {servers.wsgi_threads} threads)": (servers.wsgi, path.format(kind="sync")),
        },
        clients=clients, duration=duration, progress=progress,
    )  # fmt: skip


async def measure_slow_io(
    servers: BenchServers, *, wait_ms: int = 100, clients: int = 200, duration: float = 3.0, progress: bool = False
) -> Comparison:
    """Each request waits ``wait_ms`` on "an upstream": awaited (async) or slept in a thread (WSGI)."""
    return await _async_view_vs_threads(
        servers, f"{clients} clients, each request waiting {wait_ms} ms on I/O", f"helps/io/{{kind}}/?ms={wait_ms}",
        clients=clients, duration=duration, progress=progress,
    )  # fmt: skip


@dataclass
class StreamCapacity:
    """How many SSE streams a server held at once, and what they cost it."""

    server: str
    held: HeldStreams
    rss_before_bytes: int
    rss_during_bytes: int
    threads_before: int
    threads_during: int
    other_request_s: float | None  # a plain request sent while the streams were open (None: no answer)
    other_request_timeout: float = 3.0

    @property
    def kib_per_stream(self) -> float:
        return (self.rss_during_bytes - self.rss_before_bytes) / max(self.held.held, 1) / 1024

    def line(self) -> str:
        other = (
            f"answered in ≈{self.other_request_s * 1000:.0f} ms"
            if self.other_request_s is not None
            else f"not answered within {self.other_request_timeout:g} s"
        )
        return (
            f"{self.server}: held ≈{self.held.held} of {self.held.requested} streams, "
            f"≈{self.kib_per_stream:.0f} KiB each, threads ≈{self.threads_before} → ≈{self.threads_during}; "
            f"a plain request meanwhile: {other}"
        )

    def to_dict(self) -> dict:
        return {
            "server": self.server,
            "requested": self.held.requested,
            "held": self.held.held,
            "failures": self.held.failures[:5],
            "kib_per_stream": round(self.kib_per_stream, 1),
            "rss_mib_before": round(self.rss_before_bytes / 2**20, 1),
            "rss_mib_during": round(self.rss_during_bytes / 2**20, 1),
            "threads_before": self.threads_before,
            "threads_during": self.threads_during,
            "other_request_ms": None if self.other_request_s is None else round(self.other_request_s * 1000, 1),
        }


async def _timed_get(url: str, timeout: float = 30.0) -> float | None:
    """Seconds until ``url`` answered, or None when it did not answer within ``timeout``."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        started = time.perf_counter()
        try:
            (await client.get(url)).raise_for_status()
        except httpx.TimeoutException:
            return None
        return time.perf_counter() - started


async def measure_stream_capacity(
    server, path: str, streams: int, *, label: str, first_event_within: float = 10.0
) -> StreamCapacity:
    """Open ``streams`` SSE streams at ``path`` at once; measure the server while they are open."""
    await _timed_get(server.url + "health/")  # warm: the first request loads lazily imported code
    before = usage(server.pid)
    async with hold_sse_streams(server.url + path, streams, first_event_within=first_event_within) as held:
        during = usage(server.pid)
        other = await _timed_get(server.url + "health/", timeout=3.0)
    # A thread server may still be busy: streams that were queued behind the held ones are
    # served (to clients already gone) until each notices on its next write. Wait that out so
    # the next measurement starts on an idle server.
    if await _timed_get(server.url + "health/", timeout=30.0) is None:
        raise RuntimeError(f"{label} did not recover within 30 s after its streams closed")
    await asyncio.sleep(1.2)  # threads that took the last queued streams give up on their next write
    return StreamCapacity(label, held, before.rss_bytes, during.rss_bytes, before.threads, during.threads, other)


async def measure_long_lived(
    servers: BenchServers, *, streams: int = 300, first_event_within: float = 2.0
) -> dict[str, StreamCapacity]:
    """The async server is asked for ``streams`` streams; gunicorn for twice its thread count."""
    # Streams that outlast the measurement: an event at once, then one a second. (A sync
    # generator only notices a departed client when it next writes, so the interval is also
    # how long a gunicorn thread stays busy after its client left.)
    path = "helps/sse/{}/?events=1000&interval_ms=1000"
    return {
        "async": await measure_stream_capacity(
            servers.asgi, path.format("async"), streams,
            label="async view (uvicorn)", first_event_within=max(first_event_within, 15.0),
        ),
        "wsgi": await measure_stream_capacity(
            servers.wsgi, path.format("sync"), 2 * servers.wsgi_threads,
            label=f"sync view (gunicorn, {servers.wsgi_threads} threads)", first_event_within=first_event_within,
        ),
    }  # fmt: skip


@dataclass
class TokenComparison:
    streams: int
    tokens: int
    delay_ms: int
    times: dict[str, TokenStreamTimes] = field(default_factory=dict)

    @property
    def ideal_s(self) -> float:
        """How long one stream takes on its own: every token's delay, back to back."""
        return self.tokens * self.delay_ms / 1000

    def lines(self) -> list[str]:
        return [
            f"{label}: all {len(t.complete_s)} streams done in ≈{t.wall_s:.2f} s "
            f"(one alone: ≈{self.ideal_s:.2f} s); first token: median ≈{t.summary()['first_token_s_median']:.2f} s, "
            f"slowest ≈{max(t.first_token_s):.2f} s"
            for label, t in self.times.items()
        ]

    def to_dict(self) -> dict:
        shape = {"streams": self.streams, "tokens": self.tokens, "delay_ms": self.delay_ms}
        return shape | {"results": {label: t.summary() for label, t in self.times.items()}}


async def measure_token_streaming(
    servers: BenchServers, *, streams: int = 50, tokens: int = 20, delay_ms: int = 50
) -> TokenComparison:
    """``streams`` LLM-style token streams started at once, on each server."""
    query = f"?tokens={tokens}&delay_ms={delay_ms}"
    comparison = TokenComparison(streams, tokens, delay_ms)
    comparison.times["async view (uvicorn)"] = await read_token_streams(servers.asgi.url + "helps/tokens/async/" + query, streams)
    comparison.times[f"sync view (gunicorn, {servers.wsgi_threads} threads)"] = await read_token_streams(
        servers.wsgi.url + "helps/tokens/sync/" + query, streams
    )
    return comparison


# -- when it does not help --------------------------------------------------------------------------
async def measure_cpu_bound(
    servers: BenchServers, *, rounds: int = 100_000, clients: int = 16, duration: float = 3.0, progress: bool = False
) -> Comparison:
    return await _async_view_vs_threads(
        servers, f"CPU-bound view ({rounds} rounds of pure-Python arithmetic per request)", f"helps/cpu/{{kind}}/?rounds={rounds}",
        clients=clients, duration=duration, progress=progress,
    )  # fmt: skip


async def measure_simple_db(
    servers: BenchServers, *, clients: int = 16, duration: float = 3.0, progress: bool = False
) -> Comparison:
    return await _compare(
        "one simple database query per request",
        {
            "async view, aget() (uvicorn)": (servers.asgi, "helps/db/async/"),
            f"sync view, get() (gunicorn, {servers.wsgi_threads} threads)": (servers.wsgi, "helps/db/sync/"),
        },
        clients=clients, duration=duration, progress=progress,
    )  # fmt: skip


async def measure_sync_behind(
    servers: BenchServers, *, steps: int = 10, ms: int = 2, clients: int = 32, duration: float = 3.0, progress: bool = False
) -> Comparison:
    query = f"?steps={steps}&ms={ms}"
    return await _compare(
        f"a view making {steps} blocking {ms} ms calls to a sync library",
        {
            "async view, sync_to_async per call (uvicorn)": (servers.asgi, "helps/sync-behind/async/" + query),
            "plain sync view (uvicorn)": (servers.asgi, "helps/sync-behind/sync/" + query),
            f"plain sync view (gunicorn, {servers.wsgi_threads} threads)": (servers.wsgi, "helps/sync-behind/sync/" + query),
        },
        clients=clients, duration=duration, progress=progress,
    )  # fmt: skip
