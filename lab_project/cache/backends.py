"""Chapter 8's two cache backends, local memory and Redis, built side by side.

They are built from the lab's config with Django's own ``CacheHandler``, not taken from
``settings.CACHES``, so both can be shown whichever one the project uses as its default. Every
Redis key carries ``LAB_REDIS_PREFIX`` and a timeout: the Redis is shared, and this chapter
never flushes it (``RedisCache.clear()`` would run FLUSHDB).

Both classes record which thread runs each of their *sync* methods. Django's async methods
(``aget``, ``aset``, ...) are inherited unchanged from ``BaseCache``; the record shows where
the work they hand off really runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import CacheHandler
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

BACKEND_NAMES = ("locmem", "redis")
KEY_TIMEOUT = 300  # seconds; nothing this chapter writes outlives a few minutes

_recorded: contextvars.ContextVar[list[SyncCall] | None] = contextvars.ContextVar("lab_cache_calls", default=None)


@dataclass(frozen=True)
class SyncCall:
    method: str
    thread: str


class UnknownBackend(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown cache backend {name[:40]!r}; choose one of: {', '.join(BACKEND_NAMES)}")


class BackendUnavailable(RuntimeError):
    pass


@contextlib.contextmanager
def recording_threads() -> Iterator[list[SyncCall]]:
    """Collect, in this context, every sync backend method that runs and the thread it ran on.

    ``sync_to_async`` copies the caller's context into the worker thread, so a call made on
    that thread still appends to this list.
    """
    calls: list[SyncCall] = []
    token = _recorded.set(calls)
    try:
        yield calls
    finally:
        _recorded.reset(token)


class ThreadRecordingMixin:
    """Overrides only methods both backends define themselves, so Django's async code takes
    the same path it takes for the plain backends."""

    def _record(self, method: str) -> None:
        calls = _recorded.get()
        if calls is not None:
            calls.append(SyncCall(method, threading.current_thread().name))

    def add(self, *args, **kwargs):
        self._record("add")
        return super().add(*args, **kwargs)

    def get(self, *args, **kwargs):
        self._record("get")
        return super().get(*args, **kwargs)

    def set(self, *args, **kwargs):
        self._record("set")
        return super().set(*args, **kwargs)

    def touch(self, *args, **kwargs):
        self._record("touch")
        return super().touch(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._record("delete")
        return super().delete(*args, **kwargs)

    def has_key(self, *args, **kwargs):
        self._record("has_key")
        return super().has_key(*args, **kwargs)

    def incr(self, *args, **kwargs):
        self._record("incr")
        return super().incr(*args, **kwargs)


class RecordingLocMemCache(ThreadRecordingMixin, LocMemCache):
    pass


class RecordingRedisCache(ThreadRecordingMixin, RedisCache):
    pass


def cache_configs(redis_url: str | None, prefix: str) -> dict[str, dict]:
    """``CACHES``-style settings for the chapter's backends (Redis only when it answers)."""
    configs = {
        "locmem": {
            "BACKEND": f"{__name__}.RecordingLocMemCache",
            "LOCATION": "lab-chapter-8",  # its own store, apart from a locmem default cache
            "TIMEOUT": KEY_TIMEOUT,
        }
    }
    if redis_url:
        configs["redis"] = {
            "BACKEND": f"{__name__}.RecordingRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"{prefix}:ch08",
            "TIMEOUT": KEY_TIMEOUT,
            # A Redis that stops answering becomes an error within seconds, not a hung request.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    return configs


class LabCaches:
    """The chapter's backends by name, each built once and shared by every request and cell.

    One instance per process (not ``CacheHandler``'s one per context) so Redis keeps one
    connection pool instead of a new one per request.
    """

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self._handler = CacheHandler(cache_configs(redis_url, prefix))
        self._built: dict[str, BaseCache] = {}
        self._lock = threading.Lock()

    def available(self) -> dict[str, bool]:
        return {name: name in self._handler.settings for name in BACKEND_NAMES}

    def get(self, name: str) -> BaseCache:
        if name not in BACKEND_NAMES:
            raise UnknownBackend(name)
        if name not in self._handler.settings:
            raise BackendUnavailable(
                "Redis is not available: none answered at REDIS_URL (unset means redis://127.0.0.1:6379/0) "
                "when the lab started, or REDIS_URL=off. Start one (`docker compose up -d`) and restart the kernel."
            )
        with self._lock:
            if name not in self._built:
                self._built[name] = self._handler.create_connection(name)
            return self._built[name]


_lab_caches: LabCaches | None = None


def lab_caches() -> LabCaches:
    """The backends for this process, from the config ``lab_project.settings`` loaded."""
    global _lab_caches
    if _lab_caches is None:
        from django.conf import settings

        _lab_caches = LabCaches(settings.LAB.redis_url, settings.LAB.redis_prefix)
    return _lab_caches
