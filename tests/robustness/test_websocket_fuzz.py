"""WebSocket bad input below the chat protocol: malformed frames written byte by byte on a raw
socket, random frame sequences, and floods from one client while others chat.

tests/chapters/test_09_channels_chat.py covers bad *messages* (invalid JSON, oversize text, binary frames, the rate
limit on its own). Here the rule is the same one level down: whatever one client sends, it is
told (an ``error`` event) or closed with the close code RFC 6455 gives its mistake (1002
protocol error, 1007 invalid data, 1009 too big); the others in its room see only its
``leave``, and the server stays healthy.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpers as lab
from helpers import clients
from helpers.testing import Opcode, RawWebSocket, chat_message, close_payload, frame
from lab_project.chat.limits import ChatLimits

PATIENCE = 10  # seconds for anything that should happen, on a loaded 2-core box


@pytest.fixture
def room() -> str:
    return f"f{uuid.uuid4().hex[:12]}"


async def joined_raw(server, room: str, name: str) -> RawWebSocket:
    """A raw connection that has joined ``room`` as ``name`` (read up to its welcome)."""
    ws = await RawWebSocket.connect(server.url, f"/ws/chat/{room}/?name={name}")
    while (await ws.read_event(PATIENCE))["type"] != "welcome":
        pass
    return ws


async def heard_leave(watcher: lab.ChatSession, *names: str) -> None:
    """Wait until ``watcher`` has heard each of ``names`` leave (in any order).

    The tests close clients one at a time and wait for each leave: with channels_redis, a
    group message that reaches the process just as another of its consumers is being torn
    down can be lost (see lab_project/chat/layer.py), and this file tests frames, not that.
    """
    left = set()
    try:
        while not left.issuperset(names):
            left.add((await watcher.receive(timeout=PATIENCE, kind="leave"))["user"])
    except TimeoutError:
        raise AssertionError(f"{watcher.user} heard {sorted(left)} leave, not all of {sorted(names)}") from None


async def assert_room_still_works(server, room: str, watcher: lab.ChatSession, *gone: str) -> None:
    """Those ``gone`` left (their consumers cleaned up), the watcher can still talk, /health/ answers."""
    await heard_leave(watcher, *gone)
    assert len(await clients.room_channels(room)) == 1  # only the watcher is still a member
    text = f"still here {uuid.uuid4().hex[:6]}"
    await watcher.send(text)
    await watcher.wait_for(text, timeout=PATIENCE)
    async with httpx.AsyncClient(timeout=PATIENCE) as http:
        assert (await http.get(server.url + "health/")).status_code == 200


# -- one malformed frame ------------------------------------------------------------------------------
MALFORMED = {
    # name: (bytes after the handshake, the close code RFC 6455 gives the mistake)
    "reserved opcode 0x3": (frame(0x3, b"x"), 1002),
    "reserved opcode 0xB": (frame(0xB, b""), 1002),
    "unmasked client frame": (frame(Opcode.TEXT, chat_message("hi"), masked=False), 1002),
    "reserved bits set": (frame(Opcode.TEXT, chat_message("hi"), rsv=0b100), 1002),
    "fragmented ping": (frame(Opcode.PING, b"x", fin=False), 1002),
    "control frame over 125 bytes": (frame(Opcode.PING, b"x" * 126), 1002),
    "continuation with nothing to continue": (frame(Opcode.CONT, b"x"), 1002),
    "new message inside a fragmented one": (frame(Opcode.TEXT, b"{", fin=False) + frame(Opcode.TEXT, b"}"), 1002),
    "close code 999": (frame(Opcode.CLOSE, close_payload(999)), 1002),
    "close code 1005 on the wire": (frame(Opcode.CLOSE, close_payload(1005)), 1002),
    "close frame of one byte": (frame(Opcode.CLOSE, b"\x03"), 1002),
    "bad UTF-8 in a text frame": (frame(Opcode.TEXT, b'{"type": "message", "text": "\xff\xfe"}'), 1007),
    "bad UTF-8 across fragments": (frame(Opcode.TEXT, b'"\xe2\x82', fin=False) + frame(Opcode.CONT, b'"'), 1007),
    "bad UTF-8 in a close reason": (frame(Opcode.CLOSE, close_payload(1000, b"\xff")), 1007),
    "length of 2**40 declared": (frame(Opcode.TEXT, b"", declared_length=2**40), 1009),
    "length of 2**63 declared": (frame(Opcode.BINARY, b"", declared_length=2**63), 1009),
}


@pytest.mark.parametrize(("data", "code"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_frame_closes_only_its_connection_with_the_rfc_code(lab_server, room, data, code):
    async with lab_server.chat(room, user="watcher") as watcher:
        ws = await joined_raw(lab_server, room, "fuzzer")
        try:
            await ws.send_bytes(data)
            received_code, reason = await ws.close_from_server(PATIENCE)
        finally:
            await ws.aclose()
        assert received_code == code, reason
        await assert_room_still_works(lab_server, room, watcher, "fuzzer")


async def test_a_message_split_across_fragments_is_reassembled(lab_server, room):
    # The positive case beside the fragment errors above: "€" cut between its UTF-8 bytes.
    ws = await joined_raw(lab_server, room, "splitter")
    try:
        await ws.send_bytes(
            frame(Opcode.TEXT, b'{"type": "message", "text": "\xe2\x82', fin=False) + frame(Opcode.CONT, b'\xac"}')
        )
        while (event := await ws.read_event(PATIENCE))["type"] != "message":
            pass
        assert event["text"] == "€"
    finally:
        await ws.aclose()


async def test_a_truncated_frame_blocks_nobody_and_its_connection_is_cleaned_up(lab_server, room):
    async with lab_server.chat(room, user="watcher") as watcher, lab_server.chat(room, user="talker") as talker:
        ws = await joined_raw(lab_server, room, "truncator")
        whole = frame(Opcode.TEXT, chat_message("never finished"))
        await ws.send_bytes(whole[:8])  # the header promises more than ever comes
        # While the server waits for the rest, the room goes on.
        await talker.send("meanwhile")
        await watcher.wait_for("meanwhile", timeout=PATIENCE)
        await ws.aclose()  # the rest never comes: the TCP connection just ends
        await heard_leave(watcher, "truncator")
        await talker.close()
        await assert_room_still_works(lab_server, room, watcher, "talker")
    assert "never finished" not in [e["text"] for e in watcher.history]


# -- random frame sequences (hypothesis) -----------------------------------------------------------------
NOT_CLOSE = [op for op in range(16) if op != Opcode.CLOSE]  # a close frame ends the fuzzing too early
frames = st.builds(
    frame,
    opcode=st.sampled_from(NOT_CLOSE),
    payload=st.binary(max_size=200),
    fin=st.booleans(),
    rsv=st.sampled_from([0, 0, 0, 1, 4]),
    masked=st.sampled_from([True, True, True, False]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(frames, min_size=1, max_size=6), cut=st.booleans())
async def test_random_frames_end_in_a_proper_close(lab_server, sequence, cut):
    """Whatever frames come, the server closes with a code the RFC allows, or answers our close."""
    data = b"".join(sequence)
    if cut:  # a truncated last frame, then our close frame is read as its payload
        data = data[: max(2, len(data) - 3)]
    room = f"h{uuid.uuid4().hex[:12]}"
    async with asyncio.timeout(3 * PATIENCE):
        ws = await joined_raw(lab_server, room, "fuzzer")
        try:
            await ws.send_bytes(data + frame(Opcode.CLOSE, close_payload(1000, b"done")))
            try:
                code, reason = await ws.close_from_server(timeout=2.0)
            except TimeoutError:
                code, reason = "waiting", ""  # a truncated frame swallowed our close: fine, then we hang up
        finally:
            await ws.aclose()
        allowed = {1000, 1002, 1007, 1009, "waiting"}
        if any(part[0] & 0xF in (Opcode.TEXT, Opcode.CONT) for part in sequence):
            allowed.add(None)  # a text message in bad UTF-8, then our close: uvicorn's bug, pinned below
        assert code in allowed, (code, reason)
        for _ in range(100):  # the fuzzer's consumer leaves the room once its connection is gone
            if not await clients.room_channels(room):
                break
            await asyncio.sleep(0.05)
        assert await clients.room_channels(room) == set()
        async with httpx.AsyncClient(timeout=PATIENCE) as http:
            assert (await http.get(lab_server.url + "health/")).status_code == 200


@pytest.mark.xfail(
    strict=True,
    reason="uvicorn 0.54 (websockets-sansio): when the close frame arrives in the same read as the bad "
    "text message, its 1007 path calls send_close() on a closing connection, raises InvalidState "
    "inside data_received, and asyncio aborts the connection: no close frame at all",
)
async def test_bad_utf8_followed_by_a_close_frame_still_gets_1007(lab_server, room):
    # When uvicorn fixes this, the test passes, strict xfail fails it, and the allowance for
    # None in test_random_frames_end_in_a_proper_close can go.
    ws = await joined_raw(lab_server, room, "fuzzer")
    try:
        bad_text = frame(Opcode.TEXT, b'"\xff"')
        await ws.send_bytes(bad_text + frame(Opcode.CLOSE, close_payload(1000)))
        code, _ = await ws.close_from_server(PATIENCE)
    finally:
        await ws.aclose()
    assert code == 1007  # what the bug leaves intact (the consumer still leaves) the random test checks


# -- floods -------------------------------------------------------------------------------------------------
async def conversation(alice: lab.ChatSession, bob: lab.ChatSession, turns: int) -> None:
    """Alice and Bob take turns (inside the rate limit); each line must reach the other, in order."""
    for n in range(turns):
        speaker, listener = (alice, bob) if n % 2 == 0 else (bob, alice)
        text = f"turn {n}"
        await speaker.send(text)
        assert (await listener.wait_for(text, timeout=PATIENCE))["user"] == speaker.user
        await asyncio.sleep(1 / ChatLimits().per_second)  # one token back for the next turn


async def test_a_message_flood_is_rate_limited_and_the_others_talk_on(lab_server, room):
    limits = ChatLimits()
    flood = 300
    async with (
        lab_server.chat(room, user="alice") as alice,
        lab_server.chat(room, user="bob") as bob,
        lab_server.chat(room, user="flooder") as flooder,
    ):
        started = time.perf_counter()
        # The flooder sends everything at once and reads nothing until the others are done.
        await asyncio.gather(
            asyncio.gather(*(flooder.send(f"spam {n}") for n in range(flood))),
            conversation(alice, bob, turns=4),
        )
        elapsed = time.perf_counter() - started
        events = await flooder.receive_all(quiet=1.0, wait=PATIENCE)
        refused = [e for e in events if e["type"] == "error"]
        assert {e["code"] for e in refused} == {"rate_limited"}
        accepted = flood - len(refused)  # every frame is either refused (and told) or said
        assert 0 < accepted <= limits.burst + limits.per_second * elapsed + 1
        heard = [e["text"] for e in await alice.receive_all(quiet=1.0) if e["type"] == "message"]
        spam = [t for t in heard if t.startswith("spam")]
        assert len(spam) <= accepted  # nothing the limiter refused reached the room
        assert spam == sorted(spam, key=lambda t: int(t.split()[1]))  # what got through, in order
        assert flooder.close_code is None  # told, not thrown out


async def test_a_flood_of_bad_frames_gets_one_error_each_and_the_room_talks_on(lab_server, room):
    flood = 500
    async with lab_server.chat(room, user="alice") as alice, lab_server.chat(room, user="bob") as bob:
        ws = await joined_raw(lab_server, room, "garbler")
        try:
            await ws.send_bytes(b"".join(frame(Opcode.TEXT, b"{not json") for _ in range(flood)))
            await conversation(alice, bob, turns=2)
            events = [await ws.read_event(PATIENCE) for _ in range(flood + 3)]  # + its join, alice's and bob's turns
        finally:
            await ws.aclose()
        codes = [e["code"] for e in events if e["type"] == "error"]
        # Every frame costs a token before it is parsed: the first ones are named for what is
        # wrong with them, the rest for coming too fast. Either way, one answer per frame.
        assert len(codes) == flood
        assert set(codes) == {"invalid_json", "rate_limited"}
        assert codes[: ChatLimits().burst] == ["invalid_json"] * ChatLimits().burst
        await heard_leave(alice, "garbler")
        await bob.close()
        await assert_room_still_works(lab_server, room, alice, "bob")


async def test_a_ping_flood_is_answered_and_blocks_nobody(lab_server, room):
    pings = 1000
    async with lab_server.chat(room, user="alice") as alice, lab_server.chat(room, user="bob") as bob:
        ws = await joined_raw(lab_server, room, "pinger")
        try:
            await ws.send_bytes(b"".join(frame(Opcode.PING, str(n).encode()) for n in range(pings)))
            await conversation(alice, bob, turns=2)
            pongs = []
            while len(pongs) < pings:
                opcode, payload = await ws.read_frame(PATIENCE)
                if opcode == Opcode.PONG:
                    pongs.append(int(payload))
        finally:
            await ws.aclose()
        assert pongs == list(range(pings))  # each ping answered once, in order
        await heard_leave(alice, "pinger")
        await bob.close()
        await assert_room_still_works(lab_server, room, alice, "bob")


async def test_a_flood_of_big_frames_is_refused_frame_by_frame(lab_server, room):
    limits = ChatLimits()
    big = '{"type": "message", "text": "' + "x" * (1024 * 1024) + '"}'  # 1 MiB: under uvicorn's 16 MiB cap
    async with lab_server.chat(room, user="alice") as alice, lab_server.chat(room, user="heavy") as heavy:
        await asyncio.gather(*(heavy.send_raw(big) for _ in range(20)))
        codes = [(await heavy.receive(timeout=PATIENCE, kind="error"))["code"] for _ in range(20)]
        assert codes[: limits.burst] == ["too_large"] * limits.burst
        assert set(codes[limits.burst :]) <= {"too_large", "rate_limited"}
        await asyncio.sleep(1.5 / limits.per_second)  # a token back
        await heavy.send("small is fine")
        await alice.wait_for("small is fine", timeout=PATIENCE)
        assert heavy.close_code is None
