"""``ws/try/``: the WebSocket consumers a notebook cell mounted, looked up on every connection."""

from __future__ import annotations

from channels.routing import URLRouter

from lab_project.playground import registry

__all__ = ["PlaygroundConsumers"]


class PlaygroundConsumers:
    """An ASGI app routing ``ws/try/...`` through the registry's current consumer table.

    Channels' ``URLRouter`` copies nothing but does rewrite patterns when it is built, so one is
    built per registry version. No match raises ``Resolver404``, which the outer router takes
    as "try the next route" (the lab's closing catch-all).
    """

    _path_routing = True  # tells the outer URLRouter this app routes the rest of the path

    def __init__(self) -> None:
        self._router: URLRouter | None = None
        self._version = -1

    async def __call__(self, scope, receive, send):
        if self._version != registry.version:
            self._router, self._version = URLRouter(list(registry.ws_patterns)), registry.version
        return await self._router(scope, receive, send)
