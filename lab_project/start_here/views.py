"""Chapter 0: the smallest async views, enough to prove the in-kernel server answers."""

import asyncio
import threading
import time

from django.http import JsonResponse
from django.views import View


async def hello(request):
    """An ``async def`` function view: it awaits, then answers JSON."""
    await asyncio.sleep(0.01)
    return JsonResponse({"hello": "async world", "view": "function"})


class Greeting(View):
    """A class-based view whose handler is ``async def get``."""

    async def get(self, request):
        name = request.GET.get("name", "lab")
        if len(name) > 100:
            return JsonResponse({"error": "name: at most 100 characters"}, status=400)
        await asyncio.sleep(0.01)
        return JsonResponse({"greeting": f"hello, {name}", "view": "class"})


async def clock(request):
    """The server's monotonic clock, so a cell can see when a request was actually served."""
    return JsonResponse({"monotonic": time.monotonic(), "thread": threading.current_thread().name})


async def health(request):
    return JsonResponse({"ok": True})
