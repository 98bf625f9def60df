"""One call to the upstream, with every way it can go wrong turned into an ``UpstreamError``.

The views never let an httpx exception or a bad body escape: Django would turn it into a 500,
which says "this server is broken" when the truth is "the server it depends on is". Gateways
say that with 502 Bad Gateway (the upstream failed or answered nonsense) and 504 Gateway
Timeout (it did not answer in time), plus a message naming the call and the cause.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx


class UpstreamError(Exception):
    """An upstream call that failed; ``status`` is what this server answers (502 or 504)."""

    def __init__(self, status: int, kind: str, message: str, *, call: str, upstream_status: int | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.call = call
        self.upstream_status = upstream_status

    def as_json(self) -> dict[str, Any]:
        body = {"error": str(self), "kind": self.kind, "call": self.call}
        if self.upstream_status is not None:
            body["upstream_status"] = self.upstream_status
        return body


async def call_upstream(client: httpx.AsyncClient, url: str, params: dict[str, str], *, timeout: float) -> dict:
    """GET the upstream and return its JSON object, or raise ``UpstreamError``."""
    name = params.get("name", "call")
    try:
        response = await client.get(url, params=params, timeout=timeout)
    except httpx.TimeoutException:
        message = f"{name}: the upstream did not answer within {timeout:g} s"
        raise UpstreamError(504, "timeout", message, call=name) from None
    except httpx.ConnectError as exc:
        origin = url.split("/upstream/")[0]
        raise UpstreamError(502, "connect", f"{name}: could not connect to {origin} ({exc})", call=name) from None
    except httpx.HTTPError as exc:  # the connection broke mid-way, a protocol error, ...
        raise UpstreamError(502, "transport", f"{name}: {type(exc).__name__}: {exc}", call=name) from None

    if not response.is_success:
        reason = HTTPStatus(response.status_code).phrase if response.status_code in HTTPStatus else ""
        raise UpstreamError(
            502, "status", f"{name}: the upstream answered {response.status_code} {reason}".rstrip(),
            call=name, upstream_status=response.status_code,
        )
    try:
        body = response.json()
    except ValueError:  # json.JSONDecodeError, or undecodable bytes
        body = None
    if not isinstance(body, dict):
        raise UpstreamError(502, "invalid_json", f"{name}: the upstream's answer is not a JSON object", call=name)
    return body
