"""A load runner: N concurrent HTTP clients for a duration or a request count.

Each client is a coroutine with its own ``httpx.AsyncClient`` (one kept-alive connection),
sending one request after another, so at most N requests are in flight at any moment. The
result holds throughput, latency percentiles, status codes and errors, and how busy the client
itself was — on a small machine the *client* is often the bottleneck, and a number that only
measures the client must say so.

Why one small client per virtual user rather than one client with an N-connection pool: httpx's
pool does work per request that grows with the number of connections (encode/httpx#3215).
Measured on the lab's 2-core machine against a raw ASGI app, one shared pool managed ≈1,200
req/s with 8 connections but ≈130 with 100 and ≈80 with 200, while 200 one-connection clients
kept ≈1,000. The clients share one SSL context: building one per client costs ~30 ms each.

``processes=P`` spreads the clients over P child processes (each its own event loop and core)
for servers fast enough to outrun one Python client. Children start together at an agreed
wall-clock time and send their raw figures back as JSON on stdout.

Run the load against a server in another process or thread, never the in-kernel server: a
client on the kernel's loop would compete with the server it measures.
"""

from __future__ import annotations

__all__ = ["LoadResult", "combine_results", "run_load"]

import asyncio
import contextlib
import json
import math
import ssl
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# A client process busier than this (CPU time / wall time) was likely the bottleneck.
CLIENT_BOUND_CPU = 0.85


@dataclass
class LoadResult:
    """What one load run measured. ``latencies_ms`` are per successful request."""

    label: str
    url: str
    clients: int
    processes: int
    window_s: float
    ok: int
    errors: int
    statuses: dict[str, int]
    error_samples: list[str]
    client_cpu: float  # CPU seconds per wall second of the busiest client process
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    server: dict | None = None  # filled in by the caller (see helpers.measure.process_stats)

    @property
    def throughput_rps(self) -> float:
        return self.ok / self.window_s if self.window_s > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in ms (nearest-rank); NaN when nothing succeeded."""
        from helpers.measure.stats import percentile  # not at the top: see ServerWatch's import

        return percentile(self.latencies_ms, p)

    @property
    def client_bound(self) -> bool:
        return self.client_cpu >= CLIENT_BOUND_CPU

    def summary(self) -> dict:
        return {
            "label": self.label,
            "url": self.url,
            "clients": self.clients,
            "processes": self.processes,
            "requests_ok": self.ok,
            "errors": self.errors,
            "statuses": dict(sorted(self.statuses.items())),
            "window_s": round(self.window_s, 3),
            "throughput_rps": round(self.throughput_rps, 1),
            "latency_ms": {f"p{p}": round(self.percentile(p), 2) for p in (50, 90, 99)},
            "client_cpu": round(self.client_cpu, 2),
            "client_bound": self.client_bound,
            "server": self.server,
            "error_samples": self.error_samples[:5],
        }

    def save(self, path: str | Path, *, with_latencies: bool = False) -> Path:
        """Write the summary (and optionally every latency) as JSON; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.summary() | ({"latencies_ms": self.latencies_ms} if with_latencies else {})
        path.write_text(json.dumps(data, indent=2, sort_keys=True))
        return path

    def line(self) -> str:
        """One human line, every measured number after "≈" (the notebooks' sanitizer hides those)."""
        server = f", server ≈{self.server['cpu_cores_busy']:.2f} cores busy" if self.server else ""
        return (
            f"{self.label}: ≈{self.throughput_rps:.0f} req/s, p50 ≈{self.percentile(50):.1f} ms, "
            f"p99 ≈{self.percentile(99):.1f} ms, errors ≈{self.errors}{server}, client ≈{self.client_cpu:.2f} cores busy"
        )


