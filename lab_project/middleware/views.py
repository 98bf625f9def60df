"""Two trivial async views to send through different middleware stacks."""

from __future__ import annotations

from django.http import JsonResponse

from lab_project.middleware.middleware import thread_kind
from lab_project.params import QueryParams, answers_bad_input


@answers_bad_input
async def ping(request):
    """As little work as a view can do, so a timing shows the stack around it."""
    QueryParams(request.GET)  # no parameters: any one is refused
    return JsonResponse({"ok": True})


@answers_bad_input
async def trace(request):
    """Which of the lab's middlewares saw this request, in which mode and on which thread."""
    QueryParams(request.GET)
    return JsonResponse(
        {"middleware": getattr(request, "lab_middleware_trace", []), "view": {"mode": "async", "thread": thread_kind()}}
    )
