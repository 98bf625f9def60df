"""Chapter 7: which receivers run, where and in which order, with save/asave, send and asend."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.db.models.signals import post_save
from django.test import AsyncClient

from lab_project.async_orm.models import Author, Post
from lab_project.signals import journal, receivers
from lab_project.signals.custom_signals import post_featured

FEATURED = ["audit_featured", "notify_followers", "refresh_search_index"]


@pytest.fixture
async def author() -> Author:
    return await Author.objects.acreate(name=f"signals-{uuid.uuid4().hex[:10]}")


def by_receiver(run: journal.Run) -> dict[str, dict]:
    return {row["receiver"]: row for row in run.table()}


def overlaps(a: dict, b: dict) -> bool:
    return a["started_ms"] < b["finished_ms"] and b["started_ms"] < a["finished_ms"]


# -- post_save ----------------------------------------------------------------------------------
async def test_asave_runs_both_post_save_receivers_sync_first(author):
    with journal.run("asave") as run:
        await Post(author=author, title="t").asave()
    assert run.receivers() == ["post_saved_sync", "post_saved_async"]  # connected in the other order
    rows = by_receiver(run)
    # save() ran in a worker thread; the sync receiver runs right there...
    assert rows["post_saved_sync"]["thread"] != threading.current_thread().name
    assert rows["post_saved_sync"]["thread_runs_event_loop"] is False
    # ...and send() hands the async receiver back to this event loop with async_to_sync.
    assert rows["post_saved_async"]["thread"] == threading.current_thread().name
    assert rows["post_saved_async"]["thread_runs_event_loop"] is True
    assert rows["post_saved_async"]["note"].endswith("created=True")


async def test_the_receivers_are_connected_in_the_documented_order():
    # Django 6.1 stores (lookup key, weak reference, sender reference, is_async) per receiver.
    live = [(entry[1](), entry[3]) for entry in post_save.receivers]
    mine = [(r.__name__, is_async) for r, is_async in live if getattr(r, "__name__", "").startswith("post_saved_")]
    assert mine == [("post_saved_async", True), ("post_saved_sync", False)]


async def test_save_in_plain_sync_code_still_runs_the_async_receiver(author):
    # A brand-new thread, never used by asgiref: async_to_sync finds no outer loop to hand the
    # receiver back to, so it runs it on a fresh loop of its own. (Not asyncio.to_thread: its
    # pool threads may carry asgiref's thread-local pointer to this loop from earlier use.)
    def save_without_any_loop():
        try:
            with journal.run("plain") as run:
                Post.objects.create(author=author, title="sync")
            return run
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="plain-sync") as pool:
        run = await asyncio.wrap_future(pool.submit(save_without_any_loop))
    rows = by_receiver(run)
    assert run.receivers() == ["post_saved_sync", "post_saved_async"]
    assert rows["post_saved_sync"]["thread"].startswith("plain-sync")
    assert rows["post_saved_async"]["thread"] != threading.current_thread().name
    assert rows["post_saved_async"]["thread_runs_event_loop"] is True


async def test_abulk_create_sends_no_post_save(author):
    with journal.run("bulk") as run:
        await Post.objects.abulk_create([Post(author=author, title=f"b{i}") for i in range(3)])
    assert run.receivers() == []


# -- the custom signal --------------------------------------------------------------------------
async def test_asend_runs_the_sync_receiver_first_then_async_ones_concurrently():
    delay = 0.3
    with journal.run("asend") as run:
        started = time.monotonic()
        await post_featured.asend(sender=Post, post_id=None, delay=delay)
        elapsed = time.monotonic() - started
    assert run.receivers() == FEATURED
    rows = by_receiver(run)
    assert rows["audit_featured"]["thread_runs_event_loop"] is False  # sync_to_async'd
    assert overlaps(rows["notify_followers"], rows["refresh_search_index"])  # load-independent proof
    assert elapsed < 0.75 * (2 * delay), elapsed  # one delay, not two (generous margin for a busy box)


async def test_send_from_a_worker_thread_also_runs_async_receivers_concurrently():
    def send_from_thread():
        with journal.run("send") as run:
            post_featured.send(sender=Post, post_id=None, delay=0.2)
        return run

    run = await sync_to_async(send_from_thread)()
    rows = by_receiver(run)
    assert run.receivers() == FEATURED
    assert rows["audit_featured"]["thread"] != threading.current_thread().name
    assert rows["notify_followers"]["thread"] == threading.current_thread().name  # back on this loop
    assert overlaps(rows["notify_followers"], rows["refresh_search_index"])


async def test_send_on_the_event_loop_thread_fails_after_the_sync_receivers_ran():
    with journal.run("send-in-loop") as run:
        with pytest.raises(RuntimeError, match="You cannot use AsyncToSync in the same thread as an async event loop"):
            post_featured.send(sender=Post, post_id=None, delay=0)
    assert run.receivers() == ["audit_featured"]  # half the dispatch happened


def test_the_receivers_module_defines_what_the_journal_names():
    assert {"post_saved_async", "post_saved_sync", *FEATURED} <= set(dir(receivers))


# -- endpoints ----------------------------------------------------------------------------------
async def post(client, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return await client.generic("POST", path, data=data, content_type="application/json")


async def test_asave_endpoint_reports_its_receivers():
    client = AsyncClient(raise_request_exception=True)
    response = await post(client, "/signals/asave/", {"title": "from a view"})
    assert response.status_code == 201
    body = response.json()
    assert [row["receiver"] for row in body["journal"]] == ["post_saved_sync", "post_saved_async"]
    assert (await Post.objects.aget(pk=body["post"])).title == "from a view"


@pytest.mark.parametrize("path", ["/signals/asend/", "/signals/send/"])
async def test_asend_and_send_endpoints(path):
    client = AsyncClient(raise_request_exception=True)
    response = await post(client, path, {"delay": 0.05})
    assert response.status_code == 200
    body = response.json()
    assert [row["receiver"] for row in body["journal"]] == FEATURED
    async_rows = [row for row in body["journal"] if row["kind"] == "async"]
    assert {row["thread_runs_event_loop"] for row in async_rows} == {True}
    assert overlaps(*async_rows)


@pytest.mark.parametrize("path", ["/signals/asend/", "/signals/send/", "/signals/asave/"])
@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b'{"delay": -1}', b'{"delay": 2}', b'{"delay": "0.1"}', b'{"delay": true}', b'{"delay": NaN}',
     b'{"title": 5}', b'{"other": 1}'],
)
async def test_endpoints_refuse_bad_bodies(path, raw):
    client = AsyncClient(raise_request_exception=True)
    response = await post(client, path, raw=raw)
    assert response.status_code == 400, (path, raw, response.content)
    assert response.json()["field"] in {"body", "delay", "title", "other"}


async def test_journal_endpoint_lists_and_clears():
    client = AsyncClient(raise_request_exception=True)
    await post(client, "/signals/asend/", {"delay": 0})
    entries = (await client.get("/signals/journal/", {"limit": 3})).json()["entries"]
    assert [e["receiver"] for e in entries] == FEATURED
    assert (await client.get("/signals/journal/", {"limit": "x"})).status_code == 400
    assert (await client.delete("/signals/journal/")).json()["cleared"] >= 3
    assert (await client.get("/signals/journal/")).json()["entries"] == []
    assert (await client.get("/signals/asend/")).status_code == 405
    assert (await client.get("/signals/send/")).status_code == 405


async def test_real_server_keeps_csrf_on_signal_endpoints(lab_server):
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as http:
        assert (await http.post("signals/asend/", json={"delay": 0})).status_code == 403
        token = (await http.get("orm/csrf/")).json()["csrfToken"]
        answer = await http.post("signals/asave/", json={"title": "over http"}, headers={"X-CSRFToken": token})
    assert answer.status_code == 201
    assert [row["receiver"] for row in answer.json()["journal"]] == ["post_saved_sync", "post_saved_async"]


# -- a failing receiver under asend / asend_robust (6.1: TaskGroup) -----------------------------


def _order_signal(outcomes: dict):
    from django.dispatch import Signal

    signal = Signal()

    async def slow(sender, **kwargs):
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            outcomes["slow"] = "cancelled"
            raise
        outcomes["slow"] = "finished"
        return "done"

    async def failing(sender, **kwargs):
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    signal.connect(slow, weak=False)
    signal.connect(failing, weak=False)
    return signal


async def test_asend_cancels_the_others_and_raises_the_lone_error_bare():
    outcomes: dict = {}
    with pytest.raises(ValueError, match="boom"):
        await _order_signal(outcomes).asend(sender=None)
    assert outcomes == {"slow": "cancelled"}


async def test_asend_robust_runs_all_and_returns_the_error():
    import helpers as lab

    outcomes: dict = {}
    with lab.capture_log("django.dispatch") as logged:
        responses = await _order_signal(outcomes).asend_robust(sender=None)
    assert outcomes == {"slow": "finished"}
    assert [(r.__name__, type(x).__name__) for r, x in responses] == [("slow", "str"), ("failing", "ValueError")]
    assert [r.level for r in logged] == ["ERROR"]


async def test_two_errors_in_the_same_turn_raise_an_exception_group():
    from django.dispatch import Signal

    signal = Signal()

    async def first(sender, **kwargs):
        raise LookupError("one")

    async def second(sender, **kwargs):
        raise PermissionError("two")

    signal.connect(first, weak=False)
    signal.connect(second, weak=False)
    with pytest.raises(ExceptionGroup) as caught:
        await signal.asend(sender=None)
    assert [type(e) for e in caught.value.exceptions] == [LookupError, PermissionError]


# -- the request signals under ASGI ----------------------------------------------------------


async def test_request_started_uses_asend_and_request_finished_send_unless_the_client_left():
    import sys

    from django.core import signals as core_signals
    from django.core.handlers.asgi import ASGIHandler

    from helpers.clients import call_asgi, http_scope

    callers: list[tuple[str, str]] = []

    def note(sender, signal, **kwargs):
        name = "started" if signal is core_signals.request_started else "finished"
        callers.append((name, sys._getframe(1).f_code.co_qualname))

    for signal in (core_signals.request_started, core_signals.request_finished):
        signal.connect(note, weak=False)
    try:
        await call_asgi(ASGIHandler(), "/signals/journal/?limit=1")
        for _ in range(100):
            if len(callers) >= 2:
                break
            await asyncio.sleep(0.01)
        assert callers == [("started", "Signal.asend.<locals>.sync_send"), ("finished", "Signal.send")]

        callers.clear()
        arrivals = iter([{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}])

        async def receive():
            return next(arrivals)

        async def send(message):
            raise AssertionError("nothing should be sent to a client that left")

        await ASGIHandler()(http_scope("/views/pause/", query="delay=1"), receive, send)
        assert callers == [("started", "Signal.asend.<locals>.sync_send"), ("finished", "Signal.asend.<locals>.sync_send")]
    finally:
        for signal in (core_signals.request_started, core_signals.request_finished):
            signal.disconnect(note)
