"""Faults a running lab must ride out: being stopped with streams and chats open, and losing its
Redis in the middle of a chat.

* Stopping, in the kernel (``LabServer.stop``) and in a separate process (``ProcessServer.stop``,
  SIGTERM): bounded in time, every open SSE stream is cancelled and runs its clean-up, every chat
  session is closed with 1012 and leaves its room, and the port is free again.
* Redis crashing (SIGKILL) or hanging (SIGSTOP) under open chat sessions — our own
  ``redis-server`` on a spare port, never the shared one: HTTP goes on, every session is told
  and closed with 4503 instead of hanging or being dropped, a newcomer is refused with 4503,
  ``/chat/layer/health/`` says 503; once Redis is back the same people reconnect and chat.
  Why they must reconnect rather than carry on: ``lab_project/chat/layer.py``.
* The redis-py 8 settings ``lab_project/settings.py`` overrides, each pinned by a test that
  fails without it: socket timeout, pool size, retry after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid

import httpx
import pytest
import websockets
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

import helpers as lab
from helpers import clients
from helpers.server import LabServer, bind_socket, load_app
from helpers.testing import ThrowawayRedis, read_shutdown_report
from lab_project.asgi import application
from lab_project.chat.protocol import CLOSE_CHAT_UNAVAILABLE
from lab_project.streaming_sse.registry import streams as stream_registry

PATIENCE = 10  # seconds for anything that should happen, on a loaded 2-core box
OPEN_STREAMS = 20
OPEN_CHATS = 10
LONG_STREAM = "stream/events/?count=200&interval=0.1"  # 20 s: still running when the stop comes


@pytest.fixture
def room() -> str:
    return f"x{uuid.uuid4().hex[:12]}"


def this_runs_database(data_dir) -> dict[str, str]:
    """Environment for a server process on this run's migrated database, with its own data folder."""
    return {"DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}", "LAB_DATA_DIR": str(data_dir)}


async def close_code_after(session: lab.ChatSession, timeout: float = PATIENCE) -> tuple[list[dict], int | None, str]:
    """Read ``session`` until the server closes it: (events before the close, code, reason)."""
    events = []
    try:
        while True:
            events.append(await session.receive(timeout=timeout))
    except websockets.ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""


async def stream_states(server, stream_ids: list[int]) -> set[str]:
    """The states the server's own stream registry gives ``stream_ids`` (chapter 5's endpoint)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=PATIENCE) as http:
        return {(await http.get(f"stream/registry/{i}/")).json()["state"] for i in stream_ids}


def port_is_free(port: int) -> bool:
    try:
        bind_socket("127.0.0.1", port).close()
    except lab.PortInUseError:
        return False
    return True


@contextlib.asynccontextmanager
async def open_streams_and_chats(server, room: str):
    """OPEN_STREAMS SSE streams (each past its first event) and OPEN_CHATS sessions in ``room``."""
    async with contextlib.AsyncExitStack() as stack:
        sse = [await stack.enter_async_context(lab.read_sse(server.url + LONG_STREAM)) for _ in range(OPEN_STREAMS)]
        # Keep each iterator: a dropped one is closed by the garbage collector, and its HTTP
        # response with it, which the server would see as a client leaving, not as a stop.
        readers = [aiter(events) for events in sse]
        for reader in readers:
            await anext(reader)  # streaming, not just opened
        ids = [int(events.response.headers["X-Stream-Id"]) for events in sse]
        chats = [await stack.enter_async_context(server.chat(room, user=f"s{n}")) for n in range(OPEN_CHATS)]
        assert await stream_states(server, ids) == {"streaming"}
        yield ids, chats
        del readers


# -- stopping with connections open --------------------------------------------------------------------
async def test_stopping_the_in_kernel_server_with_streams_and_chats_open(room):
    server = await LabServer(load_app(), stop_timeout=1.0).start()
    port = server.port
    async with open_streams_and_chats(server, room) as (stream_ids, chats):
        assert len(await clients.room_channels(room)) == OPEN_CHATS
        started = time.perf_counter()
        await server.stop()
        elapsed = time.perf_counter() - started
        codes = [(await close_code_after(chat))[1] for chat in chats]
    # Within the documented bound (stop_timeout + 2 s, past which stop() cancels the whole
    # server task): uvicorn's own shutdown finished, it did not have to be cut short.
    assert elapsed < server.stop_timeout + 2.0, f"stop took {elapsed:.2f} s"
    records = [stream_registry.get(i) for i in stream_ids]
    assert {(r.state, r.cleaned_up) for r in records} == {("cancelled", True)}
    assert codes == [1012] * OPEN_CHATS  # "service restart"
    # Each consumer's disconnect() ran its clean-up: group_discard (then a "left" to the room).
    assert await clients.room_channels(room) == set()
    assert port_is_free(port)


async def test_stopping_a_server_process_with_streams_and_chats_open(tmp_path, room):
    # In-memory layer: the room lives in the process, so the process reports on it when it stops.
    env = {**this_runs_database(tmp_path), "REDIS_URL": "off"}
    server = await lab.start_process(app="helpers.testing.shutdown_report:application", env=env)
    port = server.port
    try:
        async with open_streams_and_chats(server, room) as (stream_ids, chats):
            started = time.perf_counter()
            await server.stop()  # SIGTERM; SIGKILL only after 10 s
            elapsed = time.perf_counter() - started
            codes = [(await close_code_after(chat))[1] for chat in chats]
    finally:
        await server.stop()
    graceful = 3.0  # --timeout-graceful-shutdown of ProcessServer
    assert elapsed < graceful + 4.0, f"stop took {elapsed:.2f} s"
    report = read_shutdown_report(tmp_path)  # written by the lifespan shutdown: the stop was graceful
    ended = {s["id"]: (s["state"], s["cleaned_up"]) for s in report["streams"]}
    assert {ended[i] for i in stream_ids} == {("cancelled", True)}
    assert report["groups"] == {}  # every session left its room
    assert codes == [1012] * OPEN_CHATS
    assert port_is_free(port)
    assert "Traceback" not in server.log(), server.log()


# -- the channel layer failing, without Redis: a layer that fails on demand ------------------------
class FailingLayer(InMemoryChannelLayer):
    """The in-memory layer, except that group calls raise redis-py's ConnectionError while ``down``."""

    down = False

    def _check(self) -> None:
        if FailingLayer.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    async def group_add(self, group, channel):
        self._check()
        await super().group_add(group, channel)

    async def group_send(self, group, message):
        self._check()
        await super().group_send(group, message)

    async def group_discard(self, group, channel):
        self._check()
        await super().group_discard(group, channel)


