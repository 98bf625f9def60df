"""Chapter 11: each common mistake as a view people really write, next to its fix.

The mistaken views are written plainly, the way the mistake looks in a real project — no
try/except dressing them up. What they do to a server is what the notebook measures.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.core.exceptions import SynchronousOnlyOperation
from django.http import JsonResponse, StreamingHttpResponse

from lab_project.params import QueryParams, answers_bad_input


# -- mistake: the sync ORM inside an async view --------------------------------------------------
async def orm_sync_call(request):
    """The mistake: ``count()`` runs SQL right here, on the event loop's thread."""
    return JsonResponse({"content_types": ContentType.objects.count()})


# This view exists to fail the way real code fails (a 500 from SynchronousOnlyOperation); the
# fuzz tests read the marker and expect exactly that exception from it, and nothing else.
orm_sync_call.deliberate_mistake = SynchronousOnlyOperation


async def orm_a_method(request):
    """The fix: the ``a``-prefixed twin hands the query to a thread and awaits it."""
    return JsonResponse({"content_types": await ContentType.objects.acount()})


# -- mistake: time.sleep in an async view --------------------------------------------------------
def _sleep_ms(request) -> int:
    return QueryParams(request.GET, ["ms"]).integer("ms", 1000, low=0, high=10_000)


@answers_bad_input
async def sleep_blocking(request):
    """The mistake: ``time.sleep`` stops the whole event loop, every other request with it."""
    ms = _sleep_ms(request)
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms, "how": "time.sleep"})


@answers_bad_input
async def sleep_awaiting(request):
    """The fix: ``await asyncio.sleep`` gives the loop back while this request waits."""
    ms = _sleep_ms(request)
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms, "how": "await asyncio.sleep"})


async def ping(request):
    """A request that should always be answered at once: the probe the notebook times."""
    return JsonResponse({"pong": True})


# -- what a WSGI server (runserver) does with sync and async views -------------------------------
@answers_bad_input
def wsgi_slow(request):
    """A slow sync view that reports the thread serving it."""
    ms = QueryParams(request.GET, ["ms"]).integer("ms", 500, low=0, high=10_000)
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms, "thread": threading.current_thread().name})


# How many requests each event loop has served. Weak keys: a loop that is gone drops out, so a
# new loop that happens to reuse an old loop's memory address still starts at 1.
_requests_per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def loop_report(request):
    """Counts requests per event loop: under ASGI one loop serves them all; under WSGI each
    async view gets a one-off loop of its own, so the count is always 1."""
    loop = asyncio.get_running_loop()
    _requests_per_loop[loop] = _requests_per_loop.get(loop, 0) + 1
    return JsonResponse({"requests_on_this_loop": _requests_per_loop[loop], "thread": threading.current_thread().name})


@answers_bad_input
async def async_stream(request):
    """``chunks`` lines, one every ``delay_ms``, from an async generator."""
    params = QueryParams(request.GET, ["chunks", "delay_ms"])
    chunks = params.integer("chunks", 5, low=1, high=100)
    delay = params.integer("delay_ms", 200, low=0, high=5_000) / 1000

    async def lines():
        for n in range(chunks):
            if n:
                await asyncio.sleep(delay)
            yield f"chunk {n}\n".encode()

    return StreamingHttpResponse(lines(), content_type="text/plain")


# -- mistake: ATOMIC_REQUESTS = True with async views (see atomic_requests_settings.py) ---------
async def atomic_async(request):
    """Under ATOMIC_REQUESTS Django refuses to serve this view at all."""
    return JsonResponse({"content_types": await ContentType.objects.acount()})


@transaction.non_atomic_requests
async def atomic_async_opted_out(request):
    """The fix: opt the async view out; put any transaction in a sync function under
    ``sync_to_async`` instead."""
    return JsonResponse({"content_types": await ContentType.objects.acount()})


def atomic_sync(request):
    """A sync view under ATOMIC_REQUESTS: Django wraps it in a transaction."""
    ContentType.objects.count()
    return JsonResponse({"in_atomic_block": connection.in_atomic_block})
