"""Chapter 0: the smallest async views, enough to prove the in-kernel server answers."""

import asyncio
import threading
import time

from django.http import JsonResponse
from django.views import View

from lab_project.params import QueryParams, answers_bad_input


async def hello(request):
    """An ``async def`` function view: it awaits, then answers JSON."""
    await asyncio.sleep(0.01)
    return JsonResponse({"hello": "async world", "view": "function"})


class Greeting(View):
    """A class-based view whose handler is ``async def get``."""

    @answers_bad_input  # a bad ?name= becomes a 400 whose JSON says what is wrong
    async def get(self, request):
        name = QueryParams(request.GET, ["name"]).text("name", "lab", max_length=100)
        await asyncio.sleep(0.01)
        return JsonResponse({"greeting": f"hello, {name}", "view": "class"})


async def clock(request):
    """The server's monotonic clock, so a cell can see when a request was actually served."""
    return JsonResponse({"monotonic": time.monotonic(), "thread": threading.current_thread().name})


async def health(request):
    return JsonResponse({"ok": True})
