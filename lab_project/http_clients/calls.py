"""One request's upstream calls: what was asked for (``Calls``) and what happened (``CallLog``).

``CallLog`` notes each call's start, end and outcome in seconds since the view began, which is
what the fan-out views return and the notebook draws as a timeline.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from django.http import JsonResponse

from lab_project.http_clients.client import new_client, shared_client
from lab_project.http_clients.target import upstream_url
from lab_project.http_clients.upstream import UpstreamError, call_upstream
from lab_project.params import QueryParams
from lab_project.slow_upstream.behaviour import PARAMETERS as UPSTREAM_PARAMETERS
from lab_project.slow_upstream.behaviour import Behaviour

CLIENT_MODES = ("shared", "per_call")
MAX_CALLS = 50


@dataclass(frozen=True)
class Calls:
    """What a request asked for, validated."""

    url: str
    behaviour: Behaviour
    n: int
    timeout: float
    client_mode: str
    fan_out: bool

    @classmethod
    def from_request(cls, request, *, fan_out: bool) -> Calls:
        own = ("n", "timeout", "upstream", "client") if fan_out else ("timeout", "upstream", "client")
        behaviour = Behaviour.from_query(request.GET, extra=own)
        params = QueryParams(request.GET, known=UPSTREAM_PARAMETERS + own)
        return cls(
            url=upstream_url(request, params.text("upstream", None, max_length=200)),
            behaviour=behaviour,
            n=params.integer("n", 10, low=1, high=MAX_CALLS) if fan_out else 1,
            timeout=params.number("timeout", 5.0, low=0.01, high=60.0),
            client_mode=params.choice("client", "shared", CLIENT_MODES),
            fan_out=fan_out,
        )

    def name(self, index: int) -> str:
        """``call-1``, ``call-2``, ... for a fan-out; the plain name for a single fetch."""
        return f"{self.behaviour.name}-{index}" if self.fan_out else self.behaviour.name


class CallLog:
    """Every call's name, start, end and outcome, in seconds since the view began."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.t0 = time.monotonic()
        self.entries: list[dict] = []

    def elapsed(self) -> float:
        return round(time.monotonic() - self.t0, 6)

    async def call(self, index: int) -> dict:
        name = self.calls.name(index)
        entry = {"name": name, "start": self.elapsed(), "end": None, "outcome": "running"}
        self.entries.append(entry)
        params = self.calls.behaviour.as_query() | {"name": name}
        try:
            if self.calls.client_mode == "shared":
                body = await call_upstream(shared_client(), self.calls.url, params, timeout=self.calls.timeout)
            else:  # the anti-pattern, kept to measure it: a new client (and connection) per call
                async with new_client() as client:
                    body = await call_upstream(client, self.calls.url, params, timeout=self.calls.timeout)
        except UpstreamError:
            entry["outcome"] = "failed"
            raise
        except asyncio.CancelledError:
            entry["outcome"] = "cancelled"
            raise
        finally:
            entry["end"] = self.elapsed()
        entry |= {"outcome": "ok", "delay_ms": body.get("delay_ms"), "client_port": body.get("client_port")}
        return body

    def summary(self, mode: str) -> dict:
        ports = {e.get("client_port") for e in self.entries if e["outcome"] == "ok"}
        return {
            "mode": mode,
            "n": self.calls.n,
            "client": self.calls.client_mode,
            "elapsed_s": self.elapsed(),
            "connections": len(ports - {None}),  # distinct TCP connections the upstream saw
            "calls": self.entries,
        }

    def failure(self, mode: str, errors: list[UpstreamError], **extra) -> JsonResponse:
        first = errors[0]
        body = first.as_json() | self.summary(mode) | extra
        body["failed"] = [e.call for e in errors]
        if len(errors) > 1:
            body["error"] = f"{len(errors)} of {self.calls.n} upstream calls failed; first: {first}"
        return JsonResponse(body, status=first.status)
