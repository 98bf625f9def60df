"""Timing Django's async cache methods against their sync twins, and against a native async client.

Every number is a ratio measured in one run (the box is shared and noisy): per-call times are
medians over several rounds, gathered batches the best of several tries.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from helpers.measure.compare import interleaved
from helpers.measure.stats import median

__all__ = ["GetTiming", "best_gather_time", "time_get_and_aget"]


@dataclass(frozen=True)
class GetTiming:
    backend: str
    get_per_call: float  # seconds, sync ``cache.get``
    aget_per_call: float  # seconds, ``await cache.aget``

    @property
    def aget_over_get(self) -> float:
        return self.aget_per_call / self.get_per_call


async def time_get_and_aget(cache, backend: str, *, calls: int = 200, rounds: int = 7) -> GetTiming:
    """Per-call time of ``get`` and ``aget`` on one cached key, interleaved round by round.

    The sync ``get`` blocks this loop while it runs; fine for a measurement, and the point of
    comparison: it is the same work ``aget`` sends to a thread.
    """
    key = f"timing-{uuid.uuid4().hex}"
    await cache.aset(key, 1, timeout=60)

    async def per_call(name: str, get) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            if name == "aget":
                await get(key)
            else:
                get(key)
        return (time.perf_counter() - started) / calls

    try:
        rounds_by_name = await interleaved({"get": cache.get, "aget": cache.aget}, per_call, rounds=rounds)
    finally:
        await cache.adelete(key)
    return GetTiming(backend, median(rounds_by_name["get"]), median(rounds_by_name["aget"]))


async def best_gather_time(make_call, *, concurrent: int = 50, tries: int = 5) -> float:
    """Best wall time for ``concurrent`` calls started together with ``asyncio.gather``."""
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        await asyncio.gather(*(make_call() for _ in range(concurrent)))
        best = min(best, time.perf_counter() - started)
    return best
