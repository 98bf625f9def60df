"""Chapter 13: the smallest views there are, so what a request costs is all framework.

``trivial_async`` and ``trivial_sync`` answer the same JSON; ``io_wait`` stands for a view that
waits on I/O (100 ms by default). ``which_thread`` reports the thread its sync code ran on and
when, which is how the tests check that two overlapping requests never share a thread.
"""

import asyncio
import threading
import time

from django.http import JsonResponse

from lab_project.params import QueryParams, answers_bad_input

MAX_WAIT_MS = 5_000


def _wait_ms(request, default: int) -> int:
    return QueryParams(request.GET, ["ms"]).integer("ms", default, low=0, high=MAX_WAIT_MS)


async def trivial_async(request):
    return JsonResponse({"ok": True, "view": "async"})


def trivial_sync(request):
    return JsonResponse({"ok": True, "view": "sync"})


@answers_bad_input
async def io_wait(request):
    """Await ``ms`` milliseconds (default 100): an upstream call without the upstream."""
    ms = _wait_ms(request, 100)
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"waited_ms": ms})


@answers_bad_input
def which_thread(request):
    """A sync view (so it runs on the request's thread-sensitive thread) that holds it ``ms``."""
    ms = _wait_ms(request, 0)
    started = time.monotonic()
    time.sleep(ms / 1000)
    return JsonResponse({"thread": threading.get_ident(), "started": started, "finished": time.monotonic()})