# -- one process's share of the clients ----------------------------------------------------------
async def _drive(
    url: str, clients: int, *, duration: float | None, requests: int | None, timeout: float, progress=None
) -> dict:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    error_samples: list[str] = []
    errors = 0
    remaining = requests
    ssl_context = ssl.create_default_context()  # shared: httpx would build one per client (~30 ms each)
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [httpx.AsyncClient(limits=one_connection, timeout=timeout, verify=ssl_context) for _ in range(clients)]

    async with contextlib.AsyncExitStack() as stack:
        for client in pool:
            await stack.enter_async_context(client)
        started_wall, started = time.time(), time.perf_counter()
        deadline = started + duration if duration is not None else math.inf
        cpu_before = time.process_time()

        async def one_client(client: httpx.AsyncClient) -> None:
            nonlocal remaining, errors
            while time.perf_counter() < deadline:
                if remaining is not None:
                    if remaining <= 0:
                        return
                    remaining -= 1
                sent = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.HTTPError as exc:
                    errors += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"{type(exc).__name__}: {exc}"[:200])
                    await asyncio.sleep(0.01)  # a refused connection fails at once: do not spin
                    continue
                statuses[str(response.status_code)] += 1
                if response.is_success:
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    errors += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"HTTP {response.status_code}: {response.text[:150]}")
                if progress is not None:
                    progress.update(1)

        await asyncio.gather(*(one_client(client) for client in pool))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    return {
        "latencies_ms": latencies,
        "statuses": dict(statuses),
        "errors": errors,
        "error_samples": error_samples,
        "start": started_wall,
        "end": started_wall + elapsed,
        "cpu": cpu / elapsed if elapsed > 0 else 0.0,
    }


def _merge(label: str, url: str, clients: int, parts: list[dict]) -> LoadResult:
    statuses: Counter[str] = Counter()
    for part in parts:
        statuses.update(part["statuses"])
    return LoadResult(
        label=label,
        url=url,
        clients=clients,
        processes=len(parts),
        window_s=max(p["end"] for p in parts) - min(p["start"] for p in parts),
        ok=sum(len(p["latencies_ms"]) for p in parts),
        errors=sum(p["errors"] for p in parts),
        statuses=dict(statuses),
        error_samples=[s for p in parts for s in p["error_samples"]][:5],
        client_cpu=max(p["cpu"] for p in parts),
        latencies_ms=[x for p in parts for x in p["latencies_ms"]],
    )


def combine_results(results: list[LoadResult]) -> LoadResult:
    """Several runs of one load as one result: counts and windows add up, latencies pool, and
    the server's figures are averaged (CPU, weighted by window) or maxed (peaks)."""
    first = results[0]
    statuses: Counter[str] = Counter()
    for result in results:
        statuses.update(result.statuses)
    window = sum(r.window_s for r in results)
    servers = [r.server for r in results if r.server]
    server = None
    if servers:
        server = {
            "cpu_cores_busy": round(sum(s["cpu_cores_busy"] * r.window_s for s, r in zip(servers, results)) / window, 2),
            "peak_threads": max(s["peak_threads"] for s in servers),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in servers),
        }
    return LoadResult(
        label=first.label,
        url=first.url,
        clients=first.clients,
        processes=first.processes,
        window_s=window,
        ok=sum(r.ok for r in results),
        errors=sum(r.errors for r in results),
        statuses=dict(statuses),
        error_samples=[s for r in results for s in r.error_samples][:5],
        client_cpu=max(r.client_cpu for r in results),
        latencies_ms=[x for r in results for x in r.latencies_ms],
        server=server,
    )


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def _drive_in_children(
    url: str, clients: int, processes: int, *, duration: float | None, requests: int | None, timeout: float
) -> list[dict]:
    # Children import httpx and connect first; they all begin at start_at (wall clock).
    start_at = time.time() + 1.0
    shares = _split(clients, processes)
    counts = _split(requests, processes) if requests is not None else [None] * processes
    children = []
    for share, count in zip(shares, counts):
        spec = {"url": url, "clients": share, "duration": duration, "requests": count, "timeout": timeout, "start_at": start_at}
        children.append(
            await asyncio.create_subprocess_exec(
                sys.executable, __file__, json.dumps(spec),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
        )  # fmt: skip
    parts = []
    for child in children:
        out, err = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"a load-client process failed (exit {child.returncode}): {err.decode()[-800:]}")
        parts.append(json.loads(out))
    return parts


