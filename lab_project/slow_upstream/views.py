"""The slow upstream: a stand-in for an external JSON API, served by the lab itself.

Latency, jitter, status, random failures and faults are chosen per call with query
parameters (see ``behaviour.py``), so chapter 4 can show slow, failing and hanging upstreams
without the internet. Every answer says when the server started and finished serving it, on
the server's monotonic clock, so a cell can draw when each call was really in progress.
"""

from __future__ import annotations

import asyncio
import time

from django.http import HttpResponse, JsonResponse

from lab_project.params import answers_bad_input
from lab_project.slow_upstream.behaviour import HANG_SECONDS, Behaviour


@answers_bad_input
async def data(request):
    started = time.monotonic()
    if request.method != "GET":
        return JsonResponse({"error": f"method {request.method} not allowed: use GET"}, status=405)
    behaviour = Behaviour.from_query(request.GET)

    plan = behaviour.plan()
    body = {
        "name": behaviour.name,
        "latency_ms": behaviour.latency_ms,
        "jitter_ms": behaviour.jitter_ms,
        "seed": behaviour.seed,
        "fail_rate": behaviour.fail_rate,
        "fault": behaviour.fault,
        "delay_ms": plan.delay_ms,
        # The caller's TCP port: calls that share a kept-alive connection show the same one.
        "client_port": _client_port(request),
    }
    if plan.fails:
        # An overloaded service typically refuses at once rather than after its usual latency.
        body |= {"status": 503, "error": f"simulated failure (fail_rate={behaviour.fail_rate:g})"}
        return JsonResponse(body | _served(started), status=503)

    await asyncio.sleep(HANG_SECONDS if behaviour.fault == "hang" else plan.delay_ms / 1000)
    body["status"] = behaviour.status
    if behaviour.fault == "invalid_json":
        # Looks like JSON and says so, but is cut off: what a proxy's truncated reply looks like.
        truncated = b'{"name": "' + behaviour.name.encode() + b'", "trunc'
        return HttpResponse(truncated, content_type="application/json", status=behaviour.status)
    return JsonResponse(body | _served(started), status=behaviour.status)


def _served(started: float) -> dict[str, float]:
    return {"started": started, "ended": time.monotonic()}


def _client_port(request) -> int | None:
    client = getattr(request, "scope", {}).get("client")  # ASGI only
    return int(client[1]) if client else None
