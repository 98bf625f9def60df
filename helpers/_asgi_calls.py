"""Call an ASGI app directly, in this process, without a server or a socket.

For costs too small to see through HTTP — a middleware's adaptation is tens to hundreds of
microseconds, while a round trip through uvicorn and a client costs milliseconds and varies by
more than that on a busy machine.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class AsgiReply:
    status: int
    headers: dict[str, str]
    body: bytes


async def call_asgi(app, path: str, *, method: str = "GET", query: str = "") -> AsgiReply:
    """One HTTP request to ``app`` as an ASGI server would send it (no body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    body_sent = False
    never = asyncio.Event()  # after the body, the "client" stays connected until the app is done

    async def receive() -> dict:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()
        return {"type": "http.disconnect"}

    status = 0
    headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update((k.decode().lower(), v.decode()) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return AsgiReply(status, headers, b"".join(chunks))


async def time_asgi_calls(app, path: str, count: int) -> float:
    """Seconds per request for ``count`` sequential requests to ``app`` (after one warm-up)."""
    await call_asgi(app, path)
    started = time.perf_counter()
    for _ in range(count):
        await call_asgi(app, path)
    return (time.perf_counter() - started) / count


async def compare_asgi_apps(apps: dict, path: str, *, requests: int = 500, warmup: int = 50) -> dict[str, list[float]]:
    """Per-request seconds of ``GET path`` through each app, the apps taking turns request by
    request (ABC, then CBA), so a burst of load from elsewhere lands on all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in apps}
    order = list(apps.items())
    for index in range(warmup + requests):
        for name, app in order if index % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            reply = await call_asgi(app, path)
            if index >= warmup:
                seconds[name].append(time.perf_counter() - started)
            if reply.status != 200:
                raise RuntimeError(f"{name}: GET {path} answered {reply.status}")
    return seconds
