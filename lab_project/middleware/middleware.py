"""Three middlewares that differ only in which mode they can run in.

Each one notes on the request where it ran (its mode, and whether on the event loop's thread
or a worker thread) and stamps a response header, so a cell can see what Django made of it:

* ``AsyncOnlyMiddleware``  — ``async_capable = True, sync_capable = False``: always async; if
  the layer inside it is sync, Django wraps that layer in ``sync_to_async``.
* ``dual_mode_middleware`` — both capable; it checks ``get_response`` to learn which mode
  Django chose for it, and says so in ``X-Lab-Dual-Mode``.
* ``SyncOnlyMiddleware``   — Django's default flags (sync only), like much third-party
  middleware; in an async stack Django adapts around it on every request.

``async_only_function_middleware`` and ``sync_only_function_middleware`` are the same two modes
written as factory functions, flagged with Django's ``async_only_middleware`` /
``sync_only_middleware`` decorators instead of class attributes.

None of them is in the lab's default ``MIDDLEWARE``; ``stacks.py`` builds handlers with them.
"""

from __future__ import annotations

import asyncio
from inspect import iscoroutinefunction, markcoroutinefunction

from django.utils.decorators import async_only_middleware, sync_and_async_middleware, sync_only_middleware


def thread_kind() -> str:
    """"event loop" on the thread that runs the server's loop, "worker" on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "worker"
    return "event loop"


def note(request, middleware: str, mode: str) -> None:
    """Append this middleware's visit to ``request.lab_middleware_trace`` (outermost first)."""
    trace = getattr(request, "lab_middleware_trace", None)
    if trace is None:
        trace = request.lab_middleware_trace = []
    trace.append({"middleware": middleware, "mode": mode, "thread": thread_kind()})


class AsyncOnlyMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response  # always async here: Django adapted it if it was not
        # An instance with an ``async def __call__`` is not a coroutine function to inspect;
        # marking it is what tells the layer outside (Django's exception wrapper) to await it.
        markcoroutinefunction(self)

    async def __call__(self, request):
        note(request, "async_only", "async")
        response = await self.get_response(request)
        response["X-Lab-Async-Only"] = thread_kind()
        return response


@sync_and_async_middleware
def dual_mode_middleware(get_response):
    """Runs in the mode of the layer inside it, which ``get_response`` reveals."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            note(request, "dual", "async")
            response = await get_response(request)
            response["X-Lab-Dual-Mode"] = "async"
            return response

    else:

        def middleware(request):
            note(request, "dual", "sync")
            response = get_response(request)
            response["X-Lab-Dual-Mode"] = "sync"
            return response

    return middleware


class SyncOnlyMiddleware:
    sync_capable = True  # Django's defaults, spelled out
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        note(request, "sync_only", "sync")
        response = self.get_response(request)
        response["X-Lab-Sync-Only"] = thread_kind()
        return response


@async_only_middleware
def async_only_function_middleware(get_response):
    """``AsyncOnlyMiddleware`` as a factory: the decorator sets the same two flags on it.

    What it returns is an ``async def`` function, already a coroutine function, so unlike the
    class instance it needs no ``markcoroutinefunction``.
    """

    async def middleware(request):
        note(request, "async_only_fn", "async")
        response = await get_response(request)
        response["X-Lab-Async-Only-Fn"] = thread_kind()
        return response

    return middleware


@sync_only_middleware
def sync_only_function_middleware(get_response):
    """``SyncOnlyMiddleware`` as a factory. The decorator spells out Django's default (sync
    only): a plain factory without it would be treated the same."""

    def middleware(request):
        note(request, "sync_only_fn", "sync")
        response = get_response(request)
        response["X-Lab-Sync-Only-Fn"] = thread_kind()
        return response

    return middleware
