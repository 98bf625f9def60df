"""Mount your own views and consumers, written in a cell, on the running lab server.

    @server.view("try/hello/")
    async def hello(request):
        return JsonResponse({"hello": "world"})

    @server.consumer("ws/try/echo/")
    class Echo(AsyncWebsocketConsumer): ...

    with server.experiment(add_middleware=[Timing], USE_TZ=False): ...   # undone on exit
    server.unmount("try/hello/")

Mounted views live under ``try/`` and consumers under ``ws/try/`` (``lab_project.playground``
holds the route tables), so a mount can never shadow one of the lab's URLs. Re-running a
cell replaces what it mounted. An exception in your code answers 500 with the traceback —
in the response body, printed to the cell, and kept in ``server.playground.errors`` — and
the server and the kernel carry on.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from helpers.server.database import setup_django

__all__ = ["MountError", "Playground", "PlaygroundSocket", "UserCodeError", "django_handler", "hint_for"]

logger = logging.getLogger("lab.playground")

HTTP_PREFIX = "try/"  # lab_project.playground.registry says the same; that module needs Django set up
WS_PREFIX = "ws/try/"
MIDDLEWARE_MODULE = "lab_project.playground.middleware"

ORM_HINT = (
    "a sync database call ran on the event loop. In an async view use the ORM's a-methods "
    "(await Model.objects.aget(...), acreate, acount, `async for row in queryset`), or move the "
    "sync code to a worker thread: `await sync_to_async(function)(...)` (asgiref.sync)."
)
USER_HINT = (
    "`request.user` loads the user from the session database the first time it is read, "
    "which an async view may not do: use `user = await request.auser()` instead."
)
RETURN_HINT = "a view must return an HttpResponse, e.g. JsonResponse({...}) or HttpResponse('text')."


class MountError(ValueError):
    """A path or an object that cannot be mounted; the message says what to pass instead."""


@dataclass(frozen=True)
class UserCodeError:
    """One exception your mounted code raised, as the cell and the 500 response show it."""

    route: str
    path: str
    exception: BaseException
    traceback: str
    hint: str | None

    def __str__(self) -> str:
        hint = f"\nhint: {self.hint}" if self.hint else ""
        return f"{self.path} (mounted at {self.route}) raised:\n{self.traceback}{hint}"


def hint_for(exc: BaseException, traceback_text: str = "") -> str | None:
    """What to do about ``exc``, for the mistakes async Django code makes most."""
    from django.core.exceptions import SynchronousOnlyOperation

    if isinstance(exc, SynchronousOnlyOperation):
        # request.user's lazy loader shows in the traceback as contrib/auth's get_user
        loading_user = "contrib/auth" in traceback_text and "get_user" in traceback_text
        return USER_HINT if loading_user else ORM_HINT
    return None


def django_handler(app: Any) -> Any:
    """The Django ASGIHandler inside the lab's ASGI app (a Channels ProtocolTypeRouter)."""
    mapping = getattr(app, "application_mapping", None)
    handler = mapping.get("http") if mapping else app
    if not hasattr(handler, "load_middleware"):
        raise TypeError(f"this server's app has no Django HTTP handler to mount on (got {type(handler).__name__})")
    return handler


