"""Chapter 13: the faster entry point is proven safe here; its speed is measured in the
benchmark and the notebook, never in these tests.

What "safe" means, each with a test below:

* thread-sensitive code of one request runs on one thread, and never on a thread that another
  in-flight request holds;
* Django's database connections are opened and closed exactly as with stock Django, with
  ``CONN_MAX_AGE`` 0 and > 0;
* request-scoped state (``asgiref.local.Local``, context variables, Django's URLconf,
  translation, time zone, connection wrappers) does not leak from one request into the next;
* a disconnect or a cancellation mid-request leaves the pool healthy, and a thread still busy
  with an abandoned request is never lent to a new one.

Django's own ASGI and handler test modules are run against the handler by
``scripts/django_suite_with_fast_handler.py`` (CI runs it).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
import weakref
from itertools import combinations
from unittest import mock

import pytest
from asgiref.local import Local
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
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
from lab_project.where_the_time_goes.fast_handler import FastASGIHandler

# -- views only these tests route to -------------------------------------------------------------
request_local = Local()
thread_critical_local = Local(thread_critical=True)
plain_thread_local = threading.local()
request_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="unset")


def db_view(request):
    """Run one query; report which connection wrapper ran it (the tests keep a weak reference)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    db_view.wrappers.append(weakref.ref(connections["default"]))  # the wrapper, not the proxy
    return JsonResponse({"thread": threading.get_ident()})


db_view.wrappers = []


def state_view(request):
    """Report the request-scoped state this request found, then set all of it for the next."""
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
    connection.lab_mark = "set by an earlier request"
    return JsonResponse(seen | {"thread": threading.get_ident()})


def plain_thread_local_view(request):
    seen = {
        "threading.local": getattr(plain_thread_local, "mark", "unset"),
        "thread_critical Local": getattr(thread_critical_local, "mark", "unset"),
    }
    plain_thread_local.mark = thread_critical_local.mark = "set by an earlier request"
    return JsonResponse(seen | {"thread": threading.get_ident()})


straggler_done = asyncio.Event()
straggler_result: dict = {}
straggler_release = asyncio.Event()


async def straggler_view(request):
    """Starts a task that runs thread-sensitive code after the response has gone."""

    async def after_response():
        await straggler_release.wait()
        try:
            straggler_result["thread"] = await sync_to_async(threading.get_ident)()
        except Exception as exc:  # noqa: BLE001 - recorded so the test can show what went wrong
            straggler_result["error"] = repr(exc)
        straggler_done.set()

    straggler_view.task = asyncio.get_running_loop().create_task(after_response())
    return JsonResponse({"started": True})


urlpatterns = [
    path("db/", db_view),
    path("state/", state_view),
    path("plain-local/", plain_thread_local_view),
    path("straggler/", straggler_view),
    path("time/", include("lab_project.where_the_time_goes.urls")),
]

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def test_urls():
    with override_settings(ROOT_URLCONF=__name__):
        yield
    set_urlconf(None)


@pytest.fixture
def pool():
    pool = ExecutorPool(max_idle=4, thread_name_prefix="lab-test-pool")
    yield pool
    assert pool.wait_returned(5), "an executor was never given back"
    pool.shutdown_idle()


def handlers(pool: ExecutorPool) -> dict[str, ASGIHandler]:
    return {"stock": ASGIHandler(), "fast": FastASGIHandler(pool)}


async def json_of(app, path: str) -> dict:
    """GET ``path`` from ``app`` in a task of its own, as a server runs each request."""
    import json

    reply = await asyncio.create_task(call_asgi(app, path))
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def overlapping(a: dict, b: dict) -> bool:
    return a["started"] < b["finished"] and b["started"] < a["finished"]


# -- one request, one thread; never another in-flight request's thread ----------------------------
async def test_overlapping_requests_never_share_a_thread_while_threads_are_reused(test_urls):
    pool = ExecutorPool(max_idle=8)
    app = FastASGIHandler(pool)
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
    pool.shutdown_idle()


async def test_signals_middleware_and_view_of_a_request_share_its_thread(test_urls, pool):
    seen: list[tuple[str, str, int]] = []
    tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag")

    def record(signal, **kwargs):
        seen.append((tag.get(), "started" if signal is request_started else "finished", threading.get_ident()))

    request_started.connect(record)
    request_finished.connect(record)
    app = FastASGIHandler(pool)

    async def tagged(name: str) -> dict:
        tag.set(name)
        return {"name": name, **await json_of(app, "/time/thread/?ms=20")}

    try:
        views = await asyncio.gather(*(tagged(f"r{i}") for i in range(5)))
    finally:
        request_started.disconnect(record)
        request_finished.disconnect(record)
    for view in views:
        threads = {thread for name, _, thread in seen if name == view["name"]}
        assert threads == {view["thread"]}, (view, seen)
    assert len({view["thread"] for view in views}) == 5  # five in flight at once: five threads


