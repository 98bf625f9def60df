"""Chapter 9: the chat app — its wire rules, the consumer through Channels' WebsocketCommunicator,
the real server through the ``websockets`` client, and server processes sharing one Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings

import helpers as lab
from helpers import clients
from lab_project.asgi import application
from lab_project.chat.consumers import ChatConsumer
from lab_project.chat.limits import ChatLimits, RateLimiter
from lab_project.chat.models import Message
from lab_project.chat.protocol import FrameError, parse_client_frame
from lab_project.chat.rooms import group_name, is_valid_display_name, is_valid_room

LOCAL_ORIGIN = (b"origin", b"http://127.0.0.1")
# Loaded boxes are slow: generous timeouts for anything that should happen, short ones only
# where nothing is expected to arrive.
PATIENCE = 10


@pytest.fixture
def room() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


# -- the wire rules ---------------------------------------------------------------------------
LIMITS = ChatLimits()


@pytest.mark.parametrize(
    ("text_data", "bytes_data", "code"),
    [
        ("{", None, "invalid_json"),
        ("[1, 2]", None, "invalid_json"),
        ('"just a string"', None, "invalid_json"),
        ('{"text": "hi"}', None, "unknown_type"),
        ('{"type": "shout", "text": "hi"}', None, "unknown_type"),
        ('{"type": "message"}', None, "bad_text"),
        ('{"type": "message", "text": 42}', None, "bad_text"),
        ('{"type": "message", "text": "   "}', None, "bad_text"),
        (json.dumps({"type": "message", "text": "x" * 501}), None, "too_large"),
        ("x" * 5000, None, "too_large"),
        (None, b"\x00", "binary_frame"),
    ],
)
def test_bad_frames_are_named(text_data, bytes_data, code):
    with pytest.raises(FrameError) as refused:
        parse_client_frame(text_data, bytes_data, LIMITS)
    assert refused.value.code == code
    assert str(refused.value)


def test_a_good_frame_gives_its_text():
    assert parse_client_frame('{"type": "message", "text": "hi", "user": "ignored"}', None, LIMITS) == "hi"


def test_rate_limiter_allows_a_burst_then_the_refill_rate():
    now = [0.0]
    limiter = RateLimiter(burst=3, per_second=2.0, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [limiter.allow() for _ in range(2)] == [True, False]
    now[0] += 60  # never more than the burst
    assert sum(limiter.allow() for _ in range(10)) == 3


@pytest.mark.parametrize("name", ["lobby", "a", "Room_2-b", "x" * 50])
def test_valid_room_names(name):
    assert is_valid_room(name)
    assert len(group_name(name)) < 100  # the channel layers' group-name limit


@pytest.mark.parametrize("name", ["", "x" * 51, "bad room", "café", "a/b", "a.b", None, 3])
def test_invalid_room_names(name):
    assert not is_valid_room(name)


def test_display_names():
    assert is_valid_display_name("alice.b-2")
    assert not is_valid_display_name("a" * 33)
    assert not is_valid_display_name("<script>")


# -- the consumer, through Channels' WebsocketCommunicator ------------------------------------
@asynccontextmanager
async def communicator(path: str, headers=(LOCAL_ORIGIN,), app=application):
    comm = WebsocketCommunicator(app, path, headers=list(headers))
    try:
        yield comm
    finally:
        await comm.disconnect(timeout=PATIENCE)


async def joined(comm: WebsocketCommunicator) -> tuple[list[dict], dict]:
    """Connect and read up to the welcome: (history events, welcome event)."""
    connected, _ = await comm.connect(timeout=PATIENCE)
    assert connected
    history = []
    while (event := await comm.receive_json_from(timeout=PATIENCE))["type"] == "history":
        history.append(event)
    assert event["type"] == "welcome", event
    return history, event


async def next_of(comm: WebsocketCommunicator, kind: str) -> dict:
    while (event := await comm.receive_json_from(timeout=PATIENCE))["type"] != kind:
        pass
    return event


async def test_communicator_chat_round_trip(room):
    async with communicator(f"/ws/chat/{room}/?name=ada") as ada, communicator(f"/ws/chat/{room}/?name=bea") as bea:
        _, welcome = await joined(ada)
        assert welcome["user"] == "ada"
        await joined(bea)
        assert await next_of(ada, "join") == {"type": "join", "user": "ada", "text": "ada joined"}
        await ada.send_json_to({"type": "message", "text": "hi bea", "user": "mallory"})  # "user" is ignored
        message = await next_of(bea, "message")
        assert (message["user"], message["text"]) == ("ada", "hi bea")
        assert isinstance(message["id"], int)


@pytest.mark.parametrize(
    "headers",
    [[], [(b"origin", b"http://evil.example")], [(b"origin", b"http://127.0.0.1.evil.example")]],
    ids=["no origin", "foreign origin", "look-alike origin"],
)
async def test_communicator_without_an_allowed_origin_is_refused(room, headers):
    async with communicator(f"/ws/chat/{room}/", headers=headers) as comm:
        connected, _ = await comm.connect(timeout=PATIENCE)
    assert not connected


async def test_communicator_bad_room_name_closes_with_4400():
    async with communicator("/ws/chat/not a room/") as comm:
        connected, _ = await comm.connect(timeout=PATIENCE)
        assert connected  # accepted, so the close code and reason reach the client
        closing = await comm.receive_output(timeout=PATIENCE)
    assert closing["type"] == "websocket.close" and closing["code"] == 4400
    assert "room name" in closing["reason"]


async def test_the_consumer_checks_the_room_name_itself():
    # Routed some other way (no pattern guarding the name), the consumer still refuses it.
    comm = WebsocketCommunicator(ChatConsumer.as_asgi(), "/anything/")
    comm.scope["url_route"] = {"args": (), "kwargs": {"room": "no spaces allowed"}}
    assert (await comm.connect(timeout=PATIENCE))[0]
    closing = await comm.receive_output(timeout=PATIENCE)
    assert closing["code"] == 4400
    await comm.disconnect(timeout=PATIENCE)


async def test_communicator_unknown_websocket_path_closes_with_4404():
    async with communicator("/ws/nowhere/") as comm:
        assert (await comm.connect(timeout=PATIENCE))[0]
        assert (await comm.receive_output(timeout=PATIENCE))["code"] == 4404


@pytest.mark.parametrize("name", ["<b>", "x" * 33, "a%20b"])
async def test_communicator_bad_display_name_closes_with_4400(room, name):
    async with communicator(f"/ws/chat/{room}/?name={name}") as comm:
        await comm.connect(timeout=PATIENCE)
        closing = await comm.receive_output(timeout=PATIENCE)
    assert closing["code"] == 4400 and "display name" in closing["reason"]


@pytest.mark.parametrize("query", ["", "?name="])
async def test_anonymous_guest_without_a_name_gets_a_generated_one(room, query):
    async with communicator(f"/ws/chat/{room}/{query}") as comm:
        _, welcome = await joined(comm)
    assert welcome["user"].startswith("guest-")


async def test_anonymous_policy_off_refuses_with_4403_and_lets_users_in(room):
    session = await lab.login_session("ivy")
    with override_settings(CHAT_ALLOW_ANONYMOUS=False):
        async with communicator(f"/ws/chat/{room}/?name=someone") as anonymous:
            await anonymous.connect(timeout=PATIENCE)
            closing = await anonymous.receive_output(timeout=PATIENCE)
        assert closing["code"] == 4403 and "LAB_CHAT_ALLOW_ANONYMOUS" in closing["reason"]
        cookie = (b"cookie", f"sessionid={session}".encode())
        async with communicator(f"/ws/chat/{room}/?name=not-ivy", headers=[LOCAL_ORIGIN, cookie]) as ivy:
            _, welcome = await joined(ivy)
    assert welcome["user"] == "ivy"  # from the session; the ?name= is ignored


async def test_anonymous_may_not_take_a_registered_users_name(room):
    await lab.login_session("jules")
    async with communicator(f"/ws/chat/{room}/?name=jules") as comm:
        await comm.connect(timeout=PATIENCE)
        closing = await comm.receive_output(timeout=PATIENCE)
    assert closing["code"] == 4400 and "registered" in closing["reason"]


async def test_communicator_bad_frames_get_errors_and_the_connection_lives(room):
    async with communicator(f"/ws/chat/{room}/?name=kim") as kim:
        await joined(kim)
        await kim.send_to(text_data="{not json")
        assert (await next_of(kim, "error"))["code"] == "invalid_json"
        await kim.send_to(bytes_data=b"\xff")
        assert (await next_of(kim, "error"))["code"] == "binary_frame"
        await kim.send_json_to({"type": "message", "text": "fine"})
        assert (await next_of(kim, "message"))["text"] == "fine"


async def test_history_keeps_the_last_n_and_replays_them(room, monkeypatch):
    monkeypatch.setattr(ChatConsumer, "limits", ChatLimits(history=3, burst=100))
    async with communicator(f"/ws/chat/{room}/?name=lou") as lou:
        await joined(lou)
        for n in range(5):
            await lou.send_json_to({"type": "message", "text": f"m{n}"})
            await next_of(lou, "message")
    async with communicator(f"/ws/chat/{room}/?name=max") as newcomer:
        history, _ = await joined(newcomer)
    assert [e["text"] for e in history] == ["m2", "m3", "m4"]
    assert await Message.objects.filter(room=room).acount() == 3


async def test_rate_limit_tells_the_sender(room, monkeypatch):
    monkeypatch.setattr(ChatConsumer, "limits", ChatLimits(burst=2, per_second=0.01))
    async with communicator(f"/ws/chat/{room}/?name=ned") as ned:
        await joined(ned)
        for n in range(4):
            await ned.send_json_to({"type": "message", "text": f"n{n}"})
        # Errors go straight back; the echoes take the detour through the channel layer.
        events = [await ned.receive_json_from(timeout=PATIENCE) for _ in range(5)]  # + ned's own join
    assert [e["text"] for e in events if e["type"] == "message"] == ["n0", "n1"]
    assert [e["code"] for e in events if e["type"] == "error"] == ["rate_limited", "rate_limited"]


# -- the real server, through the websockets client -------------------------------------------
async def test_rooms_are_isolated_on_the_real_server(lab_server, room):
    other = room + "-other"
    async with (
        lab_server.chat(room, user="amy") as amy,
        lab_server.chat(room, user="ben") as ben,
        lab_server.chat(other, user="cat") as cat,
    ):
        await amy.send("for this room only")
        assert (await ben.wait_for("for this room only", timeout=PATIENCE))["user"] == "amy"
        await cat.send("elsewhere")
        await cat.wait_for("elsewhere", timeout=PATIENCE)
        assert [e for e in await ben.receive_all(quiet=0.5) if e["type"] == "message"] == []
        assert [e["text"] for e in await cat.receive_all(quiet=0.5) if e["type"] == "message"] == []


async def test_history_is_replayed_to_a_newcomer_on_the_real_server(lab_server, room):
    async with lab_server.chat(room, user="dot") as dot:
        for text in ("first", "second"):
            await dot.send(text)
            await dot.wait_for(text, timeout=PATIENCE)
    async with lab_server.chat(room, user="eve") as eve:
        assert [(e["user"], e["text"]) for e in eve.history] == [("dot", "first"), ("dot", "second")]


async def test_bad_input_on_the_real_server_never_ends_the_room(lab_server, room):
    async with lab_server.chat(room, user="fay") as fay, lab_server.chat(room, user="gus") as gus:
        for frame in ["{", "[]", '{"type": "nope"}', "x" * 100_000, b"\x00" * 10]:
            await gus.send_raw(frame)
        codes = [(await gus.receive(timeout=PATIENCE, kind="error"))["code"] for _ in range(5)]
        assert codes == ["invalid_json", "invalid_json", "unknown_type", "too_large", "binary_frame"]
        await fay.send("still working")
        await gus.wait_for("still working", timeout=PATIENCE)
        assert gus.close_code is None


async def test_a_frame_beyond_the_servers_size_limit_closes_only_that_connection(lab_server, room):
    async with lab_server.chat(room, user="hal") as hal, lab_server.chat(room, user="ida") as ida:
        await ida.send_raw("x" * (17 * 1024 * 1024))  # over uvicorn's 16 MiB ws_max_size
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ida.receive(timeout=PATIENCE)
        assert closed.value.rcvd.code == 1009  # "message too big"
        await hal.wait_for("ida left", timeout=PATIENCE, kind="leave")
        await hal.send("the room is fine")
        await hal.wait_for("the room is fine", timeout=PATIENCE)


async def test_bad_room_and_unknown_path_on_the_real_server(lab_server):
    with pytest.raises(lab.ChatRefused) as refused:
        await lab_server.chat("no spaces", user="x").connect()
    assert refused.value.close_code == 4400
    origin = lab_server.url.rstrip("/")
    async with websockets.connect(lab_server.ws_url + "ws/elsewhere/", origin=origin, proxy=None) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 4404


async def test_foreign_origin_is_refused_by_the_real_server(lab_server, room):
    with pytest.raises(lab.ChatRefused) as refused:
        await lab_server.chat(room, user="x", origin="http://evil.example").connect()
    assert refused.value.status == 403


async def test_disconnect_removes_the_group_membership(lab_server, room):
    async with lab_server.chat(room, user="jon") as jon:
        async with lab_server.chat(room, user="kay"):
            assert len(await clients.room_channels(room)) == 2
        await jon.wait_for("kay left", timeout=PATIENCE, kind="leave")
        assert len(await clients.room_channels(room)) == 1
    for _ in range(200):  # jon's consumer leaves just after the close handshake
        if not await clients.room_channels(room):
            break
        await asyncio.sleep(0.05)
    assert await clients.room_channels(room) == set()


async def test_clients_that_vanish_at_once_still_leave_the_group(lab_server, room):
    # Closing right after the welcome races the server's send of our own "join": the consumer
    # then ends with an OSError from send(), and must leave the room anyway.
    async with lab_server.chat(room, user="watcher") as watcher:
        for n in range(8):
            quick = await lab_server.chat(room, user=f"quick{n}").connect()
            await quick.close()
        aborted = await lab_server.chat(room, user="aborted").connect()
        aborted._ws.transport.abort()  # no close frame at all: the TCP connection just drops
        for name in [f"quick{n}" for n in range(8)] + ["aborted"]:
            await watcher.wait_for(f"{name} left", timeout=PATIENCE, kind="leave")
        assert len(await clients.room_channels(room)) == 1


async def test_room_page(http):
    page = await http.get("chat/lobby/", params={"name": "<script>"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script id="room-name" type="application/json">"lobby"</script>' in page.text
    assert "&lt;script&gt;" not in page.text  # the name is read by the page's script, never put into the HTML
    bad = await http.get("chat/bad%20room/")
    assert bad.status_code == 400 and "room name" in bad.json()["error"]
    assert (await http.post("chat/lobby/")).status_code in (403, 405)


async def test_stopping_the_server_with_open_chats_is_bounded(room):
    from helpers.server import LabServer, load_app

    server = await LabServer(load_app(), stop_timeout=1.0).start()
    sessions = [await server.chat(room, user=f"s{n}").connect() for n in range(3)]
    async with asyncio.timeout(1.0 + 2.0 + 2.0):
        await server.stop()
    for session in sessions:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:  # the joins of the others may still be queued before the close
                await session.receive(timeout=PATIENCE)
        assert closed.value.rcvd.code == 1012  # "service restart"


# -- several server processes -----------------------------------------------------------------
def shared_database() -> dict[str, str]:
    # The processes must use this test run's migrated database (conftest points LAB_DATA_DIR
    # of later children at the notebooks' folder).
    return {"LAB_DATA_DIR": str(settings.LAB.data_dir)}


async def test_in_memory_layer_does_not_cross_processes(room):
    env = {**shared_database(), "REDIS_URL": "off"}
    a, b = await asyncio.gather(lab.start_process(env=env), lab.start_process(env=env))
    try:
        async with a.chat(room, user="amy") as amy, b.chat(room, user="bob") as bob:
            await amy.send("across?")
            await amy.wait_for("across?", timeout=PATIENCE)
            assert [e for e in await bob.receive_all(wait=1.0) if e["type"] == "message"] == []
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def test_anonymous_chat_switched_off_by_environment(room):
    process = await lab.start_process(env={**shared_database(), "REDIS_URL": "off", "LAB_CHAT_ALLOW_ANONYMOUS": "0"})
    try:
        with pytest.raises(lab.ChatRefused) as refused:
            await process.chat(room, user="anon").connect()
        assert refused.value.close_code == 4403
        session = await lab.login_session("lena")
        async with process.chat(room, session=session) as lena:
            assert lena.user == "lena"
    finally:
        await process.stop()


@pytest.mark.redis
async def test_redis_carries_a_message_across_processes(redis_url, room, lab_server):
    env = {**shared_database(), "REDIS_URL": redis_url}
    a, b = await asyncio.gather(lab.start_process(env=env), lab.start_process(env=env))
    try:
        async with (
            a.chat(room, user="amy") as amy,
            b.chat(room, user="bob") as bob,
            lab_server.chat(room, user="cy") as cy,
        ):
            await amy.send("over redis")
            for session in (amy, bob, cy):
                assert (await session.wait_for("over redis", timeout=PATIENCE))["user"] == "amy"
            await bob.send("and back")
            await amy.wait_for("and back", timeout=PATIENCE)
            prefixes = {name.split("!")[0] for name in await clients.room_channels(room)}
            assert len(prefixes) == 3  # one channels_redis client per process
    finally:
        await asyncio.gather(a.stop(), b.stop())

