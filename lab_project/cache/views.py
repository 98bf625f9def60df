"""Chapter 8: Django's async cache methods through JSON endpoints, on either backend.

    GET    /cache/                                  the backends and whether each is live
    GET    /cache/<backend>/items/<key>/            aget
    PUT    /cache/<backend>/items/<key>/            aset      {"value": ..., "timeout": s}
    DELETE /cache/<backend>/items/<key>/            adelete
    POST   /cache/<backend>/items/<key>/get-or-set/ aget_or_set {"default": ..., "timeout": s}
    POST   /cache/<backend>/items/<key>/incr/       aincr     {"delta": n}
    GET    /cache/<backend>/threads/                which thread ran each sync method
"""

from __future__ import annotations

import functools
import json
import re
import threading
import uuid

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from lab_project.cache.backends import BackendUnavailable, UnknownBackend, lab_caches, recording_threads
from lab_project.params import BadInput, json_object

KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
MAX_VALUE_BYTES = 64 * 1024  # of the value as JSON; the lab's limit, well under Redis' 512 MB
MAX_TIMEOUT = 3600
MAX_DELTA = 2**53  # beyond this, JSON numbers stop being exact integers


class NothingCached(LookupError):
    pass


def _redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError)


def json_view(*methods: str):
    """Dispatch by method and turn the chapter's errors into JSON answers (never a 500)."""

    def decorate(handler):
        @csrf_exempt  # a JSON API for cells and tests; it reads no cookies
        @functools.wraps(handler)
        async def view(request, *args, **kwargs):
            if request.method not in methods:
                response = JsonResponse(
                    {"error": f"method {request.method} is not allowed here; use {', '.join(methods)}"}, status=405
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return await handler(request, *args, **kwargs)
            except BadInput as exc:
                return exc.response()
            except UnknownBackend as exc:
                return BadInput("backend", str(exc)).response()
            except BackendUnavailable as exc:
                return JsonResponse({"error": f"backend: {exc}", "field": "backend"}, status=503)
            except NothingCached as exc:
                return JsonResponse({"error": str(exc)}, status=404)
            except _redis_errors() as exc:
                return JsonResponse({"error": f"Redis did not answer: {exc}"}, status=503)

        return view

    return decorate


def _checked_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise BadInput("key", "1 to 100 characters from A-Z a-z 0-9 _ . : -")
    return key


def _body(request, *, fields: tuple[str, ...]) -> dict:
    body = json_object(request, fields)
    # A body this much larger than the limit cannot hold a value within it.
    if len(request.body) > MAX_VALUE_BYTES + 1024:
        raise BadInput("value", f"at most {MAX_VALUE_BYTES} bytes as JSON, the body has {len(request.body)}")
    return body


def _value(body: dict, field: str) -> object:
    if field not in body:
        raise BadInput(field, "required (any JSON value)")
    size = len(json.dumps(body[field]).encode())
    if size > MAX_VALUE_BYTES:
        raise BadInput(field, f"at most {MAX_VALUE_BYTES} bytes as JSON, got {size}")
    return body[field]


def _timeout(body: dict) -> int:
    timeout = body.get("timeout", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT:
        raise BadInput("timeout", f"a whole number of seconds from 1 to {MAX_TIMEOUT}")
    return timeout


def _delta(body: dict) -> int:
    delta = body.get("delta", 1)
    if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_DELTA:
        raise BadInput("delta", f"must be a whole number between -{MAX_DELTA} and {MAX_DELTA}, got {str(delta)[:40]}")
    return delta


_MISSING = object()


@json_view("GET")
async def backend_list(request):
    from django.core.cache import caches

    return JsonResponse(
        {
            "backends": lab_caches().available(),
            "project_default": caches.settings["default"]["BACKEND"],
        }
    )


@json_view("GET", "PUT", "DELETE")
async def item(request, backend: str, key: str):
    cache = lab_caches().get(backend)
    key = _checked_key(key)
    if request.method == "PUT":
        body = _body(request, fields=("value", "timeout"))
        value, timeout = _value(body, "value"), _timeout(body)
        await cache.aset(key, value, timeout=timeout)
        return JsonResponse({"backend": backend, "key": key, "value": value, "timeout": timeout})
    if request.method == "DELETE":
        deleted = await cache.adelete(key)
        return JsonResponse({"backend": backend, "key": key, "deleted": deleted})
    value = await cache.aget(key, _MISSING)
    if value is _MISSING:
        raise NothingCached(f"key {key!r}: nothing is cached under it in {backend} (never set, deleted or expired)")
    return JsonResponse({"backend": backend, "key": key, "value": value})


@json_view("POST")
async def get_or_set(request, backend: str, key: str):
    cache = lab_caches().get(backend)
    key = _checked_key(key)
    body = _body(request, fields=("default", "timeout"))
    default, timeout = _value(body, "default"), _timeout(body)
    value = await cache.aget_or_set(key, default, timeout=timeout)
    return JsonResponse({"backend": backend, "key": key, "value": value})


@json_view("POST")
async def incr(request, backend: str, key: str):
    import redis

    cache = lab_caches().get(backend)
    key = _checked_key(key)
    delta = _delta(_body(request, fields=("delta",)))
    try:
        value = await cache.aincr(key, delta)
    except ValueError:  # Django's "Key ... not found"
        raise NothingCached(f"key {key!r}: nothing to increment in {backend}; set an integer first") from None
    except (TypeError, redis.ResponseError):  # locmem: value + delta failed; Redis: INCRBY refused
        problem = f"the value under {key!r} is not an integer (or would overflow), so it cannot be incremented"
        raise BadInput("key", problem) from None
    return JsonResponse({"backend": backend, "key": key, "value": value})


@json_view("GET")
async def thread_probe(request, backend: str):
    """Run each async method once and report which thread ran the sync method behind it."""
    cache = lab_caches().get(backend)
    key = f"thread-probe-{uuid.uuid4().hex}"  # concurrent probes never share a key
    with recording_threads() as calls:
        await cache.aset(key, 1, timeout=30)
        await cache.aget(key)
        await cache.aincr(key)
        await cache.aget_or_set(f"{key}-new", 0, timeout=30)
        await cache.adelete(key)
        await cache.adelete(f"{key}-new")
    return JsonResponse(
        {
            "backend": backend,
            "view_thread": threading.current_thread().name,
            "sync_calls": [{"method": c.method, "thread": c.thread} for c in calls],
        }
    )

