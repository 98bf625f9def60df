"""lab-bench: run the lab's measurements headless and write a report (JSON + PNG plots).

    uv run lab-bench --out bench-report/            # the full set, a few minutes
    uv run lab-bench --out /tmp/quick --quick       # tiny sizes, for tests and a smoke check
    uv run lab-bench --only overhead,slow_io        # a subset (names: see --help)
    uv run lab-bench --only where_the_time_goes --sse 4000   # chapter 13, with its SSE target
    uv run lab-bench --only chat_fanout             # chapter 13's channel layers vs a raw broadcast
    uv run lab-bench --only lean                    # chapter 13's lean path vs stock vs gunicorn gthread

The experiments are the ones chapters 10, 11 and 13 run (``helpers.chapters.ch10_when_async_helps``,
``helpers.chapters.ch11_common_mistakes``), with larger sizes. Servers run in child processes with
``LAB_DEBUG=0`` and a throw-away database; the machine's load is recorded next to the figures,
because on a shared 2-core machine it changes them.

Writes ``results.json`` (every figure), ``summary.md`` (the table printed at the end) and one
PNG per picture. Other chapters can add steps: ``STEPS`` maps a name to an async function
taking a ``BenchContext`` and returning a JSON-able dict.
"""

from __future__ import annotations

__all__ = ["BenchContext", "STEPS", "main", "run_bench"]

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.chapters import ch10_when_async_helps as helps
from helpers.bench import fanout as chat_fanout_bench
from helpers.bench import lean as lean_bench
from helpers.bench import where_the_time_goes as where_the_time_goes_bench


@dataclass(frozen=True)
class Sizes:
    duration: float  # seconds per load run
    overhead_clients: int
    io_clients: int
    io_waits_ms: tuple[int, ...]
    many_threads: int  # gunicorn threads for the "what if WSGI had as many threads as clients" run (0: skip)
    streams: int
    token_streams: int
    tokens: int
    small_clients: int  # CPU, database and sync-behind runs
    middleware_requests: int


FULL = Sizes(
    duration=5.0, overhead_clients=16, io_clients=200, io_waits_ms=(20, 100, 300, 1000), many_threads=200,
    streams=1000, token_streams=100, tokens=20, small_clients=16, middleware_requests=1000,
)  # fmt: skip
QUICK = Sizes(
    duration=0.5, overhead_clients=4, io_clients=20, io_waits_ms=(100,), many_threads=0,
    streams=20, token_streams=5, tokens=5, small_clients=4, middleware_requests=50,
)  # fmt: skip


@dataclass
class BenchContext:
    servers: helps.BenchServers
    sizes: Sizes
    out: Path
    progress: bool
    sse_streams: int = 0  # chapter 13's step also times this many SSE streams when > 0
    figures: dict[str, dict] = field(default_factory=dict)  # step → headline figures for the summary

    def save_figure(self, fig, name: str) -> str:
        import matplotlib.pyplot as plt

        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path.name


# -- the steps ----------------------------------------------------------------------------------------
async def step_overhead(ctx: BenchContext) -> dict:
    from helpers.measure.plots import plot_comparison

    comparison = await helps.measure_overhead(
        ctx.servers, clients=ctx.sizes.overhead_clients, duration=ctx.sizes.duration, progress=ctx.progress
    )
    rps = {label: round(comparison.rps(label)) for label in comparison.results}
    ctx.figures["overhead"] = rps
    return comparison.to_dict() | {"plot": ctx.save_figure(plot_comparison(comparison), "overhead")}


async def step_slow_io(ctx: BenchContext) -> dict:
    from helpers.measure.plots import plot_wait_sweep

    sweep = [
        await helps.measure_slow_io(
            ctx.servers, wait_ms=wait, clients=ctx.sizes.io_clients, duration=ctx.sizes.duration, progress=ctx.progress
        )
        for wait in ctx.sizes.io_waits_ms
    ]
    async_label, wsgi_label = list(sweep[0].results)
    ratios = {f"{wait} ms": round(c.ratio(async_label, wsgi_label), 2) for wait, c in zip(ctx.sizes.io_waits_ms, sweep)}
    ctx.figures["slow_io"] = {"async / WSGI throughput": ratios}
    result = {
        "waits_ms": list(ctx.sizes.io_waits_ms),
        "runs": [c.to_dict() for c in sweep],
        "async_over_wsgi": ratios,
        "plot": ctx.save_figure(plot_wait_sweep(ctx.sizes.io_waits_ms, sweep), "slow_io"),
    }
    if ctx.sizes.many_threads:
        result["wsgi_with_many_threads"] = await _wsgi_with_many_threads(ctx)
    return result


