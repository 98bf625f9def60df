"""Chapter 3: the bridges between sync and async code, seen from inside requests."""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import async_to_sync, sync_to_async
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from lab_project.bridges import legacy_sdk, threads
from lab_project.bridges.models import Note
from lab_project.params import BadInput, QueryParams, answers_bad_input, json_object

MAX_TEXT = Note._meta.get_field("text").max_length


def method_not_allowed(request, allowed: str) -> JsonResponse:
    response = JsonResponse({"error": f"method {request.method} is not allowed here; use {allowed}"}, status=405)
    response["Allow"] = allowed
    return response


@csrf_exempt  # a JSON API for cells and tests; it sets no cookies and reads none
@answers_bad_input
async def notes(request):
    """GET: every note, read with ``sync_to_async(list)(queryset)``. POST: create one."""
    if request.method == "POST":
        return await _create_note(request)
    if request.method != "GET":
        return method_not_allowed(request, "GET, POST")
    QueryParams(request.GET)  # no parameters: any one is refused
    queryset = Note.objects.order_by("id").values("id", "text")  # lazy: no SQL has run yet
    rows = await sync_to_async(list)(queryset)  # list() evaluates it, on a worker thread
    return JsonResponse({"notes": rows, "count": len(rows)})


async def _create_note(request):
    text = json_object(request, ["text"]).get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadInput("text", "required: a non-empty string")
    if len(text) > MAX_TEXT:
        raise BadInput("text", f"at most {MAX_TEXT} characters, got {len(text)}")
    note = await Note.objects.acreate(text=text.strip())
    return JsonResponse({"id": note.id, "text": note.text}, status=201)


@answers_bad_input
async def thread_probe(request):
    """Run the same blocking probe with ``thread_sensitive=True`` and ``False`` in this request."""
    params = QueryParams(request.GET, ["calls", "seconds"])
    calls = params.integer("calls", 3, low=1, high=8)
    seconds = params.number("seconds", 0.05, low=0.0, high=0.5)
    sensitive = await threads.probe(thread_sensitive=True, calls=calls, seconds=seconds)
    insensitive = await threads.probe(thread_sensitive=False, calls=calls, seconds=seconds)
    return JsonResponse(
        {
            "view_thread": threads.current_thread_name(),  # the event loop's thread
            "sensitive": sensitive.as_dict(),
            "insensitive": insensitive.as_dict(),
        }
    )


async def _sleep_twice_concurrently(seconds: float) -> dict:
    started = time.perf_counter()
    await asyncio.gather(asyncio.sleep(seconds), asyncio.sleep(seconds))
    return {"coroutine_thread": threads.current_thread_name(), "coroutine_elapsed": time.perf_counter() - started}


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@answers_bad_input
def sync_view_calling_async(request):
    """A plain ``def`` view. Under ASGI Django runs it on a worker thread with no event loop,
    which is exactly where ``async_to_sync`` is allowed."""
    seconds = QueryParams(request.GET, ["seconds"]).number("seconds", 0.1, low=0.0, high=1.0)
    result = async_to_sync(_sleep_twice_concurrently)(seconds)
    return JsonResponse(
        {
            "view_thread": threads.current_thread_name(),
            "view_has_running_loop": _has_running_loop(),
            "seconds": seconds,
            **result,
        }
    )


@answers_bad_input
async def legacy_sdk_call(request):
    """Call a sync SDK that uses ``asyncio.run`` inside: straight on the event loop
    (``mode=direct``: refused unless nest-asyncio patched this process) or in a thread."""
    params = QueryParams(request.GET, ["seconds", "mode"])
    seconds = params.number("seconds", 0.1, low=0.0, high=3.0)
    mode = params.choice("mode", "thread", ["direct", "thread"])
    started = time.perf_counter()
    if mode == "direct":
        try:
            result = legacy_sdk.fetch(seconds)
        except RuntimeError as exc:
            return JsonResponse(
                {
                    "error": f"the SDK's asyncio.run refused on the event loop's thread: {exc}. "
                    "Call it in a worker thread instead (mode=thread).",
                    "mode": mode,
                },
                status=409,
            )
    else:
        result = await sync_to_async(legacy_sdk.fetch, thread_sensitive=False)(seconds)
    return JsonResponse(
        {
            "mode": mode,
            "result": result,
            "elapsed": time.perf_counter() - started,
            "nested_loop": mode == "direct",
            "nest_asyncio_applied": legacy_sdk.loop_is_nestable(),
        }
    )
