"""Chapter 5: streaming responses, server-sent events, token streams, and what a disconnect does."""

import asyncio
import re
import time

import httpx
import pytest
from django.core.asgi import get_asgi_application
from django.test import AsyncClient

import helpers as lab
from helpers import measure
from helpers.server import LabServer, load_app
from lab_project.streaming_sse import sources
from lab_project.streaming_sse.registry import StreamRecord, streams, tracked


async def streamed_text(response) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


def record_of(response) -> StreamRecord:
    return streams.get(int(response["X-Stream-Id"]))


# -- the views, through Django's test client ------------------------------------------------


async def test_text_stream_content_headers_and_record():
    response = await AsyncClient().get("/stream/text/", {"chunks": "3", "delay": "0"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert await streamed_text(response) == "chunk 1 of 3\nchunk 2 of 3\nchunk 3 of 3\n"
    record = record_of(response)
    assert (record.kind, record.state, record.chunks_sent, record.cleaned_up) == ("text", "finished", 3, True)


async def test_sse_stream_has_ids_named_events_and_a_final_done_event():
    response = await AsyncClient().get("/stream/events/", {"count": "2", "interval": "0"})
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert await streamed_text(response) == (
        'id: 1\nevent: tick\ndata: {"n": 1, "of": 2}\n\n'
        'id: 2\nevent: tick\ndata: {"n": 2, "of": 2}\n\n'
        'event: done\ndata: {"ticks": 2}\n\n'
    )


async def test_sse_stream_resumes_after_last_event_id():
    response = await AsyncClient().get(
        "/stream/events/", {"count": "3", "interval": "0"}, headers={"Last-Event-ID": "2"}
    )
    text = await streamed_text(response)
    assert text.startswith('id: 3\nevent: tick\ndata: {"n": 3, "of": 3}\n\n')
    assert text.endswith('event: done\ndata: {"ticks": 1}\n\n')


@pytest.mark.parametrize("last_id", ["abc", "-1", "4", "1.5"])
async def test_sse_stream_rejects_a_bad_last_event_id(last_id):
    response = await AsyncClient().get("/stream/events/", {"count": "3"}, headers={"Last-Event-ID": last_id})
    assert response.status_code == 400
    assert response.json()["header"] == "Last-Event-ID"
    assert "between 0 and 3" in response.json()["error"]


async def test_token_stream_as_text_and_as_sse_carry_the_same_answer():
    client = AsyncClient()
    params = {"prompt": "Why stream?", "delay": "0"}
    text = await streamed_text(await client.get("/stream/tokens/", {**params, "format": "text"}))
    assert text == "".join(sources.answer_tokens("Why stream?"))
    assert text.startswith("You asked: Why stream? Here is the answer")
    sse = await streamed_text(await client.get("/stream/tokens/", params))
    events = [block for block in sse.split("\n\n") if block]
    assert events[0] == 'id: 1\nevent: token\ndata: {"token": "You "}'
    assert events[-1].startswith("event: done\n")
    assert len(events) == len(sources.answer_tokens("Why stream?")) + 1


def test_tokens_are_deterministic():
    assert sources.answer_tokens("a b") == sources.answer_tokens("a b")
    assert "".join(sources.answer_tokens("x")).startswith("You asked: x ")


@pytest.mark.parametrize(
    ("path", "query", "name", "message"),
    [
        ("text", "chunks=0", "chunks", "must be between 1 and 200"),
        ("text", "chunks=many", "chunks", "must be a whole number"),
        ("text", "delay=-1", "delay", "must be between 0 and 2"),
        ("text", "delay=nan", "delay", "must be between 0 and 2"),
        ("text", "chunks=200&delay=2", "delay", "would take over 30 s"),
        ("text", "chunk=3", "chunk", "unknown parameter"),
        ("events", "count=201", "count", "must be between 1 and 200"),
        ("events", "interval=soon", "interval", "must be a number"),
        ("events", "count=100&interval=1", "interval", "would take over 30 s"),
        ("tokens", "format=xml", "format", "must be one of sse, text"),
        ("tokens", "prompt=" + "x" * 201, "prompt", "at most 200 characters"),
        ("tokens", "prompt=a%0Ab", "prompt", "control characters"),
        ("tokens", "delay=3", "delay", "must be between 0 and 2"),
        ("registry", "all=1", "all", "unknown parameter"),
        ("registry/1", "wait=60", "wait", "must be between 0 and 5"),
    ],
)
async def test_bad_query_parameters_get_a_400_naming_them(path, query, name, message):
    response = await AsyncClient().get(f"/stream/{path}/?{query}")
    assert response.status_code == 400
    assert response.json()["parameter"] == name
    assert message in response.json()["error"]


async def test_an_unknown_stream_id_is_a_404_with_a_message():
    response = await AsyncClient().get("/stream/registry/999999/")
    assert response.status_code == 404
    assert "X-Stream-Id" in response.json()["error"]


async def test_registry_counts_streams_by_state():
    client = AsyncClient()
    before = (await client.get("/stream/registry/")).json()["counts"]
    await streamed_text(await client.get("/stream/text/", {"chunks": "1", "delay": "0"}))
    after = (await client.get("/stream/registry/")).json()
    assert after["counts"]["finished"] == before["finished"] + 1
    assert after["counts"]["started"] == before["started"] + 1
    assert after["streams"][-1]["state"] == "finished"


async def test_streams_only_answer_get():
    assert (await AsyncClient().post("/stream/events/")).status_code == 405


# -- tracked(): how a stream records its end --------------------------------------------------


async def test_tracked_records_a_cancellation_and_cleans_up():
    record = streams.open("test")
    stream = tracked(record, sources.text_chunks(10, 5.0))

    async def consume():
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)  # first chunk sent; now waiting 5 s for the second
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (record.state, record.chunks_sent, record.cleaned_up) == ("cancelled", 1, True)


async def test_tracked_records_a_consumer_that_stops_early():
    record = streams.open("test")
    stream = tracked(record, sources.text_chunks(10, 0))
    assert await anext(stream) == "chunk 1 of 10\n"
    await stream.aclose()
    assert (record.state, record.cleaned_up) == ("closed", True)


async def test_a_stream_never_started_stays_open():
    record = streams.open("test")
    assert record.state == "open" and not record.ended


def test_registry_keeps_a_bounded_history():
    from lab_project.streaming_sse.registry import StreamRegistry

    registry = StreamRegistry(keep=3)
    ids = [registry.open("x").id for _ in range(5)]
    assert registry.get(ids[0]) is None and registry.get(ids[-1]) is not None
    assert registry.counts()["open"] == 3


# -- Django's ASGI handler, driven by hand: http.disconnect cancels the stream ----------------


async def test_http_disconnect_cancels_the_stream_in_djangos_asgi_handler():
    app = get_asgi_application()
    hang_up = asyncio.Event()
    sent: list[dict] = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if sum(m["type"] == "http.response.body" for m in sent) == 2:
            hang_up.set()  # the client goes away after two events

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/stream/events/", "raw_path": b"/stream/events/",
        "query_string": b"count=100&interval=0.05", "root_path": "",
        "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    async with asyncio.timeout(5):
        await app(scope, receive, send)  # returns soon after the disconnect, not after 100 events
    headers = dict(sent[0]["headers"])
    record = streams.get(int(headers[b"X-Stream-Id"]))
    assert record.state == "cancelled"
    assert record.cleaned_up
    assert record.chunks_sent < 5


# -- the real server ---------------------------------------------------------------------------


async def test_read_sse_yields_parsed_events(lab_server):
    events = [e async for e in lab.read_sse(lab_server.url + "stream/events/?count=3&interval=0")]
    assert [(e.event, e.id) for e in events] == [("tick", "1"), ("tick", "2"), ("tick", "3"), ("done", "3")]
    assert events[0].json() == {"n": 1, "of": 3}
    assert events[-1].json() == {"ticks": 3}


async def test_read_sse_says_what_the_server_refused(lab_server):
    with pytest.raises(httpx.HTTPStatusError, match=r"answered 400: .*count: must be a whole number"):
        async for _ in lab.read_sse(lab_server.url + "stream/events/?count=x"):
            pass


async def test_closing_the_connection_cancels_and_cleans_up_the_stream(lab_server):
    async with lab.read_sse(lab_server.url + "stream/events/?count=100&interval=0.05") as events:
        stream_id = events.response.headers["X-Stream-Id"]
        async for event in events:
            if event.id == "2":
                break
    async with httpx.AsyncClient(base_url=lab_server.url) as client:
        record = (await client.get(f"stream/registry/{stream_id}/", params={"wait": 3})).json()
    assert record["state"] == "cancelled"
    assert record["cleaned_up"] is True
    assert record["chunks_sent"] < 20


async def test_text_streams_under_asgi(lab_server):
    timing = await measure.time_stream(lab_server.url + "stream/text/?chunks=5&delay=0.2")
    assert timing.body.decode().splitlines() == [f"chunk {n} of 5" for n in range(1, 6)]
    assert len(timing.arrivals) >= 3  # several network reads, not one
    assert timing.last_at >= 0.8  # four pauses of 0.2 s
    assert timing.first_at < 0.5 * timing.last_at


async def test_stopping_the_server_ends_an_open_stream_with_its_clean_up():
    server = await LabServer(load_app(), stop_timeout=0.5).start()
    async with lab.read_sse(server.url + "stream/events/?count=200&interval=0.1") as events:
        record = streams.get(int(events.response.headers["X-Stream-Id"]))
        # Keep the iterator: dropping it would close the response, and the client leaving (not
        # the stop) would be what cancelled the stream.
        received = aiter(events)
        await anext(received)
        assert record.state not in {"cancelled", "finished", "closed"}, record.state
        started = time.perf_counter()
        await server.stop()
        assert time.perf_counter() - started < 3.0
    assert (record.state, record.cleaned_up) == ("cancelled", True)


async def test_runserver_consumes_the_async_stream_before_sending_anything():
    async with await lab.start_runserver() as wsgi:
        timing = await measure.time_stream(wsgi.url + "stream/text/?chunks=5&delay=0.2")
        async with httpx.AsyncClient() as client:
            record = (await client.get(wsgi.url + "stream/registry/")).json()["streams"][-1]
        # Python writes the warning to stderr (line-buffered) before the body is sent.
        warnings = re.findall(r": Warning: (.+)", wsgi.log())
    assert timing.body.decode().count("chunk") == 5
    assert timing.headers_at >= 0.8  # even the status line waited for the whole generator
    assert timing.first_at >= 0.8 * timing.last_at
    assert record["state"] == "finished"
    assert (
        "StreamingHttpResponse must consume asynchronous iterators in order to serve them "
        "synchronously. Use a synchronous iterator instead."
    ) in warnings
