"""Chapter 5: streaming responses over async generators, server-sent events, token streams.

Every stream is wrapped in ``tracked()`` and its id sent in the ``X-Stream-Id`` header, so a
client that hangs up early can ask ``/stream/registry/<id>/`` what became of it.
"""

import asyncio

from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from lab_project.params import BadInput, QueryParams, answers_bad_input, bad_parameter
from lab_project.streaming_sse import sources
from lab_project.streaming_sse.registry import streams, tracked

MAX_PIECES = 200
MAX_DELAY = 2.0  # seconds between pieces
MAX_DURATION = 30.0  # seconds per stream: longer asks would look like a hung server
MAX_WAIT = 5.0


def check_duration(pieces: int, delay: float, name: str) -> None:
    if (pieces - 1) * delay > MAX_DURATION:
        raise bad_parameter(
            name, f"{pieces} pieces at {delay:g} s apart would take over {MAX_DURATION:g} s; ask for fewer or faster"
        )


def paced(request, count_name: str, gap_name: str) -> tuple[int, float]:
    """How many pieces, and how many seconds apart: the two parameters a paced stream takes."""
    params = QueryParams(request.GET, [count_name, gap_name])
    count = params.integer(count_name, 5, low=1, high=MAX_PIECES)
    gap = params.number(gap_name, 0.2, low=0, high=MAX_DELAY)
    check_duration(count, gap, gap_name)
    return count, gap


def streaming(kind: str, chunks, content_type: str) -> StreamingHttpResponse:
    record = streams.open(kind)
    response = StreamingHttpResponse(tracked(record, chunks), content_type=content_type)
    response["X-Stream-Id"] = str(record.id)
    if content_type.startswith("text/event-stream"):
        response["Cache-Control"] = "no-cache"
        # Reverse proxies such as nginx buffer responses by default; this header opts out.
        response["X-Accel-Buffering"] = "no"
    return response


@require_GET
@answers_bad_input
async def text(request):
    """Plain text, one line per chunk, ``delay`` seconds apart."""
    count, delay = paced(request, "chunks", "delay")
    return streaming("text", sources.text_chunks(count, delay), "text/plain; charset=utf-8")


@require_GET
@answers_bad_input
async def events(request):
    """Server-sent events: ``count`` ``tick`` events with ids, then a ``done`` event."""
    count, interval = paced(request, "count", "interval")
    after_id = last_event_id(request, count)
    return streaming("events", sources.tick_events(count, interval, after_id=after_id), "text/event-stream")


def last_event_id(request, count: int) -> int:
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > count:
        raise BadInput("Last-Event-ID", f"must be an event id between 0 and {count}, got {raw[:40]!r}", where="header")
    return int(raw)


@require_GET
@answers_bad_input
async def tokens(request):
    """An LLM-style answer, token by token: as SSE (``format=sse``) or as plain text."""
    params = QueryParams(request.GET, ["prompt", "delay", "format"])
    prompt = params.text("prompt", "What does async buy a Django view?", max_length=200)
    delay = params.number("delay", 0.05, low=0, high=MAX_DELAY)
    form = params.choice("format", "sse", ["sse", "text"])
    check_duration(len(sources.answer_tokens(prompt)), delay, "delay")
    if form == "sse":
        return streaming("tokens", sources.token_events(prompt, delay), "text/event-stream")
    return streaming("tokens", sources.tokens(prompt, delay), "text/plain; charset=utf-8")


@require_GET
@answers_bad_input
async def registry(request):
    """Counts of streams by state, and the most recent streams."""
    QueryParams(request.GET)  # no parameters: any one is refused
    return JsonResponse(streams.snapshot())


@require_GET
@answers_bad_input
async def stream_record(request, stream_id: int):
    """One stream's record; with ``wait``, first wait up to that long for the stream to end."""
    wait = QueryParams(request.GET, ["wait"]).number("wait", 0.0, low=0, high=MAX_WAIT)
    record = streams.get(stream_id)
    if record is None:
        return JsonResponse({"error": f"no stream {stream_id} on this server (ids come from X-Stream-Id)"}, status=404)
    # Polling, not an asyncio.Event: under WSGI each request runs in a loop of its own.
    deadline = asyncio.get_running_loop().time() + wait
    while not record.ended and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return JsonResponse(record.as_dict())
