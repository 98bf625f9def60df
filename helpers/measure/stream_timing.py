"""When does each piece of a streamed response reach the client? Measure it, and draw it.

A server that streams delivers its first piece long before its last; a server that buffers
delivers everything (even the status line) at the end. Arrival times tell the two apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["StreamTiming", "plot_arrivals", "time_stream"]


@dataclass
class StreamTiming:
    """Seconds from sending the request: when the headers came, and when each piece came."""

    status: int
    headers_at: float
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def first_at(self) -> float:
        return self.arrivals[0][0]

    @property
    def last_at(self) -> float:
        return self.arrivals[-1][0]

    @property
    def body(self) -> bytes:
        return b"".join(piece for _, piece in self.arrivals)


async def time_stream(url: str, *, timeout: float = 30.0) -> StreamTiming:
    """GET ``url`` and note when the headers and every network read of the body arrive."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        started = time.perf_counter()
        async with client.stream("GET", url) as response:
            timing = StreamTiming(response.status_code, time.perf_counter() - started)
            # aiter_raw: the bytes as the socket delivers them, no decoding or re-chunking.
            async for piece in response.aiter_raw():
                timing.arrivals.append((time.perf_counter() - started, piece))
    return timing


def plot_arrivals(timings: dict[str, StreamTiming], *, title: str = "when the body arrives", ax: Any = None) -> Any:
    """Bytes received so far against time, one line per labelled measurement; returns the Axes."""
    import matplotlib.pyplot as plt  # imported on use: most cells never plot

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    for label, timing in timings.items():
        times = [0.0, timing.headers_at] + [t for t, _ in timing.arrivals]
        received, total = [0, 0], 0
        for _, piece in timing.arrivals:
            total += len(piece)
            received.append(total)
        ax.step(times, received, where="post", marker="o", markersize=3, label=label)
    ax.set(title=title, xlabel="seconds since the request was sent", ylabel="bytes received")
    ax.legend(loc="upper left")
    return ax
