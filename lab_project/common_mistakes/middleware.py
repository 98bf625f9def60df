"""Chapter 11: a middleware written the old way (sync only) and the same one made async-ready.

Neither is in settings.MIDDLEWARE: the notebook builds a Django handler with one of them added
(see ``helpers.chapters.ch11_common_mistakes.handler_with_middleware``), so the rest of the lab is
unaffected.
"""

from inspect import iscoroutinefunction

from django.utils.decorators import sync_and_async_middleware

HEADER = "X-Lab-Stamp"


class SyncOnlyStampMiddleware:
    """The mistake. A plain class with ``__call__`` gets Django's defaults, ``sync_capable =
    True`` and ``async_capable = False``, so in an async stack Django adapts around it: the
    request hops to a thread for this middleware and back to the loop for the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response[HEADER] = "sync-only"
        return response


@sync_and_async_middleware
def async_ready_stamp_middleware(get_response):
    """The fix: one middleware with both shapes; Django hands it an async ``get_response``
    under ASGI and it answers with a coroutine function, so nothing is adapted.

    (Subclassing ``MiddlewareMixin`` is only half a fix: it is async-capable, but it runs each
    ``process_request`` / ``process_response`` hook through ``sync_to_async``.)
    """
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            response[HEADER] = "async-ready"
            return response

    else:

        def middleware(request):
            response = get_response(request)
            response[HEADER] = "async-ready"
            return response

    return middleware
