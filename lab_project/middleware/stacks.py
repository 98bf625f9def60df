"""Build a Django ASGI handler for any ``MIDDLEWARE`` list, and read what Django logged.

Django reads ``MIDDLEWARE`` once, when a handler is built (``ASGIHandler.__init__`` calls
``load_middleware``), and decides there, layer by layer from the view outwards, which mode
each middleware runs in and where an adapter goes. So "the lab with another stack" is a new
handler built while the setting says so — served by its own ``LabServer``, or called in-process.

While it adapts, Django logs to ``django.request`` at DEBUG, and only when ``settings.DEBUG``
is True (``BaseHandler.adapt_method_mode``)::

    Asynchronous handler adapted for middleware <path>.   (async inner layer wrapped in async_to_sync)
    Synchronous handler adapted for middleware <path>.    (sync inner layer wrapped in sync_to_async)

The adapter that joins the outermost layer to the async server is added without a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from channels.routing import ProtocolTypeRouter
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings

from lab_project.lifespan import LabLifespan

ASYNC_ONLY = "lab_project.middleware.middleware.AsyncOnlyMiddleware"
DUAL = "lab_project.middleware.middleware.dual_mode_middleware"
SYNC_ONLY = "lab_project.middleware.middleware.SyncOnlyMiddleware"
# The same two modes as factory functions, flagged with Django's decorators.
ASYNC_ONLY_FN = "lab_project.middleware.middleware.async_only_function_middleware"
SYNC_ONLY_FN = "lab_project.middleware.middleware.sync_only_function_middleware"


def async_stack(*, django: bool = True) -> list[str]:
    """The lab's MIDDLEWARE setting (unless ``django=False``), then the async-only and the dual
    middleware: nothing for Django to adapt."""
    return [*(settings.MIDDLEWARE if django else []), ASYNC_ONLY, DUAL]


def mixed_stack(*, django: bool = True) -> list[str]:
    """The same with one sync-only middleware innermost, as a third-party package might add it."""
    return [*async_stack(django=django), SYNC_ONLY]


@dataclass(frozen=True)
class BuiltStack:
    middleware: list[str]
    handler: ASGIHandler
    adaptation_log: list[str]

    @property
    def app(self) -> ProtocolTypeRouter:
        """An ASGI app for ``LabServer``: this handler for HTTP, the lab's lifespan for the rest."""
        return ProtocolTypeRouter({"http": self.handler, "lifespan": LabLifespan()})


def build_stack(middleware: Sequence[str], *, debug: bool = True) -> BuiltStack:
    """A fresh ASGIHandler whose chain is built from ``middleware``, with Django's adaptation log.

    DEBUG is set for the build only (Django logs adaptations only when it is True); the
    settings change lasts for this synchronous call, so no request on this loop sees it.
    """
    overrides = override_settings(MIDDLEWARE=list(middleware), DEBUG=debug)
    with captured_log("django.request") as lines, overrides:
        handler = ASGIHandler()
    adaptations = [line for line in lines if "handler adapted" in line]
    return BuiltStack(list(middleware), handler, adaptations)


@contextmanager
def captured_log(name: str, level: int = logging.DEBUG) -> Iterator[list[str]]:
    """Collect the messages logger ``name`` emits at ``level`` and above, and print none of them."""
    logger = logging.getLogger(name)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers, logger.propagate = [Collect(level)], False
    logger.setLevel(level)
    try:
        yield lines
    finally:
        logger.handlers, logger.level, logger.propagate = saved
