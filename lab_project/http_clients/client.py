"""One ``httpx.AsyncClient`` per event loop, shared by every view that calls the upstream.

Why shared and not one per call: a client owns a connection pool. Kept alive, a connection
serves call after call, so a call to a known host costs one request instead of a TCP connect
(plus a TLS handshake on https) and a request. Building a client also builds an SSL context
(it loads the CA bundle), and every client holds sockets — file descriptors — until closed.

Why per event loop: a pooled connection belongs to the loop that opened it and cannot be used
from another. Under ASGI that is one loop per server process; under WSGI every async view
runs in a throw-away loop of its own, so pooling cannot help there.

The client is created lazily on first use and closed by the ASGI lifespan shutdown
(``lab_project.lifespan.on_shutdown``); a call after that builds a fresh one.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

from lab_project.lifespan import on_shutdown

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def new_client() -> httpx.AsyncClient:
    """A client configured for the upstream. The views use ``shared_client()`` instead."""
    return httpx.AsyncClient(
        # Only loopback is ever called: no proxy from the environment may sit in between,
        # and no redirect may lead the call anywhere else.
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
    )


def shared_client() -> httpx.AsyncClient:
    """This event loop's client, created on first use."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = new_client()
    return client


def shared_client_is_open() -> bool:
    """True while this event loop has an open shared client."""
    client = _clients.get(asyncio.get_running_loop())
    return client is not None and not client.is_closed


async def close_shared_client() -> None:
    """Close this event loop's client (its pooled connections with it)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


on_shutdown(close_shared_client)
