"""The lab's instruments, one of each: compare by taking turns, summarise, load, count, profile, draw.

    compare       interleaved(...) — every comparison in the lab takes turns this way
    stats         percentile, p50/p99, lower quartile, median
    load          run_load: N concurrent HTTP clients (httpx), in child processes if asked
    hammer        a lean keep-alive client for high request rates, and many SSE streams
    connections   thousands of SSE streams or chat clients held open, every event counted
    streams       SSE streams held open, token streams read to the end
    fanout        one chat room, many members, every copy counted
    threads       threads started and jobs handed to an executor, counted
    profile       pyinstrument profiles of in-process requests
    timeline      when each of several concurrent calls ran, drawn
    trace         where one request ran: loop, thread hops, middleware, signals, queries
    load_compare  several paths of one server under load, interleaved, one report
    stream_timing when each piece of a streamed response arrived, drawn
    process_stats a server process's memory, threads and CPU
    logs          what a logger said during a block
    plots         pictures of load results
    cpus          pin a server and its client to different CPUs
"""

from helpers.measure.compare import compare_asgi_apps, interleaved
from helpers.measure.cpus import cpus_for_pinning, on_cpus
from helpers.measure.hammer import (
    StreamRun,
    Throughput,
    best_rate,
    compare_served,
    hammer,
    median_rate,
    stream_many,
)
from helpers.measure.load import LoadResult, run_load
from helpers.measure.load_compare import LoadComparison
from helpers.measure.logs import capture_log
from helpers.measure.plots import (
    plot_comparison,
    plot_comparisons,
    plot_stream_capacity,
    plot_token_streams,
    plot_wait_sweep,
)
from helpers.measure.process_stats import Usage, usage, watch_server
from helpers.measure.profile import profile_requests, profile_share, profile_top
from helpers.measure.stats import lower_quartile, median, p50_p99_ms, percentile
from helpers.measure.stream_timing import StreamTiming, plot_arrivals, time_stream
from helpers.measure.streams import hold_sse_streams, read_token_streams
from helpers.measure.threads import CountingExecutor, ThreadStarts, count_thread_starts
from helpers.measure.timeline import Span, Timeline, compare_timelines, plot_timeline
from helpers.measure.trace import RequestTrace, TraceEvent, trace_request

__all__ = [
    "CountingExecutor",
    "LoadComparison",
    "LoadResult",
    "RequestTrace",
    "Span",
    "StreamRun",
    "StreamTiming",
    "ThreadStarts",
    "Throughput",
    "Timeline",
    "TraceEvent",
    "Usage",
    "best_rate",
    "capture_log",
    "compare_asgi_apps",
    "compare_served",
    "compare_timelines",
    "count_thread_starts",
    "cpus_for_pinning",
    "hammer",
    "hold_sse_streams",
    "interleaved",
    "lower_quartile",
    "median",
    "median_rate",
    "on_cpus",
    "p50_p99_ms",
    "percentile",
    "plot_arrivals",
    "plot_comparison",
    "plot_comparisons",
    "plot_stream_capacity",
    "plot_timeline",
    "plot_token_streams",
    "plot_wait_sweep",
    "profile_requests",
    "profile_share",
    "profile_top",
    "read_token_streams",
    "run_load",
    "stream_many",
    "time_stream",
    "trace_request",
    "usage",
    "watch_server",
]
