"""Chapter 13's benchmark: where a request's time goes, and stock vs fast entry point.

    uv run lab-bench --only where_the_time_goes              # about 2 minutes
    uv run lab-bench --only where_the_time_goes --sse 4000   # add the SSE target

Every figure is a ratio of two servers measured in the same run, in interleaved rounds, so
a busy machine slows both alike. ``lab-bench`` prints the targets and saves the figures in
its report, with ``where_the_time_goes.png``.

Servers: separate uvicorn processes (one worker, ``LAB_DEBUG=0``) for a raw ASGI app, stock
Django (``lab_project.asgi``) and the fast entry point (``lab_project.fast_asgi``); the load
client runs in this process.
"""

from __future__ import annotations

__all__ = ["bench_step", "measure"]

import os
from pathlib import Path

APPS = {
    "raw ASGI": "lab_project.raw_asgi:app",
    "stock": "lab_project.asgi:application",
    "fast": "lab_project.fast_asgi:application",
}
SERVER_ENV = {"LAB_DEBUG": "0"}  # DEBUG off: no query log, as a deployment would run

# The targets: (figure key, threshold, what it means)
TARGETS = [
    ("trivial_async_fast_over_stock", 1.5, "trivial view: fast handler >= 1.5x stock throughput"),
    ("io_200_fast_share_of_ideal", 0.75, "100 ms I/O view, 200 clients: >= 75% of the C/L ideal"),
    ("sse_fast_share_of_ideal", 0.80, "4,000 SSE streams on one worker: >= 80% of ideal completion time"),
]


async def per_request_costs(rounds: int) -> dict:
    """In-process (no server, no socket): microseconds per request and what threads cost."""
    from django.core.handlers.asgi import ASGIHandler

    from helpers import measure as instruments
    from helpers.chapters import ch13_where_the_time_goes as w
    from helpers.clients import call_asgi
    from lab_project.where_the_time_goes.fast_handler import FastASGIHandler

    out: dict = {}
    for kind in ("async", "sync"):
        path = f"/time/trivial/{kind}/"
        apps = {
            "raw ASGI": w.raw_json_app,
            "no threads (instrument)": w.ExecutorHandler(ASGIHandler(), w.InlineExecutor),
            "fast": FastASGIHandler(),
            "stock": ASGIHandler(),
        }
        costs = await w.compare_per_request(apps, path, requests=100, rounds=2 * rounds + 1)
        with instruments.count_thread_starts() as stock_threads:
            for _ in range(20):
                await call_asgi(apps["stock"], path)
        with instruments.count_thread_starts() as fast_threads:
            for _ in range(20):
                await call_asgi(apps["fast"], path)
        out[kind] = {
            "us_per_request": {name: round(c.wall * 1e6, 1) for name, c in costs.items()},
            "cpu_us_per_request": {name: round(c.cpu * 1e6, 1) for name, c in costs.items()},
            "sync_hops_per_request": await w.count_sync_hops(ASGIHandler(), path),
            "threads_started_per_request": {"stock": stock_threads.count / 20, "fast": fast_threads.count / 20},
            "thread_share_of_stock": round(1 - costs["no threads (instrument)"].wall / costs["stock"].wall, 3),
            "start_join_share_of_stock": round(1 - costs["fast"].wall / costs["stock"].wall, 3),
        }
    return out


async def served_throughput(servers: dict, *, rounds: int, seconds: float) -> dict:
    from helpers import measure as instruments

    figures: dict = {}
    for kind, clients in (("async", 1), ("async", 32), ("sync", 32)):
        urls = {name: server.url + f"time/trivial/{kind}/" for name, server in servers.items()}
        runs = await instruments.compare_served(urls, clients=clients, seconds=seconds, rounds=rounds)
        rates = {name: round(instruments.best_rate(r), 1) for name, r in runs.items()}  # best round: see best_rate
        figures[f"trivial_{kind}_{clients}_clients_rps"] = rates
        figures[f"trivial_{kind}_{clients}_clients_fast_over_stock"] = round(rates["fast"] / rates["stock"], 3)
        figures[f"trivial_{kind}_{clients}_clients_errors"] = sum(x.errors for r in runs.values() for x in r)
        print(
            f"  trivial {kind} view, {clients} clients: " + ", ".join(f"{n} {v:.0f} req/s" for n, v in rates.items()), flush=True
        )
    figures["trivial_async_fast_over_stock"] = figures["trivial_async_32_clients_fast_over_stock"]

    for kind, clients in (("async", 8), ("async", 32)):
        figures |= await pinned_throughput(kind, clients, rounds=rounds, seconds=seconds)

    clients, wait = 200, 0.1
    ideal = clients / wait
    urls = {name: servers[name].url + "time/io/?ms=100" for name in ("stock", "fast")}
    runs = await instruments.compare_served(urls, clients=clients, seconds=max(seconds, 3.0), rounds=max(1, rounds - 1))
    for name, r in runs.items():
        figures[f"io_200_{name}_share_of_ideal"] = round(instruments.median_rate(r) / ideal, 3)
    figures["io_200_errors"] = sum(x.errors for r in runs.values() for x in r)
    print(f"  100 ms I/O view, 200 clients: stock ≈{figures['io_200_stock_share_of_ideal']:.0%}, "
          f"fast ≈{figures['io_200_fast_share_of_ideal']:.0%} of the {ideal:.0f} req/s ideal", flush=True)  # fmt: skip
    return figures


