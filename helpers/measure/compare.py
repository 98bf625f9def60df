"""One way to compare contenders fairly on a noisy machine: take turns.

Every round measures each contender once, and every other round runs them in reverse order
(A B C, then C B A). A burst of load from another program then lands on all of them alike
instead of on whichever happened to run at that moment. Chapters 6, 10, 11 and 13, the cache
timings and ``lab-bench`` all compare this way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

__all__ = ["compare_asgi_apps", "interleaved"]

Contender = TypeVar("Contender")
Sample = TypeVar("Sample")


async def interleaved(
    contenders: Mapping[str, Contender],
    measure: Callable[[str, Contender], Awaitable[Sample]],
    *,
    rounds: int,
    warmup: int = 0,
) -> dict[str, list[Sample]]:
    """``await measure(name, contender)`` for every contender, ``warmup + rounds`` times in
    mirrored order; return the samples of the last ``rounds`` rounds, by name."""
    if rounds < 1 or warmup < 0:
        raise ValueError(f"rounds must be ≥ 1 and warmup ≥ 0, got {rounds} and {warmup}")
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for index in range(warmup + rounds):
        for name, contender in order if index % 2 == 0 else order[::-1]:
            sample = await measure(name, contender)
            if index >= warmup:
                samples[name].append(sample)
    return samples


async def compare_asgi_apps(apps: Mapping[str, object], path: str, *, requests: int = 500, warmup: int = 50) -> dict[str, list[float]]:
    """Seconds per ``GET path`` through each ASGI app, in process, the apps taking turns
    request by request."""
    import time

    from helpers.clients.asgi import call_asgi

    async def one(name: str, app) -> float:
        started = time.perf_counter()
        reply = await call_asgi(app, path)
        if reply.status != 200:
            raise RuntimeError(f"{name}: GET {path} answered {reply.status}")
        return time.perf_counter() - started

    return await interleaved(apps, one, rounds=requests, warmup=warmup)
