"""A database that cannot give a request a connection now answers 503, not a 500 or a hang.

Two ways to run out, one answer: Django's pool waited ``POOL_TIMEOUT_S`` for a free connection
(psycopg_pool's ``PoolTimeout``), or PostgreSQL refused a new connection (SQLSTATE 53300, "too
many clients", what stock Django meets when requests in flight outnumber ``max_connections``).
A client can retry either; neither is a bug in the view. Added to MIDDLEWARE on PostgreSQL only.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import OperationalError
from django.http import JsonResponse

REFUSALS = ("too many clients", "too many connections", "remaining connection slots")


def out_of_connections(exc: BaseException) -> str | None:
    """Why ``exc`` means "no database connection to be had" (a short reason), else None."""
    if not isinstance(exc, OperationalError):
        return None
    cause = exc.__cause__ or exc
    if type(cause).__name__ == "PoolTimeout":
        return "every pooled database connection stayed busy"
    text = str(cause).lower()
    if getattr(cause, "sqlstate", None) == "53300" or any(r in text for r in REFUSALS):
        return "the database refused another connection"
    return None


class DatabaseBusyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request):
        return await self.get_response(request)  # no hop of its own: it only watches exceptions

    def process_exception(self, request, exception):
        reason = out_of_connections(exception)
        if reason is None:
            return None
        body = {"error": f"database busy: {reason}; retry shortly", "retry_after_s": 1}
        return JsonResponse(body, status=503, headers={"Retry-After": "1"})