async def test_the_served_fast_entry_point_keeps_concurrent_requests_apart():
    import httpx

    server = await lab.start_process(app="lab_project.fast_asgi:application", env={"LAB_DEBUG": "0"})
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            results = []
            for wave in range(3):
                responses = await asyncio.gather(*(client.get("time/thread/", params={"ms": 50}) for _ in range(8)))
                results += [r.json() for r in responses]
        pairs = [(a, b) for a, b in combinations(results, 2) if overlapping(a, b)]
        assert pairs and all(a["thread"] != b["thread"] for a, b in pairs)
        assert len({r["thread"] for r in results}) < len(results)  # and threads were reused
    finally:
        await server.stop()


# -- database connections: exactly as stock Django --------------------------------------------------
async def connection_lifecycle(app, pool: ExecutorPool, max_age: int, requests: int = 5) -> dict:
    """Serve ``requests`` DB-using requests one after another; count what happened to connections."""
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
    finally:
        settings["CONN_MAX_AGE"] = previous_age
        connection_created.disconnect(on_created)
    gc.collect()
    return {
        "opened": len(opened),
        "closed by Django": len(closed),
        "distinct wrappers": len({id(ref) for ref in db_view.wrappers}),
        "wrappers still alive after their request": sum(ref() is not None for ref in db_view.wrappers),
    }


@pytest.mark.parametrize("max_age", [0, 60])
async def test_database_connections_open_and_close_as_with_stock_django(test_urls, pool, max_age):
    outcome = {name: await connection_lifecycle(app, pool, max_age) for name, app in handlers(pool).items()}
    expected_closes = 5 if max_age == 0 else 0  # CONN_MAX_AGE=0: closed at request_finished
    assert outcome["stock"] == {"opened": 5, "closed by Django": expected_closes, "distinct wrappers": 5,
                                "wrappers still alive after their request": 0}  # fmt: skip
    assert outcome["fast"] == outcome["stock"]
    assert pool.counts().reused >= 4  # the fast handler did reuse one thread for these requests


# -- request-scoped state --------------------------------------------------------------------------------
@pytest.mark.parametrize("handler", ["stock", "fast"])
async def test_request_scoped_state_never_reaches_the_next_request(test_urls, pool, handler):
    app = handlers(pool)[handler]
    first = await json_of(app, "/state/")
    assert pool.wait_returned(5)
    # No waiting between these: the clean-up queued at release runs before the next request's
    # first job on the same thread, so even back-to-back requests find nothing left.
    later = [await json_of(app, "/state/") for _ in range(3)]
    fresh = {"local": "unset", "contextvar": "unset", "timezone": "UTC", "language": "en-us", "db_wrapper_marked": "unset"}
    for seen in [first, *later]:
        assert {k: v for k, v in seen.items() if k != "thread"} == fresh
    if handler == "fast":
        assert later[-1]["thread"] == first["thread"]  # same thread, and still nothing leaked


async def test_plain_thread_locals_survive_on_a_reused_thread_as_in_a_wsgi_thread_pool(test_urls, pool):
    """The one difference, pinned so the README stays true.

    A plain ``threading.local`` (or a thread-critical asgiref ``Local``) that the request's
    sync code sets stays on the thread, so the next request served by the same pooled thread
    sees it — as under any thread-pool WSGI server. Stock Django's ASGI handler starts a new
    thread per request, so there it is always gone. Django keeps no request state this way
    (its one thread-critical store, the database connections, is reset by the pool).
    """
    stock = [await json_of(ASGIHandler(), "/plain-local/") for _ in range(2)]
    fast_app = FastASGIHandler(pool)
    fast = []
    for _ in range(2):
        fast.append(await json_of(fast_app, "/plain-local/"))
        assert pool.wait_returned(5)
    assert stock[1]["threading.local"] == stock[1]["thread_critical Local"] == "unset"
    assert fast[1]["thread"] == fast[0]["thread"]
    assert fast[1]["threading.local"] == fast[1]["thread_critical Local"] == "set by an earlier request"


async def test_a_task_outliving_its_request_gets_a_thread_of_its_own(test_urls, pool):
    app = FastASGIHandler(pool)
    straggler_done.clear()
    straggler_release.clear()
    straggler_result.clear()
    await json_of(app, "/straggler/")
    assert pool.wait_returned(5)
    # The next request now holds the pooled thread the straggler's request had.
    slow = asyncio.create_task(json_of(app, "/time/thread/?ms=200"))
    await asyncio.sleep(0.05)
    straggler_release.set()
    await asyncio.wait_for(straggler_done.wait(), 5)
    served = await slow
    assert "error" not in straggler_result, straggler_result  # as with stock: it runs...
    assert straggler_result["thread"] != served["thread"]  # ... but not on a lent thread