async def run_load(
    url: str,
    *,
    clients: int = 50,
    duration: float | None = None,
    requests: int | None = None,
    processes: int = 1,
    timeout: float = 30.0,
    label: str | None = None,
    progress: bool = False,
    server_pid: int | None = None,
    child_process: bool = False,
) -> LoadResult:
    """Load ``url`` with ``clients`` concurrent clients for ``duration`` s or ``requests`` requests.

    ``server_pid`` (a process server's ``.pid``) adds the server's CPU use, peak threads and
    peak memory to the result. ``child_process=True`` runs even a single process's clients in
    a child process: required when the server runs on this event loop. ``progress=True``
    shows a tqdm bar (on stderr; leave it off in notebooks, whose stderr is compared by the
    tests).
    """
    if (duration is None) == (requests is None):
        raise ValueError("give exactly one of duration= (seconds) or requests= (a count)")
    if clients < 1 or processes < 1 or processes > clients:
        raise ValueError(f"need clients >= processes >= 1, got clients={clients}, processes={processes}")
    if duration is not None and not 0 < duration <= 3600:
        raise ValueError(f"duration must be between 0 and 3600 s, got {duration}")
    if requests is not None and requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests}")
    label = label or url
    # Imported here: a load-client child runs this file as a script, without the package.
    from helpers.measure.process_stats import ServerWatch

    watch = ServerWatch(server_pid).start() if server_pid is not None else None
    try:
        parts = await _run_parts(url, clients, processes, duration, requests, timeout, label, progress, child_process)
    finally:
        server = await watch.stop() if watch is not None else None
    result = _merge(label, url, clients, parts)
    result.server = server
    return result


async def _run_parts(url, clients, processes, duration, requests, timeout, label, progress, child_process=False) -> list[dict]:
    if processes == 1 and not child_process:
        bar = _progress_bar(label, duration, requests) if progress else None
        ticker = asyncio.create_task(_tick(bar, duration)) if bar is not None and duration else None
        try:
            count_bar = bar if bar is not None and duration is None else None
            parts = [await _drive(url, clients, duration=duration, requests=requests, timeout=timeout, progress=count_bar)]
        finally:
            if ticker:
                ticker.cancel()
            if bar is not None:
                bar.close()
    else:
        bar = _progress_bar(label, duration, None) if progress and duration else None
        ticker = asyncio.create_task(_tick(bar, duration + 1.0)) if bar is not None else None
        try:
            parts = await _drive_in_children(url, clients, processes, duration=duration, requests=requests, timeout=timeout)
        finally:
            if ticker:
                ticker.cancel()
            if bar is not None:
                bar.close()
    return parts


def _progress_bar(label: str, duration: float | None, requests: int | None):
    from tqdm import tqdm

    if duration is not None:
        return tqdm(total=round(duration, 1), desc=label, unit="s", leave=False, bar_format="{desc}: {bar} {n:.1f}/{total:.1f} s")
    return tqdm(total=requests, desc=label, unit="req", leave=False)


async def _tick(bar, duration: float) -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(0.25)
        bar.n = min(round(time.perf_counter() - started, 1), bar.total)
        bar.refresh()


def _child_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    delay = spec.pop("start_at") - time.time()
    if delay > 0:
        time.sleep(delay)
    result = asyncio.run(
        _drive(spec["url"], spec["clients"], duration=spec["duration"], requests=spec["requests"], timeout=spec["timeout"])
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":  # a load-client child process (see _drive_in_children)
    _child_main(sys.argv[1])
