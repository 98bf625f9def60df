"""Chapter 13: the lean entry point (``lab_project.lean_asgi``) is proven safe here.

Django's own middleware, CSRF, sessions, messages, auth-middleware, handler, ASGI, signals and
db-utils test modules run against the lean pieces in ``scripts/django_suite_with_fast_handler.py``
(CI runs it). These tests pin what the lab promises on top:

* a request that runs no sync code holds no OS thread (an SSE stream included); a sync view
  still runs on a thread of its own, never one another in-flight request holds;
* the request signals' sync receivers run on the request's thread exactly as stock whenever
  they have something to do (a connection open, a receiver of yours, a cache to close);
* database connections: closed at the end of each request with ``CONN_MAX_AGE`` 0, kept and
  reused with 60 — and closed when the pool stops the thread;
* no request-scoped state reaches the next request; disconnects and cancellation leave the
  pool healthy;
* sessions, CSRF and messages work through the lean middleware, and a save goes through
  ``asave``.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import threading
from unittest import mock

import httpx
import pytest
from django.contrib import messages
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache.backends.locmem import LocMemCache
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.test import override_settings
from django.urls import path

import request_path_kit as kit
from helpers.clients import call_asgi
from helpers.measure import count_thread_starts
from lab_project.lean.executor import close_connections_of_this_thread, keep_open_connections_only
from lab_project.lean.handler import LeanASGIHandler
from lab_project.lean.middleware import LEAN_MIDDLEWARE, LeanCsrfViewMiddleware, LeanSessionMiddleware
from lab_project.where_the_time_goes.executor_pool import ExecutorPool

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# -- views only these tests route to (db/, state/ and time/ come from the kit) --------------------
request_local, request_var = kit.request_local, kit.request_var
stream_open = asyncio.Event()
stream_release = asyncio.Event()


async def async_state_view(request):
    seen = {"local": getattr(request_local, "mark", "unset"), "contextvar": request_var.get()}
    request_local.mark = "set by an earlier request"
    request_var.set("set by an earlier request")
    return JsonResponse(seen)


async def sse_view(request):
    async def events():
        yield b"data: first\n\n"
        stream_open.set()
        await stream_release.wait()
        yield b"data: last\n\n"

    return StreamingHttpResponse(events(), content_type="text/event-stream")


async def visit_view(request):
    """Counts visits in the session, adds a message, hands out a CSRF token (async view)."""
    visits = await request.session.aget("visits", 0) + 1
    await request.session.aset("visits", visits)
    messages.info(request, f"visit {visits}")
    return JsonResponse({"visits": visits, "csrf": get_token(request)})


def read_messages_view(request):
    return JsonResponse({"messages": [str(m) for m in messages.get_messages(request)]})


async def post_view(request):
    return JsonResponse({"posted": True})


def cached_view(request):
    from django.core.cache import caches

    caches["closing"].set("k", 1)
    return JsonResponse({"thread": threading.get_ident()})


urlpatterns = [
    *kit.shared_routes,
    path("async-state/", async_state_view),
    path("sse/", sse_view),
    path("visit/", visit_view),
    path("messages/", read_messages_view),
    path("post/", post_view),
    path("cached/", cached_view),
]


class ClosingCache(LocMemCache):
    """A cache whose close() does something (as memcached's does): it must run as stock."""

    closed_on: list[int] = []

    def close(self, **kwargs):
        ClosingCache.closed_on.append(threading.get_ident())


test_urls = kit.routed_to(__name__)
pool = kit.pool_fixture(max_idle=4, thread_name_prefix="lab-test-lean",
                        cleanup=keep_open_connections_only, on_retire=close_connections_of_this_thread)  # fmt: skip
json_of = kit.json_of


@pytest.fixture
def app(pool):
    return LeanASGIHandler(pool)


# -- threads: none unless sync code runs; never shared by in-flight requests ----------------------
async def test_an_async_view_runs_without_any_thread(test_urls, app, pool):
    with count_thread_starts() as started:
        for path_ in ["/time/trivial/async/", "/time/io/?ms=1", "/async-state/"]:
            await json_of(app, path_)
    assert started.count == 0
    assert pool.counts().created == 0 and pool.counts().lent == 0


async def test_async_request_signal_receivers_are_awaited_on_the_loop_without_a_thread(test_urls, app, pool):
    """An async receiver (django-async-backend connects one) needs no thread: it is awaited on the
    loop, as ``Signal.asend`` would, once per signal; stock would hop for the sync receivers."""
    from django.core.signals import request_finished, request_started

    heard = []

    async def receiver(signal, sender, **kwargs):
        heard.append((signal is request_started, threading.current_thread() is threading.main_thread()))

    request_started.connect(receiver, weak=False)
    request_finished.connect(receiver, weak=False)
    try:
        with count_thread_starts() as started:
            await json_of(app, "/time/trivial/async/")
    finally:
        request_started.disconnect(receiver)
        request_finished.disconnect(receiver)
    assert started.count == 0 and pool.counts().lent == 0
    assert heard == [(True, True), (False, True)]  # started, then finished, both on the loop's thread


async def test_an_error_in_an_async_request_receiver_propagates_as_from_asend(test_urls, app):
    from django.core.signals import request_started

    async def broken(signal, sender, **kwargs):
        raise LookupError("receiver failed")

    request_started.connect(broken, weak=False)
    try:
        with pytest.raises(LookupError, match="receiver failed"):
            await json_of(app, "/time/trivial/async/")
    finally:
        request_started.disconnect(broken)


async def test_a_sync_view_still_runs_in_a_thread(test_urls, app, pool):
    reply = await json_of(app, "/time/thread/")
    assert reply["thread"] != threading.get_ident()
    assert pool.counts().created == 1


async def test_an_open_sse_stream_holds_no_os_thread(test_urls, app, pool):
    stream_open.clear()
    stream_release.clear()
    threads_before = threading.active_count()
    with count_thread_starts() as started:
        streams = [asyncio.create_task(call_asgi(app, "/sse/")) for _ in range(20)]
        await asyncio.wait_for(stream_open.wait(), 5)
        await asyncio.sleep(0.05)
        held = threading.active_count() - threads_before
        stream_release.set()
        replies = await asyncio.gather(*streams)
    assert held <= 0 and started.count == 0 and pool.counts().created == 0
    assert all(r.status == 200 and r.body == b"data: first\n\ndata: last\n\n" for r in replies)


async def test_overlapping_requests_never_share_a_thread_while_threads_are_reused(test_urls):
    pool = ExecutorPool(max_idle=8, cleanup=keep_open_connections_only)
    await kit.check_overlapping_requests_never_share_a_thread(LeanASGIHandler(pool), pool)
    pool.shutdown_idle()


async def test_a_receiver_of_yours_runs_on_the_requests_thread_as_stock(test_urls, app):
    await kit.check_request_signals_run_on_the_requests_thread(app)


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                           "closing": {"BACKEND": f"{__name__}.ClosingCache"}})  # fmt: skip
async def test_a_cache_whose_close_does_work_is_closed_on_the_requests_thread(test_urls, app):
    ClosingCache.closed_on.clear()
    reply = await json_of(app, "/cached/")
    assert ClosingCache.closed_on == [reply["thread"]]


