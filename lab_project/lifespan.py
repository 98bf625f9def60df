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


async def run_shutdown_callbacks(extra: tuple[Callable[[], Awaitable[None] | None], ...] = ()) -> None:
    for callback in [*_shutdown_callbacks, *extra]:
        try:
            result = callback()
            if inspect.isawaitable(result):
                await result
        except Exception:  # one failing clean-up must not skip the others
            logger.exception("lab: shutdown callback %r failed", callback)


class LabLifespan:
    """The ``lifespan`` branch of the ProtocolTypeRouter.

    Runs the process-wide callbacks (``on_shutdown``), then this app's own ``extra_shutdown``
    ones. An entry point with clean-up of its own (the faster handler's executor pool, a test
    app's report) passes it here, so that stopping a server of some *other* app in the same
    process never runs it.
    """

    def __init__(self, extra_shutdown: tuple[Callable[[], Awaitable[None] | None], ...] = ()) -> None:
        self.extra_shutdown = tuple(extra_shutdown)

    async def __call__(self, scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await run_shutdown_callbacks(self.extra_shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return
