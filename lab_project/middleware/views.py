"""Two trivial async views to send through different middleware stacks."""

from __future__ import annotations

from django.http import JsonResponse

from lab_project.middleware.middleware import thread_kind


def _no_parameters(request) -> JsonResponse | None:
    if request.GET:
        name = next(iter(request.GET))
        message = f"{name}: unknown parameter (this endpoint takes none)"
        return JsonResponse({"error": message, "parameter": name}, status=400)
    return None


async def ping(request):
    """As little work as a view can do, so a timing shows the stack around it."""
    return _no_parameters(request) or JsonResponse({"ok": True})


async def trace(request):
    """Which of the lab's middlewares saw this request, in which mode and on which thread."""
    return _no_parameters(request) or JsonResponse(
        {"middleware": getattr(request, "lab_middleware_trace", []), "view": {"mode": "async", "thread": thread_kind()}}
    )
