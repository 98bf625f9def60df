"""When the sync receivers of ``request_started`` / ``request_finished`` have nothing to do.

Stock ``ASGIHandler`` sends both signals with ``asend`` (and ``request_finished`` again from
``sync_to_async(response.close)``): each is a hop to the request's thread, and the first starts
that thread. Django's own receivers are:

* ``reset_queries``, ``close_old_connections`` (``django.db``): act only on the database
  connection wrappers *of the calling thread* (``connections`` is per thread). On a request
  whose thread holds none — no thread yet, or one whose jobs opened none — they do nothing.
* ``reset_urlconf`` (``django.core.handlers.base``): ``set_urlconf(None)``, a context-local
  write; the same inline on the loop as in a thread (asgiref copies context back).
* ``close_caches`` (``django.core.cache``): calls ``close()`` on the caches this context
  initialised; ``BaseCache.close`` (locmem, Redis, database, file, dummy) is a no-op.

Async receivers (django-async-backend's ``close_old_async_connections``, say) need no thread:
they are awaited on the loop, concurrently, as ``Signal.asend`` runs them. Any other sync receiver
connected and the signal is sent exactly as stock. The lab's tests connect receivers of their
own and check both paths.
"""

from __future__ import annotations

import asyncio

from django.core.cache import caches, close_caches
from django.core.cache.backends.base import BaseCache
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.base import reset_urlconf
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, reset_queries
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from lab_project.lean.executor import LazyRequestExecutor

__all__ = ["close_response", "send_request_finished", "send_request_started"]

ON_THE_REQUEST_THREADS_CONNECTIONS = frozenset({reset_queries, close_old_connections})
INLINE_SAFE = frozenset({reset_urlconf})


def _caches_close_is_a_no_op() -> bool:
    return all(type(cache).close is BaseCache.close for cache in caches.all(initialized_only=True))


async def _await_all(receivers, signal, sender, **named) -> None:
    """Async receivers on the loop, concurrently, with ``asyncio.gather`` as ``Signal.asend``
    runs them (so an error propagates as it would from ``asend``, not in an ExceptionGroup)."""
    if receivers:
        await asyncio.gather(*(receiver(signal=signal, sender=sender, **named) for receiver in receivers))


async def send_request_started(sender, scope, executor: LazyRequestExecutor | None) -> None:
    sync_receivers, async_receivers = request_started._live_receivers(sender)
    if executor is None or executor.bound is not None or not set(sync_receivers) <= ON_THE_REQUEST_THREADS_CONNECTIONS:
        await request_started.asend(sender=sender, scope=scope)
        return
    if sync_receivers:
        # The request has no thread yet, so nothing to do now. If the pooled thread it borrows
        # later kept connections from an earlier request, they run there first.
        def deferred() -> None:
            for receiver in sync_receivers:
                receiver(signal=request_started, sender=sender, scope=scope)

        executor.deferred_on_bind = deferred
    await _await_all(async_receivers, request_started, sender, scope=scope)


def _finished_receivers_inline(sender, executor: LazyRequestExecutor | None):
    """(sync receivers to call inline, async receivers to await), or None to send it as stock."""
    if executor is None:
        return None
    sync_receivers, async_receivers = request_finished._live_receivers(sender)
    inline = []
    for receiver in sync_receivers:
        if receiver is close_old_connections:
            if executor.thread_has_connections:
                return None  # a connection to close or keep: on its thread, as stock
        elif receiver is close_caches:
            if not _caches_close_is_a_no_op():
                return None
            inline.append(receiver)
        elif receiver in INLINE_SAFE:
            inline.append(receiver)
        else:
            return None
    return inline, async_receivers


async def send_request_finished(sender, executor: LazyRequestExecutor | None) -> None:
    """``request_finished`` for a request that produced no response (the client went away)."""
    decided = _finished_receivers_inline(sender, executor)
    if decided is None:
        await request_finished.asend(sender=sender)
        return
    inline, async_receivers = decided
    for receiver in inline:
        receiver(signal=request_finished, sender=sender)
    await _await_all(async_receivers, request_finished, sender)


def _closer_is_inline_safe(closer) -> bool:
    # get_response_async() adds request.close to every response; it closes uploaded files (a
    # temporary file's removal: keep that in a thread) and the in-memory or spooled body,
    # which handle() itself closes on the loop anyway.
    owner = getattr(closer, "__self__", None)
    return (
        isinstance(owner, HttpRequest)
        and getattr(closer, "__func__", None) in (HttpRequest.close, ASGIRequest.close)
        and not getattr(owner, "_files", None)
    )


async def close_response(response, executor: LazyRequestExecutor | None) -> None:
    """``response.close()``: inline when its closers and receivers can do no I/O, else a hop."""
    decided = None
    if type(response).close is HttpResponseBase.close and all(map(_closer_is_inline_safe, response._resource_closers)):
        decided = _finished_receivers_inline(response._handler_class, executor)
    if decided is None:
        from asgiref.sync import sync_to_async

        await sync_to_async(response.close)()
        return
    inline, async_receivers = decided
    # HttpResponseBase.close, with request_finished's sync receivers narrowed as decided above.
    for closer in response._resource_closers:
        try:
            closer()
        except Exception:
            pass
    response._resource_closers.clear()
    response.closed = True
    for receiver in inline:
        receiver(signal=request_finished, sender=response._handler_class)
    await _await_all(async_receivers, request_finished, response._handler_class)
