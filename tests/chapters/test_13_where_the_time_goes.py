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
import threading

import pytest
from asgiref.local import Local
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import JsonResponse
from django.urls import path

import request_path_kit as kit
from helpers.clients import call_asgi
from lab_project.where_the_time_goes.executor_pool import ExecutorPool
from lab_project.where_the_time_goes.fast_handler import FastASGIHandler

# -- views only these tests route to (db/, state/ and time/ come from the kit) --------------------
thread_critical_local = Local(thread_critical=True)
plain_thread_local = threading.local()


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
    *kit.shared_routes,
    path("plain-local/", plain_thread_local_view),
    path("straggler/", straggler_view),
]

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

test_urls = kit.routed_to(__name__)
pool = kit.pool_fixture(max_idle=4, thread_name_prefix="lab-test-pool")
json_of = kit.json_of


def handlers(pool: ExecutorPool) -> dict[str, ASGIHandler]:
    return {"stock": ASGIHandler(), "fast": FastASGIHandler(pool)}


# -- one request, one thread; never another in-flight request's thread ----------------------------
async def test_overlapping_requests_never_share_a_thread_while_threads_are_reused(test_urls):
    pool = ExecutorPool(max_idle=8)
    await kit.check_overlapping_requests_never_share_a_thread(FastASGIHandler(pool), pool)
    pool.shutdown_idle()


async def test_signals_middleware_and_view_of_a_request_share_its_thread(test_urls, pool):
    await kit.check_request_signals_run_on_the_requests_thread(FastASGIHandler(pool))


async def test_the_served_fast_entry_point_keeps_concurrent_requests_apart():
    await kit.check_served_entry_point_keeps_concurrent_requests_apart("lab_project.fast_asgi:application")


# -- database connections: exactly as stock Django --------------------------------------------------
@pytest.mark.parametrize("max_age", [0, 60])
async def test_database_connections_open_and_close_as_with_stock_django(test_urls, pool, max_age):
    outcome = {name: await kit.connection_lifecycle(app, pool, max_age) for name, app in handlers(pool).items()}
    expected_closes = 5 if max_age == 0 else 0  # CONN_MAX_AGE=0: closed at request_finished
    assert outcome["stock"] == {"opened": 5, "closed by Django": expected_closes, "distinct wrappers": 5,
                                "wrappers still alive after their request": 0}  # fmt: skip
    assert outcome["fast"] == outcome["stock"]
    assert pool.counts().reused >= 4  # the fast handler did reuse one thread for these requests


# -- request-scoped state --------------------------------------------------------------------------------
@pytest.mark.parametrize("handler", ["stock", "fast"])
async def test_request_scoped_state_never_reaches_the_next_request(test_urls, pool, handler):
    app = handlers(pool)[handler]
    await kit.check_request_scoped_state_never_reaches_the_next_request(app, pool, reuses_threads=handler == "fast")


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
@pytest.mark.parametrize("abandon", ["client disconnects", "task is cancelled"])
async def test_a_thread_still_running_an_abandoned_request_is_not_lent_again(test_urls, pool, abandon):
    app = FastASGIHandler(pool)
    fresh = await kit.check_abandoned_requests_thread_is_not_lent_again(app, pool, abandon)
    after = await asyncio.gather(*(json_of(app, "/time/thread/?ms=20") for _ in range(2)))
    assert {r["thread"] for r in after} >= {fresh["thread"]}  # reused, and all answered
    assert pool.counts().created == 2


async def test_cancelled_requests_leave_the_pool_healthy(test_urls, pool):
    paths = ["/time/io/?ms=100", "/time/thread/?ms=30"] * 3
    await kit.check_cancelled_requests_leave_the_pool_healthy(FastASGIHandler(pool), pool, paths)


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
    from lab_project import fast_asgi
    from lab_project.where_the_time_goes.fast_handler import default_pool

    kit.check_entry_point_changes_only_the_http_branch(fast_asgi, FastASGIHandler, default_pool())


async def test_non_http_scopes_are_refused_as_django_refuses_them(pool):
    await kit.check_non_http_scopes_are_refused_as_django_refuses_them(FastASGIHandler(pool))


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