class Playground:
    """The mounts of one server (``server.playground``); ``LabServer`` exposes its methods."""

    def __init__(self) -> None:
        setup_django()
        self.errors: list[UserCodeError] = []

    # -- views -------------------------------------------------------------------------------
    def view(self, route: str, *, name: str | None = None) -> Callable[[Any], Any]:
        """Decorator: serve a function view (``def``/``async def``) or a ``View`` subclass at ``route``.

        ``route`` starts with ``try/`` and may use path converters (``"try/posts/<int:pk>/"``).
        Mounting at a route already mounted replaces the old view. Returns the object unchanged.
        """
        from django.urls import path

        from lab_project.playground import registry

        relative = _relative(route, HTTP_PREFIX, "@server.view")

        def mount(target: Any) -> Any:
            callback = self._guarded_view(_as_view_callable(target), f"{HTTP_PREFIX}{relative}")
            try:
                pattern = path(relative, callback, name=name)
            except Exception as exc:  # noqa: BLE001 - an unknown converter, a malformed <...>
                raise MountError(f"cannot mount at {route!r}: {exc}") from None
            registry.replace_http(relative, pattern)
            return target

        return mount

    def consumer(self, route: str) -> Callable[[type], type]:
        """Decorator: serve a Channels consumer class at ``route`` (starting with ``ws/try/``)."""
        from django.urls import path

        from lab_project.playground import registry

        relative = _relative(route, WS_PREFIX, "@server.consumer")

        def mount(consumer: type) -> type:
            if not (inspect.isclass(consumer) and hasattr(consumer, "as_asgi")):
                raise MountError(
                    f"@server.consumer mounts a Channels consumer class (e.g. a subclass of "
                    f"AsyncWebsocketConsumer), got {consumer!r}; for an HTTP view use @server.view"
                )
            app = self._guarded_consumer(consumer.as_asgi(), f"{WS_PREFIX}{relative}")
            try:
                pattern = path(relative, app)
            except Exception as exc:  # noqa: BLE001 - an unknown converter, a malformed <...>
                raise MountError(f"cannot mount at {route!r}: {exc}") from None
            registry.replace_ws(relative, pattern)
            return consumer

        return mount

    def unmount(self, route: str) -> None:
        """Remove what is mounted at ``route``; a route nothing is mounted at raises MountError."""
        from lab_project.playground import registry

        text = route.lstrip("/")
        removed = (
            registry.replace_ws(_relative(text, WS_PREFIX, "unmount"), None)
            if text.startswith(WS_PREFIX)
            else registry.replace_http(_relative(text, HTTP_PREFIX, "unmount"), None)
        )
        if not removed:
            raise MountError(f"nothing is mounted at {route!r}; mounted: {self.mounted() or 'nothing'}")

    def unmount_all(self) -> None:
        from lab_project.playground import registry

        registry.clear()

    def mounted(self) -> list[str]:
        """Every mounted route, views first, in the order they were first mounted."""
        from lab_project.playground import registry

        return [f"{HTTP_PREFIX}{p.pattern}" for p in registry.http_patterns] + [
            f"{WS_PREFIX}{p.pattern}" for p in registry.ws_patterns
        ]

    # -- settings and middleware for one experiment -----------------------------------------
    @contextlib.contextmanager
    def experiment(
        self, handler: Any, *, middleware: Sequence[Any] | None = None, add_middleware: Sequence[Any] = (), **settings: Any
    ) -> Iterator[None]:
        """Serve through another middleware list and/or other settings inside the block.

        ``middleware`` replaces ``settings.MIDDLEWARE``; ``add_middleware`` appends to it
        (innermost, closest to the view). Either may hold dotted paths or classes/factories
        defined in a cell. Other keyword arguments are settings (``DEBUG=True``), applied with
        Django's ``override_settings``. Everything is undone when the block ends.
        """
        from django.conf import settings as current
        from django.test.utils import override_settings

        bad = sorted(key for key in settings if not key.isupper())
        if bad:
            raise MountError(f"settings are UPPER_CASE names (e.g. DEBUG=True); got {', '.join(bad)}")
        overrides = dict(settings)
        if middleware is not None or add_middleware:
            chain = list(current.MIDDLEWARE if middleware is None else middleware) + list(add_middleware)
            overrides["MIDDLEWARE"] = [_middleware_path(entry) for entry in chain]
        override = override_settings(**overrides)
        override.enable()
        try:
            handler.load_middleware(is_async=True)  # Django builds its middleware chain once: rebuild it
        except BaseException:  # a bad middleware: put the old chain back before saying so
            override.disable()
            handler.load_middleware(is_async=True)
            raise
        try:
            yield
        finally:
            override.disable()
            handler.load_middleware(is_async=True)

    # -- containment of the user's code ------------------------------------------------------
    def _guarded_view(self, callback: Callable, route: str) -> Callable:
        """``callback`` with exceptions turned into a readable 500; sync stays sync, async stays async
        (Django decides on a thread hop by that, and the trace should show the user's view as is)."""
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        if iscoroutinefunction(callback):

            async def view(request, *args, **kwargs):
                try:
                    response = await callback(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the user's bug becomes a 500, not a dead server
                    return self._failed(exc, request, route)
                return self._checked(response, request, route)

            markcoroutinefunction(view)
        else:

            def view(request, *args, **kwargs):
                try:
                    response = callback(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the user's bug becomes a 500, not a dead server
                    return self._failed(exc, request, route)
                return self._checked(response, request, route)

        view.__name__ = getattr(callback, "__name__", "view")
        view.__qualname__ = getattr(callback, "__qualname__", view.__name__)
        view.__wrapped__ = callback
        for attribute in ("view_class", "view_initkwargs", "csrf_exempt"):
            if hasattr(callback, attribute):
                setattr(view, attribute, getattr(callback, attribute))
        return view

    def _checked(self, response: Any, request: Any, route: str) -> Any:
        from django.http import HttpResponseBase

        if isinstance(response, HttpResponseBase):
            return response
        problem = TypeError(f"the view returned {type(response).__name__} ({response!r:.80}), not an HttpResponse")
        return self._failed(problem, request, route, hint=RETURN_HINT)

    def _failed(self, exc: Exception, request: Any, route: str, hint: str | None = None) -> Any:
        from django.core.exceptions import (
            BadRequest,
            PermissionDenied,
            SuspiciousOperation,
        )
        from django.http import Http404, HttpResponseServerError

        if isinstance(exc, (Http404, PermissionDenied, BadRequest, SuspiciousOperation)):
            raise exc  # Django answers these itself (404, 403, 400): they are not bugs
        error = self._record(exc, route, request.get_full_path(), hint)
        response = HttpResponseServerError(str(error), content_type="text/plain; charset=utf-8")
        response._has_been_logged = True  # shown above already; Django would log it once more
        return response

    def _guarded_consumer(self, app: Callable, route: str) -> Callable:
        async def consumer(scope, receive, send):
            try:
                return await app(scope, receive, send)
            except Exception as exc:  # noqa: BLE001 - the user's bug closes one socket, not the server
                self._record(exc, route, scope.get("path", route), None)
                with contextlib.suppress(Exception):  # 1011: "the server met an unexpected condition"
                    await send({"type": "websocket.close", "code": 1011})

        return consumer

    def _record(self, exc: BaseException, route: str, where: str, hint: str | None) -> UserCodeError:
        frames = traceback.extract_tb(exc.__traceback__)
        own = __file__
        frames = [f for f in frames if f.filename != own]  # our wrapper is noise to the reader
        text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(exc))
        error = UserCodeError(route, where, exc, "Traceback (most recent call last):\n" + text, hint or hint_for(exc, text))
        self.errors.append(error)
        del self.errors[:-20]  # keep the last few
        # To the cell: stderr shows in the output of the cell that is awaiting the request.
        print(f"\n⚠ {error}", file=sys.stderr)
        return error

    # -- a WebSocket client for mounted consumers --------------------------------------------
    def websocket(self, base_url: str, route: str, **options: Any) -> PlaygroundSocket:
        return PlaygroundSocket(base_url, _relative(route, WS_PREFIX, "websocket"), **options)


class PlaygroundSocket:
    """A WebSocket session to a mounted consumer: ``async with server.websocket("ws/try/echo/") as ws``.

    Connects as a page of the server would (``Origin`` naming the server: Channels' origin
    check refuses a socket without one, see helpers.clients.chat).
    """

    def __init__(self, base_url: str, relative: str, *, open_timeout: float = 10.0) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/{WS_PREFIX}{relative}"
        self.open_timeout = open_timeout
        self._ws = None

    async def __aenter__(self) -> PlaygroundSocket:
        import websockets

        self._ws = await websockets.connect(self.url, origin=self.origin, proxy=None, open_timeout=self.open_timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def send(self, message: str | dict | list) -> None:
        """Send text; a dict or list is sent as JSON."""
        await self._ws.send(message if isinstance(message, str) else json.dumps(message))

    async def receive(self, timeout: float = 2.0) -> str:
        import asyncio

        async with asyncio.timeout(timeout):
            return await self._ws.recv()

    async def receive_json(self, timeout: float = 2.0) -> Any:
        return json.loads(await self.receive(timeout))

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code if self._ws is not None else None


# -- small pieces ------------------------------------------------------------------------------
_ROUTE_CHARACTERS = re.compile(r"^[\w\-./<>:~%]*$")


def _relative(route: Any, prefix: str, what: str) -> str:
    if not isinstance(route, str):
        raise MountError(f"{what} takes a path such as {prefix + 'hello/'!r}, got {route!r}")
    text = route.lstrip("/")
    if not text.startswith(prefix):
        raise MountError(
            f"{what}: {route!r} is outside {prefix!r}. Your code is mounted under {prefix!r} so it can "
            f"never hide one of the lab's own URLs: use {prefix + text.removeprefix('ws/')!r}"
        )
    relative = text[len(prefix):]
    if not relative:
        raise MountError(f"{what}: give a path below {prefix!r}, such as {prefix + 'hello/'!r}")
    if not _ROUTE_CHARACTERS.match(relative) or "//" in relative or ".." in relative.split("/"):
        raise MountError(f"{what}: {route!r} is not a usable URL path (letters, digits, - _ . / and <converter:name>)")
    return relative


def _as_view_callable(target: Any) -> Callable:
    from django.views import View

    if inspect.isclass(target):
        if issubclass(target, View):
            return target.as_view()
        if hasattr(target, "as_asgi"):
            raise MountError(f"{target.__name__} is a Channels consumer: mount it with @server.consumer('ws/try/...')")
        raise MountError(f"@server.view mounts a function or a django.views.View subclass, got the class {target.__name__}")
    if not callable(target):
        raise MountError(f"@server.view mounts a function (def or async def) or a View subclass, got {target!r}")
    return target


def _middleware_path(entry: Any) -> str:
    """A dotted path for ``settings.MIDDLEWARE``; a cell's class or factory is stored to get one."""
    import importlib

    from django.utils.module_loading import import_string

    if isinstance(entry, str):
        try:
            import_string(entry)
        except ImportError as exc:
            raise MountError(f"middleware {entry!r} cannot be imported: {exc}") from None
        return entry
    if not callable(entry):
        raise MountError(f"middleware must be a dotted path, a class or a factory function, got {entry!r}")
    name = re.sub(r"\W", "_", getattr(entry, "__qualname__", None) or type(entry).__name__)
    setattr(importlib.import_module(MIDDLEWARE_MODULE), name, entry)
    return f"{MIDDLEWARE_MODULE}.{name}"
