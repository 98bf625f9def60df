"""ASGI lifespan for lab_project: run registered clean-ups when a server shuts down.

Django's own ASGIHandler refuses non-HTTP scopes, so without this a server would either log
"lifespan unsupported" or have to switch lifespan off, and per-process resources (such as the
shared upstream HTTP client of chapter 4) would never be closed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("lab")

_shutdown_callbacks: list[Callable[[], Awaitable[None] | None]] = []


def on_shutdown(callback: Callable[[], Awaitable[None] | None]) -> Callable[[], Awaitable[None] | None]:
    """Register ``callback`` (sync or async) to run when the serving process shuts down."""
    if callback not in _shutdown_callbacks:
        _shutdown_callbacks.append(callback)
    return callback


async def run_shutdown_callbacks() -> None:
    for callback in list(_shutdown_callbacks):
        try:
            result = callback()
            if inspect.isawaitable(result):
                await result
        except Exception:  # one failing clean-up must not skip the others
            logger.exception("lab: shutdown callback %r failed", callback)


class LabLifespan:
    """The ``lifespan`` branch of the ProtocolTypeRouter."""

    async def __call__(self, scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await run_shutdown_callbacks()
                await send({"type": "lifespan.shutdown.complete"})
                return
