"""Where did one request run? The event loop, each hop to a worker thread, each middleware hook,
the view, signal receivers and database queries, on one time axis.

    trace = await trace_request(handler, "/try/hello/")      # or: await server.trace("try/hello/")
    print(trace)                 # a table: when, how long, where (loop or worker), what
    trace.plot()                 # the same as a timeline (helpers.measure.timeline), coloured by thread

How it is measured, with the instruments chapter 13 uses:

* hops: the request runs with its own single-thread executor for thread-sensitive
  ``sync_to_async`` calls (as ``count_sync_hops`` does), wrapped so each job records when and on
  which thread it ran. ``trace.hops`` therefore equals chapter 13's count for the same view.
  (``thread_sensitive=False`` calls go to the loop's default executor and are not hops here.)
* everything else: ``sys.monitoring`` (PEP 669) events on the code objects of interest only —
  the middleware's hooks, the view, ``Signal.send``/``asend`` and their receivers, and the
  cursor's ``execute`` — filtered by a context variable, so only this request is recorded even
  if the server is busy with others. Function-style middleware shows through its hops only.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from helpers.measure.timeline import Span, plot_timeline

__all__ = ["RequestTrace", "TraceEvent", "trace_request"]

LOOP = "event loop"
MIDDLEWARE_HOOKS = ("process_request", "process_view", "process_response", "process_exception", "process_template_response")
_active: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar("lab_trace", default=None)
_lock = threading.Lock()  # one trace at a time: sys.monitoring tool ids are process-wide


@dataclass(frozen=True)
class TraceEvent:
    kind: str  # request, middleware, hop, view, signal, receiver, query
    name: str
    start: float  # seconds since the request began
    end: float
    thread: str  # "event loop" or "worker N" (numbered in order of first use)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class RequestTrace:
    """One request's timeline. ``print(trace)`` shows the table; ``trace.plot()`` draws it."""

    method: str
    path: str
    status: int
    events: list[TraceEvent] = field(default_factory=list)
    hops: int = 0  # thread-sensitive sync_to_async calls (chapter 13's count_sync_hops)

    @property
    def threads(self) -> list[str]:
        """Where the request ran: the loop and each worker thread, in order of first use."""
        return list(dict.fromkeys(e.thread for e in self.events))

    @property
    def queries(self) -> list[str]:
        return [e.name for e in self.events if e.kind == "query"]

    def of_kind(self, kind: str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind == kind]

    def steps(self) -> list[str]:
        """What ran where, in order, without timings (stable from run to run)."""
        return [f"{e.kind:<10} {e.name}  [{e.thread}]" for e in self.events]

    def summary(self) -> str:
        queries = len(self.queries)
        return (
            f"{self.method} {self.path} → {self.status}: {self.hops} hop(s) to a worker thread, "
            f"{queries} quer{'y' if queries == 1 else 'ies'}, ran on {', '.join(self.threads)}"
        )

    def table(self) -> str:
        lines = [self.summary(), f"{'start ms':>9} {'took ms':>8}  {'where':<11} {'what':<10} name"]
        for e in self.events:
            start, took = f"≈{e.start * 1000:.2f}", f"≈{e.duration * 1000:.2f}"  # "≈" right before the number
            lines.append(f"{start:>9} {took:>8}  {e.thread:<11} {e.kind:<10} {e.name}")
        return "\n".join(lines)

    __str__ = table

    def __repr__(self) -> str:
        return f"<RequestTrace {self.summary()}>"

    def plot(self, *, title: str | None = None, ax: Any = None) -> Any:
        """The events as a timeline, one bar each, coloured by the thread they ran on."""
        spans = [Span(f"{e.kind}: {e.name}"[:60], e.start, e.end, e.thread) for e in self.events]
        return plot_timeline(spans, title=title or f"{self.method} {self.path}", ax=ax)


