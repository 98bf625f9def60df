"""A deliberately lean keep-alive HTTP/1.1 load client, and a reader for many SSE streams.

Hand-written on purpose: a load client has to spend much less CPU per request than the server
it measures. A full-featured client (httpx, used by ``helpers.measure.load``) costs about as
much per request as a fast Django handler, which would make the client the bottleneck on a
2-core machine. Chapter 13 and ``lab-bench`` use this one for throughput at high rates.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from helpers.measure.compare import interleaved
from helpers.measure.stats import median

__all__ = ["StreamRun", "Throughput", "best_rate", "compare_served", "hammer", "median_rate", "stream_many"]


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
        p50 = median(self.latencies) * 1000 if self.latencies else float("nan")
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
    for label, url in urls.items():  # warm-up: first connections, lazy imports, caches
        await hammer(url, clients=min(clients, 8), seconds=0.3, label=label)

    async def one(label: str, url: str) -> Throughput:
        return await hammer(url, clients=clients, seconds=seconds, label=label)

    return await interleaved(urls, one, rounds=rounds)


def median_rate(runs: list[Throughput]) -> float:
    return median(run.rate for run in runs)


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


