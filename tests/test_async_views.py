"""Chapter 1: async function views, async class-based views, and the mixed class Django refuses."""

import asyncio
import inspect
import threading
import time

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient

from lab_project.async_views import refused, views


async def test_function_view_awaits_and_answers_json_on_the_loop_thread():
    response = await AsyncClient().get("/views/pause/", {"delay": "0.01"})
    assert response.status_code == 200
    assert response.json() == {"view": "function", "slept": 0.01, "thread": threading.current_thread().name}


async def test_function_view_default_delay():
    assert (await AsyncClient().get("/views/pause/")).json()["slept"] == 0.2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("delay=abc", "delay: must be a number, got 'abc'"),
        ("delay=-0.1", "delay: must be between 0 and 5, got -0.1"),
        ("delay=5.01", "delay: must be between 0 and 5, got 5.01"),
        ("delay=nan", "delay: must be between 0 and 5, got nan"),
        ("delay=inf", "delay: must be between 0 and 5, got inf"),
        ("delay=1&delay=2", "delay: given more than once"),
        ("dealy=1", "dealy: unknown parameter (this endpoint takes: delay)"),
    ],
)
async def test_function_view_rejects_a_bad_delay_with_a_message(query, message):
    response = await AsyncClient().get("/views/pause/?" + query)
    assert response.status_code == 400
    assert response.json() == {"error": message, "parameter": message.split(":")[0]}


async def test_function_view_only_answers_get():
    assert (await AsyncClient().post("/views/pause/")).status_code == 405


async def test_class_view_get_and_post():
    client = AsyncClient()
    got = await client.get("/views/sum/", {"numbers": "1,2,3.5"})
    assert got.status_code == 200
    assert got.json() == {"view": "class", "handler": "get", "count": 3, "sum": 6.5}
    posted = await client.post("/views/sum/", {"numbers": [1, 2, 3], "delay": 0.01}, content_type="application/json")
    assert posted.status_code == 200
    assert posted.json() == {"view": "class", "handler": "post", "count": 3, "sum": 6}


def test_class_view_is_async_although_a_helper_method_is_sync():
    assert views.Sum.view_is_async
    assert inspect.iscoroutinefunction(views.Sum.as_view())  # marked by as_view()
    assert not inspect.iscoroutinefunction(views.Sum.parse_numbers)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"", "body", "body: send a JSON object"),
        (b"{", "body", "body: not valid JSON"),
        (b"\xff\xfe", "body", "body: not valid JSON"),
        (b"[1, 2]", "body", "body: must be a JSON object, got list"),
        (b"[" * 100_000, "body", "body: not valid JSON"),
        (b"{}", "numbers", "numbers: must be a non-empty list"),
        (b'{"numbers": []}', "numbers", "numbers: must be a non-empty list"),
        (b'{"numbers": "1,2"}', "numbers", "numbers: must be a non-empty list"),
        (b'{"numbers": [1, "2"]}', "numbers", "numbers: must be a number, got str"),
        (b'{"numbers": [true]}', "numbers", "numbers: must be a number, got bool"),
        (b'{"numbers": [1e400]}', "numbers", "numbers: must be between"),
        (b'{"numbers": [' + b"9" * 400 + b"]}", "numbers", "numbers: must be between"),
        (b'{"numbers": [' + b"1," * 100 + b"1]}", "numbers", "numbers: at most 100 numbers, got 101"),
        (b'{"numbers": [1], "delay": -1}', "delay", "delay: must be between 0 and 5"),
        (b'{"numbers": [1], "delay": "0.1"}', "delay", "delay: must be a number, got str"),
        (b'{"numbers": [1], "colour": "red"}', "colour", "colour: unknown field"),
    ],
)
async def test_class_view_post_rejects_a_bad_body_naming_the_field(body, field, message):
    response = await AsyncClient().post("/views/sum/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "numbers: must be a non-empty list"),
        ("numbers=1,x", "numbers: must be numbers separated by commas"),
        ("numbers=1,nan", "numbers: must be between"),
        ("numbers=1&delay=9", "delay: must be between 0 and 5"),
        ("numbers=1&sum=2", "sum: unknown parameter"),
    ],
)
async def test_class_view_get_rejects_bad_parameters(query, message):
    response = await AsyncClient().get("/views/sum/?" + query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert response.json()["parameter"] == message.split(":")[0]


async def test_class_view_refuses_other_methods():
    client = AsyncClient()
    assert (await client.put("/views/sum/")).status_code == 405
    options = await client.options("/views/sum/")
    assert options.status_code == 200
    assert options["Allow"] == "GET, POST, OPTIONS"
    assert (await client.head("/views/sum/")).status_code == 405


@pytest.mark.parametrize("view_class", [refused.MixedHandlers, refused.AsyncRedirect])
def test_a_mixed_class_is_refused_by_as_view(view_class):
    with pytest.raises(ImproperlyConfigured) as raised:
        view_class.as_view()
    assert str(raised.value) == f"{view_class.__qualname__} HTTP handlers must either be all sync or all async."


def test_options_is_left_out_of_the_check():
    # View.options is sync, yet every async view inherits it: Django skips it in the check.
    assert not inspect.iscoroutinefunction(views.Sum.options)
    assert views.Sum.view_is_async


async def test_real_server_answers_both_views(http):
    pause = await http.get("views/pause/", params={"delay": "0"})
    assert pause.json()["view"] == "function"
    posted = await http.post("views/sum/", json={"numbers": [2, 3]})
    assert posted.json()["sum"] == 5
    bad = await http.post("views/sum/", content="{", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["field"] == "body"


async def test_concurrent_calls_overlap_on_the_real_server(lab_server):
    calls, delay = 10, 0.2
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as client:
        await client.get("views/pause/", params={"delay": "0"})  # connection and URLconf warm
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.get("views/pause/", params={"delay": delay}) for _ in range(calls)))
        elapsed = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    # One after another they could not take less than calls × delay = 2 s; overlapped, about 0.2 s.
    assert elapsed >= delay
    assert elapsed < calls * delay / 2, elapsed