# -- recording ---------------------------------------------------------------------------------
class _Recorder:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.loop_thread = threading.get_ident()
        self.workers: dict[int, str] = {}
        self.events: list[tuple[int, TraceEvent]] = []  # (order of start, event)
        self._open: dict[int, tuple[int, str, str, float, str]] = {}
        self._order = 0
        self._lock = threading.Lock()

    def where(self) -> str:
        ident = threading.get_ident()
        if ident == self.loop_thread:
            return LOOP
        with self._lock:
            return self.workers.setdefault(ident, f"worker {len(self.workers) + 1}")

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def begin(self, key: int, kind: str, name: str) -> None:
        with self._lock:
            self._order += 1
            order = self._order
        self._open[key] = (order, kind, name, self.now(), self.where())

    def end(self, key: int) -> None:
        opened = self._open.pop(key, None)
        if opened is not None:
            order, kind, name, start, where = opened
            self.events.append((order, TraceEvent(kind, name, start, self.now(), where)))

    @contextlib.contextmanager
    def span(self, kind: str, name: str) -> Iterator[None]:
        key = id(object())
        self.begin(key, kind, name)
        try:
            yield
        finally:
            self.end(key)

    def finish(self) -> list[TraceEvent]:
        for key in list(self._open):  # a hook that raised never returned: end it now
            self.end(key)
        return [event for _, event in sorted(self.events, key=lambda pair: pair[0])]


class _RecordingExecutor(Executor):
    """Counts the jobs handed to it (each a hop) and records where and when each ran."""

    def __init__(self, inner: Executor, recorder: _Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.submitted = 0

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        self.submitted += 1
        name = _describe_job(fn)

        def job():
            with self.recorder.span("hop", name):
                return fn(*args, **kwargs)

        return self.inner.submit(job)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def _describe_job(fn: Callable) -> str:
    """asgiref submits partial(thread_handler, loop, exc_info, task_context, func, child); name ``child``."""
    args = getattr(fn, "args", ())
    child = args[-1] if args else fn
    target = getattr(child, "func", child)
    owner = getattr(target, "__self__", None)
    if owner is not None and not isinstance(owner, type(sys)):
        return f"{type(owner).__name__}.{target.__name__}"
    return getattr(target, "__qualname__", None) or repr(target)[:60]


class _Watch:
    """sys.monitoring start/return events on chosen code objects, for the active recorder only."""

    def __init__(self, codes: dict[Any, tuple[str, Callable[[Any], str]]]) -> None:
        self.codes = codes
        self.tool: int | None = None

    def __enter__(self) -> _Watch:
        monitoring = sys.monitoring
        self.tool = next((t for t in (4, 3, 5) if monitoring.get_tool(t) is None), None)
        if self.tool is None:
            return self  # every free tool id is taken (debugger, coverage, profiler): hops only
        monitoring.use_tool_id(self.tool, "lab-trace")
        events = monitoring.events
        monitoring.register_callback(self.tool, events.PY_START, self._start)
        monitoring.register_callback(self.tool, events.PY_RETURN, self._return)
        for code in self.codes:
            monitoring.set_local_events(self.tool, code, events.PY_START | events.PY_RETURN)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.tool is None:
            return
        monitoring = sys.monitoring
        for code in self.codes:
            monitoring.set_local_events(self.tool, code, 0)
        monitoring.register_callback(self.tool, monitoring.events.PY_START, None)
        monitoring.register_callback(self.tool, monitoring.events.PY_RETURN, None)
        monitoring.free_tool_id(self.tool)

    def _start(self, code, offset) -> None:
        recorder = _active.get()
        if recorder is None:
            return
        kind, namer = self.codes[code]
        frame = sys._getframe(1)
        try:
            name = namer(frame)
        except Exception:  # noqa: BLE001 - a name is a nicety; never break the request
            name = code.co_qualname
        recorder.begin(id(frame), kind, name)

    def _return(self, code, offset, value) -> None:
        recorder = _active.get()
        if recorder is not None:
            recorder.end(id(sys._getframe(1)))


def _codes_to_watch(path: str) -> dict[Any, tuple[str, Callable[[Any], str]]]:
    import inspect

    from django.conf import settings
    from django.db.backends.utils import CursorWrapper
    from django.dispatch import Signal
    from django.urls import Resolver404, resolve
    from django.utils.deprecation import MiddlewareMixin
    from django.utils.module_loading import import_string

    codes: dict[Any, tuple[str, Callable[[Any], str]]] = {}

    def method_name(frame) -> str:
        owner = frame.f_locals.get("self")
        return f"{type(owner).__name__}.{frame.f_code.co_name}" if owner is not None else frame.f_code.co_qualname

    for dotted in settings.MIDDLEWARE:
        with contextlib.suppress(ImportError):
            middleware = import_string(dotted)
            if inspect.isclass(middleware):
                for hook in MIDDLEWARE_HOOKS + ("__call__", "__acall__"):
                    function = inspect.getattr_static(middleware, hook, None)
                    owner = next((k for k in middleware.__mro__ if hook in vars(k)), None)
                    if function is not None and hasattr(function, "__code__") and owner is not MiddlewareMixin:
                        codes[function.__code__] = ("middleware", method_name)
            elif hasattr(middleware, "__code__"):  # a factory: watch the functions it defines
                for const in middleware.__code__.co_consts:
                    if inspect.iscode(const):
                        codes[const] = ("middleware", lambda frame, n=middleware.__name__: n)

    with contextlib.suppress(Resolver404):
        view = resolve(path.partition("?")[0]).func
        view = inspect.unwrap(view)  # the playground's guard, decorators that use functools.wraps
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            for verb in view_class.http_method_names:
                function = getattr(view_class, verb, None)
                if hasattr(function, "__code__"):
                    codes[function.__code__] = ("view", method_name)
        elif hasattr(view, "__code__"):
            codes[view.__code__] = ("view", lambda frame: frame.f_code.co_qualname)

    names = _signal_names()
    for method in ("send", "asend", "send_robust", "asend_robust"):
        codes[getattr(Signal, method).__code__] = ("signal", lambda frame: names.get(id(frame.f_locals.get("self")), "signal"))
    for signal_id in names:
        signal = _signals_by_id.get(signal_id)
        for receiver in _receivers(signal):
            code = getattr(receiver, "__code__", None)
            if code is not None and code not in codes:
                codes[code] = ("receiver", lambda frame: frame.f_code.co_qualname)

    def query(frame) -> str:
        sql = " ".join(str(frame.f_locals.get("sql", "")).split())
        return sql if len(sql) <= 70 else sql[:67] + "..."

    for method in (CursorWrapper._execute, CursorWrapper._executemany):
        codes[method.__code__] = ("query", query)
    return codes


_signals_by_id: dict[int, Any] = {}


def _signal_names() -> dict[int, str]:
    """``id(signal) -> "request_started"`` for the signals defined in loaded Django/lab modules."""
    from django.dispatch import Signal

    names: dict[int, str] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(("django.", "lab_project.")) or "signals" not in module_name:
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, Signal):
                names.setdefault(id(value), attribute)
                _signals_by_id[id(value)] = value
    return names


