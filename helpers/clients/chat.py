"""Chat sessions for notebook cells, on the ``websockets`` client.

    async with lab.chat(server, "lobby", user="alice") as alice:
        await alice.send("hi")
        event = await alice.receive(timeout=2)

A session connects the way a browser page of the server would: it sends an ``Origin`` header
naming the server itself, because Channels' origin check refuses a WebSocket without one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from helpers.server.database import setup_django

__all__ = ["ChatRefused", "ChatSession", "chat", "login_session", "room_channels"]

SESSION_COOKIE = "sessionid"  # Django's default SESSION_COOKIE_NAME, which the lab keeps


class _Served(Protocol):  # LabServer, ProcessServer: anything with a base URL
    url: str


class ChatRefused(Exception):
    """The server would not let this session into the room.

    ``status`` is set when the handshake itself was refused (HTTP 403 from the origin check);
    ``close_code`` and ``reason`` when the server accepted and closed at once (see
    ``lab_project/chat/protocol.py`` for the codes).
    """

    def __init__(self, message: str, *, status: int | None = None, close_code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.close_code = close_code
        self.reason = reason


class ChatSession:
    """One WebSocket connection to a chat room. Use ``async with``, or ``connect()``/``close()``."""

    def __init__(
        self,
        server: _Served | str,
        room: str,
        user: str | None = None,
        *,
        session: str | None = None,
        origin: str | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        http_url = server if isinstance(server, str) else server.url
        parts = urlsplit(http_url)
        self.room = room
        self.requested_user = user
        self.origin = origin or f"{parts.scheme}://{parts.netloc}"
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = f"?{urlencode({'name': user})}" if user is not None else ""
        self.url = f"{scheme}://{parts.netloc}/ws/chat/{quote(room, safe='')}/{query}"
        self._session = session
        self.open_timeout = open_timeout
        self.user: str | None = None  # the name the server gave this session (see "welcome")
        self.history: list[dict[str, Any]] = []  # what the room said before we came
        self._ws: websockets.ClientConnection | None = None

    # -- connecting ------------------------------------------------------------------------
    async def connect(self) -> ChatSession:
        """Open the socket and read up to the server's welcome; raise ChatRefused if turned away."""
        headers = {"Cookie": f"{SESSION_COOKIE}={self._session}"} if self._session else None
        try:
            self._ws = await websockets.connect(
                self.url, origin=self.origin, additional_headers=headers, proxy=None, open_timeout=self.open_timeout
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ChatRefused(
                f"the server refused the WebSocket handshake with HTTP {status} (Origin {self.origin!r}; "
                "Channels' origin check accepts only origins whose host is in ALLOWED_HOSTS)",
                status=status,
            ) from None
        try:
            async with asyncio.timeout(self.open_timeout):
                while True:
                    event = json.loads(await self._ws.recv())
                    if event["type"] == "history":
                        self.history.append(event)
                    elif event["type"] == "welcome":
                        self.user = event["user"]
                        return self
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
            raise ChatRefused(
                f"the server closed the connection with code {code}: {reason}", close_code=code, reason=reason
            ) from None

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def __aenter__(self) -> ChatSession:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- talking ---------------------------------------------------------------------------
    async def send(self, text: str) -> None:
        """Say ``text`` in the room."""
        await self.send_raw(json.dumps({"type": "message", "text": text}))

    async def send_raw(self, frame: str | bytes) -> None:
        """Send one frame exactly as given (to see how the server treats bad input)."""
        await self._connection().send(frame)

    async def receive(self, timeout: float = 2.0, *, kind: str | None = None) -> dict[str, Any]:
        """The next event; with ``kind``, the next event of that type (others are skipped).

        Raises TimeoutError if nothing (suitable) arrives within ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = json.loads(await self._connection().recv())
                    if kind is None or event["type"] == kind:
                        return event
        except TimeoutError:
            wanted = f"{kind!r} event" if kind else "event"
            raise TimeoutError(f"{self.user or self.requested_user}: no {wanted} within {timeout} s") from None

    async def receive_all(self, quiet: float = 0.3, wait: float | None = None) -> list[dict[str, Any]]:
        """Every event that arrives until the room has been quiet for ``quiet`` seconds.

        ``wait`` (default: ``quiet``) is how long to wait for the first event.
        """
        events = []
        while True:
            try:
                events.append(await self.receive(timeout=quiet if events or wait is None else wait))
            except TimeoutError:
                return events

    async def wait_for(self, text: str, timeout: float = 5.0, *, kind: str = "message") -> dict[str, Any]:
        """The next ``kind`` event whose text is ``text``; the events before it are read and dropped."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await self.receive(timeout=timeout, kind=kind)
                    if event["text"] == text:
                        return event
        except TimeoutError:
            raise TimeoutError(f"{self.user}: {kind} {text!r} did not arrive within {timeout} s") from None

    # -- state -----------------------------------------------------------------------------
    @property
    def close_code(self) -> int | None:
        return self._ws.close_code if self._ws is not None else None

    def _connection(self) -> websockets.ClientConnection:
        if self._ws is None:
            raise RuntimeError("not connected: use `async with lab.chat(...)` or `await session.connect()`")
        return self._ws

    def __repr__(self) -> str:
        state = "open" if self._ws is not None and self._ws.close_code is None else "closed"
        return f"<ChatSession {self.user or self.requested_user} in {self.room} {state}>"


def chat(server: _Served | str, room: str, user: str | None = None, **options: Any) -> ChatSession:
    """A chat session for ``room`` on ``server`` (a LabServer, ProcessServer or base URL).

    ``user`` is the display name an anonymous session asks for; ``session=`` a session key of a
    logged-in user (see ``login_session``), whose name then comes from the session instead.
    """
    return ChatSession(server, room, user, **options)


async def login_session(username: str) -> str:
    """A session key for ``username`` (created if missing, with no usable password).

    Stored in the lab's database, so every server process sharing that database accepts it.
    """
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import AsyncClient

    users = get_user_model().objects
    try:
        user = await users.aget(username=username)
    except users.model.DoesNotExist:
        user = await users.acreate_user(username)
    client = AsyncClient()
    await client.aforce_login(user)  # Django's own login, writing the session the server reads
    return client.cookies[SESSION_COOKIE].value


async def room_channels(room: str) -> set[str]:
    """The channel names in ``room``'s group, as this process's channel layer sees them.

    Channels has no API to list a group, so this reads the layer's storage: the in-memory
    layer's dict (this process only) or the sorted set ``channels_redis`` keeps in Redis.
    """
    setup_django()
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    from lab_project.chat.rooms import group_name

    layer, group = get_channel_layer(), group_name(room)
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    from channels_redis.core import RedisChannelLayer

    if isinstance(layer, RedisChannelLayer):
        connection = layer.connection(layer.consistent_hash(group))
        return {name.decode() for name in await connection.zrange(layer._group_key(group), 0, -1)}
    raise TypeError(f"room_channels() cannot read groups of {type(layer).__name__}")