async def pinned_throughput(kind: str, clients: int, *, rounds: int, seconds: float) -> dict:
    """Stock vs fast with every server thread on one CPU and the client on the others."""
    import helpers as lab
    from helpers import measure as instruments

    cpus = instruments.cpus_for_pinning()
    if cpus is None:
        return {}
    server_cpu, client_cpus = cpus
    with instruments.on_cpus(server_cpu):  # the server processes inherit this affinity, every thread of them
        servers = {name: await lab.start_process(app=APPS[name], env=SERVER_ENV) for name in ("stock", "fast")}
    try:
        with instruments.on_cpus(client_cpus):
            urls = {name: server.url + f"time/trivial/{kind}/" for name, server in servers.items()}
            runs = await instruments.compare_served(urls, clients=clients, seconds=seconds, rounds=rounds)
    finally:
        for server in servers.values():
            await server.stop()
    rates = {name: round(instruments.best_rate(r), 1) for name, r in runs.items()}
    print(f"  trivial {kind} view, {clients} clients, servers pinned to one CPU: "
          + ", ".join(f"{n} {v:.0f} req/s" for n, v in rates.items()), flush=True)  # fmt: skip
    return {
        f"trivial_{kind}_{clients}_clients_pinned_rps": rates,
        f"trivial_{kind}_{clients}_clients_pinned_fast_over_stock": round(rates["fast"] / rates["stock"], 3),
    }


async def sse_completion(servers: dict, streams: int) -> dict:
    from helpers import measure as instruments

    count, interval = 10, 1.0
    ideal = (count - 1) * interval
    figures: dict = {}
    for name in ("stock", "fast"):
        url = servers[name].url + f"stream/events/?count={count}&interval={interval}"
        run = await instruments.stream_many(url, streams=streams, ideal_seconds=ideal)
        figures[f"sse_{name}_share_of_ideal"] = round(run.share_of_ideal, 3)
        figures[f"sse_{name}_completed"] = run.completed
        print(f"  {streams} SSE streams of {count} events, {name}: {run.completed} completed in "
              f"≈{run.seconds:.1f} s (ideal {ideal:.0f} s) → ≈{run.share_of_ideal:.0%}", flush=True)  # fmt: skip
    return figures


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = report["per_request"]["async"]["us_per_request"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(costs)
    left.barh(names, [costs[n] for n in names], color=["#888", "#6a6", "#36c", "#c63"])
    left.set_xlabel("µs per request (in process, trivial async view)")
    left.set_title("Where one request's time goes")
    served = report["served"]["trivial_async_32_clients_rps"]
    right.bar(list(served), list(served.values()), color=["#888", "#c63", "#36c"])
    right.set_yscale("log")
    right.set_ylabel("requests/s (log scale), 32 clients")
    right.set_title("Served by uvicorn, one worker")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def verdicts(figures: dict) -> list[dict]:
    rows = []
    for key, threshold, text in TARGETS:
        value = figures.get(key)
        rows.append({"target": text, "value": value, "threshold": threshold,
                     "reached": None if value is None else value >= threshold})  # fmt: skip
    return rows


async def measure(*, quick: bool, sse_streams: int = 0) -> dict:
    """Every figure of this benchmark, as one JSON-able report."""
    os.environ.update(SERVER_ENV)
    import helpers as lab

    lab.setup_django()
    rounds = 2 if quick else 3
    seconds = 1.5 if quick else 2.5
    report: dict = {"rounds": rounds, "seconds_per_run": seconds, "cpu_count": os.cpu_count()}
    print("per-request cost, in process ...", flush=True)
    report["per_request"] = await per_request_costs(rounds)
    for kind, row in report["per_request"].items():
        print(f"  trivial {kind} view: " + ", ".join(f"{n} ≈{v:.0f} µs" for n, v in row["us_per_request"].items())
              + f"; {row['sync_hops_per_request']} sync hops, threads started per request {row['threads_started_per_request']}")  # fmt: skip
    servers = {}
    try:
        for name, app in APPS.items():
            servers[name] = await lab.start_process(app=app, env=SERVER_ENV)
        print("served throughput ...", flush=True)
        report["served"] = await served_throughput(servers, rounds=rounds, seconds=seconds)
        if sse_streams:
            print("SSE streams ...", flush=True)
            report["served"] |= await sse_completion(servers, sse_streams)
    finally:
        for server in servers.values():
            await server.stop()
    report["targets"] = verdicts(report["served"])
    return report


async def bench_step(ctx) -> dict:
    """``lab-bench --only where_the_time_goes [--sse 4000]``; prints each target's state."""
    report = await measure(quick=ctx.sizes.duration < 1.0, sse_streams=ctx.sse_streams)
    served = report["served"]
    for row in report["targets"]:
        state = "not measured" if row["value"] is None else ("reached" if row["reached"] else "NOT reached")
        shown = "" if row["value"] is None else f" (measured ≈{row['value']:.2f})"
        print(f"  {state:>12}: {row['target']}{shown}")
    ctx.figures["where_the_time_goes"] = {
        "fast / stock, trivial async view, 32 clients": served["trivial_async_32_clients_fast_over_stock"],
        "100 ms I/O at 200 clients, share of ideal (stock, fast)": [served["io_200_stock_share_of_ideal"], served["io_200_fast_share_of_ideal"]],
    }  # fmt: skip
    path = ctx.out / "where_the_time_goes.png"
    plot(report, path)
    return report | {"plot": path.name}