@pytest.fixture
def failing_layer():
    FailingLayer.down = False
    backend = {"default": {"BACKEND": f"{FailingLayer.__module__}.FailingLayer"}}
    with override_settings(CHANNEL_LAYERS=backend):  # Channels rebuilds its layers on this signal
        yield FailingLayer
    FailingLayer.down = False


def communicate(path: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1")])


async def test_a_message_the_layer_cannot_carry_is_answered_with_4503(failing_layer, room):
    comm = communicate(f"/ws/chat/{room}/?name=amy")
    assert (await comm.connect(timeout=PATIENCE))[0]
    while (await comm.receive_json_from(timeout=PATIENCE))["type"] != "welcome":
        pass
    failing_layer.down = True
    await comm.send_json_to({"type": "message", "text": "into the void"})
    events = []
    while (output := await comm.receive_output(timeout=PATIENCE))["type"] == "websocket.send":
        events.append(output["text"])
    assert output == {
        "type": "websocket.close",
        "code": CLOSE_CHAT_UNAVAILABLE,
        "reason": "chat unavailable: its channel layer (Redis) failed; reconnect later",
    }
    assert any('"code": "chat_unavailable"' in text for text in events)
    await comm.disconnect(timeout=PATIENCE)


async def test_joining_while_the_layer_is_down_is_refused_with_4503(failing_layer, room):
    failing_layer.down = True
    comm = communicate(f"/ws/chat/{room}/?name=bob")
    assert (await comm.connect(timeout=PATIENCE))[0]  # accepted, so the code reaches the client
    outputs = [await comm.receive_output(timeout=PATIENCE) for _ in range(2)]
    assert '"code": "chat_unavailable"' in outputs[0]["text"]
    assert outputs[1]["type"] == "websocket.close" and outputs[1]["code"] == CLOSE_CHAT_UNAVAILABLE
    await comm.disconnect(timeout=PATIENCE)


async def test_layer_health_endpoint(http):
    answer = await http.get("chat/layer/health/")
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert answer.json()["backend"].endswith(type(get_channel_layer()).__name__)
    assert (await http.get("chat/layer/health/", params={"x": "1"})).status_code == 400


# -- the real thing: our own Redis, crashed and restarted ----------------------------------------------
@pytest.fixture
def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("LAB_REQUIRE_REDIS", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.redis
async def test_chat_through_a_redis_crash_and_back(redis_server_binary, tmp_path, room):
    async with ThrowawayRedis() as redis:
        env = {**this_runs_database(tmp_path), "REDIS_URL": redis.url, "LAB_REDIS_PREFIX": "crash"}
        server = await lab.start_process(env=env)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=PATIENCE) as http:
                assert (await http.get("chat/layer/health/")).json()["ok"] is True
                # Joining together makes the server's Redis pool open several connections,
                # all of which the crash leaves dead in the pool.
                people = ["amy", "bob", "cy", "dee", "eve"]
                sessions = await asyncio.gather(*(server.chat(room, user=name).connect() for name in people))
                amy, bob = sessions[:2]
                await amy.send("before")
                await bob.wait_for("before", timeout=PATIENCE)

                redis.crash()
                for session in sessions:  # told and closed, promptly: not left hanging
                    events, code, reason = await close_code_after(session)
                    assert code == CLOSE_CHAT_UNAVAILABLE, (code, reason, events)
                    assert [e["code"] for e in events if e["type"] == "error"] == ["chat_unavailable"]
                assert (await http.get("health/")).status_code == 200  # HTTP goes on
                down = await http.get("chat/layer/health/")
                assert down.status_code == 503 and down.json()["ok"] is False
                assert "ConnectionError" in down.json()["error"]
                with pytest.raises(lab.ChatRefused) as refused:
                    await server.chat(room, user="cat").connect()
                assert refused.value.close_code == CLOSE_CHAT_UNAVAILABLE

                await redis.start()  # same port, empty: every group membership is gone
                assert (await http.get("chat/layer/health/")).status_code == 200
                # The same people reconnect, all at once, with the one refused during the outage.
                sessions = await asyncio.gather(*(server.chat(room, user=name).connect() for name in [*people, "cat"]))
                try:
                    amy, cat = sessions[0], sessions[-1]
                    await amy.send("after")
                    for session in sessions[1:]:
                        await session.wait_for("after", timeout=PATIENCE)
                    await cat.send("me too")
                    await amy.wait_for("me too", timeout=PATIENCE)
                    assert [e["text"] for e in amy.history] == ["before"]  # the history is in the database
                finally:
                    await asyncio.gather(*(session.close() for session in sessions))
        finally:
            await server.stop()
        log = server.log()
        assert "Traceback" not in log, log  # every failure was handled, none crashed a consumer
        assert "the channel layer failed" in log  # and the server said what happened


@pytest.mark.redis
async def test_a_hung_redis_costs_at_most_the_socket_timeout(redis_server_binary, tmp_path, room):
    # SIGSTOP: Redis keeps its connections open and never answers. Without a socket timeout a
    # consumer would wait for it forever; with settings.py's, sessions are told within it.
    socket_timeout = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"]
    async with ThrowawayRedis() as redis:
        env = {**this_runs_database(tmp_path), "REDIS_URL": redis.url, "LAB_REDIS_PREFIX": "hang"}
        server = await lab.start_process(env=env)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=PATIENCE) as http:
                amy = await server.chat(room, user="amy").connect()
                redis.pause()
                started = time.perf_counter()
                await amy.send("into the hang")
                down = await http.get("chat/layer/health/")  # answers within its own 1 s probe
                assert down.status_code == 503 and "no answer" in down.json()["error"]
                assert (await http.get("health/")).status_code == 200
                _, code, _ = await close_code_after(amy, timeout=socket_timeout + PATIENCE)
                assert code == CLOSE_CHAT_UNAVAILABLE
                assert time.perf_counter() - started < socket_timeout + PATIENCE
                redis.resume()
                assert (await http.get("chat/layer/health/")).status_code == 200
                async with server.chat(room, user="amy") as amy, server.chat(room, user="bob") as bob:
                    await amy.send("awake")
                    await bob.wait_for("awake", timeout=PATIENCE)
        finally:
            redis.resume()
            await server.stop()


@pytest.mark.redis
async def test_an_idle_session_outlives_the_layers_blocking_read(redis_url, lab_server, room):
    # channels_redis waits for messages with BZPOPMIN of 5 s; redis-py 8 gives up reading a
    # socket after 5 s by default, which killed every idle consumer (settings.py sets 10 s).
    async with lab_server.chat(room, user="idle") as idle, lab_server.chat(room, user="later") as later:
        await asyncio.sleep(12)  # two blocking reads, and more
        await later.send("still there?")
        assert (await idle.wait_for("still there?", timeout=PATIENCE))["user"] == "later"
        assert idle.close_code is None


@pytest.mark.redis
async def test_the_redis_layer_takes_hundreds_of_concurrent_calls(redis_url):
    # redis-py 8's asyncio pool fails the 101st concurrent command (MaxConnectionsError)
    # unless told otherwise; 300 sessions joining or leaving at once must not hit that.
    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(300)]
    group = f"faults.pool{uuid.uuid4().hex[:8]}"
    await asyncio.gather(*(layer.group_add(group, name) for name in channels))
    await asyncio.gather(*(layer.group_discard(group, name) for name in channels))
