"""The native path: django-async-backend's async connections, only when the server runs it.

``LAB_DB_BACKEND=async`` puts its engine on the ``default`` alias; otherwise these views answer
409 with what to do. Each request gives its async connection back when it ends
(``releasing_async_connection``): relying on the package's request signals alone, a connection
stays with whatever context opened it, which in a notebook cell is never finished.
"""

from __future__ import annotations

import contextlib
import functools

from django.conf import settings
from django.http import JsonResponse

ASYNC_ENGINE = "django_async_backend.db.backends.postgresql"


def native_backend_on() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == ASYNC_ENGINE


def needs_native_backend(view):
    @functools.wraps(view)
    async def wrapper(request, *args, **kwargs):
        if not native_backend_on():
            return JsonResponse(
                {"error": "this server runs Django's own database backend: start it with LAB_DB_BACKEND=async "
                          "(and DATABASE_URL=postgres://...) for the native async path"},
                status=409,
            )  # fmt: skip
        async with releasing_async_connection():
            return await view(request, *args, **kwargs)

    return wrapper


@contextlib.asynccontextmanager
async def releasing_async_connection():
    """Close (with a pool: give back) this task's async connections when the block ends."""
    from django_async_backend.db import close_old_async_connections

    try:
        yield
    finally:
        await close_old_async_connections()


def visible_books():
    """``Book.objects`` hides hidden books; ``async_objects`` ignores that manager: filter here."""
    from lab_project.async_database.models import Book

    return Book.async_objects.filter(hidden=False)
