"""Query-string parameters for the lab's measurement views, with 400s that name the problem.

Load tests hit these views thousands of times, so a typo in a URL must come back as a clear
JSON 400 at once — never a 500, and never a view that sleeps for an absurd time.
"""

from __future__ import annotations

from functools import wraps
from inspect import iscoroutinefunction

from django.http import JsonResponse


class BadParameter(ValueError):
    """A query parameter is missing its shape or its range; the message says which and why."""


def int_param(request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name}: expected a whole number from {low} to {high}, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadParameter(f"{name}: must be from {low} to {high}, got {value}")
    return value


def answers_bad_parameters(view):
    """Turn ``BadParameter`` raised by ``view`` (sync or async) into a JSON 400."""

    def bad_request(error: BadParameter) -> JsonResponse:
        return JsonResponse({"error": str(error)}, status=400)

    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request, *args, **kwargs):
            try:
                return await view(request, *args, **kwargs)
            except BadParameter as error:
                return bad_request(error)

        return async_wrapper

    @wraps(view)
    def sync_wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadParameter as error:
            return bad_request(error)

    return sync_wrapper
