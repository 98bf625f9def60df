"""Profiles of in-process requests with pyinstrument, and what share of them one function took."""

from __future__ import annotations

import asyncio
import threading

from helpers.clients.asgi import call_asgi

__all__ = ["in_thread", "profile_requests", "profile_share", "profile_top"]


async def _profiled(app, path: str, requests: int, interval: float):
    from pyinstrument import Profiler

    for _ in range(20):
        await call_asgi(app, path)
    profiler = Profiler(interval=interval, async_mode="enabled")
    profiler.start()
    for _ in range(requests):
        await call_asgi(app, path)
    profiler.stop()
    return profiler


def profile_requests(app, path: str, requests: int = 200, interval: float = 0.0002):
    """A pyinstrument profile of ``requests`` sequential requests, run on a fresh event loop in
    another thread (so the profile holds only this work, not the notebook's own loop).

    ``async_mode="enabled"`` charges the time a coroutine waits (for a worker thread, say) to
    the ``await`` that waited, which is where a request's wall-clock time actually goes.
    """
    return in_thread(_profiled, app, path, requests, interval)


def profile_share(profiler, name: str) -> float:
    """Share of a profile's time spent inside ``name`` (``"Class.method"``, a function name, or
    part of a file path), counting nested calls once."""
    root = profiler.last_session.root_frame()

    def matches(frame) -> bool:
        qualified = f"{frame.class_name}.{frame.function}" if frame.class_name else (frame.function or "")
        return name == qualified or name == frame.function or name in (frame.file_path or "")

    def inside(frame) -> float:
        if matches(frame):
            return frame.time
        return sum(inside(child) for child in frame.children)

    return inside(root) / root.time if root.time else 0.0


def profile_top(profiler, lines: int = 12) -> str:
    """The functions that took the most time (self time; ``[await]`` is time spent waiting)."""
    text = profiler.output_text(unicode=True, color=False, flat=True, show_all=True)
    body = [line for line in text.splitlines() if line[:1].isdigit()]
    return "\n".join(body[:lines])




def in_thread(coroutine_function, *args, **kwargs):
    """Run ``coroutine_function(*args)`` on a fresh event loop in another thread (for profiles)."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine_function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - re-raised below on the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=target, name="lab-measure")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
