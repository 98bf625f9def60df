"""Django's ASGIHandler, with the per-request thread start and join taken out.

Stock ``ASGIHandler.__call__`` wraps each request in ``async with ThreadSensitiveContext():``.
The request's first thread-sensitive ``sync_to_async`` call (the sync receivers of
``request_started`` always make one) then creates a ``ThreadPoolExecutor(max_workers=1)``, and
leaving the context joins it from a new helper thread: two thread starts per request.

``FastASGIHandler`` changes only that: it enters ``ThreadSensitiveContext(executor=...)``
(asgiref >= 3.13) with an executor borrowed from an ``ExecutorPool``. Everything inside —
``handle()``, the signals, middleware, views, disconnect handling — is Django's own code.

Deliberately *not* changed: Django's database connection lifecycle (see ``executor_pool``),
and every sync hop itself. Django's bundled middleware runs each ``process_request`` /
``process_response`` through ``sync_to_async`` too; those hops stay, because the code behind
them may touch the database and must run on the request's thread.
"""

from __future__ import annotations

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

from lab_project.where_the_time_goes.executor_pool import ExecutorPool

_default_pool: ExecutorPool | None = None


def default_pool() -> ExecutorPool:
    """The process's pool, shared by every FastASGIHandler that is not given one."""
    global _default_pool
    if _default_pool is None:
        _default_pool = ExecutorPool()
    return _default_pool


class _RequestThreadContext(ThreadSensitiveContext):
    """The request's thread-sensitive context, bound to a borrowed executor.

    asgiref makes thread-sensitive calls from tasks that outlive such a context raise
    RuntimeError. Stock Django instead gives such a straggler (a fire-and-forget task that runs
    an ORM query after the response, say) a new thread of its own. Clearing the "exited" mark
    restores that: a straggler finds no executor for this context and asgiref makes it a fresh
    one — never the borrowed executor, which may already serve another request.
    """

    async def __aexit__(self, exc_type, exc, tb):
        await super().__aexit__(exc_type, exc, tb)
        self._exited = False


class FastASGIHandler(ASGIHandler):
    """Stock Django ASGI handling, with pooled per-request executors."""

    # Looked up per call, not only set in __init__: subclasses such as Django's
    # ASGIStaticFilesHandler do not call ASGIHandler.__init__.
    executors: ExecutorPool | None = None

    def __init__(self, executors: ExecutorPool | None = None) -> None:
        super().__init__()
        self.executors = executors

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django's own refusal
        pool = self.executors if self.executors is not None else default_pool()
        executor = pool.acquire()
        try:
            async with _RequestThreadContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            # Also on cancellation: the executor returns to the pool only after whatever this
            # request still has running on it has finished.
            pool.release(executor)


def get_fast_asgi_application(executors: ExecutorPool | None = None) -> FastASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``, with the faster handler."""
    import django

    django.setup(set_prefix=False)
    return FastASGIHandler(executors)
