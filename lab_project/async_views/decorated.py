"""Chapter 1: Django's view decorators on ``async def`` views, and an async stream to compress.

Since Django 5.0 the decorators in ``django/views/decorators/`` check
``iscoroutinefunction(view)`` and, for an async view, return an ``async def`` wrapper that
awaits it — so the decorated view is still a coroutine function and still runs on the event
loop. Each view here carries one or two of them; the notebook reads the headers and behaviour
they add. ``method_decorator`` does the same for async methods since 5.2.
"""

from __future__ import annotations

import asyncio
from inspect import markcoroutinefunction

from django.http import JsonResponse, StreamingHttpResponse
from django.utils.csp import CSP
from django.utils.decorators import method_decorator
from django.views import View
from django.views.debug import SafeExceptionReporterFilter
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.common import no_append_slash
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import etag, require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from lab_project.params import BadInput, QueryParams, answers_bad_input

VERSION_TAG = "chapter-1-v1"  # what the ``etag`` view's content is at; a real view would hash it
MAX_FORM_BYTES = 4096


@require_GET
@cache_control(max_age=60, public=True)
@vary_on_headers("Accept-Language")
@answers_bad_input
async def cacheable(request):
    """Shared caches may keep it a minute, one copy per ``Accept-Language``."""
    QueryParams(request.GET)
    return JsonResponse({"view": "cacheable"})


@require_GET
@never_cache
@xframe_options_deny
@answers_bad_input
async def private(request):
    """Never cached anywhere, never shown in a frame."""
    QueryParams(request.GET)
    return JsonResponse({"view": "private"})


def current_version(request) -> str:
    # condition()/etag() call this *synchronously*, before the async view is awaited: keep it
    # cheap, or it blocks the loop (Django quotes the value if it is not quoted already).
    return VERSION_TAG


@require_GET
@etag(current_version)
@answers_bad_input
async def versioned(request):
    """A client that sends back the ETag it has gets a bodyless 304 instead of this answer."""
    QueryParams(request.GET)
    return JsonResponse({"view": "versioned", "version": VERSION_TAG})


@require_GET
@gzip_page
@answers_bad_input
async def long_text(request):
    """Long enough (≥ 200 bytes) for ``gzip_page`` to compress it when the client accepts gzip."""
    QueryParams(request.GET)
    return JsonResponse({"view": "long_text", "text": "await " * 100})


@require_GET
@no_append_slash
@answers_bad_input
async def no_slash(request):
    """Reached only with its slash: ``CommonMiddleware`` will not redirect ``.../no-slash`` here."""
    QueryParams(request.GET)
    return JsonResponse({"view": "no_slash"})


@require_GET
@csp_override({"default-src": [CSP.SELF], "img-src": [CSP.SELF, "https://images.example"]})
@answers_bad_input
async def with_csp(request):
    """Its own Content-Security-Policy — sent by ``ContentSecurityPolicyMiddleware`` when the
    stack has it (the lab's default ``MIDDLEWARE`` does not)."""
    QueryParams(request.GET)
    return JsonResponse({"view": "with_csp"})


class ReportFilter(SafeExceptionReporterFilter):
    """Django's filter stars values out only with DEBUG off (``is_active``, django/views/debug.py:
    179-186); the lab may run with DEBUG on, so this one is always on, to show what it hides."""

    def is_active(self, request):
        return True


# A login-like form: its password must never appear in an error report. No session or data is
# touched, so it is CSRF-exempt to keep the notebook's calls short.
@csrf_exempt
@require_POST
@sensitive_post_parameters("password")
@answers_bad_input
@sensitive_variables("password")
async def form_echo(request):
    """What Django's error reports would show of this POST: the password starred out."""
    QueryParams(request.GET)
    if request.content_type != "application/x-www-form-urlencoded":
        raise BadInput("content-type", "send an application/x-www-form-urlencoded form", where="header")
    if len(request.body) > MAX_FORM_BYTES:
        raise BadInput("body", f"at most {MAX_FORM_BYTES} bytes")
    password = request.POST.get("password", "")  # a local the error report would star out too
    shown = ReportFilter().get_post_parameters(request)
    return JsonResponse(
        {
            "fields": sorted(request.POST),
            "marked sensitive": list(request.sensitive_post_parameters),
            "in an error report": {key: shown[key] for key in sorted(shown)},
            "password received": bool(password),
        }
    )


class Headlines(View):
    """An async class-based view whose handler is decorated with ``method_decorator`` (5.2+
    keeps the method a coroutine function, so ``view_is_async`` still holds)."""

    http_method_names = ["get", "options"]

    @method_decorator(cache_control(max_age=30))
    @method_decorator(vary_on_headers("Accept"))
    @answers_bad_input
    async def get(self, request):
        QueryParams(request.GET)
        await asyncio.sleep(0)
        return JsonResponse({"view": "Headlines", "headlines": ["async views ship", "decorators follow"]})


class Greeter:
    """A view that is an *instance* with an ``async def __call__``. ``inspect`` does not count an
    instance as a coroutine function, so Django would take it for a sync view and wrap it in
    ``sync_to_async`` — which asgiref refuses with a TypeError on every request.
    ``markcoroutinefunction`` tells Django to await the instance instead."""

    @answers_bad_input
    async def __call__(self, request):
        QueryParams(request.GET)
        return JsonResponse({"view": "Greeter", "greeting": "hello from a marked instance"})


greeter = markcoroutinefunction(Greeter())

MAX_CHUNKS = 20


@require_GET
@answers_bad_input
async def stream(request):
    """``chunks`` lines, each yielded after an ``await``: an async ``StreamingHttpResponse``, for
    ``GZipMiddleware`` to compress piece by piece (``acompress_sequence``)."""
    count = int(QueryParams(request.GET, ["chunks"]).integer("chunks", 5, low=1, high=MAX_CHUNKS))

    async def lines():
        for number in range(1, count + 1):
            await asyncio.sleep(0)  # stands in for waiting on the next piece of data
            yield f"line {number}: {'streamed ' * 8}\n".encode()

    return StreamingHttpResponse(lines(), content_type="text/plain")