def test_the_copied_handle_is_still_djangos():
    """``LeanASGIHandler.handle`` is Django 6.1.3's with three lines changed: re-check on upgrade."""
    source = inspect.getsource(ASGIHandler.handle)
    assert hashlib.sha256(source.encode()).hexdigest() == "c91f27c7fcdc3fff4f1c7082e91cb30f0bfaa5781ca632a116b1d9e607fd752a", (
        "Django's ASGIHandler.handle changed: port the change into LeanASGIHandler.handle")  # fmt: skip


# -- database connections ---------------------------------------------------------------------------
async def test_conn_max_age_0_closes_each_requests_connection_as_stock(test_urls, app, pool):
    outcome = await kit.connection_lifecycle(app, pool, max_age=0, stop_pool=True)
    assert outcome == {"opened": 5, "closed by Django": 5, "distinct wrappers": 5, "closed once the pool stopped": 5,
                       "wrappers still alive after their request": 0}  # fmt: skip


async def test_conn_max_age_60_keeps_and_reuses_one_connection(test_urls, app, pool):
    outcome = await kit.connection_lifecycle(app, pool, max_age=60, stop_pool=True)
    # Stock ASGI opens 5 here (a new thread, so a new connection, per request) and closes none.
    assert outcome == {"opened": 1, "closed by Django": 0, "distinct wrappers": 1, "closed once the pool stopped": 1,
                       "wrappers still alive after their request": 0}  # fmt: skip


async def test_a_kept_connection_is_checked_before_the_next_request_uses_it(test_urls, app, pool):
    """request_started's close_old_connections, skipped while the request had no thread, runs on
    the pooled thread it borrows before the view when that thread kept a connection."""
    wrapper_class = type(connections["default"])
    original_check = wrapper_class.close_if_unusable_or_obsolete
    events = kit.db_view.events = []

    def recording_check(self):
        events.append(("check", threading.get_ident()))
        return original_check(self)

    settings = connections.settings["default"]
    previous_age, settings["CONN_MAX_AGE"] = settings["CONN_MAX_AGE"], 60
    try:
        with mock.patch.object(wrapper_class, "close_if_unusable_or_obsolete", recording_check):
            for _ in range(2):
                await json_of(app, "/db/")
                assert pool.wait_returned(5)
    finally:
        settings["CONN_MAX_AGE"] = previous_age
    thread = events[-1][1]
    # 1st request: nothing before the view (no connection yet), a check at request_finished.
    # 2nd: a check when it borrows the thread (before the view), and one at request_finished.
    assert events == [("view", thread), ("check", thread), ("check", thread), ("view", thread), ("check", thread)]


