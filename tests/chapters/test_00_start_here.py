"""Chapter 0: the in-kernel server's life cycle and the first async views."""

import asyncio
import time

import httpx
import pytest
from django.test import AsyncClient

import helpers as lab
from helpers.testing import port_is_free
from helpers.server import LabServer, load_app




async def test_function_and_class_views_through_django_client():
    client = AsyncClient()
    hello = await client.get("/hello/")
    assert hello.status_code == 200
    assert hello.json() == {"hello": "async world", "view": "function"}
    greeting = await client.get("/greeting/", {"name": "ada"})
    assert greeting.json() == {"greeting": "hello, ada", "view": "class"}


async def test_greeting_rejects_an_overlong_name_with_a_message():
    response = await AsyncClient().get("/greeting/", {"name": "x" * 101})
    assert response.status_code == 400
    assert "name" in response.json()["error"]


async def test_real_server_answers(http):
    assert (await http.get("hello/")).json()["view"] == "function"
    assert (await http.get("health/")).json() == {"ok": True}


async def test_start_again_returns_the_running_server(lab_server):
    assert await lab.start() is lab_server
    assert lab.current_server() is lab_server


async def test_stop_frees_the_port_and_start_works_again():
    server = await LabServer(load_app()).start()
    port = server.port
    assert not port_is_free(port)
    await server.stop()
    assert not server.is_running
    assert port_is_free(port)
    again = await LabServer(load_app(), port=port).start()
    assert again.port == port
    await again.stop()


async def test_taken_port_raises_and_the_process_lives_on(lab_server):
    with pytest.raises(lab.PortInUseError, match="already in use.*port=0"):
        await LabServer(load_app(), port=lab_server.port).start()
    async with httpx.AsyncClient() as client:
        assert (await client.get(lab_server.url + "health/")).status_code == 200


async def test_an_app_that_cannot_be_imported_gives_a_clear_error():
    with pytest.raises(lab.LabServerError, match="could not load the ASGI app 'no_such_module:app'.*kernel is unharmed"):
        load_app("no_such_module:app")


async def _failing_lifespan(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "boom"})


async def test_failed_startup_is_an_exception_not_sys_exit():
    # uvicorn answers a failed lifespan start-up with sys.exit(); contained, it is an error.
    server = LabServer(_failing_lifespan)
    with pytest.raises(lab.LabServerError, match="stopped during start-up.*SystemExit"):
        await server.start()
    assert not server.is_running
    assert port_is_free(server.port)


async def test_stop_is_bounded_with_a_request_that_never_ends():
    async def never_ending(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            await send({"type": "http.response.body", "body": b".", "more_body": True})
            await asyncio.sleep(0.05)

    server = await LabServer(never_ending, stop_timeout=0.5).start()
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", server.url) as response:
            await anext(response.aiter_bytes())
            started = asyncio.get_running_loop().time()
            await server.stop()
            assert asyncio.get_running_loop().time() - started < 3.0
    assert port_is_free(server.port)


async def test_a_blocked_loop_freezes_the_server(lab_server):
    probe = lab.time_request_in_thread(lab_server.url + "clock/")
    time.sleep(0.5)  # blocks this loop, which also runs the server
    assert await probe >= 0.4
    probe = lab.time_request_in_thread(lab_server.url + "clock/")
    await asyncio.sleep(0.5)  # yields: the server answers meanwhile
    assert await probe < 0.4


def test_status_names_what_is_live():
    status = lab.status()
    assert status.database.startswith("sqlite3: ")
    assert status.channel_layer.endswith(("InMemoryChannelLayer", "RedisChannelLayer"))
    assert "<table>" in status._repr_html_()


async def test_a_separate_server_process_serves_the_same_project(lab_server):
    async with await lab.start_process() as other:
        assert other.pid is not None
        async with httpx.AsyncClient() as client:
            assert (await client.get(other.url + "hello/")).json()["view"] == "function"
    assert not other.is_running
    assert port_is_free(other.port)


async def test_a_server_process_that_cannot_start_says_why():
    with pytest.raises(lab.LabServerError, match="(?s)exited with code.*no_such_module"):
        await lab.start_process(app="no_such_module:app", timeout=20)
