"""Compare paths of one server under load, in one call: ``await lab.compare({...})``.

    report = await lab.compare({"sync ORM in thread": "try/a/", "a-method": "try/b/"}, clients=20, seconds=2)
    print(report)          # throughput, p50/p99, the server's threads and CPU, per contender
    report.plot()

Built from the lab's instruments: ``interleaved`` rounds (so a burst of load next door hits
every contender alike), ``run_load`` for the clients and ``LoadResult``/``combine_results`` for
the figures, ``plot_comparison`` for the picture. The load clients always run in a child
process: the in-kernel server shares this event loop, and a client on it would compete with
the server it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from helpers.measure.compare import interleaved
from helpers.measure.load import LoadResult, combine_results, run_load

__all__ = ["LoadComparison", "compare"]


@dataclass
class LoadComparison:
    """One report: each contender's rounds pooled (``results``), and every round (``rounds``)."""

    question: str
    clients: int
    seconds: float
    results: dict[str, LoadResult]
    rounds: dict[str, list[LoadResult]] = field(repr=False)

    def throughput(self, label: str) -> float:
        return self.results[label].throughput_rps

    def ratio(self, faster: str, slower: str) -> float:
        """Throughput of ``faster`` over ``slower`` (pooled over the rounds)."""
        base = self.throughput(slower)
        return self.throughput(faster) / base if base else float("inf")

    def table(self) -> str:
        lines = [f"{self.question} — {self.clients} clients, {len(next(iter(self.rounds.values())))} interleaved rounds of {self.seconds:g} s"]
        for label, result in self.results.items():
            server = result.server or {}
            lines.append(
                f"  {label}: ≈{result.throughput_rps:.0f} req/s, p50 ≈{result.percentile(50):.1f} ms, "
                f"p99 ≈{result.percentile(99):.1f} ms, server threads ≈{server.get('peak_threads', 0)}, "
                f"server CPU ≈{server.get('cpu_cores_busy', 0):.2f} cores, errors ≈{result.errors}"
            )
        return "\n".join(lines)

    __str__ = table

    def plot(self, *, title: str | None = None) -> Any:
        from helpers.measure.plots import plot_comparison

        return plot_comparison(self, title=title)


class _ThisProcess:
    """CPU, peak threads and memory of this process (the in-kernel server) during one round.

    Not ``ServerWatch``: that one sums a process *and its children*, and here the load client
    is a child of the server's process.
    """

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak_threads = self.process.num_threads()
        self.peak_rss = self.process.memory_info().rss
        self.cpu = time.process_time()
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            self.peak_threads = max(self.peak_threads, self.process.num_threads())
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    async def stop(self, window: float) -> dict:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        busy = (time.process_time() - self.cpu) / window if window > 0 else 0.0
        return {"cpu_cores_busy": round(busy, 2), "peak_threads": self.peak_threads, "peak_rss_mib": round(self.peak_rss / 2**20, 1)}


async def compare(
    paths: Mapping[str, str],
    *,
    clients: int = 20,
    seconds: float = 2.0,
    rounds: int = 3,
    server: Any = None,
    question: str | None = None,
    duration: float | None = None,
) -> LoadComparison:
    """Load each path (``"try/a/"``, or a full URL) in interleaved rounds; return one report.

    ``server`` defaults to the server ``lab.start()`` runs on this event loop. ``duration`` is
    another name for ``seconds`` (what ``run_load`` calls it). Each path must answer 200 first.
    """
    if duration is not None:
        seconds = duration
    if not isinstance(paths, Mapping) or len(paths) < 1:
        raise ValueError('compare takes {"label": "path", ...}, e.g. {"sync": "try/a/", "async": "try/b/"}')
    if not 1 <= clients <= 500 or not 0 < seconds <= 60 or not 1 <= rounds <= 20:
        raise ValueError(f"need 1 ≤ clients ≤ 500, 0 < seconds ≤ 60, 1 ≤ rounds ≤ 20; got {clients}, {seconds}, {rounds}")
    server = server or _current()
    base = _base_url(server)
    urls = {label: path if "://" in path else base + path.lstrip("/") for label, path in paths.items()}
    await _check_and_warm(urls)
    in_this_process = not hasattr(server, "pid")  # a LabServer: this process serves

    async def one(label: str, url: str) -> LoadResult:
        watch = _ThisProcess() if in_this_process else None
        result = await run_load(url, clients=clients, duration=seconds, label=label, child_process=True,
                                server_pid=None if in_this_process else server.pid)  # fmt: skip
        if watch is not None:
            result.server = await watch.stop(result.window_s)
        return result

    samples = await interleaved(urls, one, rounds=rounds)
    results = {label: combine_results(runs) for label, runs in samples.items()}
    question = question or " vs ".join(paths)
    return LoadComparison(question, clients, seconds, results, samples)


def _current() -> Any:
    from helpers.server.kernel import current_server

    return current_server()


def _base_url(server: Any) -> str:
    if server is None:
        raise RuntimeError("no lab server runs on this event loop: `server = await lab.start()` first, or pass server=")
    return server.url


async def _check_and_warm(urls: Mapping[str, str]) -> None:
    """Every path must answer 200 before it is measured (a 500 under load measures nothing)."""
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        for label, url in urls.items():
            for _ in range(10):  # also warms lazy imports, caches and the DB connection
                response = await client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{label}: GET {url} answered {response.status_code}, not 200: {response.text[:300]}")
