"""``LeanASGIHandler``: Django's ASGIHandler, hopping to a thread only for code that may block.

What differs from stock, and nothing else:

* ``__call__``: the request's ``ThreadSensitiveContext`` gets a ``LazyRequestExecutor``
  (a pooled thread, borrowed on the first sync job; none for a request with no sync code);
* ``load_middleware``: Django's bundled middleware in ``LEAN_MIDDLEWARE`` are built as their
  lean subclasses (hooks inline when they do no I/O); CSRF's ``process_view`` likewise;
* ``handle``: Django's ``ASGIHandler.handle`` with the two signals and ``response.close``
  going through ``request_signals`` (no hop when the sync receivers have nothing to do).
"""

from __future__ import annotations

import asyncio
import contextvars
from contextlib import closing

from django.core.handlers import base as django_base
from django.core.handlers.asgi import ASGIHandler
from django.core.exceptions import RequestAborted
from django.urls import set_script_prefix
from django.core.handlers.asgi import get_script_prefix

from lab_project.lean.executor import LazyRequestExecutor, default_lean_pool
from lab_project.lean.middleware import lean_class_for
from lab_project.lean.request_signals import close_response, send_request_finished, send_request_started
from lab_project.where_the_time_goes.executor_pool import ExecutorPool
from lab_project.where_the_time_goes.fast_handler import _RequestThreadContext

__all__ = ["LeanASGIHandler", "get_lean_asgi_application"]

_request_executor: contextvars.ContextVar[LazyRequestExecutor | None] = contextvars.ContextVar("lab_lean_executor", default=None)

# BaseHandler.load_middleware imports each MIDDLEWARE path with the module-level import_string
# of django.core.handlers.base. Wrapping that name (once, at import) is the one seam that lets
# the lean handler build its middleware from the same settings without copying load_middleware.
# The wrapper changes nothing unless a LeanASGIHandler is loading its middleware in this context.
_building_lean_chain: contextvars.ContextVar[bool] = contextvars.ContextVar("lab_lean_chain", default=False)
_django_import_string = django_base.import_string


def _import_middleware(dotted_path: str):
    imported = _django_import_string(dotted_path)
    return lean_class_for(imported) if _building_lean_chain.get() else imported


if getattr(django_base.import_string, "__name__", "") != "_import_middleware":
    django_base.import_string = _import_middleware


def _native_view_hook(adapted):
    """``sync_to_async(mw.process_view)`` -> ``mw.aprocess_view`` where the lean class has one."""
    method = getattr(adapted, "func", None)
    owner = getattr(method, "__self__", None)
    return getattr(owner, "aprocess_view", adapted)


class LeanASGIHandler(ASGIHandler):
    """Stock Django ASGI handling without the hops that have nothing to do."""

    # Looked up per call (subclasses such as ASGIStaticFilesHandler skip ASGIHandler.__init__).
    executors: ExecutorPool | None = None
    executor_class = LazyRequestExecutor  # chapter 13 swaps in a counting one

    def __init__(self, executors: ExecutorPool | None = None) -> None:
        super().__init__()
        self.executors = executors

    def load_middleware(self, is_async=False):
        token = _building_lean_chain.set(True)
        try:
            super().load_middleware(is_async=is_async)
        finally:
            _building_lean_chain.reset(token)
        if is_async:
            self._view_middleware = [_native_view_hook(hook) for hook in self._view_middleware]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django's own refusal
        pool = self.executors if self.executors is not None else default_lean_pool()
        executor = self.executor_class(pool)
        token = _request_executor.set(executor)
        try:
            async with _RequestThreadContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            _request_executor.reset(token)
            # Also on cancellation: the thread returns to the pool only once whatever this
            # request left running on it has finished (see ExecutorPool.release).
            executor.release()

    async def handle(self, scope, receive, send):
        """Django 6.1's ``ASGIHandler.handle``; the lines marked "lean" are the only changes
        (``tests/chapters/test_13_lean.py`` fails when Django's own copy changes)."""
        executor = _request_executor.get()
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            await send_request_started(self.__class__, scope, executor)  # lean
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                body_file.close()
                await self.send_response(error_response, send)
                await close_response(error_response, executor)  # lean
                return

            response = None  # (lean: RequestProcessed is defined once, below, not per request)
            try:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self.listen_for_disconnect(receive))
                        response = await self.run_get_response(request)
                        await self.send_response(response, send)
                        raise RequestProcessed
                except* (RequestProcessed, RequestAborted):
                    pass
            except BaseExceptionGroup as exception_group:
                if len(exception_group.exceptions) == 1:
                    raise exception_group.exceptions[0]
                raise

            if response is None:
                await send_request_finished(self.__class__, executor)  # lean
            else:
                await close_response(response, executor)  # lean


class RequestProcessed(Exception):
    """Ends handle()'s TaskGroup once the response is sent (Django defines it per request)."""


def get_lean_asgi_application(executors: ExecutorPool | None = None) -> LeanASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``, with the lean handler."""
    import django

    django.setup(set_prefix=False)
    return LeanASGIHandler(executors)
