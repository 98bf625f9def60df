"""Strict parsing of the chapter's query strings and JSON bodies: a bad value is a 400 that
names it, never a silently substituted default (that would make a timing experiment lie)."""

from __future__ import annotations

import json
import math

from django.http import HttpRequest, JsonResponse


class BadInput(ValueError):
    """Input the client can fix; ``str()`` is the message sent back."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")

    def response(self) -> JsonResponse:
        return JsonResponse({"error": str(self), "field": self.name}, status=400)


def only_known(request: HttpRequest, *known: str) -> None:
    for name in request.GET:
        if name not in known:
            raise BadInput(name[:40], f"unknown parameter (this endpoint takes: {', '.join(known) or 'none'})")


def number(request: HttpRequest, name: str, default: float, *, low: float, high: float) -> float:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(name, f"must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadInput(name, f"must be between {low:g} and {high:g}, got {raw[:40]}")
    return value


def integer(request: HttpRequest, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(name, f"must be a whole number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadInput(name, f"must be between {low} and {high}, got {value}")
    return value


def choice(request: HttpRequest, name: str, default: str, *, options: tuple[str, ...]) -> str:
    raw = request.GET.get(name, "").strip() or default
    if raw not in options:
        raise BadInput(name, f"must be one of {', '.join(options)}, got {raw[:40]!r}")
    return raw


def json_object(request: HttpRequest, *, fields: tuple[str, ...]) -> dict:
    """The body as a JSON object with no fields beyond ``fields``."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise BadInput("body", "must be JSON, for example {\"text\": \"...\"}") from None
    if not isinstance(body, dict):
        raise BadInput("body", f"must be a JSON object, got {type(body).__name__}")
    for name in body:
        if name not in fields:
            raise BadInput(str(name)[:40], f"unknown field (allowed: {', '.join(fields)})")
    return body