async def _wsgi_with_many_threads(ctx: BenchContext) -> dict:
    """The bound is the point: give gunicorn a thread per client and the gap closes, at a cost in
    memory; this run records both."""
    from helpers.measure.load import run_load
    from helpers.server.wsgi import GunicornServer

    threads = ctx.sizes.many_threads
    async with await GunicornServer(env=helps.BENCH_ENV, threads=threads).start() as server:
        result = await run_load(
            server.url + "helps/io/sync/?ms=100", clients=ctx.sizes.io_clients, duration=ctx.sizes.duration,
            label=f"sync view (gunicorn, {threads} threads)", progress=ctx.progress, server_pid=server.pid,
        )  # fmt: skip
    ctx.figures["slow_io"][f"gunicorn with {threads} threads, 100 ms"] = round(result.throughput_rps)
    return result.summary()


async def step_long_lived(ctx: BenchContext) -> dict:
    from helpers.measure.plots import plot_stream_capacity

    capacities = await helps.measure_long_lived(ctx.servers, streams=ctx.sizes.streams)
    ctx.figures["long_lived"] = {
        c.server: f"held {c.held.held}/{c.held.requested}, {c.kib_per_stream:.0f} KiB/stream, threads {c.threads_during}"
        for c in capacities.values()
    }
    plot = ctx.save_figure(plot_stream_capacity(capacities), "long_lived")
    return {k: c.to_dict() for k, c in capacities.items()} | {"plot": plot}


async def step_token_streaming(ctx: BenchContext) -> dict:
    from helpers.measure.plots import plot_token_streams

    comparison = await helps.measure_token_streaming(ctx.servers, streams=ctx.sizes.token_streams, tokens=ctx.sizes.tokens)
    ctx.figures["token_streaming"] = {label: f"all done in {t.wall_s:.2f} s" for label, t in comparison.times.items()}
    return comparison.to_dict() | {"plot": ctx.save_figure(plot_token_streams(comparison), "token_streaming")}


async def step_no_help(ctx: BenchContext) -> dict:
    from helpers.measure.plots import plot_comparisons

    options = {"clients": ctx.sizes.small_clients, "duration": ctx.sizes.duration, "progress": ctx.progress}
    comparisons = {
        "CPU-bound view": await helps.measure_cpu_bound(ctx.servers, **options),
        "one simple database query": await helps.measure_simple_db(ctx.servers, **options),
        "mostly sync code behind sync_to_async": await helps.measure_sync_behind(ctx.servers, steps=40, ms=1, **options),
    }
    ctx.figures["no_help"] = {
        title: {label: round(c.rps(label)) for label in c.results} for title, c in comparisons.items()
    }
    return {title: c.to_dict() for title, c in comparisons.items()} | {
        "plot": ctx.save_figure(plot_comparisons(comparisons), "no_help")
    }


async def step_mistakes(ctx: BenchContext) -> dict:
    """Chapter 11's two measured mistakes: time.sleep in an async view, a sync-only middleware."""
    from helpers.measure import compare_asgi_apps
    from helpers.chapters.ch11_common_mistakes import handler_with_middleware, lower_quartile_us, probe_while_slow
    from helpers.server.thread import ThreadServer

    async with await ThreadServer().start() as server:
        blocked = await probe_while_slow(server.url, "mistakes/sleep/blocking/?ms=1000")
        fixed = await probe_while_slow(server.url, "mistakes/sleep/awaiting/?ms=1000")
    sync_only = "lab_project.common_mistakes.middleware.SyncOnlyStampMiddleware"
    handlers = {
        "stock stack": handler_with_middleware()[0],
        "sync-only middleware outermost": handler_with_middleware(first=[sync_only])[0],
        "sync-only middleware innermost": handler_with_middleware(last=[sync_only])[0],
    }
    seconds = await compare_asgi_apps(handlers, "/helps/trivial/async/", requests=ctx.sizes.middleware_requests)
    per_request = {name: round(lower_quartile_us(s)) for name, s in seconds.items()}
    ctx.figures["mistakes"] = {
        "ping wait during time.sleep(1) / await asyncio.sleep(1)": f"{blocked.probe_median_s:.3f} s / {fixed.probe_median_s:.3f} s",
        "µs per request (lower quartile)": per_request,
    }
    return {
        "time_sleep": {"probe_median_s_blocked": blocked.probe_median_s, "probe_median_s_fixed": fixed.probe_median_s},
        "middleware_us_per_request_q1": per_request,
    }


