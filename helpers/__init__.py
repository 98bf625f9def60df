"""The lab's notebook helpers. Everything a notebook needs is exported here; the modules
behind it (named with a leading underscore) are free to change.

    import helpers as lab
    server = await lab.start()
    ...
    await server.stop()
"""

from helpers._cache import GetTiming, best_gather_time, time_get_and_aget
from helpers._chat import ChatRefused, ChatSession, chat, login_session, room_channels
from helpers._django import prepare_database, setup_django
from helpers._errors import LabServerError, PortInUseError
from helpers._handler_timing import HandlerTiming, time_handlers
from helpers._nesting import NestingReport, run_nesting_experiment
from helpers._probe import time_request_in_thread
from helpers._process import ProcessServer, start_process
from helpers._server import LabServer, current_server, start
from helpers._sse import SSEStream, read_sse
from helpers._status import LabStatus, status
from helpers._stream_timing import StreamTiming, plot_arrivals, time_stream
from helpers._timing import Span, Timeline, compare_timelines, plot_timeline
from helpers._where_the_time_goes import (
    ExecutorHandler,
    InlineExecutor,
    best_rate,
    compare_per_request,
    compare_served,
    count_sync_hops,
    count_thread_starts,
    cpus_for_pinning,
    median_rate,
    on_cpus,
    profile_requests,
    profile_share,
    profile_top,
    raw_json_app,
    request_in_process,
)
from helpers._wsgi import GunicornServer, RunserverServer, start_runserver, start_wsgi
from helpers._asgi_calls import call_asgi, compare_asgi_apps
from helpers._bench_plots import plot_comparison, plot_comparisons, plot_stream_capacity, plot_token_streams, plot_wait_sweep
from helpers._claims import ClaimsLedger, load_claims
from helpers._common_mistakes import (
    concurrent_gets,
    first_byte_and_total,
    handler_with_middleware,
    lower_quartile_us,
    probe_while_slow,
)
from helpers._load import LoadResult, run_load
from helpers._log_capture import capture_log
from helpers._process_stats import usage, watch_server
from helpers._streams import hold_sse_streams, read_token_streams
from helpers._thread_server import ThreadServer, start_thread_server
from helpers._when_async_helps import (
    BenchServers,
    Comparison,
    measure_cpu_bound,
    measure_long_lived,
    measure_overhead,
    measure_simple_db,
    measure_slow_io,
    measure_sync_behind,
    measure_token_streaming,
    start_bench_servers,
)

__all__ = [
    "BenchServers",
    "ChatRefused",
    "ChatSession",
    "ClaimsLedger",
    "Comparison",
    "ExecutorHandler",
    "GetTiming",
    "GunicornServer",
    "HandlerTiming",
    "InlineExecutor",
    "LabServer",
    "LabServerError",
    "LabStatus",
    "LoadResult",
    "NestingReport",
    "PortInUseError",
    "ProcessServer",
    "RunserverServer",
    "SSEStream",
    "Span",
    "StreamTiming",
    "ThreadServer",
    "Timeline",
    "best_gather_time",
    "best_rate",
    "call_asgi",
    "capture_log",
    "chat",
    "compare_asgi_apps",
    "compare_per_request",
    "compare_served",
    "compare_timelines",
    "concurrent_gets",
    "count_sync_hops",
    "count_thread_starts",
    "cpus_for_pinning",
    "current_server",
    "first_byte_and_total",
    "handler_with_middleware",
    "hold_sse_streams",
    "load_claims",
    "login_session",
    "lower_quartile_us",
    "measure_cpu_bound",
    "measure_long_lived",
    "measure_overhead",
    "measure_simple_db",
    "measure_slow_io",
    "measure_sync_behind",
    "measure_token_streaming",
    "median_rate",
    "on_cpus",
    "plot_arrivals",
    "plot_comparison",
    "plot_comparisons",
    "plot_stream_capacity",
    "plot_timeline",
    "plot_token_streams",
    "plot_wait_sweep",
    "prepare_database",
    "probe_while_slow",
    "profile_requests",
    "profile_share",
    "profile_top",
    "raw_json_app",
    "read_sse",
    "read_token_streams",
    "request_in_process",
    "room_channels",
    "run_load",
    "run_nesting_experiment",
    "setup_django",
    "start",
    "start_bench_servers",
    "start_process",
    "start_runserver",
    "start_thread_server",
    "start_wsgi",
    "status",
    "time_get_and_aget",
    "time_handlers",
    "time_request_in_thread",
    "time_stream",
    "usage",
    "watch_server",
]
