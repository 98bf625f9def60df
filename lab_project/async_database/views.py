"""One query per request, three ways; the same with ``pg_sleep``; and which connection served it.

    GET /db/book/               Book.objects.aget(pk=1): a stock a-method (a thread, sync psycopg;
                                pooled or not is the server's LAB_DB_POOL)
    GET /db/book/native/        Book.async_objects.aget(pk=1): django-async-backend, no thread
    GET /db/sleep/?ms=50        SELECT pg_sleep(ms/1000) through sync_to_async, as the a-methods do
    GET /db/sleep/native/?ms=50 the same on an async cursor
    GET /db/pid/  /db/pid/native/   the PostgreSQL backend pid that answered, and the thread

All answer 409 off PostgreSQL, where pg_sleep and backend pids do not exist.
"""

from __future__ import annotations

import functools
import threading

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, JsonResponse

from lab_project.async_database.models import Book
from lab_project.async_database.native import needs_native_backend, visible_books
from lab_project.params import QueryParams, answers_bad_input


def needs_postgres(view):
    @functools.wraps(view)
    async def wrapper(request, *args, **kwargs):
        if connection.vendor != "postgresql":
            return JsonResponse(
                {"error": f"chapter 17's views need PostgreSQL, this server uses {connection.vendor}: "
                          "set DATABASE_URL=postgres://..."},
                status=409,
            )  # fmt: skip
        return await view(request, *args, **kwargs)

    return wrapper


def _sleep_seconds(request: HttpRequest) -> float:
    return QueryParams(request.GET, ["ms"]).integer("ms", 50, low=0, high=2000) / 1000


def _book(book: Book, via: str) -> JsonResponse:
    return JsonResponse({"id": book.pk, "title": book.title, "via": via})


@needs_postgres
async def book(request: HttpRequest) -> JsonResponse:
    return _book(await Book.objects.aget(pk=1), "a-method")


@needs_postgres
@needs_native_backend
async def book_native(request: HttpRequest) -> JsonResponse:
    return _book(await visible_books().aget(pk=1), "async_objects")


def _pg_sleep(seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])


@needs_postgres
@answers_bad_input
async def sleep(request: HttpRequest) -> JsonResponse:
    seconds = _sleep_seconds(request)
    await sync_to_async(_pg_sleep)(seconds)  # what every a-method does with its query
    return JsonResponse({"slept_s": seconds, "via": "sync_to_async"})


@needs_postgres
@answers_bad_input
@needs_native_backend
async def sleep_native(request: HttpRequest) -> JsonResponse:
    from django_async_backend.db import async_connections

    seconds = _sleep_seconds(request)
    async with await async_connections["default"].cursor() as cursor:
        await cursor.execute("SELECT pg_sleep(%s)", [seconds])
    return JsonResponse({"slept_s": seconds, "via": "async cursor"})


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@needs_postgres
async def pid(request: HttpRequest) -> JsonResponse:
    def where() -> dict:
        return {"backend_pid": _backend_pid(), "thread": threading.get_ident()}

    return JsonResponse({**await sync_to_async(where)(), "via": "sync_to_async"})


@needs_postgres
@needs_native_backend
async def pid_native(request: HttpRequest) -> JsonResponse:
    from django_async_backend.db import async_connections

    async with await async_connections["default"].cursor() as cursor:
        await cursor.execute("SELECT pg_backend_pid()")
        (backend_pid,) = await cursor.fetchone()
    return JsonResponse({"backend_pid": backend_pid, "thread": threading.get_ident(), "via": "async cursor"})