# -- disconnects and cancellation -------------------------------------------------------------------
def request_with_disconnect(app, path: str, query: bytes) -> tuple[asyncio.Task, asyncio.Event]:
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

    return asyncio.create_task(app(http_scope(path, query=query.decode()), receive, send)), disconnect


@pytest.mark.parametrize("abandon", ["client disconnects", "task is cancelled"])
async def test_a_thread_still_running_an_abandoned_request_is_not_lent_again(test_urls, pool, abandon):
    app = FastASGIHandler(pool)
    await json_of(app, "/time/trivial/sync/")
    assert pool.wait_returned(5) and pool.counts().idle == 1
    abandoned, disconnect = request_with_disconnect(app, "/time/thread/", b"ms=1500")
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
    after = await asyncio.gather(*(json_of(app, "/time/thread/?ms=20") for _ in range(2)))
    assert {r["thread"] for r in after} >= {fresh["thread"]}  # reused, and all answered
    assert pool.counts().created == 2


async def test_cancelled_requests_leave_the_pool_healthy(test_urls, pool):
    app = FastASGIHandler(pool)
    for delay in (0.0, 0.001, 0.005, 0.02, 0.05):
        tasks = [asyncio.create_task(call_asgi(app, path)) for path in ["/time/io/?ms=100", "/time/thread/?ms=30"] * 3]
        await asyncio.sleep(delay)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert pool.wait_returned(5)
    counts = pool.counts()
    assert counts.lent == 0 and counts.idle <= pool.max_idle
    after = await asyncio.gather(*(json_of(app, "/time/thread/?ms=20") for _ in range(4)))
    assert len({r["thread"] for r in after}) == 4


async def test_the_pool_keeps_at_most_max_idle_executors(test_urls):
    pool = ExecutorPool(max_idle=2)
    app = FastASGIHandler(pool)
    await asyncio.gather(*(json_of(app, "/time/thread/?ms=30") for _ in range(5)))
    assert pool.wait_returned(5)
    counts = pool.counts()
    assert (counts.created, counts.idle, counts.retired, counts.lent) == (5, 2, 3, 0)
    pool.shutdown_idle()
    assert pool.counts().idle == 0
    assert (await call_asgi(app, "/time/trivial/async/")).status == 200  # still usable afterwards


def test_a_forked_child_starts_with_an_empty_pool():
    pool = ExecutorPool()
    executor = pool.acquire()
    executor.submit(int).result()
    pool.release(executor)
    assert pool.wait_returned(5) and pool.counts().idle == 1
    pool._forget_after_fork()  # what os.register_at_fork runs in a child
    assert pool.counts().idle == 0


# -- the entry point and the chapter's views ---------------------------------------------------------
def test_fast_entry_point_changes_only_the_http_branch():
    from lab_project import asgi, fast_asgi
    from lab_project.where_the_time_goes.fast_handler import default_pool

    stock, fast = asgi.application.application_mapping, fast_asgi.application.application_mapping
    assert isinstance(fast["http"], FastASGIHandler) and type(stock["http"]) is ASGIHandler
    assert fast["websocket"] is stock["websocket"]
    # Its lifespan adds the pool's clean-up, for its own servers only.
    assert fast["lifespan"].extra_shutdown == (default_pool().shutdown_idle,)
    assert stock["lifespan"].extra_shutdown == ()


async def test_non_http_scopes_are_refused_as_django_refuses_them(pool):
    with pytest.raises(ValueError, match="Django can only handle ASGI/HTTP connections, not websocket"):
        await FastASGIHandler(pool)({"type": "websocket"}, None, None)


@pytest.mark.parametrize("handler", ["stock", "fast"])
async def test_chapter_views_answer(pool, handler):
    app = handlers(pool)[handler]
    assert await json_of(app, "/time/trivial/async/") == {"ok": True, "view": "async"}
    assert await json_of(app, "/time/trivial/sync/") == {"ok": True, "view": "sync"}
    assert await json_of(app, "/time/io/?ms=5") == {"waited_ms": 5}


@pytest.mark.parametrize("query", ["ms=-1", "ms=abc", "ms=99999", "wait=5", "ms=1.5"])
async def test_bad_wait_is_a_400_that_names_the_problem(http, query):
    response = await http.get(f"time/io/?{query}")
    assert response.status_code == 400
    assert "ms" in response.json()["error"] or "wait" in response.json()["error"]
