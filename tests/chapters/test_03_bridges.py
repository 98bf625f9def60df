"""Chapter 3: sync_to_async and async_to_sync, which threads they use, and nest-asyncio2."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from helpers.chapters import ch03_bridges as ch03
from helpers.server import LabServer, load_app
from lab_project.bridges import legacy_sdk, threads
from lab_project.bridges.models import Note

ASYNC_TO_SYNC_REFUSAL = (
    "You cannot use AsyncToSync in the same thread as an async event loop - just await the async function directly."
)


@pytest.fixture
async def no_notes():
    await Note.objects.all().adelete()


# -- notes: sync_to_async(list)(queryset) ------------------------------------------------------


async def test_notes_are_created_then_listed_in_id_order(no_notes):
    client = AsyncClient()
    for text in ("first", "  second  "):
        created = await client.post("/bridges/notes/", {"text": text}, content_type="application/json")
        assert created.status_code == 201
    listing = (await client.get("/bridges/notes/")).json()
    assert [n["text"] for n in listing["notes"]] == ["first", "second"]
    assert listing["count"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b"{}", "text"),
        (b'{"text": ""}', "text"),
        (b'{"text": 5}', "text"),
        (b'{"text": "' + b"x" * 201 + b'"}', "text"),
        (b'{"text": "ok", "colour": "red"}', "colour"),
    ],
)
async def test_note_creation_rejects_bad_bodies_naming_the_field(body, field):
    response = await AsyncClient().post("/bridges/notes/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")


async def test_notes_refuse_other_methods_and_unknown_parameters():
    client = AsyncClient()
    refused = await client.delete("/bridges/notes/")
    assert refused.status_code == 405 and refused["Allow"] == "GET, POST"
    unknown = await client.get("/bridges/notes/", {"page": "2"})
    assert unknown.status_code == 400 and unknown.json()["parameter"] == "page"


# -- which thread: thread_sensitive True / False ---------------------------------------------


async def test_in_a_request_thread_sensitive_calls_share_one_new_thread(http):
    params = {"calls": 3, "seconds": 0.05}
    first, second = [(await http.get("bridges/threads/", params=params)).json() for _ in range(2)]
    for probe in (first, second):
        assert len(set(probe["sensitive"]["threads"])) == 1
        assert probe["sensitive"]["threads"][0] != probe["view_thread"]
        assert probe["view_thread"] == threading.current_thread().name  # the server shares this loop
    assert first["sensitive"]["threads"] != second["sensitive"]["threads"]


async def test_in_a_request_thread_insensitive_calls_run_in_parallel_on_the_loops_pool(http):
    probe = (await http.get("bridges/threads/", params={"calls": 4, "seconds": 0.15})).json()
    sensitive, insensitive = probe["sensitive"], probe["insensitive"]
    assert sensitive["elapsed"] >= 0.6  # one after another on the request's thread
    assert all(name.startswith("asyncio_") for name in insensitive["threads"])
    assert len(set(insensitive["threads"])) >= 2
    assert insensitive["elapsed"] < sensitive["elapsed"] / 2


async def test_outside_any_request_thread_sensitive_calls_use_asgirefs_single_thread():
    shared = await threads.asgiref_shared_thread_name()
    run = await threads.probe(thread_sensitive=True, calls=3, seconds=0.01)
    assert set(run.threads) == {shared}
    assert shared != threading.current_thread().name


@pytest.mark.parametrize(
    ("query", "field"),
    [({"calls": "0"}, "calls"), ({"calls": "nine"}, "calls"), ({"seconds": "-1"}, "seconds"),
     ({"seconds": "inf"}, "seconds"), ({"speed": "1"}, "speed")],
)
async def test_thread_probe_rejects_bad_parameters(query, field):
    response = await AsyncClient().get("/bridges/threads/", query)
    assert response.status_code == 400 and response.json()["parameter"] == field


@pytest.mark.parametrize("reset_contextvars", [False, True])
async def test_a_large_body_leaks_the_request_context_unless_uvicorn_resets_it(reset_contextvars):
    """The per-request thread depends on each request starting from a fresh context.

    uvicorn resumes reading a paused connection (a body over 64 KiB) from inside the request's
    task, so the socket's next reads run in a copy of that request's context (CPython issue
    140947). Later requests on the same keep-alive connection then inherit its
    ThreadSensitiveContext and share one thread — unless uvicorn's ``reset_contextvars`` is on.
    """
    server = LabServer(load_app())
    server._config.reset_contextvars = reset_contextvars  # the setting under test
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            await client.post("bridges/notes/", content=b"x" * 70_000)  # 400, but it paused reading
            later = [(await client.get("bridges/threads/", params={"calls": 1, "seconds": 0})).json() for _ in range(3)]
    finally:
        await server.stop()
    distinct = {probe["sensitive"]["threads"][0] for probe in later}
    assert len(distinct) == (3 if reset_contextvars else 1)


# -- async_to_sync ------------------------------------------------------------------------------


async def test_a_sync_view_runs_async_to_sync_on_the_servers_loop(http):
    answer = (await http.get("bridges/sync-view/", params={"seconds": 0.1})).json()
    assert answer["view_has_running_loop"] is False
    assert answer["coroutine_thread"] == threading.current_thread().name != answer["view_thread"]
    assert 0.1 <= answer["coroutine_elapsed"] < 0.19  # the two sleeps overlapped


async def test_sync_view_rejects_bad_seconds():
    response = await AsyncClient().get("/bridges/sync-view/", {"seconds": "2"})
    assert response.status_code == 400 and response.json()["parameter"] == "seconds"


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


async def test_async_to_sync_refuses_where_an_event_loop_runs():
    with pytest.raises(RuntimeError) as refused:
        async_to_sync(_answer)()
    assert str(refused.value) == ASYNC_TO_SYNC_REFUSAL
    assert await _answer() == 42


async def test_sync_code_using_async_to_sync_works_from_a_worker_thread():
    assert await sync_to_async(lambda: async_to_sync(_answer)())() == 42


# -- a sync SDK that runs its own loop -----------------------------------------------------------


async def test_sdk_called_on_the_event_loop_is_refused_with_409():
    response = await AsyncClient().get("/bridges/sdk/", {"seconds": "0.01", "mode": "direct"})
    assert response.status_code == 409
    assert "asyncio.run() cannot be called from a running event loop" in response.json()["error"]
    assert legacy_sdk.active_calls() == 0


async def test_sdk_called_in_a_thread_works():
    response = await AsyncClient().get("/bridges/sdk/", {"seconds": "0.01"})
    assert response.status_code == 200
    assert response.json()["result"] == {"slept": 0.01}
    assert response.json()["nest_asyncio_applied"] is False


@pytest.mark.parametrize(
    ("query", "field"), [({"mode": "nested"}, "mode"), ({"seconds": "4"}, "seconds"), ({"x": "1"}, "x")]
)
async def test_sdk_rejects_bad_parameters(query, field):
    response = await AsyncClient().get("/bridges/sdk/", query)
    assert response.status_code == 400 and response.json()["parameter"] == field


def test_the_sdk_works_where_no_loop_runs():
    assert legacy_sdk.fetch(0.01) == {"slept": 0.01}


# -- nest-asyncio2, in a throwaway kernel ----------------------------------------------------------


@pytest.fixture(scope="module")
async def nesting():
    return await ch03.run_nesting_experiment()


async def test_before_patching_nested_runs_are_refused(nesting):
    assert nesting.before["asyncio_run"] == "asyncio.run() cannot be called from a running event loop"
    assert nesting.before["run_until_complete"] == "This event loop is already running"
    assert nesting.before["sdk_direct_status"] == 409


async def test_patching_lets_asyncio_run_reenter_the_running_loop(nesting):
    assert nesting.after["asyncio_run"] == 1 and nesting.after["run_until_complete"] == 1
    assert nesting.after["nested_run_reuses_the_loop"] is True
    assert nesting.after["sdk_direct_status"] == 200


async def test_patching_does_not_make_async_to_sync_work(nesting):
    assert nesting.after["async_to_sync"] == ASYNC_TO_SYNC_REFUSAL


async def test_patching_costs_time_per_call_and_for_every_task(nesting):
    assert not nesting.before["pure_python_tasks"] and nesting.after["pure_python_tasks"]
    assert nesting.nested_run_overhead > 10
    assert nesting.task_churn_slowdown > 1.2


async def test_nested_runs_unwind_last_in_first_out(nesting):
    reentered, held = nesting.after["server_reentered"], nesting.after["cell_held"]
    assert reentered["status"] == 200 and reentered["served_after"] < reentered["nested_call_took"]
    assert held["returned_after"] >= 1.2 and held["returned_after"] - held["own_work_done_after"] >= 0.5
    assert nesting.after["request_held"]["first_latency"] >= 1.2
    assert nesting.after["request_alone"]["first_latency"] < 1.0


async def test_the_experiment_leaves_this_process_unpatched(nesting):
    assert not hasattr(asyncio, "_nest_patched")
    assert asyncio.Task is not asyncio.tasks._PyTask
