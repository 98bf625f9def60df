"""A stand-in for a sync SDK whose blocking API runs its own event loop with ``asyncio.run``.

Many libraries build their sync API that way over an async core. Called on an event loop's
thread (an async view, a notebook cell) ``asyncio.run`` refuses; nest-asyncio makes it run
by nesting the loop, with the costs chapter 3 measures; a worker thread is the plain fix.
"""

from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_active = 0


def active_calls() -> int:
    """How many ``fetch`` calls are inside their ``asyncio.run`` right now."""
    return _active


async def _fetch(seconds: float) -> dict:
    await asyncio.sleep(seconds)  # the SDK's network wait
    return {"slept": seconds}


def fetch(seconds: float) -> dict:
    """The SDK's blocking call."""
    global _active
    coroutine = _fetch(seconds)
    with _lock:
        _active += 1
    try:
        return asyncio.run(coroutine)
    except RuntimeError:
        coroutine.close()  # refused before it started: no "never awaited" warning
        raise
    finally:
        with _lock:
            _active -= 1


def loop_is_nestable() -> bool:
    """True once nest-asyncio(2) has patched asyncio in this process."""
    return bool(getattr(asyncio, "_nest_patched", False))
