"""When the channel layer fails: which errors mean "Redis is gone", and a live check of it.

channels_redis does not survive a Redis outage inside a connection: a consumer's receive loop
(``RedisChannelLayer.receive``, awaited by Channels' ``await_many_dispatch``) raises the
redis-py ``ConnectionError`` straight out of the consumer, so without help the server logs a
traceback and drops the WebSocket with no close frame (the client sees 1006), and a newcomer's
handshake is answered with HTTP 500. A Redis that hangs instead (SIGSTOP, a stalled host) ends
the same way once a read outlasts the socket timeout set in settings.py, with redis-py's
``TimeoutError``. The layer recovers by itself once Redis is back: redis-py reconnects on the
next command. What a connection cannot get back is its place in the room: its group membership
lived in Redis (gone with a Redis that keeps no data on disk), and Channels has no hook to
restart a consumer's receive loop.

So the chat consumer treats these errors as "the chat is unavailable": it tells the client
with an ``error`` event and closes with ``CLOSE_CHAT_UNAVAILABLE`` (4503), and the client
reconnects once ``/chat/layer/health/`` answers 200 again.

A loss channels_redis 4.3 has even with Redis healthy, which the lab does not work around:
one consumer per process at a time holds the layer's receive lock and blocks in BZPOPMIN for
all of them. When that consumer is torn down (its client left) in the instant Redis hands it
a message, the pop has happened in Redis but the reply is never read, and the message is gone
for every other member in the process. Reproduced with two receivers: cancelling the lock
holder 1 ms after a group_send lost 21 of 300 messages. Related upstream reports:
django/channels#1683, django/channels_redis#366. The in-memory layer has no such window.
"""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# redis-py's ConnectionError covers a refused or dropped connection and an exhausted pool
# (MaxConnectionsError). Not OSError: a client that vanished makes send() raise an OSError too
# (uvicorn's ClientDisconnected), and that is not the layer's fault.
LAYER_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)

UNAVAILABLE = (
    "the chat is unavailable: its channel layer (Redis) failed, so messages cannot be delivered; "
    "reconnect in a moment"
)
CLOSE_REASON = "chat unavailable: its channel layer (Redis) failed; reconnect later"  # a close reason: <= 123 bytes


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200]


async def layer_health(timeout: float = 1.0) -> dict:
    """Is this process's channel layer usable? ``{"backend", "ok"[, "error"]}``.

    channels_redis's core layer: a PING on each connection the layer itself uses (one per
    configured host). Another Redis-backed layer (pub/sub): a PING to ``REDIS_URL``. The
    in-memory layer lives in this process and is always up.
    """
    from channels.layers import InMemoryChannelLayer
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    from lab_project.config import redact, redis_answers

    layer = get_channel_layer()
    report = {"backend": f"{type(layer).__module__}.{type(layer).__name__}", "ok": True}
    try:
        async with asyncio.timeout(timeout):
            if isinstance(layer, RedisChannelLayer):
                for index in range(layer.ring_size):
                    await layer.connection(index).ping()
            elif not isinstance(layer, InMemoryChannelLayer):
                if not await asyncio.to_thread(redis_answers, settings.LAB.redis_url, timeout):
                    raise RedisConnectionError(f"Redis at {redact(settings.LAB.redis_url)} did not answer PING")
    except TimeoutError:
        report.update(ok=False, error=f"no answer from Redis within {timeout:g} s")
    except LAYER_ERRORS as error:
        report.update(ok=False, error=describe(error))
    return report
