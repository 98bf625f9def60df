"""The chat's wire format: what a client may send, what the server sends, how it says no.

Client → server, one JSON object per text frame::

    {"type": "message", "text": "hi"}

Server → client, every event has ``type``, ``user`` and ``text``::

    {"type": "history", "user": "alice", "text": "hi", "id": 7}    replayed to a newcomer, oldest first
    {"type": "welcome", "user": "bob", "text": "..."}               to the newcomer: the name it got
    {"type": "join" | "leave", "user": "bob", "text": "..."}        to everyone in the room
    {"type": "message", "user": "alice", "text": "hi", "id": 8}     to everyone in the room
    {"type": "error", "user": null, "text": "...", "code": "..."}   to the sender only
                                                                    ("chat_unavailable": sent just before a 4503 close)

A bad frame is answered with an ``error`` event and the connection stays open: one client's
mistake never ends its own session, let alone the room. Problems with the connection itself
close it with one of the codes below (4000-4999 is the range RFC 6455 leaves to applications;
the last three digits echo the matching HTTP status).
"""

from __future__ import annotations

import json
from typing import Any

from lab_project.chat.limits import ChatLimits

# Close codes, sent with a reason after the handshake so a browser can read them.
CLOSE_BAD_REQUEST = 4400  # bad room name, or a display name that breaks the rule
CLOSE_ANONYMOUS_REFUSED = 4403  # not logged in, and LAB_CHAT_ALLOW_ANONYMOUS is off
CLOSE_NO_ROUTE = 4404  # a WebSocket path no consumer serves
CLOSE_CHAT_UNAVAILABLE = 4503  # the channel layer (Redis) failed; reconnect when /chat/layer/health/ is 200
# A foreign Origin never gets this far: Channels' origin check refuses the handshake (HTTP 403).


class FrameError(ValueError):
    """A client frame the server refuses; ``code`` is machine-readable, the text is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def event(kind: str, user: str | None, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "user": user, "text": text, **extra}


def error_event(problem: FrameError) -> dict[str, Any]:
    return event("error", None, str(problem), code=problem.code)


def parse_client_frame(text_data: str | None, bytes_data: bytes | None, limits: ChatLimits) -> str:
    """The chat text carried by one client frame, or FrameError saying what is wrong with it."""
    if text_data is None:
        raise FrameError("binary_frame", "binary frames are not understood: send JSON text")
    if len(text_data.encode()) > limits.max_frame_bytes:
        raise FrameError("too_large", f"a frame may be at most {limits.max_frame_bytes} bytes")
    try:
        payload = json.loads(text_data)
    except ValueError as exc:
        raise FrameError("invalid_json", f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(payload, dict):
        raise FrameError("invalid_json", 'send a JSON object such as {"type": "message", "text": "hi"}')
    kind = payload.get("type")
    if kind != "message":
        raise FrameError("unknown_type", f'unknown message type {kind!r}: the only type a client sends is "message"')
    message = payload.get("text")
    if not isinstance(message, str) or not message.strip():
        raise FrameError("bad_text", '"text" must be a non-empty string')
    if len(message) > limits.max_text_chars:
        raise FrameError("too_large", f'"text" may be at most {limits.max_text_chars} characters')
    return message
