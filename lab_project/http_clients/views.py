"""Views that call the slow upstream with ``httpx.AsyncClient``: one call, and ``n`` calls made
sequentially, with ``asyncio.gather`` and with an ``asyncio.TaskGroup``.

Each fan-out answer lists every call with its start and end (seconds since the view began),
so a notebook can draw the timeline that shows why the concurrent versions are fast.

Query parameters: ``n`` (calls, fan-out views only), ``timeout`` (seconds per call),
``upstream`` (a loopback base URL, default: this server), ``client`` (``shared``, or
``per_call`` to show the cost of a client per call), and the upstream's own parameters
(``latency_ms``, ``jitter_ms``, ``seed``, ``status``, ``fail_rate``, ``fault``, ``name``),
checked here with the upstream's rules before any call is made.
"""

from __future__ import annotations

import asyncio
import functools

from django.http import JsonResponse

from lab_project.http_clients.calls import CallLog, Calls
from lab_project.http_clients.upstream import UpstreamError
from lab_project.params import answers_bad_input


def _get_only(view):
    """A JSON 405 for any method but GET (Django's ``require_GET`` answers with an empty body)."""

    @functools.wraps(view)
    async def get_only(request, *args, **kwargs):
        if request.method != "GET":
            return JsonResponse({"error": f"method {request.method} not allowed: use GET"}, status=405)
        return await view(request, *args, **kwargs)

    return get_only


@_get_only
@answers_bad_input
async def fetch(request):
    """One upstream call; its JSON, or a clean 502/504 saying what went wrong."""
    calls = Calls.from_request(request, fan_out=False)
    log = CallLog(calls)
    try:
        body = await log.call(1)
    except UpstreamError as error:
        return log.failure("fetch", [error])
    return JsonResponse(log.summary("fetch") | {"upstream": body})


@_get_only
@answers_bad_input
async def sequential(request):
    """``n`` calls, each awaited before the next starts: total ≈ the sum of the latencies."""
    calls = Calls.from_request(request, fan_out=True)
    log = CallLog(calls)
    for index in range(1, calls.n + 1):
        try:
            await log.call(index)
        except UpstreamError as error:
            return log.failure("sequential", [error])  # the remaining calls are never made
    return JsonResponse(log.summary("sequential"))


@_get_only
@answers_bad_input
async def gather(request):
    """``n`` calls at once with ``asyncio.gather``: total ≈ the slowest call.

    ``return_exceptions=True`` waits for every call and collects the failures; without it the
    first failure would return while the other calls ran on, unobserved.
    """
    calls = Calls.from_request(request, fan_out=True)
    log = CallLog(calls)
    results = await asyncio.gather(*(log.call(i) for i in range(1, calls.n + 1)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, UpstreamError):
            raise result  # a bug, not an upstream failure: let Django report it
    errors = [r for r in results if isinstance(r, UpstreamError)]
    if errors:
        return log.failure("gather", errors)
    return JsonResponse(log.summary("gather"))


@_get_only
@answers_bad_input
async def taskgroup(request):
    """``n`` calls at once in an ``asyncio.TaskGroup``: the first failure cancels the others."""
    calls = Calls.from_request(request, fan_out=True)
    log = CallLog(calls)
    errors: list[UpstreamError] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(log.call(i)) for i in range(1, calls.n + 1)]
    except* UpstreamError as failed:
        errors = list(failed.exceptions)  # ``return`` is not allowed inside ``except*``
    if errors:
        cancelled = sum(task.cancelled() for task in tasks)
        return log.failure("taskgroup", errors, cancelled=cancelled)
    return JsonResponse(log.summary("taskgroup"))