# -- request-scoped state --------------------------------------------------------------------------------
async def test_request_scoped_state_never_reaches_the_next_request(test_urls, app, pool):
    await kit.check_request_scoped_state_never_reaches_the_next_request(app, pool, reuses_threads=True)
    for _ in range(2):  # and on the loop, for async views
        assert await json_of(app, "/async-state/") == {"local": "unset", "contextvar": "unset"}


# -- disconnects and cancellation -------------------------------------------------------------------
@pytest.mark.parametrize("abandon", ["client disconnects", "task is cancelled"])
async def test_a_thread_still_running_an_abandoned_request_is_not_lent_again(test_urls, app, pool, abandon):
    await kit.check_abandoned_requests_thread_is_not_lent_again(app, pool, abandon)


async def test_cancelled_requests_leave_the_pool_healthy(test_urls, app, pool):
    stream_release.set()
    paths = ["/time/io/?ms=100", "/time/thread/?ms=30", "/db/", "/visit/"] * 2
    await kit.check_cancelled_requests_leave_the_pool_healthy(app, pool, paths)


# -- sessions, CSRF and messages through the lean middleware -------------------------------------------
async def test_sessions_csrf_and_messages_work_through_the_lean_path(test_urls, app):
    assert {type(m).__name__ for m in _middleware_instances(app)} >= {c.__name__ for c in LEAN_MIDDLEWARE.values()
                                                                      if "XFrame" not in c.__name__}  # fmt: skip
    saves = []
    original_asave = SessionBase.asave

    async def counting_asave(self, *args, **kwargs):
        saves.append(type(self).__name__)
        return await original_asave(self, *args, **kwargs)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        with mock.patch.object(type(_session_store()), "asave", counting_asave):
            first = (await client.get("/visit/")).json()
            second = (await client.get("/visit/")).json()
        assert (first["visits"], second["visits"]) == (1, 2) and saves  # saved through asave
        assert (await client.get("/messages/")).json() == {"messages": ["visit 1", "visit 2"]}
        assert (await client.get("/messages/")).json() == {"messages": []}  # shown once
        refused = await client.post("/post/")
        assert refused.status_code == 403 and b"CSRF" in refused.content
        accepted = await client.post("/post/", headers={"X-CSRFToken": second["csrf"]})
        assert accepted.status_code == 200


def _session_store():
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore()


def _middleware_instances(app):
    found, handler = [], app._middleware_chain
    while handler is not None:
        handler = getattr(handler, "__wrapped__", handler)
        inner = getattr(handler, "get_response", None)
        if inner is None:
            break
        found.append(handler)
        handler = inner
    return found


async def test_csrf_with_sessions_and_unsafe_methods_still_hop(test_urls, pool):
    """Where a hook may do I/O it runs on the request's thread, exactly as stock."""
    app = LeanASGIHandler(pool)
    with mock.patch.object(LeanCsrfViewMiddleware, "process_view", autospec=True, side_effect=lambda *a: None) as hook:
        await call_asgi(app, "/post/", method="POST")
        await json_of(app, "/time/trivial/async/")
    assert hook.call_count == 2
    assert pool.counts().created == 1  # the POST's process_view borrowed a thread; the GET none
    with override_settings(CSRF_USE_SESSIONS=True):
        assert not LeanCsrfViewMiddleware.request_hook_is_inline(None, None)
    assert LeanSessionMiddleware.response_hook_is_inline(None, object(), None)  # no session: inline


# -- the entry point -------------------------------------------------------------------------------------
def test_lean_entry_point_changes_only_the_http_branch():
    from lab_project import lean_asgi
    from lab_project.lean.executor import default_lean_pool

    kit.check_entry_point_changes_only_the_http_branch(lean_asgi, LeanASGIHandler, default_lean_pool())


async def test_non_http_scopes_are_refused_as_django_refuses_them(app):
    await kit.check_non_http_scopes_are_refused_as_django_refuses_them(app)


async def test_the_served_lean_entry_point_keeps_concurrent_requests_apart():
    await kit.check_served_entry_point_keeps_concurrent_requests_apart("lab_project.lean_asgi:application")


async def test_a_plain_response_is_closed_once(test_urls, app):
    closed = []

    class Tracked(HttpResponse):
        def close(self):
            closed.append(True)
            super().close()

    with mock.patch(f"{__name__}.JsonResponse", side_effect=lambda data: Tracked(json.dumps(data))):
        await call_asgi(app, "/async-state/")
    assert closed == [True]
