"""The request-path probes both of chapter 13's entry points are tested with.

``test_13_where_the_time_goes.py`` (the fast entry point, ``FastASGIHandler``) and
``test_13_lean.py`` (the lean one, ``LeanASGIHandler``) promise the same things about the
request path: one request's sync code never runs on a thread another in-flight request holds,
request-scoped state never reaches the next request, an abandoned request's thread is never lent
again, connections open and close as Django means them to. The views, fixtures and checks that
prove it for either handler live here once; what differs between the two (the lean handler's
thread-free async path, the fast handler's plain-``threading.local`` caveat, the two pools'
connection policies) stays in each test file.

A plain module, not a test file: pytest puts ``tests/chapters`` on ``sys.path`` for the test
files next to it, so they ``import request_path_kit as kit``.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import threading
import time
import weakref
from itertools import combinations
from unittest import mock

import httpx
import pytest
from asgiref.local import Local
from django.core.signals import request_finished, request_started
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.http import JsonResponse
from django.test import override_settings
from django.urls import include, path, set_urlconf
from django.utils import timezone, translation

import helpers as lab
from helpers.clients import call_asgi, http_scope
from lab_project.where_the_time_goes.executor_pool import ExecutorPool

# -- views both test modules route to -------------------------------------------------------------
request_local = Local()
request_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="unset")
FRESH_STATE = {"local": "unset", "contextvar": "unset", "timezone": "UTC", "language": "en-us", "db_wrapper_marked": "unset"}


def db_view(request):
    """Run one query; record which connection wrapper ran it and on which thread.

    ``db_view.wrappers`` keeps weak references (so a test can count distinct wrappers and see
    whether they outlived their request); ``db_view.events`` the order of views and connection
    checks (a test points it at a fresh list).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    db_view.wrappers.append(weakref.ref(connections["default"]))  # the wrapper, not the proxy
    db_view.events.append(("view", threading.get_ident()))
    return JsonResponse({"thread": threading.get_ident()})


db_view.wrappers = []
db_view.events = []


def state_view(request):
    """Report the request-scoped state this request found, then set all of it for the next.

    The connection is opened before it is marked, so the mark sits on a wrapper that a pool
    keeping open connections would keep.
    """
    seen = {
        "local": getattr(request_local, "mark", "unset"),
        "contextvar": request_var.get(),
        "timezone": timezone.get_current_timezone_name(),
        "language": translation.get_language(),
        "db_wrapper_marked": getattr(connection, "lab_mark", "unset"),
    }
    request_local.mark = "set by an earlier request"
    request_var.set("set by an earlier request")
    timezone.activate("Asia/Tokyo")
    translation.activate("fr")
    connection.ensure_connection()
    connection.lab_mark = "set by an earlier request"
    return JsonResponse(seen | {"thread": threading.get_ident()})


shared_routes = [
    path("db/", db_view),
    path("state/", state_view),
    path("time/", include("lab_project.where_the_time_goes.urls")),
]


# -- fixtures (each test module binds them to its own URLconf and pool) ----------------------------
def routed_to(urlconf: str):
    """A ``test_urls`` fixture that routes requests to the test module ``urlconf``."""

    @pytest.fixture
    def test_urls():
        with override_settings(ROOT_URLCONF=urlconf):
            yield
        set_urlconf(None)

    return test_urls


def pool_fixture(**pool_options):
    """A ``pool`` fixture: an ``ExecutorPool(**pool_options)`` that must get every executor back."""

    @pytest.fixture
    def pool():
        pool = ExecutorPool(**pool_options)
        yield pool
        assert pool.wait_returned(5), "an executor was never given back"
        pool.shutdown_idle()

    return pool


# -- requests ---------------------------------------------------------------------------------------
async def json_of(app, path_: str) -> dict:
    """GET ``path_`` from ``app`` in a task of its own, as a server runs each request."""
    reply = await asyncio.create_task(call_asgi(app, path_))
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def overlapping(a: dict, b: dict) -> bool:
    return a["started"] < b["finished"] and b["started"] < a["finished"]


def request_with_disconnect(app, path_: str, query: str) -> tuple[asyncio.Task, asyncio.Event]:
    """Start a request whose client disconnects when the returned event is set."""
    disconnect = asyncio.Event()
    body_sent = False

    async def receive():
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b""}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        pass

    return asyncio.create_task(app(http_scope(path_, query=query), receive, send)), disconnect


