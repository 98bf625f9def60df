"""Chapter 16: one view that reports what a request met on its way in, so a test tool can be
judged by what it lets a view see.

Served through the real server or Django's ``AsyncClient``, the request has crossed the
middleware (a session, a user); built by ``AsyncRequestFactory`` and passed to the view by
hand, it has crossed nothing. The ORM half says on which thread the view's database work ran
and whether that thread's connection sat inside a transaction: inside Django's ``TestCase``
that is the thread holding the test's transaction.
"""

import threading

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from lab_project.params import QueryParams, answers_bad_input


def database_side() -> dict:
    # Run the way Django's a-methods run the sync ORM: sync_to_async, thread_sensitive=True.
    return {"orm_thread": threading.current_thread().name, "orm_in_transaction": connection.in_atomic_block}


@require_GET
@answers_bad_input
async def request_report(request):
    """What the request carries: middleware's attributes, the user, session keys, ORM thread."""
    QueryParams(request.GET, [])  # takes no parameters: any is a 400 naming it
    # SessionMiddleware sets request.session, AuthenticationMiddleware request.auser; a
    # request built by a factory has neither.
    middleware = hasattr(request, "session") and hasattr(request, "auser")
    user = await request.auser() if middleware else None
    return JsonResponse(
        {
            "middleware": middleware,
            "user": user.get_username() if user is not None and user.is_authenticated else None,
            "session_keys": sorted(await request.session.akeys()) if middleware else None,
            "view_thread": threading.current_thread().name,
            **await sync_to_async(database_side)(),
        }
    )
