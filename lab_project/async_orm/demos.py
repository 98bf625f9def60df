"""Async views that run into the async ORM's rules on purpose and report what happened as JSON.

Each mistake is caught and described (exception type and message), so a cell can read the
report instead of a 500 page. The fixed version runs right after it, for comparison.
"""

from __future__ import annotations

import asyncio
import inspect
import threading

from django.core.exceptions import SynchronousOnlyOperation
from django.db import transaction
from django.http import HttpRequest, JsonResponse

from lab_project.async_orm.json_api import NotFound
from lab_project.async_orm.models import Author, Post
from lab_project.async_orm.query_threads import recording_query_threads


def outcome(attempt) -> dict:
    """Run a zero-argument callable; say what it returned or which exception it raised."""
    try:
        return {"raised": None, "result": attempt()}
    except Exception as exc:
        return {"raised": type(exc).__name__, "message": str(exc)}


def loop_runs_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def query_threads(request: HttpRequest) -> JsonResponse:
    """Where the view runs and where the SQL of two a-method calls ran."""
    with recording_query_threads() as threads:
        await Post.objects.acount()
        await Author.objects.aexists()
    return JsonResponse(
        {
            "view_thread": threading.current_thread().name,
            "view_thread_runs_event_loop": loop_runs_here(),
            "query_threads": threads,
        }
    )


async def sync_evaluation(request: HttpRequest) -> JsonResponse:
    """Building a QuerySet is fine in async code; evaluating it synchronously is not."""
    queryset = Post.objects.all()  # lazy: no SQL yet, so nothing to refuse
    sync_ways = {
        "list(qs)": lambda: list(queryset),
        "len(qs)": lambda: len(queryset),
        "bool(qs)": lambda: bool(queryset),
        "qs.count()": lambda: queryset.count(),
        "qs.first()": lambda: queryset.first(),
        "repr(qs)": lambda: repr(queryset),
    }
    return JsonResponse(
        {
            "building": {"expression": "Post.objects.all()", "raised": None, "result": type(queryset).__name__},
            "evaluating_synchronously": {expression: outcome(run) for expression, run in sync_ways.items()},
            "evaluating_asynchronously": {
                "[p async for p in qs]": {"raised": None, "result": len([p async for p in queryset])},
                "await qs.acount()": {"raised": None, "result": await queryset.acount()},
            },
        }
    )


async def lazy_relation(request: HttpRequest) -> JsonResponse:
    """A relation that was not loaded up front triggers a sync query on access, which raises."""
    plain = await Post.objects.order_by("id").afirst()
    if plain is None:
        raise NotFound("no posts yet: create one first (POST /orm/posts/ or POST /orm/seed/)")
    joined = await Post.objects.select_related("author").prefetch_related("tags").aget(pk=plain.pk)
    return JsonResponse(
        {
            "post": plain.pk,
            "lazy": {
                "post.author.name": outcome(lambda: plain.author.name),
                "list(post.tags.all())": outcome(lambda: [t.name for t in plain.tags.all()]),
            },
            "preloaded": {
                "select_related('author')": outcome(lambda: joined.author.name),
                "prefetch_related('tags')": outcome(lambda: [t.name for t in joined.tags.all()]),
            },
            "awaited": {
                "[t async for t in post.tags.all()]": {
                    "raised": None,
                    "result": [t.name async for t in plain.tags.all()],
                },
            },
        }
    )


async def atomic_in_async(request: HttpRequest) -> JsonResponse:
    """The two ways people try ``transaction.atomic`` in async code, and what each does."""
    report = {}
    try:
        with transaction.atomic():  # needs the connection's autocommit state: sync I/O
            await Post.objects.acount()
        report["with transaction.atomic()"] = {"raised": None}
    except SynchronousOnlyOperation as exc:
        report["with transaction.atomic()"] = {"raised": type(exc).__name__, "message": str(exc)}
    try:
        async with transaction.atomic():
            await Post.objects.acount()
        report["async with transaction.atomic()"] = {"raised": None}
    except TypeError as exc:
        report["async with transaction.atomic()"] = {"raised": type(exc).__name__, "message": str(exc)}
    report["async names in django.db.transaction"] = sorted(
        name for name in dir(transaction) if inspect.iscoroutinefunction(getattr(transaction, name, None))
    )
    return JsonResponse(report)