# -- one request, one thread; never another in-flight request's thread -----------------------------
async def check_overlapping_requests_never_share_a_thread(app, pool: ExecutorPool) -> None:
    """Four waves of six overlapping sync requests: no two in flight share a thread, yet the
    waves reuse the pool's threads."""
    results = []
    for wave in range(4):
        results += await asyncio.gather(*(json_of(app, "/time/thread/?ms=40") for _ in range(6)))
        assert pool.wait_returned(5)  # returning is asynchronous: let every executor come back
    pairs = [(a, b) for a, b in combinations(results, 2) if overlapping(a, b)]
    assert len(pairs) >= 4 * 15 * 0.8, "the requests of a wave should have overlapped"
    assert all(a["thread"] != b["thread"] for a, b in pairs)
    assert len({r["thread"] for r in results}) <= 6  # threads were reused across waves...
    assert pool.counts().reused >= 12  # ... and the pool says so
    assert pool.wait_returned(5)


async def check_request_signals_run_on_the_requests_thread(app) -> None:
    """Five requests in flight at once: each one's request_started and request_finished
    receivers run on the thread its view ran on, and the five have five threads."""
    seen: list[tuple[str, str, int]] = []
    tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag")

    def record(signal, **kwargs):
        seen.append((tag.get(), "started" if signal is request_started else "finished", threading.get_ident()))

    request_started.connect(record)
    request_finished.connect(record)

    async def tagged(name: str) -> dict:
        tag.set(name)
        return {"name": name, **await json_of(app, "/time/thread/?ms=20")}

    try:
        views = await asyncio.gather(*(tagged(f"r{i}") for i in range(5)))
    finally:
        request_started.disconnect(record)
        request_finished.disconnect(record)
    for view in views:
        assert {(kind, thread) for name, kind, thread in seen if name == view["name"]} == {
            ("started", view["thread"]), ("finished", view["thread"])}, (view, seen)  # fmt: skip
    assert len({view["thread"] for view in views}) == 5  # five in flight at once: five threads


# -- database connections ---------------------------------------------------------------------------
async def connection_lifecycle(app, pool: ExecutorPool, max_age: int, requests: int = 5,
                               stop_pool: bool = False) -> dict:  # fmt: skip
    """Serve ``requests`` DB-using requests one after another; count what happened to connections.

    With ``stop_pool`` the pool then stops its idle threads, and the count of closes after that
    is reported too (a pool that keeps connections must close them when its thread ends).
    """
    wrapper_class = type(connections["default"])
    settings = connections.settings["default"]
    original_close = wrapper_class._close
    opened, closed = [], []
    db_view.wrappers.clear()

    def on_created(sender, connection, **kwargs):
        opened.append(connection.alias)

    def counting_close(self):
        closed.append(self.alias)
        return original_close(self)

    connection_created.connect(on_created)
    previous_age, settings["CONN_MAX_AGE"] = settings["CONN_MAX_AGE"], max_age
    try:
        with mock.patch.object(wrapper_class, "_close", counting_close):
            for _ in range(requests):
                await json_of(app, "/db/")
                assert pool.wait_returned(5)
            served = {"opened": len(opened), "closed by Django": len(closed),
                      "distinct wrappers": len({id(ref) for ref in db_view.wrappers})}  # fmt: skip
            if stop_pool:
                pool.shutdown_idle()  # the pool stops its threads: what they kept is closed
                time.sleep(0.2)
                served["closed once the pool stopped"] = len(closed)
    finally:
        settings["CONN_MAX_AGE"] = previous_age
        connection_created.disconnect(on_created)
    gc.collect()
    served["wrappers still alive after their request"] = sum(ref() is not None for ref in db_view.wrappers)
    return served


# -- request-scoped state ---------------------------------------------------------------------------
async def check_request_scoped_state_never_reaches_the_next_request(app, pool: ExecutorPool,
                                                                    reuses_threads: bool) -> None:  # fmt: skip
    """Four ``/state/`` requests in a row each find the state of a fresh request; a handler that
    reuses threads must have served the last on the first one's thread (so the check bites)."""
    first = await json_of(app, "/state/")
    assert pool.wait_returned(5)
    # No waiting between these: the clean-up queued at release runs before the next request's
    # first job on the same thread, so even back-to-back requests find nothing left.
    later = [await json_of(app, "/state/") for _ in range(3)]
    for seen in [first, *later]:
        assert {k: v for k, v in seen.items() if k != "thread"} == FRESH_STATE
    if reuses_threads:
        assert later[-1]["thread"] == first["thread"]  # same thread, and still nothing leaked