STEPS: dict[str, Callable[[BenchContext], Awaitable[dict]]] = {
    "overhead": step_overhead,
    "slow_io": step_slow_io,
    "long_lived": step_long_lived,
    "token_streaming": step_token_streaming,
    "no_help": step_no_help,
    "mistakes": step_mistakes,
    "where_the_time_goes": where_the_time_goes_bench.bench_step,  # chapter 13: stock vs fast handler
    "chat_fanout": chat_fanout_bench.bench_step,
    "lean": lean_bench.bench_step,  # chapter 13: the lean path vs stock vs gunicorn gthread  # chapter 13: channel layers vs a raw websockets broadcast
}


# -- running and reporting --------------------------------------------------------------------------
def _machine() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def summary_markdown(report: dict) -> str:
    lines = [
        f"# lab-bench report ({report['mode']})",
        "",
        f"`{report['command']}` — {report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
        f"load average before {report['machine']['load_average_1_5_15']}, after {report['load_average_after']}; "
        f"{report['elapsed_s']:.0f} s.",
        "",
        "| experiment | figures |",
        "|---|---|",
    ]
    for step, figures in report["figures"].items():
        lines.append(f"| {step} | {json.dumps(figures, ensure_ascii=False)} |")
    return "\n".join(lines) + "\n"


async def run_bench(
    out: Path, *, quick: bool = False, progress: bool = True, only: list[str] | None = None, sse_streams: int = 0
) -> dict:
    """Run the chosen steps and write the report into ``out``; return the report."""
    import matplotlib

    matplotlib.use("Agg")  # headless: files only
    from helpers.server.database import prepare_database

    out.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if quick else FULL
    names = only or list(STEPS)
    started = time.perf_counter()
    report: dict = {
        "mode": "quick" if quick else "full",
        "command": "uv run lab-bench " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("lab-bench") else "run_bench()",
        "machine": _machine(),
        "sizes": sizes.__dict__,
        "steps": {},
    }
    await prepare_database(fresh=False)
    async with await helps.start_bench_servers() as servers:
        ctx = BenchContext(servers, sizes, out, progress, sse_streams)
        for number, name in enumerate(names, 1):
            print(f"[{number}/{len(names)}] {name} …", flush=True)
            step_started = time.perf_counter()
            report["steps"][name] = await STEPS[name](ctx)
            report["steps"][name]["elapsed_s"] = round(time.perf_counter() - step_started, 1)
    report["figures"] = ctx.figures
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    (out / "results.json").write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False))
    (out / "summary.md").write_text(summary_markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-report"), help="report folder (default: bench-report/)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: seconds, not minutes (numbers are not meaningful)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--only", help=f"comma-separated steps, from: {', '.join(STEPS)}")
    parser.add_argument("--sse", type=int, default=0, metavar="STREAMS", help="where_the_time_goes: also time this many SSE streams (e.g. 4000)")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",")] if args.only else None
    unknown = [name for name in only or [] if name not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    # Decided before anything imports the settings: a throw-away SQLite database (unless
    # DATABASE_URL names another, which is then only migrated, never emptied) and DEBUG off,
    # in this process and the servers it starts.
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as data_dir:
        os.environ["LAB_DATA_DIR"] = data_dir
        os.environ["LAB_DEBUG"] = "0"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")
        report = asyncio.run(run_bench(args.out, quick=args.quick, progress=not args.no_progress, only=only, sse_streams=args.sse))
    print()
    print((args.out / "summary.md").read_text())
    print(f"report written to {args.out}/ (results.json, summary.md, PNG plots)")
    return 0 if report["steps"] else 1
