"""Read server-sent events from a URL, parsed by httpx-sse.

    async for event in lab.read_sse(server.url + "stream/events/?count=5"):
        print(event.event, event.id, event.json())

To stop early, or to read the response headers, open it with ``async with``: leaving the
block closes the connection at once, which is what a server sees as a client disconnect.

    async with lab.read_sse(url) as events:
        stream_id = events.response.headers["X-Stream-Id"]
        async for event in events:
            break
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import httpx
from httpx_sse import EventSource, ServerSentEvent, aconnect_sse

__all__ = ["SSEStream", "read_sse"]


class SSEStream:
    """One SSE connection; ``event``, ``data`` and ``id`` of each event come from httpx-sse."""

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._stack: contextlib.AsyncExitStack | None = None
        self._source: EventSource | None = None

    @property
    def response(self) -> httpx.Response:
        if self._source is None:
            raise RuntimeError("not connected: use `async with read_sse(url) as events:` to read headers")
        return self._source.response

    async def __aenter__(self) -> SSEStream:
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=self.timeout))
            source = await stack.enter_async_context(aconnect_sse(client, "GET", self.url, headers=dict(self.headers)))
            if source.response.status_code != 200:
                body = (await source.response.aread()).decode(errors="replace")
                raise httpx.HTTPStatusError(
                    f"{self.url} answered {source.response.status_code}: {body[:300]}",
                    request=source.response.request,
                    response=source.response,
                )
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._source = stack, source
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (the server's streaming task is cancelled when it notices)."""
        stack, self._stack, self._source = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[ServerSentEvent]:
        if self._source is not None:  # opened by `async with`: the block closes it
            async for event in self._source.aiter_sse():
                yield event
            return
        async with self:
            async for event in self._source.aiter_sse():
                yield event


def read_sse(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> SSEStream:
    """Server-sent events from ``url``: iterate it, or enter it with ``async with``."""
    return SSEStream(url, headers=headers, timeout=timeout)