# -- disconnects and cancellation -------------------------------------------------------------------
async def check_abandoned_requests_thread_is_not_lent_again(app, pool: ExecutorPool, abandon: str) -> dict:
    """One pooled thread is busy with a request the client abandoned (``abandon``: "client
    disconnects" or "task is cancelled"); the next request neither waits for it nor gets it.
    Returns that next request's reply."""
    await json_of(app, "/time/trivial/sync/")
    assert pool.wait_returned(5) and pool.counts().idle == 1
    abandoned, disconnect = request_with_disconnect(app, "/time/thread/", "ms=1500")
    await asyncio.sleep(0.1)  # its sync view now sleeps on the one pooled thread
    if abandon == "client disconnects":
        disconnect.set()
    else:
        abandoned.cancel()
    await asyncio.sleep(0.05)
    started = time.monotonic()
    fresh = await json_of(app, "/time/thread/")  # must neither wait for that thread ...
    assert time.monotonic() - started < 1.0  # the abandoned view holds its thread 1.5 s
    assert pool.counts().created == 2  # ... nor get it: a second executor was made
    await asyncio.gather(abandoned, return_exceptions=True)
    assert pool.wait_returned(5)  # once the abandoned view has finished, both come back
    assert (pool.counts().idle, pool.counts().lent) == (2, 0)
    return fresh


async def check_cancelled_requests_leave_the_pool_healthy(app, pool: ExecutorPool, paths: list[str]) -> None:
    """Requests to ``paths`` cancelled at several moments: nothing stays lent, no more than
    ``max_idle`` executors stay idle, and four concurrent requests still get four threads."""
    for delay in (0.0, 0.001, 0.005, 0.02, 0.05):
        tasks = [asyncio.create_task(call_asgi(app, p)) for p in paths]
        await asyncio.sleep(delay)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert pool.wait_returned(5)
    counts = pool.counts()
    assert counts.lent == 0 and counts.idle <= pool.max_idle
    after = await asyncio.gather(*(json_of(app, "/time/thread/?ms=20") for _ in range(4)))
    assert len({r["thread"] for r in after}) == 4


# -- the entry points ---------------------------------------------------------------------------------
def check_entry_point_changes_only_the_http_branch(entry_point, handler_class, pool: ExecutorPool) -> None:
    """``entry_point`` (a module like ``lab_project.fast_asgi``) differs from ``lab_project.asgi``
    in its HTTP handler and in its lifespan shutting its own ``pool`` down; websockets are shared."""
    from django.core.handlers.asgi import ASGIHandler

    from lab_project import asgi

    stock, changed = asgi.application.application_mapping, entry_point.application.application_mapping
    assert isinstance(changed["http"], handler_class) and type(stock["http"]) is ASGIHandler
    assert changed["websocket"] is stock["websocket"]
    assert changed["lifespan"].extra_shutdown == (pool.shutdown_idle,)
    assert stock["lifespan"].extra_shutdown == ()  # the pool's clean-up is for its own servers only


async def check_served_entry_point_keeps_concurrent_requests_apart(app_path: str) -> None:
    """Served by uvicorn in a process of its own: three waves of eight overlapping sync requests
    never share a thread while in flight, threads are reused, and an async view answers."""
    server = await lab.start_process(app=app_path, env={"LAB_DEBUG": "0"})
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            results = []
            for wave in range(3):
                responses = await asyncio.gather(*(client.get("time/thread/", params={"ms": 50}) for _ in range(8)))
                results += [r.json() for r in responses]
            assert (await client.get("time/trivial/async/")).json() == {"ok": True, "view": "async"}
        pairs = [(a, b) for a, b in combinations(results, 2) if overlapping(a, b)]
        assert pairs and all(a["thread"] != b["thread"] for a, b in pairs)
        assert len({r["thread"] for r in results}) < len(results)  # and threads were reused
    finally:
        await server.stop()


async def check_non_http_scopes_are_refused_as_django_refuses_them(app) -> None:
    with pytest.raises(ValueError, match="Django can only handle ASGI/HTTP connections, not websocket"):
        await app({"type": "websocket"}, None, None)
