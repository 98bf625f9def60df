"""What a server process is using: memory (RSS), threads and CPU time, read with psutil.

A server may be a process tree (gunicorn's arbiter and its workers, uvicorn with several
workers): figures are summed over the process and its children. ``watch_server`` samples
while a load runs, to catch the peak thread count and the CPU the server burned.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import psutil

__all__ = ["ServerWatch", "Usage", "usage", "watch_server"]


@dataclass(frozen=True)
class Usage:
    rss_bytes: int
    threads: int
    cpu_s: float

    @property
    def rss_mib(self) -> float:
        return self.rss_bytes / 2**20


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def usage(pid: int) -> Usage:
    """RSS, thread count and CPU seconds (user + system) of ``pid`` and its children, now."""
    rss = threads = 0
    cpu = 0.0
    for process in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            with process.oneshot():
                rss += process.memory_info().rss
                threads += process.num_threads()
                times = process.cpu_times()
                cpu += times.user + times.system
    return Usage(rss, threads, cpu)


class ServerWatch:
    """Samples a server's usage every ``interval`` seconds between ``start()`` and ``stop()``."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.first: Usage | None = None
        self.last: Usage | None = None
        self.peak_threads = 0
        self.peak_rss_bytes = 0
        self._started = 0.0
        self._elapsed = 0.0
        self._task: asyncio.Task | None = None

    def _sample(self) -> Usage:
        now = usage(self.pid)
        self.peak_threads = max(self.peak_threads, now.threads)
        self.peak_rss_bytes = max(self.peak_rss_bytes, now.rss_bytes)
        return now

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.last = self._sample()

    def start(self) -> ServerWatch:
        self.first = self.last = self._sample()
        self._started = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def stop(self) -> dict:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.last = self._sample()
        self._elapsed = time.perf_counter() - self._started
        return self.summary()

    def summary(self) -> dict:
        """CPU used per wall second (1.0 = one core busy), peak threads and peak RSS."""
        cpu = (self.last.cpu_s - self.first.cpu_s) / self._elapsed if self._elapsed else 0.0
        return {
            "cpu_cores_busy": round(cpu, 2),
            "peak_threads": self.peak_threads,
            "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
        }


@contextlib.asynccontextmanager
async def watch_server(pid: int, interval: float = 0.1):
    """``async with watch_server(server.pid) as watch: ...`` then read ``watch.summary()``."""
    watch = ServerWatch(pid, interval).start()
    try:
        yield watch
    finally:
        await watch.stop()
