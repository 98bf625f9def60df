"""JSON answers for the chapter's endpoints: errors that name the problem, and one view per URL
that dispatches by HTTP method (Django's ``require_http_methods`` answers 405 with no body)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

AsyncHandler = Callable[..., Awaitable[HttpResponse]]

# Primary keys are 64-bit signed integers in SQLite and PostgreSQL. A larger number in a URL
# or a body would overflow the database driver (a 500), so it is refused before any query.
MAX_ID = 2**63 - 1


class BadInput(Exception):
    """The request is wrong in a way the client can fix; ``field`` says where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(Exception):
    """The object the URL or body points at does not exist."""


def error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def answers_json_errors(handler: AsyncHandler) -> AsyncHandler:
    """Turn BadInput into 400 and NotFound into 404, both as JSON."""

    @functools.wraps(handler)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return await handler(request, *args, **kwargs)
        except BadInput as exc:
            return error(400, str(exc), field=exc.field)
        except NotFound as exc:
            return error(404, str(exc))

    return wrapper


def by_method(**handlers: AsyncHandler) -> AsyncHandler:
    """One async view for a URL: ``by_method(GET=list_posts, POST=create_post)``."""
    allowed = ", ".join(sorted(handlers))
    wrapped = {method: answers_json_errors(handler) for method, handler in handlers.items()}

    async def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        handler = wrapped.get(request.method or "")
        if handler is None:
            response = error(405, f"method {request.method} is not allowed here; use {allowed}")
            response["Allow"] = allowed
            return response
        return await handler(request, *args, **kwargs)

    view.__name__ = "_".join(h.__name__ for h in handlers.values())
    return view
