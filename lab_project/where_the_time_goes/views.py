"""Chapter 13: the smallest views there are, so what a request costs is all framework.

``trivial_async`` and ``trivial_sync`` answer the same JSON; ``io_wait`` stands for a view that
waits on I/O (100 ms by default). ``which_thread`` reports the thread its sync code ran on and
when, which is how the tests check that two overlapping requests never share a thread.
"""

import asyncio
import threading
import time

from django.http import JsonResponse

MAX_WAIT_MS = 5_000


def _milliseconds(request, name: str, default: int) -> int | JsonResponse:
    """``?name=`` as whole milliseconds in 0..MAX_WAIT_MS, or a 400 that says what is wrong."""
    unknown = sorted(set(request.GET) - {name})
    if unknown:
        return JsonResponse({"error": f"unknown parameter {unknown[0]!r} (this view takes: {name})"}, status=400)
    raw = request.GET.get(name, "").strip()
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) > MAX_WAIT_MS:
        return JsonResponse({"error": f"{name}: a whole number from 0 to {MAX_WAIT_MS}, got {raw[:40]!r}"}, status=400)
    return int(raw)


async def trivial_async(request):
    return JsonResponse({"ok": True, "view": "async"})


def trivial_sync(request):
    return JsonResponse({"ok": True, "view": "sync"})


async def io_wait(request):
    """Await ``ms`` milliseconds (default 100): an upstream call without the upstream."""
    ms = _milliseconds(request, "ms", 100)
    if isinstance(ms, JsonResponse):
        return ms
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"waited_ms": ms})


def which_thread(request):
    """A sync view (so it runs on the request's thread-sensitive thread) that holds it ``ms``."""
    ms = _milliseconds(request, "ms", 0)
    if isinstance(ms, JsonResponse):
        return ms
    started = time.monotonic()
    time.sleep(ms / 1000)
    return JsonResponse({"thread": threading.get_ident(), "started": started, "finished": time.monotonic()})
