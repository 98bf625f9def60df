"""JSON answers for the chapter's endpoints: errors that name the problem, and one view per URL
that dispatches by HTTP method (Django's ``require_http_methods`` answers 405 with no body).

The views look objects up with Django's ``aget_object_or_404``, which raises ``Http404``. Left
to Django, an ``Http404`` becomes its HTML 404 page (the technical page under DEBUG,
``django/core/handlers/exception.py:65-71``), not the JSON this API's clients read, so the
wrapper below answers it itself."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from lab_project.params import BadInput

AsyncHandler = Callable[..., Awaitable[HttpResponse]]

# Primary keys are 64-bit signed integers in SQLite and PostgreSQL. A larger number in a URL
# or a body would overflow the database driver (a 500), so it is refused before any query.
MAX_ID = 2**63 - 1


class NotFound(Exception):
    """The object the URL or body points at does not exist."""


def error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def answers_json_errors(handler: AsyncHandler, *, pk_of: str | None = None) -> AsyncHandler:
    """Turn BadInput into 400 and NotFound into 404, both as JSON.

    ``pk_of`` says what the URL's ``<int:pk>`` names ("post"). Then a pk past the 64-bit range
    (it cannot exist, and a query for it would overflow the driver) and the ``Http404`` that
    ``aget_object_or_404`` raises are both answered ``404 {"error": "no post with id 7"}``.
    """

    @functools.wraps(handler)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        missing = f"no {pk_of} with id {kwargs.get('pk')}"
        if pk_of is not None and kwargs.get("pk", 0) > MAX_ID:
            return error(404, missing)
        try:
            return await handler(request, *args, **kwargs)
        except BadInput as exc:
            return exc.response()
        except NotFound as exc:
            return error(404, str(exc))
        except Http404 as exc:  # "No Post matches the given query." names no id; say which
            return error(404, missing if pk_of is not None else str(exc))

    return wrapper


def by_method(*, pk_of: str | None = None, **handlers: AsyncHandler) -> AsyncHandler:
    """One async view for a URL: ``by_method(GET=list_posts, POST=create_post)``; add
    ``pk_of="post"`` when the URL has a ``<int:pk>`` that the handlers look up."""
    allowed = ", ".join(sorted(handlers))
    wrapped = {method: answers_json_errors(handler, pk_of=pk_of) for method, handler in handlers.items()}

    async def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        handler = wrapped.get(request.method or "")
        if handler is None:
            response = error(405, f"method {request.method} is not allowed here; use {allowed}")
            response["Allow"] = allowed
            return response
        return await handler(request, *args, **kwargs)

    view.__name__ = "_".join(h.__name__ for h in handlers.values())
    return view
