"""Chat fan-out, measured: many clients in one room, several of them talking, every copy counted.

* ``fan_out(ws_url, clients=50, senders=10, messages=40, ...)`` opens ``clients`` WebSockets to one
  room, lets ``senders`` of them each say ``messages`` things, and waits until every client has
  heard every message. It returns a ``FanOut``: deliveries per second, and per client how many
  messages arrived, went missing, or arrived twice. A configuration "delivers every message"
  when ``FanOut.exact`` is true: each message reached each client exactly once.
* ``RawBroadcastServer`` runs ``lab_project.where_the_time_goes.raw_broadcast`` (the websockets
  library's ``broadcast()``, no framework) in a child process, the floor to compare with.

Flow control: each sender keeps at most ``window`` of its messages in flight (sent, and not yet
echoed back to itself). That measures what the server sustains instead of how deep its queues
are; with at most ``senders × window`` messages pending, no layer's capacity (100 per channel
by default) is reached, so a lost message is the layer's doing, not overload's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import websockets

from helpers.server.process import ProcessServer

__all__ = ["FanOut", "FanOutRoom", "RawBroadcastServer", "fan_out"]

TEXT_PREFIX = "fan"


@dataclass
class FanOut:
    label: str
    clients: int
    senders: int
    messages_per_sender: int
    text_chars: int
    seconds: float = 0.0
    received: list[int] = field(default_factory=list)  # per client: distinct messages heard
    duplicates: int = 0
    timed_out: bool = False

    @property
    def expected_per_client(self) -> int:
        return self.senders * self.messages_per_sender

    @property
    def missing(self) -> int:
        return sum(self.expected_per_client - r for r in self.received)

    @property
    def exact(self) -> bool:
        """Every message reached every client exactly once."""
        return not self.timed_out and self.missing == 0 and self.duplicates == 0 and len(self.received) == self.clients

    @property
    def deliveries_per_s(self) -> float:
        return sum(self.received) / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.expected_per_client / self.seconds if self.seconds and self.exact else 0.0

    def summary(self) -> dict:
        return {
            "label": self.label, "clients": self.clients, "senders": self.senders,
            "messages_per_sender": self.messages_per_sender, "text_chars": self.text_chars,
            "seconds": round(self.seconds, 4), "deliveries_per_s": round(self.deliveries_per_s, 1),
            "messages_per_s": round(self.messages_per_s, 1), "exact": self.exact, "missing": self.missing,
            "duplicates": self.duplicates, "timed_out": self.timed_out,
        }  # fmt: skip


class _Listener:
    """One client: counts this round's messages by (sender, number), releases its own window."""

    def __init__(self, ws, index: int, expected: int, messages_per_sender: int) -> None:
        self.ws = ws
        self.index = index
        self.seen = bytearray(expected)
        self.heard = 0
        self.duplicates = 0
        self.messages_per_sender = messages_per_sender
        self.round = ""
        self.window: asyncio.Semaphore | None = None  # set when this client is a sender
        self.done = asyncio.Event()
        self.progress = time.monotonic()

    def start_round(self, tag: str, expected: int, window: asyncio.Semaphore | None) -> None:
        self.round = f"{TEXT_PREFIX}:{tag}:"
        self.seen = bytearray(expected)
        self.heard = self.duplicates = 0
        self.window = window
        self.done = asyncio.Event()

    async def listen(self) -> None:
        prefix_len = len(self.round)
        async for frame in self.ws:
            event = json.loads(frame)
            text = event.get("text") or ""
            if event.get("type") != "message" or not text.startswith(self.round):
                continue  # joins, leaves, history, other rounds
            sender, number, _ = text[prefix_len:].split(":", 2)
            slot = int(sender) * self.messages_per_sender + int(number)
            if self.seen[slot]:
                self.duplicates += 1
            else:
                self.seen[slot] = 1
                self.heard += 1
            self.progress = time.monotonic()
            if int(sender) == self.index and self.window is not None:
                self.window.release()
            if self.heard == len(self.seen):
                self.done.set()


def _room_url(ws_url: str, room: str, index: int) -> tuple[str, str]:
    parts = urlsplit(ws_url)
    http_scheme = "https" if parts.scheme == "wss" else "http"
    return f"{parts.scheme}://{parts.netloc}/ws/chat/{room}/?name=fan{index}", f"{http_scheme}://{parts.netloc}"


