"""Call an ASGI app directly, in this process: no server, no socket, no HTTP client.

For costs too small to see through HTTP — a middleware's adaptation is tens to hundreds of
microseconds, while a round trip through uvicorn and a client costs milliseconds and varies by
more than that on a busy machine — and for profiles that should hold framework work only.
The "client" sends its request and then stays connected until the app has answered: Django
listens for a disconnect while a view runs, and none comes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["AsgiReply", "call_asgi", "http_scope"]


@dataclass(frozen=True)
class AsgiReply:
    status: int
    headers: dict[str, str]
    body: bytes


def http_scope(path: str, *, method: str = "GET", query: str = "", host: str = "127.0.0.1") -> dict:
    """The scope an HTTP/1.1 server would pass for ``method path?query``."""
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(b"host", host.encode())],
        "client": ("127.0.0.1", 50000), "server": (host, 80),
    }  # fmt: skip


async def call_asgi(app, path: str, *, method: str = "GET", body: bytes = b"") -> AsgiReply:
    """One request to ``app`` (``path`` may carry a ``?query``), as an ASGI server sends it."""
    path, _, query = path.partition("?")
    request_sent = False
    answered = asyncio.Event()
    status = 0
    headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update((k.decode().lower(), v.decode()) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(http_scope(path, method=method, query=query), receive, send)
    finally:
        answered.set()
    return AsgiReply(status, headers, b"".join(chunks))
