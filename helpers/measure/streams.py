"""Many server-sent-event streams at once: hold them open, or read token streams to the end.

Streams are read with httpx-sse. Each stream gets its own one-connection ``httpx.AsyncClient``
(sharing one SSL context), for the reason given in ``helpers.measure.load``: one client with hundreds
of pooled connections slows down with every connection it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import statistics
import time
from dataclasses import dataclass, field

import httpx
from httpx_sse import aconnect_sse

__all__ = ["HeldStreams", "TokenStreamTimes", "hold_sse_streams", "read_token_streams"]


def _clients(count: int, timeout: float) -> list[httpx.AsyncClient]:
    shared_ssl = ssl.create_default_context()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return [httpx.AsyncClient(limits=limits, timeout=timeout, verify=shared_ssl) for _ in range(count)]


@dataclass
class HeldStreams:
    """Streams opened at once; ``first_event_s`` holds, per stream that got one, its wait."""

    requested: int
    first_event_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def held(self) -> int:
        """Streams that delivered their first event (and are still open inside the block)."""
        return len(self.first_event_s)


@contextlib.asynccontextmanager
async def hold_sse_streams(url: str, count: int, *, first_event_within: float = 10.0):
    """Open ``count`` SSE streams to ``url`` at once; keep them open inside the ``async with``.

    On entry it waits until every stream has delivered its first event, or ``first_event_within``
    seconds pass; streams still waiting then are counted as not held. Leaving the block closes
    every stream (the server sees a disconnect).
    """
    held = HeldStreams(requested=count)
    clients = _clients(count, timeout=first_event_within + 60)
    got_first = [asyncio.Event() for _ in range(count)]
    started = time.perf_counter()

    async def read(client: httpx.AsyncClient, first: asyncio.Event) -> None:
        try:
            async with aconnect_sse(client, "GET", url) as source:
                async for _ in source.aiter_sse():
                    if not first.is_set():
                        held.first_event_s.append(time.perf_counter() - started)
                        first.set()
        except (httpx.HTTPError, OSError) as exc:
            held.failures.append(f"{type(exc).__name__}: {exc}"[:200])

    tasks = [asyncio.create_task(read(c, e)) for c, e in zip(clients, got_first)]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(first_event_within):
                await asyncio.gather(*(e.wait() for e in got_first))
        yield held
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


@dataclass
class TokenStreamTimes:
    """Per stream: seconds to the first token and to ``[DONE]``, and tokens received."""

    first_token_s: list[float]
    complete_s: list[float]
    tokens: list[int]
    wall_s: float

    def summary(self) -> dict:
        return {
            "streams": len(self.complete_s),
            "wall_s": round(self.wall_s, 3),
            "first_token_s_median": round(statistics.median(self.first_token_s), 3),
            "first_token_s_max": round(max(self.first_token_s), 3),
            "complete_s_median": round(statistics.median(self.complete_s), 3),
            "tokens_per_stream": sorted(set(self.tokens)),
        }


async def read_token_streams(url: str, count: int, *, timeout: float = 120.0) -> TokenStreamTimes:
    """Start ``count`` token streams at once and read each until its ``[DONE]`` event."""
    clients = _clients(count, timeout=timeout)
    started = time.perf_counter()

    async def read(client: httpx.AsyncClient) -> tuple[float, float, int]:
        first = None
        tokens = 0
        async with client, aconnect_sse(client, "GET", url) as source:
            source.response.raise_for_status()
            async for event in source.aiter_sse():
                if event.data == "[DONE]":
                    break
                tokens += 1
                if first is None:
                    first = time.perf_counter() - started
        return first if first is not None else float("nan"), time.perf_counter() - started, tokens

    results = await asyncio.gather(*(read(c) for c in clients))
    return TokenStreamTimes(
        first_token_s=[r[0] for r in results],
        complete_s=[r[1] for r in results],
        tokens=[r[2] for r in results],
        wall_s=time.perf_counter() - started,
    )