async def _send_all(listener: _Listener, sender: int, tag: str, messages: int, pad: str) -> None:
    for number in range(messages):
        await listener.window.acquire()
        text = f"{TEXT_PREFIX}:{tag}:{sender}:{number}:{pad}"
        await listener.ws.send(json.dumps({"type": "message", "text": text}))


class FanOutRoom:
    """``clients`` connections to one room, kept open across rounds (``async with``).

    ``ws_url`` may be a list: the clients are then spread over those servers in turn (one room
    across processes, which only a Redis layer can serve).
    """

    def __init__(self, ws_url: str | list[str], room: str, clients: int) -> None:
        self.ws_urls = [ws_url] if isinstance(ws_url, str) else list(ws_url)
        self.room = room
        self.clients = clients
        self.listeners: list[_Listener] = []
        self._rounds = 0

    async def __aenter__(self) -> FanOutRoom:
        for index in range(self.clients):  # one by one: a burst of handshakes is not what we measure
            url, origin = _room_url(self.ws_urls[index % len(self.ws_urls)], self.room, index)
            ws = await websockets.connect(url, origin=origin, proxy=None, open_timeout=20, max_size=2**20, compression=None)
            self.listeners.append(_Listener(ws, index, 0, 1))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.gather(*(listener.ws.close() for listener in self.listeners), return_exceptions=True)

    async def round(
        self, *, senders: int, messages: int, text_chars: int = 16, window: int = 4, stall_timeout: float = 10.0, label: str = ""
    ) -> FanOut:
        """One round: every sender says ``messages`` things; wait until all are heard or nothing moves."""
        self._rounds += 1
        tag = f"r{self._rounds}"
        head = len(f"{TEXT_PREFIX}:{tag}:{senders}:{messages}:")
        pad = "x" * max(0, text_chars - head)
        expected = senders * messages
        for listener in self.listeners:
            sem = asyncio.Semaphore(window) if listener.index < senders else None
            listener.start_round(tag, expected, sem)
            listener.messages_per_sender = messages
            listener.progress = time.monotonic()
        readers = [asyncio.create_task(listener.listen()) for listener in self.listeners]
        result = FanOut(label, self.clients, senders, messages, head + len(pad))
        started = time.perf_counter()
        writers = [
            asyncio.create_task(_send_all(self.listeners[s], s, tag, messages, pad)) for s in range(senders)
        ]
        try:
            while not all(listener.done.is_set() for listener in self.listeners):
                if any(r.done() for r in readers):  # a connection closed under us
                    result.timed_out = True
                    break
                if time.monotonic() - max(listener.progress for listener in self.listeners) > stall_timeout:
                    result.timed_out = True  # nothing arrived for a while: something was lost
                    break
                await asyncio.sleep(0.005)
            result.seconds = time.perf_counter() - started
            # A late duplicate would arrive right behind the last copy: listen a moment longer.
            await asyncio.sleep(0.2)
        finally:
            for task in (*writers, *readers):
                task.cancel()
            await asyncio.gather(*writers, *readers, return_exceptions=True)
        result.received = [listener.heard for listener in self.listeners]
        result.duplicates = sum(listener.duplicates for listener in self.listeners)
        return result


async def fan_out(ws_url: str | list[str], room: str, *, clients: int = 50, senders: int = 10, messages: int = 40, **options) -> FanOut:
    """One measured round in a fresh room, after a short warm-up round (see ``FanOutRoom.round``)."""
    async with FanOutRoom(ws_url, room, clients) as fan:
        await fan.round(senders=senders, messages=2, **options)
        return await fan.round(senders=senders, messages=messages, **options)


class RawBroadcastServer(ProcessServer):
    """``raw_broadcast`` in a child process: ``async with RawBroadcastServer() as raw: raw.ws_url``."""

    scheme = "ws"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "lab_project.where_the_time_goes.raw_broadcast", "--host", self.host, "--port", str(self.port)]

    async def ready(self) -> bool:
        """It serves no HTTP: ready once its port accepts a connection."""
        try:
            _, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return False
        writer.close()
        return True