def _receivers(signal: Any) -> list[Callable]:
    found = []
    for entry in getattr(signal, "receivers", ()):
        reference = entry[1]
        receiver = reference() if callable(reference) and type(reference).__name__ in ("ReferenceType", "WeakMethod") else reference
        receiver = getattr(receiver, "__func__", receiver)
        if receiver is not None:
            found.append(receiver)
    return found


# -- one traced request --------------------------------------------------------------------------
async def trace_request(handler: Any, path: str, *, method: str = "GET") -> RequestTrace:
    """Send one ``method path`` through the Django ASGI ``handler`` in process and trace it."""
    from asgiref.sync import ThreadSensitiveContext

    from helpers.clients.asgi import call_asgi

    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"trace a path such as 'try/hello/', got {path!r}")
    path = "/" + path.lstrip("/")
    recorder = _Recorder()
    inner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-trace")
    executor = _RecordingExecutor(inner, recorder)

    async def traced(scope, receive, send):
        async with ThreadSensitiveContext(executor=executor):
            await handler.handle(scope, receive, send)

    if not _lock.acquire(blocking=False):
        raise RuntimeError("another trace is running in this process; trace one request at a time")
    token = _active.set(recorder)
    try:
        with _Watch(_codes_to_watch(path)):
            recorder.where()  # the loop is the thread this coroutine runs on
            with recorder.span("request", f"{method} {path}"):
                reply = await call_asgi(traced, path, method=method)
    finally:
        _active.reset(token)
        _lock.release()
        inner.shutdown(wait=True)
    return RequestTrace(method, path, reply.status, recorder.finish(), executor.submitted)
