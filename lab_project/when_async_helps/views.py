"""Chapter 10: pairs of views with the same logic, one ``async def`` and one plain ``def``.

The benchmarks serve the async twin from uvicorn and the sync twin from a threaded WSGI
server (gunicorn, gthread workers), so a difference in the numbers comes from the serving
model, not from the work. Every view takes its sizes from the query string, within bounds.
"""

from __future__ import annotations

import asyncio
import json
import time

from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse

from lab_project.params import QueryParams, answers_bad_input
from lab_project.raw_asgi import TRIVIAL_BODY


# -- the same trivial answer, to see what the framework itself costs --------------------------
async def trivial_async(request):
    return HttpResponse(TRIVIAL_BODY, content_type="application/json")


def trivial_sync(request):
    return HttpResponse(TRIVIAL_BODY, content_type="application/json")


# -- waiting on slow I/O (a 100 ms upstream, by default) ------------------------------------
def _wait_ms(request) -> int:
    return QueryParams(request.GET, ["ms"]).integer("ms", 100, low=0, high=10_000)


@answers_bad_input
async def io_async(request):
    ms = _wait_ms(request)
    await asyncio.sleep(ms / 1000)  # the loop serves other requests meanwhile
    return JsonResponse({"waited_ms": ms})


@answers_bad_input
def io_sync(request):
    ms = _wait_ms(request)
    time.sleep(ms / 1000)  # this thread can do nothing else meanwhile
    return JsonResponse({"waited_ms": ms})


# -- mostly sync code behind sync_to_async ----------------------------------------------------
def blocking_client_call(ms: int) -> int:
    """Stands for one call into a sync-only library (a sync SDK, ``requests``): it blocks its thread."""
    time.sleep(ms / 1000)
    return ms


def _steps(request) -> tuple[int, int]:
    params = QueryParams(request.GET, ["steps", "ms"])
    steps = params.integer("steps", 10, low=1, high=1_000)
    ms = params.integer("ms", 2, low=0, high=1_000)
    return steps, ms


@answers_bad_input
async def sync_behind_async(request):
    """``async def`` on the outside, sync calls inside: each one hops to a thread and back."""
    steps, ms = _steps(request)
    waited = 0
    for _ in range(steps):
        waited += await sync_to_async(blocking_client_call)(ms)
    return JsonResponse({"steps": steps, "waited_ms": waited})


@answers_bad_input
def sync_behind_sync(request):
    """The same calls in a plain view: no hops (under ASGI, Django runs it on a thread once)."""
    steps, ms = _steps(request)
    waited = sum(blocking_client_call(ms) for _ in range(steps))
    return JsonResponse({"steps": steps, "waited_ms": waited})


# -- CPU-bound work ----------------------------------------------------------------------------
def spin(rounds: int) -> int:
    """Pure-Python arithmetic: holds the GIL the whole time (unlike hashlib, which releases it)."""
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return total


def _rounds(request) -> int:
    return QueryParams(request.GET, ["rounds"]).integer("rounds", 100_000, low=0, high=5_000_000)


@answers_bad_input
async def cpu_async(request):
    return JsonResponse({"result": spin(_rounds(request))})


@answers_bad_input
def cpu_sync(request):
    return JsonResponse({"result": spin(_rounds(request))})


# -- one simple database query -----------------------------------------------------------------
# ContentType rows exist in every migrated Django project, so no seeding is needed; the lookup
# is by a unique index, as simple as a query gets.
async def db_async(request):
    content_type = await ContentType.objects.aget(app_label="auth", model="user")
    return JsonResponse({"id": content_type.pk, "model": content_type.model})


def db_sync(request):
    content_type = ContentType.objects.get(app_label="auth", model="user")
    return JsonResponse({"id": content_type.pk, "model": content_type.model})


# -- long-lived streams (server-sent events) ---------------------------------------------------
def sse_event(data: object, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def sse_response(events) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the stream
    return response


def _stream_shape(request) -> tuple[int, float]:
    params = QueryParams(request.GET, ["events", "interval_ms"])
    events = params.integer("events", 10, low=1, high=10_000)
    interval_ms = params.integer("interval_ms", 1000, low=0, high=60_000)
    return events, interval_ms / 1000


@answers_bad_input
async def sse_async(request):
    """An event at once, then one every ``interval_ms``: the connection stays open meanwhile."""
    events, interval = _stream_shape(request)

    async def stream():
        for n in range(events):
            if n:
                await asyncio.sleep(interval)
            yield sse_event({"n": n}, n)

    return sse_response(stream())


@answers_bad_input
def sse_sync(request):
    """The same stream from a sync generator: under WSGI it holds a thread the whole time."""
    events, interval = _stream_shape(request)

    def stream():
        for n in range(events):
            if n:
                time.sleep(interval)
            yield sse_event({"n": n}, n)

    return sse_response(stream())


# -- LLM-style token streaming -----------------------------------------------------------------
SENTENCE = (
    "async views pay off when a request spends its time waiting on someone else, such as a "
    "language model producing one token after another"
).split()


def _token_shape(request) -> tuple[int, float]:
    params = QueryParams(request.GET, ["tokens", "delay_ms"])
    tokens = params.integer("tokens", 20, low=1, high=2_000)
    delay_ms = params.integer("delay_ms", 50, low=0, high=10_000)
    return tokens, delay_ms / 1000


def token_events(tokens: int):
    for n in range(tokens):
        yield sse_event({"token": SENTENCE[n % len(SENTENCE)]}, n)


@answers_bad_input
async def tokens_async(request):
    """Tokens as a model would emit them: each after a delay, then ``[DONE]`` (OpenAI-style)."""
    tokens, delay = _token_shape(request)

    async def stream():
        for event in token_events(tokens):
            await asyncio.sleep(delay)
            yield event
        yield sse_event("[DONE]")

    return sse_response(stream())


@answers_bad_input
def tokens_sync(request):
    tokens, delay = _token_shape(request)

    def stream():
        for event in token_events(tokens):
            time.sleep(delay)
            yield event
        yield sse_event("[DONE]")

    return sse_response(stream())
