"""Chapter 13's lean-path benchmark: lean vs stock ASGI vs gunicorn gthread, ratios in one run.

    uv run lab-bench --only lean            # about 4 minutes (4,000 SSE streams included)
    uv run lab-bench --only lean --quick    # a smoke check: tiny sizes, numbers not meaningful

Servers are separate processes (one worker each, ``LAB_DEBUG=0``): uvicorn with stock Django
(``lab_project.asgi``), uvicorn with the lean path (``lab_project.lean_asgi``), and gunicorn
gthread (10 threads; 200 for the 100 ms view). Each serves its natural view: async views under
ASGI, the sync twin under WSGI. Figures:

* trivial view, 32 clients: requests/s (best of interleaved rounds) and ratios;
* a view waiting 100 ms, 200 clients: share of the C/L ideal (2,000 req/s), median round;
* N SSE streams of 10 events 1 s apart on one worker: share of the ideal time, and the
  server's OS threads at the peak (``/proc/<pid>/status``);
* chat fan-out (in-memory layer, 50 clients, 10 senders, the chat's flood guard widened as in
  ``chat_fanout``): deliveries/s relative to a raw ``websockets`` broadcast. The lean handler serves HTTP only — its WebSocket branch is
  stock's — so this row checks that nothing was lost there.

The load client: ``wrk`` when it is installed (``apt-get install wrk``; C, light enough not to
be the bottleneck), else the lab's Python client in this process (``measure.compare_served``),
which on 2 cores caps every server near ~1,000 req/s — the report says which one ran.
"""

from __future__ import annotations

__all__ = ["bench_step", "measure"]

import asyncio
import os
import re
import shutil
from statistics import median

ASGI_APPS = {"stock": "lab_project.asgi:application", "lean": "lab_project.lean_asgi:application"}
SERVER_ENV = {"LAB_DEBUG": "0"}
IO_CLIENTS, IO_WAIT = 200, 0.1
# The chat with its flood guard widened (a person's limit would measure the limiter), per entry point.
FANOUT_APPS = {
    "stock": "lab_project.where_the_time_goes.fanout_app:application",
    "lean": "lab_project.where_the_time_goes.fanout_on_lean_app:application",
}

TARGETS = [
    ("trivial_lean_over_gthread", 1.0, "trivial view: lean >= 1.0x gunicorn gthread"),
    ("io_200_lean_over_gthread_200", 1.25, "100 ms I/O, 200 clients: lean >= 1.25x a 200-thread gunicorn"),
    ("io_200_lean_share_of_ideal", 0.60, "100 ms I/O, 200 clients: lean >= 60% of the C/L ideal"),
    ("sse_lean_share_of_ideal", 0.80, "SSE streams: lean >= 80% of ideal time"),
]


