"""Chapter 11's instruments: build a Django handler with a middleware added, time requests that
arrive while a slow one runs, time concurrent requests, and time a response's first byte."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from helpers.measure.logs import capture_log
from helpers.measure.stats import lower_quartile, median

__all__ = ["ProbeResult", "concurrent_gets", "first_byte_and_total", "handler_with_middleware", "lower_quartile_us", "probe_while_slow"]


def handler_with_middleware(*, first: Iterable[str] = (), last: Iterable[str] = ()):
    """A new Django ASGI handler whose MIDDLEWARE is the lab's with ``first`` put in front
    (outermost) and ``last`` at the end (innermost, next to the view).

    Returns ``(handler, messages)``: what ``django.request`` logged while Django assembled the
    chain — with DEBUG on, one line per adaptation it had to make.
    """
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler
    from django.test import override_settings

    stack = [*first, *settings.MIDDLEWARE, *last]
    with capture_log("django.request") as records, override_settings(MIDDLEWARE=stack):
        handler = ASGIHandler()  # the middleware chain is built (and adapted) here, once
    return handler, [record.message for record in records]


def lower_quartile_us(seconds: list[float]) -> float:
    """The lower quartile in µs: the steadiest figure when other programs share the machine."""
    return lower_quartile(seconds) * 1e6


@dataclass
class ProbeResult:
    """A slow request, and plain requests sent while it ran."""

    slow_s: float
    probe_s: list[float]

    @property
    def probe_median_s(self) -> float:
        return median(self.probe_s)


async def probe_while_slow(
    base_url: str, slow_path: str, *, probe_path: str = "mistakes/ping/", probes: int = 10, head_start: float = 0.1
) -> ProbeResult:
    """Start ``GET slow_path``; ``head_start`` s later send ``probes`` plain requests at once and
    time each. Run the server outside this event loop (a thread or process server), or the
    client would be frozen along with it."""
    limits = httpx.Limits(max_connections=probes + 1)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        await client.get(probe_path)  # open a connection first: time the server, not the handshake

        async def timed(path: str) -> float:
            started = time.perf_counter()
            (await client.get(path)).raise_for_status()
            return time.perf_counter() - started

        slow = asyncio.create_task(timed(slow_path))
        await asyncio.sleep(head_start)
        probe_s = await asyncio.gather(*(timed(probe_path) for _ in range(probes)))
        return ProbeResult(await slow, list(probe_s))


async def concurrent_gets(url: str, count: int) -> tuple[float, list[dict]]:
    """``count`` GETs of ``url`` sent at once, each on its own connection: (seconds, bodies)."""
    started = time.perf_counter()

    async def one() -> dict:
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(url)
            response.raise_for_status()
            return response.json()

    bodies = await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started, list(bodies)


async def first_byte_and_total(url: str) -> tuple[float, float]:
    """Seconds until the first body bytes arrived, and until the body was complete."""
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        first = None
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                if chunk and first is None:
                    first = time.perf_counter() - started
        return first if first is not None else float("nan"), time.perf_counter() - started
