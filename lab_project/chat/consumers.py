"""The chat room consumer: one instance per WebSocket connection.

Each connection joins the channel-layer group of its room (``group_add``), everything said in
the room is fanned out with ``group_send`` and arrives at every member's ``chat_event``, and a
leaving connection is removed with ``group_discard``. With the in-memory layer the group lives
in this process; with ``channels_redis`` it lives in Redis, so members may sit in different
server processes.
"""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError

from lab_project.chat import history
from lab_project.chat.layer import CLOSE_REASON, LAYER_ERRORS, UNAVAILABLE, describe
from lab_project.chat.limits import ChatLimits, RateLimiter
from lab_project.chat.protocol import (
    CLOSE_ANONYMOUS_REFUSED,
    CLOSE_BAD_REQUEST,
    CLOSE_CHAT_UNAVAILABLE,
    FrameError,
    error_event,
    event,
    parse_client_frame,
)
from lab_project.chat.rooms import DISPLAY_NAME_RULE, ROOM_RULE, group_name, is_valid_display_name, is_valid_room

logger = logging.getLogger("lab")


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ChatConsumer(AsyncWebsocketConsumer):
    limits = ChatLimits()
    accepted = False  # the handshake was answered (a close code can reach the client)
    closed = False  # this side sent its close frame

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except LAYER_ERRORS as error:
            # The layer failed (Redis gone, hung past the socket timeout, or out of pooled
            # connections): its receive loop or a group call raised out of Channels' dispatch
            # loop. Say so and close with a code, instead of the bare drop (1006) or handshake
            # 500 the client would otherwise get. See chat/layer.py.
            await self.close_unavailable(error)
        finally:
            # A client that vanishes while we send to it ends this consumer with an OSError
            # from send() (the ASGI rule for a closed connection) before any
            # websocket.disconnect arrives, so disconnect() never runs. Leave the room anyway:
            # a forgotten member stays in the group, its channel filling up, until the layer
            # expires it (channels_redis: group_expiry, a day by default). Known upstream as
            # django/channels#1466, still open.
            await self.leave_room()

    async def connect(self) -> None:
        self.room = None  # set once this connection is a member of the room's group
        try:
            room = self._room_from_url()
            self.user_name = await self._display_name()
        except Refused as refusal:
            await self.refuse(refusal.code, refusal.reason)
            return
        self.limiter = RateLimiter(self.limits.burst, self.limits.per_second)
        self.group = group_name(room)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.room = room
        await self.accept()
        # Joined before reading the history: a message said meanwhile may then arrive twice
        # (replayed and live, same "id"), but never zero times.
        try:
            replay = await history.recent(room, self.limits.history)
        except DatabaseError as exc:  # live chat still works without its history
            logger.warning("chat: could not read the history of %s: %s", room, exc)
            replay = []
            await self.send_event(event("error", None, "the room's history is unavailable", code="no_history"))
        for old in replay:
            await self.send_event(event("history", old.user, old.text, id=old.id))
        await self.send_event(event("welcome", self.user_name, f"you are {self.user_name} in room {room}"))
        await self.broadcast(event("join", self.user_name, f"{self.user_name} joined"))

    async def disconnect(self, code: int) -> None:
        await self.leave_room()

    async def leave_room(self) -> None:
        if getattr(self, "room", None) is None:
            return
        self.room = None
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.broadcast(event("leave", self.user_name, f"{self.user_name} left"))
        except LAYER_ERRORS as error:
            # With the layer failing nobody can be told; the membership went with Redis's data,
            # or expires after channels_redis's group_expiry.
            logger.info(
                "chat: %s left %s but the channel layer failed (%s)", self.user_name, self.group, describe(error)
            )

    async def close_unavailable(self, error: BaseException) -> None:
        logger.warning(
            "chat: the channel layer failed (%s); closing with %s", describe(error), CLOSE_CHAT_UNAVAILABLE
        )
        if self.closed:  # refused already: the client has its close code
            return
        try:
            if not self.accepted:
                await self.accept()
            await self.send_event(event("error", None, UNAVAILABLE, code="chat_unavailable"))
            await self.close(code=CLOSE_CHAT_UNAVAILABLE, reason=CLOSE_REASON)
        except OSError:  # the client is gone too
            pass

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room is None:  # refused or already left: nobody to talk to
            return
        try:
            if not self.limiter.allow():
                raise FrameError(
                    "rate_limited",
                    f"slow down: at most {self.limits.burst} messages at once, then "
                    f"{self.limits.per_second:g} per second; this one was dropped",
                )
            text = parse_client_frame(text_data, bytes_data, self.limits)
        except FrameError as problem:
            await self.send_event(error_event(problem))
            return
        try:
            stored_id = (await history.remember(self.room, self.user_name, text, self.limits.history)).id
        except DatabaseError as exc:
            # The room should not go silent because the history table is unavailable.
            logger.warning("chat: could not store a message in %s: %s", self.room, exc)
            await self.send_event(event("error", None, "delivered, but not kept in the history", code="not_stored"))
            stored_id = None
        await self.broadcast(event("message", self.user_name, text, id=stored_id))

    # -- group fan-out ---------------------------------------------------------------------
    async def broadcast(self, payload: dict) -> None:
        # "chat.event" is dispatched to chat_event() on every member (the dot becomes "_").
        await self.channel_layer.group_send(self.group, {"type": "chat.event", "event": payload})

    async def chat_event(self, message: dict) -> None:
        await self.send_event(message["event"])

    async def send_event(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload))

    async def accept(self, subprotocol=None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def close(self, code=None, reason=None) -> None:
        await super().close(code, reason)
        self.closed = True

    # -- who and where ---------------------------------------------------------------------
    async def refuse(self, code: int, reason: str) -> None:
        # Accept, then close: a close code and reason reach the client (a browser's onclose
        # shows them), whereas refusing the handshake only yields a bare HTTP 403.
        await self.accept()
        await self.close(code=code, reason=reason)

    def _room_from_url(self) -> str:
        room = self.scope.get("url_route", {}).get("kwargs", {}).get("room")
        if not is_valid_room(room):  # routing checks too; this guards any other route to here
            raise Refused(CLOSE_BAD_REQUEST, f"bad room name: {ROOM_RULE}")
        return room

    async def _display_name(self) -> str:
        """The logged-in user's name from the session, else the anonymous policy decides."""
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            return user.get_username()
        if not settings.CHAT_ALLOW_ANONYMOUS:
            raise Refused(CLOSE_ANONYMOUS_REFUSED, "log in first: anonymous chat is off (LAB_CHAT_ALLOW_ANONYMOUS=0)")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        requested = query.get("name", [None])[0]
        if requested is None:
            return f"guest-{secrets.token_hex(2)}"
        if not is_valid_display_name(requested):
            raise Refused(CLOSE_BAD_REQUEST, f"bad display name: {DISPLAY_NAME_RULE}")
        if await get_user_model().objects.filter(username=requested).aexists():
            raise Refused(CLOSE_BAD_REQUEST, "that name belongs to a registered user: log in to use it")
        return requested


class ClosingConsumer(AsyncWebsocketConsumer):
    """Accepts, then closes at once with ``code`` and ``reason`` (for paths nobody serves)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__()
        self.code = code
        self.reason = reason

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=self.code, reason=self.reason)
