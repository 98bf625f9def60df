"""A WebSocket client on a bare TCP socket, for sending frames no real client would send.

Well-kept clients (``websockets``, browsers) refuse to build a frame with a reserved opcode, an
unmasked payload or a lying length, so the protocol tests write frames byte by byte here
(RFC 6455, section 5.2). Only the tests use it; chat from cells goes through ``helpers.clients.chat``.

    async with RawWebSocket.open(server.url, "/ws/chat/lobby/?name=x") as ws:
        await ws.send_bytes(frame(Opcode.TEXT, b"\\xff\\xfe"))   # not UTF-8
        code, reason = await ws.close_from_server()             # (1007, "...")
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import os
import struct
from urllib.parse import urlsplit

__all__ = ["Opcode", "RawWebSocket", "chat_message", "close_payload", "frame"]


class Opcode(enum.IntEnum):
    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    declared_length: int | None = None,
) -> bytes:
    """One frame's bytes. ``declared_length`` lets the header lie about the payload's size."""
    length = len(payload) if declared_length is None else declared_length
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0xF)])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 2**16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def chat_message(text: str) -> bytes:
    return json.dumps({"type": "message", "text": text}).encode()


class RawWebSocket:
    """One connection: an HTTP/1.1 upgrade, then whatever bytes the caller writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, base_url: str, path: str, *, origin: str | None = None, timeout: float = 10.0) -> RawWebSocket:
        """Open the socket and complete the handshake (the server must answer 101)."""
        parts = urlsplit(base_url)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin or f'{parts.scheme}://{parts.netloc}'}\r\n\r\n"
        )
        writer.write(request.encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(f"the server did not upgrade: {head.splitlines()[0].decode(errors='replace')}")
        return cls(reader, writer)

    @classmethod
    def open(cls, base_url: str, path: str, **options) -> _Opened:
        return _Opened(cls.connect(base_url, path, **options))

    async def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_frame(self, timeout: float = 10.0) -> tuple[int, bytes]:
        """The next frame from the server (servers never mask): (opcode, payload)."""
        async with asyncio.timeout(timeout):
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0xF, await self.reader.readexactly(length)

    async def read_event(self, timeout: float = 10.0) -> dict:
        """The next chat event (a JSON text frame); raises if a close or other frame comes."""
        opcode, payload = await self.read_frame(timeout)
        if opcode != Opcode.TEXT:
            raise AssertionError(f"expected a text frame, got opcode {opcode:#x}: {payload[:80]!r}")
        return json.loads(payload)

    async def close_from_server(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Read frames until the server's close frame: (code, reason); (None, "") on a bare EOF."""
        try:
            while True:
                opcode, payload = await self.read_frame(timeout)
                if opcode == Opcode.CLOSE:
                    if len(payload) < 2:
                        return None, ""
                    return struct.unpack("!H", payload[:2])[0], payload[2:].decode(errors="replace")
        except asyncio.IncompleteReadError:
            return None, ""

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:  # the server may have reset the connection first
            pass


class _Opened:
    """``async with RawWebSocket.open(...)``: connect on entry, close the socket on exit."""

    def __init__(self, connecting) -> None:
        self._connecting = connecting
        self._ws: RawWebSocket | None = None

    async def __aenter__(self) -> RawWebSocket:
        self._ws = await self._connecting
        return self._ws

    async def __aexit__(self, *exc_info: object) -> None:
        if self._ws is not None:
            await self._ws.aclose()