async def wrk_once(url: str, *, clients: int, seconds: float) -> tuple[float, int]:
    """(requests/s, errors) of one ``wrk`` run; errors count socket errors and non-2xx/3xx."""
    threads = 2 if clients >= 64 else 1
    process = await asyncio.create_subprocess_exec(
        "wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await process.communicate())[0].decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate for {url}:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    return float(rate.group(1)), errors


async def served(urls: dict[str, str], *, clients: int, seconds: float, rounds: int) -> tuple[dict[str, list[float]], int]:
    """Rates per round of each URL, rounds interleaved; and the total errors."""
    if shutil.which("wrk") is None:
        from helpers import measure as instruments

        runs = await instruments.compare_served(urls, clients=clients, seconds=seconds, rounds=rounds)
        return {name: [r.rate for r in rs] for name, rs in runs.items()}, sum(r.errors for rs in runs.values() for r in rs)
    for url in urls.values():  # warm-up
        await wrk_once(url, clients=min(clients, 8), seconds=1)
    rates: dict[str, list[float]] = {name: [] for name in urls}
    errors = 0
    for _ in range(rounds):
        for name, url in urls.items():
            rate, failed = await wrk_once(url, clients=clients, seconds=seconds)
            rates[name].append(rate)
            errors += failed
    return rates, errors


def os_threads(pid: int | None) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    except (OSError, StopIteration, TypeError):
        return None


async def trivial(servers: dict, *, rounds: int, seconds: float) -> dict:
    urls = {name: servers[name].url + "time/trivial/async/" for name in ASGI_APPS}
    urls["gthread"] = servers["gthread"].url + "time/trivial/sync/"
    runs, errors = await served(urls, clients=32, seconds=seconds, rounds=rounds)
    rates = {name: round(max(r), 1) for name, r in runs.items()}  # best round: others only take away
    print("  trivial view, 32 clients: " + ", ".join(f"{n} ≈{v:.0f} req/s" for n, v in rates.items()), flush=True)
    return {
        "trivial_rps": rates,
        "trivial_errors": errors,
        "trivial_lean_over_stock": round(rates["lean"] / rates["stock"], 2),
        "trivial_lean_over_gthread": round(rates["lean"] / rates["gthread"], 2),
        "trivial_stock_over_gthread": round(rates["stock"] / rates["gthread"], 2),
    }


async def io_bound(servers: dict, *, rounds: int, seconds: float) -> dict:
    ms = int(IO_WAIT * 1000)
    urls = {name: servers[name].url + f"time/io/?ms={ms}" for name in ASGI_APPS}
    urls["gthread_200"] = servers["gthread_200"].url + f"time/thread/?ms={ms}"
    urls["gthread"] = servers["gthread"].url + f"time/thread/?ms={ms}"
    runs, errors = await served(urls, clients=IO_CLIENTS, seconds=max(seconds, 1.0 if rounds == 1 else 3.0), rounds=rounds)
    ideal = IO_CLIENTS / IO_WAIT
    share = {name: round(median(r) / ideal, 3) for name, r in runs.items()}
    print(f"  {ms} ms view, {IO_CLIENTS} clients, share of the {ideal:.0f} req/s ideal: "
          + ", ".join(f"{n} ≈{v:.0%}" for n, v in share.items()), flush=True)  # fmt: skip
    return {
        "io_200_share_of_ideal": share,
        "io_200_errors": errors,
        "io_200_lean_share_of_ideal": share["lean"],
        "io_200_lean_over_stock": round(share["lean"] / share["stock"], 2),
        "io_200_lean_over_gthread_200": round(share["lean"] / share["gthread_200"], 2),
    }


async def sse(servers: dict, streams: int, *, quick: bool = False) -> dict:
    from helpers import measure as instruments

    count, interval = (3, 0.5) if quick else (10, 1.0)
    ideal = (count - 1) * interval
    figures: dict = {}
    for name in ASGI_APPS:
        server = servers[name]
        url = server.url + f"stream/events/?count={count}&interval={interval}"
        peak = os_threads(server.pid) or 0
        run_task = asyncio.create_task(instruments.stream_many(url, streams=streams, ideal_seconds=ideal))
        while not run_task.done():
            peak = max(peak, os_threads(server.pid) or 0)
            await asyncio.sleep(0.25)
        run = run_task.result()
        figures[f"sse_{name}_share_of_ideal"] = round(run.share_of_ideal, 3)
        figures[f"sse_{name}_completed"] = run.completed
        figures[f"sse_{name}_peak_os_threads"] = peak
        print(f"  {streams} SSE streams, {name}: {run.completed} completed in ≈{run.seconds:.1f} s "
              f"(ideal {ideal:.0f} s) → ≈{run.share_of_ideal:.0%}; peak ≈{peak} OS threads", flush=True)  # fmt: skip
    return figures


async def fan_out(*, quick: bool) -> dict:
    import helpers as lab
    from helpers.measure.fanout import FanOutRoom, RawBroadcastServer

    await lab.prepare_database(fresh=False)  # the chat writes its history (as chat_fanout does)
    messages, raw_messages, rounds = (8, 60, 1) if quick else (24, 240, 2)
    env = SERVER_ENV | {"LAB_CHANNEL_LAYER": "memory"}
    servers: dict = {}
    rooms: dict = {}
    rates: dict[str, list[float]] = {}
    exact = True
    try:
        servers["raw"] = await RawBroadcastServer().start()
        for name, app in FANOUT_APPS.items():
            servers[name] = await lab.start_process(app=app, env=env, timeout=90)
        for index, (name, server) in enumerate(servers.items()):
            rooms[name] = await FanOutRoom(server.ws_url, f"leanfanout{index}", 50).__aenter__()
            await rooms[name].round(senders=10, messages=2)
        for _ in range(rounds):
            for name, room in rooms.items():
                run = await room.round(senders=10, messages=raw_messages if name == "raw" else messages, label=name)
                exact = exact and run.exact
                rates.setdefault(name, []).append(run.deliveries_per_s)
    finally:
        for room in rooms.values():
            await room.__aexit__(None, None, None)
        for server in servers.values():
            await server.stop()
    best = {name: max(values) for name, values in rates.items()}
    figures = {f"fanout_{name}_share_of_raw": round(best[name] / best["raw"], 3) for name in ASGI_APPS}
    figures["fanout_every_message_exactly_once"] = exact
    print("  chat fan-out (in-memory layer), deliveries/s vs a raw broadcast: "
          + ", ".join(f"{n} ≈{figures[f'fanout_{n}_share_of_raw']:.1%}" for n in ASGI_APPS), flush=True)  # fmt: skip
    return figures


def verdicts(figures: dict) -> list[dict]:
    return [
        {"target": text, "value": figures.get(key), "threshold": threshold,
         "reached": None if figures.get(key) is None else figures[key] >= threshold}
        for key, threshold, text in TARGETS
    ]  # fmt: skip


async def measure(*, quick: bool, sse_streams: int) -> dict:
    os.environ.update(SERVER_ENV)
    import helpers as lab

    lab.setup_django()
    rounds, seconds = (1, 0.5) if quick else (3, 3.0)
    report: dict = {"rounds": rounds, "seconds_per_run": seconds, "cpu_count": os.cpu_count(), "sse_streams": sse_streams,
                    "load_client": "wrk" if shutil.which("wrk") else "the lab's Python client (wrk not installed)"}  # fmt: skip
    servers: dict = {}
    try:
        for name, app in ASGI_APPS.items():
            servers[name] = await lab.start_process(app=app, env=SERVER_ENV)
        servers["gthread"] = await lab.start_wsgi(threads=10, env=SERVER_ENV)
        servers["gthread_200"] = await lab.start_wsgi(threads=IO_CLIENTS, env=SERVER_ENV)
        figures = await trivial(servers, rounds=rounds, seconds=seconds)
        figures |= await io_bound(servers, rounds=rounds, seconds=seconds)
        if sse_streams:
            figures |= await sse(servers, sse_streams, quick=quick)
    finally:
        for server in servers.values():
            await server.stop()
    figures |= await fan_out(quick=quick)
    report["figures"] = figures
    report["targets"] = verdicts(figures)
    return report


async def bench_step(ctx) -> dict:
    """``lab-bench --only lean``: prints each target's state; ``--sse N`` sets the stream count."""
    quick = ctx.sizes.duration < 1.0
    report = await measure(quick=quick, sse_streams=ctx.sse_streams or (200 if quick else 4000))
    for row in report["targets"]:
        state = "not measured" if row["value"] is None else ("reached" if row["reached"] else "NOT reached")
        shown = "" if row["value"] is None else f" (measured ≈{row['value']:.2f})"
        print(f"  {state:>12}: {row['target']}{shown}")
    figures = report["figures"]
    ctx.figures["lean"] = {
        "trivial view req/s (stock, lean, gthread)": [figures["trivial_rps"][n] for n in ("stock", "lean", "gthread")],
        "100 ms at 200 clients, share of ideal (stock, lean, gthread 200)": [
            figures["io_200_share_of_ideal"][n] for n in ("stock", "lean", "gthread_200")],
    }  # fmt: skip
    return report
