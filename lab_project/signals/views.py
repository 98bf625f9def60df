"""Endpoints that fire the chapter's signals inside a request and answer with the journal of
that request: which receivers ran, in which thread and order, and how long the dispatch took."""

from __future__ import annotations

import time

from django.http import HttpRequest, JsonResponse

from lab_project.async_orm.json_api import error
from lab_project.async_orm.models import Author, Post
from lab_project.async_orm.validation import seconds, text
from lab_project.params import QueryParams, answers_bad_input, json_object
from lab_project.signals import journal
from lab_project.signals.custom_signals import post_featured

MAX_DELAY = 1.0


async def save_with_asave(request: HttpRequest) -> JsonResponse:
    """``asave()`` a new post: ``post_save`` fires from the worker thread that runs ``save()``."""
    data = json_object(request, {"title"})
    title = text(data, "title", max_length=200, required=False) or "Saved with asave()"
    author, _ = await Author.objects.aget_or_create(name="signals-demo")
    with journal.run("asave") as run:
        post = Post(author=author, title=title)
        await post.asave()
    return JsonResponse({"post": post.pk, "journal": run.table()}, status=201)


async def send_with_asend(request: HttpRequest) -> JsonResponse:
    """``await post_featured.asend(...)``: the two slow async receivers wait side by side."""
    delay = seconds(json_object(request, {"delay"}), "delay", default=0.3, high=MAX_DELAY)
    with journal.run("asend") as run:
        started = time.monotonic()
        await post_featured.asend(sender=Post, post_id=None, delay=delay)
        elapsed = time.monotonic() - started
    return JsonResponse({"delay": delay, "elapsed_s": round(elapsed, 3), "journal": run.table()})


@answers_bad_input
def send_from_sync_view(request: HttpRequest) -> JsonResponse:
    """A *sync* view calling ``send()``: Django runs it in a worker thread, so ``send()`` may
    hand the async receivers to the event loop with ``async_to_sync``."""
    if request.method != "POST":
        response = error(405, f"method {request.method} is not allowed here; use POST")
        response["Allow"] = "POST"
        return response
    delay = seconds(json_object(request, {"delay"}), "delay", default=0.3, high=MAX_DELAY)
    with journal.run("send") as run:
        started = time.monotonic()
        post_featured.send(sender=Post, post_id=None, delay=delay)
        elapsed = time.monotonic() - started
    return JsonResponse({"delay": delay, "elapsed_s": round(elapsed, 3), "journal": run.table()})


async def read_journal(request: HttpRequest) -> JsonResponse:
    limit = QueryParams(request.GET, ["limit"]).integer("limit", 50, low=1, high=500)
    return JsonResponse({"entries": journal.recent(limit)})


async def clear_journal(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"cleared": journal.clear()})
