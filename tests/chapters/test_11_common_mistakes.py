"""Chapter 11: each mistaken view misbehaves the way the notebook says, each fix works, and the
instruments behind the notebook (log capture, handler builder, probes) do what they claim."""

from __future__ import annotations

import asyncio
import inspect
import logging

import httpx
import pytest
from django.core.exceptions import SynchronousOnlyOperation
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import HttpResponse
from django.test import AsyncClient, RequestFactory

import helpers as lab
from helpers import measure
from helpers.chapters import ch11_common_mistakes as ch11
from lab_project.common_mistakes import middleware, views

SYNC_ONLY = "lab_project.common_mistakes.middleware.SyncOnlyStampMiddleware"
ASYNC_READY = "lab_project.common_mistakes.middleware.async_ready_stamp_middleware"


@pytest.fixture(scope="module")
async def thread_server():
    server = await lab.start_thread_server()
    yield server
    await server.stop()


async def test_sync_orm_in_an_async_view_raises_and_the_a_method_works():
    with lab.capture_log("django.request") as logged:
        with pytest.raises(SynchronousOnlyOperation):
            await AsyncClient().get("/mistakes/orm/sync-call/")
    assert logged[0].exception_type == "SynchronousOnlyOperation"
    fixed = await AsyncClient().get("/mistakes/orm/a-method/")
    assert fixed.status_code == 200 and fixed.json()["content_types"] > 0


def test_capture_log_restores_the_logger():
    logger = logging.getLogger("django.request")
    before = logger.level, list(logger.handlers), logger.propagate
    with lab.capture_log("django.request") as records:
        logger.debug("seen")
    logger.error("not captured any more")  # goes to the lab's stderr handler again
    assert [r.message for r in records] == ["seen"]
    assert (logger.level, list(logger.handlers), logger.propagate) == before


@pytest.mark.parametrize("kind", ["blocking", "awaiting"])
async def test_sleep_views(kind):
    response = await AsyncClient().get(f"/mistakes/sleep/{kind}/?ms=1")
    assert response.json()["slept_ms"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/mistakes/sleep/blocking/?ms=11000",
        "/mistakes/sleep/awaiting/?ms=soon",
        "/mistakes/wsgi/slow/?ms=-1",
        "/mistakes/wsgi/stream/?chunks=0",
        "/mistakes/wsgi/stream/?delay_ms=1.5",
    ],
)
async def test_bad_parameters_are_a_400_with_a_message(path):
    response = await AsyncClient().get(path)
    assert response.status_code == 400
    assert response.json()["error"].split(":")[0] in {"ms", "chunks", "delay_ms"}


async def test_time_sleep_in_an_async_view_delays_other_requests(thread_server):
    blocked = await ch11.probe_while_slow(thread_server.url, "mistakes/sleep/blocking/?ms=400", probes=3)
    fixed = await ch11.probe_while_slow(thread_server.url, "mistakes/sleep/awaiting/?ms=400", probes=3)
    assert blocked.probe_median_s > 0.2 > fixed.probe_median_s


async def test_loop_report_counts_requests_on_one_loop():
    first = (await AsyncClient().get("/mistakes/wsgi/loop/")).json()["requests_on_this_loop"]
    second = (await AsyncClient().get("/mistakes/wsgi/loop/")).json()["requests_on_this_loop"]
    assert second == first + 1  # the test client runs the view on this test's loop


async def test_async_stream_and_first_byte_timing(thread_server):
    response = await AsyncClient().get("/mistakes/wsgi/stream/?chunks=3&delay_ms=0")
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"
    first, total = await ch11.first_byte_and_total(thread_server.url + "mistakes/wsgi/stream/?chunks=3&delay_ms=100")
    assert first < total and total >= 0.2


async def test_concurrent_gets_returns_every_body(thread_server):
    took, bodies = await ch11.concurrent_gets(thread_server.url + "mistakes/wsgi/slow/?ms=0", 3)
    assert took > 0 and len(bodies) == 3 and all("thread" in b for b in bodies)


async def test_sync_only_middleware_is_adapted_and_the_fix_is_not():
    outer, outer_log = ch11.handler_with_middleware(first=[SYNC_ONLY])
    fixed, fixed_log = ch11.handler_with_middleware(last=[ASYNC_READY])
    assert outer_log == [f"Asynchronous handler adapted for middleware {SYNC_ONLY}."]
    assert fixed_log == []
    assert (await lab.call_asgi(outer, "/helps/trivial/async/")).headers[middleware.HEADER.lower()] == "sync-only"
    assert (await lab.call_asgi(fixed, "/helps/trivial/async/")).headers[middleware.HEADER.lower()] == "async-ready"
    timings = await measure.compare_asgi_apps({"outer": outer, "fixed": fixed}, "/helps/trivial/async/", requests=5, warmup=1)
    assert [len(s) for s in timings.values()] == [5, 5]


def test_async_ready_middleware_also_works_in_a_sync_stack():
    stamp = middleware.async_ready_stamp_middleware(lambda request: HttpResponse("ok"))
    assert not inspect.iscoroutinefunction(stamp)
    assert stamp(RequestFactory().get("/"))[middleware.HEADER] == "async-ready"


def test_make_view_atomic_refuses_async_views_unless_opted_out(monkeypatch):
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    handler = BaseHandler()
    with pytest.raises(RuntimeError, match="^You cannot use ATOMIC_REQUESTS with async views.$"):
        handler.make_view_atomic(views.atomic_async)
    assert handler.make_view_atomic(views.atomic_async_opted_out) is views.atomic_async_opted_out
    assert handler.make_view_atomic(views.atomic_sync) is not views.atomic_sync  # wrapped in atomic()


async def test_atomic_requests_settings_module_reproduces_the_runtime_error():
    from django.conf import settings

    env = {
        "DJANGO_SETTINGS_MODULE": "lab_project.common_mistakes.atomic_requests_settings",
        "LAB_DATA_DIR": str(settings.LAB.data_dir),  # this test run's migrated database
    }
    server = await lab.start_process(env=env)
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("mistakes/atomic/async/")).status_code == 500
            assert (await client.get("mistakes/atomic/async-opted-out/")).status_code == 200
            assert (await client.get("mistakes/atomic/sync/")).json() == {"in_atomic_block": True}
    finally:
        await server.stop()
    assert "RuntimeError: You cannot use ATOMIC_REQUESTS with async views." in server.log()


async def test_runserver_modes_report_themselves_and_free_their_ports():
    threaded, serial = await asyncio.gather(lab.start_runserver(), lab.start_runserver(threading=False))
    try:
        assert "threaded" in repr(threaded) and "--nothreading" in repr(serial)
        _, bodies = await ch11.concurrent_gets(serial.url + "mistakes/wsgi/slow/?ms=0", 2)
        assert {b["thread"] for b in bodies} == {"MainThread"}
    finally:
        await asyncio.gather(threaded.stop(), serial.stop())
    assert not threaded.is_running and not serial.is_running
