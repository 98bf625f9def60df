"""Strict input parsing for the lab's views: every bad value becomes a 400 naming what is wrong.

A view that quietly replaced a bad ``delay`` with its default would make a timing experiment
lie, so unknown, repeated and out-of-range values are all refused with a message. Chapter 5's
streaming views use the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.http import HttpRequest, JsonResponse, QueryDict


class BadInput(ValueError):
    """A query parameter or body field the view cannot use; ``str()`` is the user's message.

    ``where`` says which kind of input it was ("parameter" or "field"), so the JSON answer
    names it under that key.
    """

    def __init__(self, name: str, problem: str, *, where: str = "parameter") -> None:
        self.name = name
        self.where = where
        super().__init__(f"{name}: {problem}")

    def response(self) -> JsonResponse:
        return JsonResponse({"error": str(self), self.where: self.name}, status=400)


class QueryParams:
    """Typed, range-checked access to a request's query string."""

    def __init__(self, query: QueryDict, known: Iterable[str]) -> None:
        known = tuple(known)
        for name in query:
            if name not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise BadInput(name[:40], f"unknown parameter (this endpoint takes: {allowed})")
            if len(query.getlist(name)) > 1:
                raise BadInput(name, "given more than once")
        self._query = query

    def _raw(self, name: str) -> str | None:
        value = self._query.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(name, f"must be a number, got {raw[:40]!r}") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise BadInput(name, f"must be between {low:g} and {high:g}, got {raw[:40]}")
        return value

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadInput(name, f"must be a whole number, got {raw[:40]!r}") from None
        if not low <= value <= high:
            raise BadInput(name, f"must be between {low} and {high}, got {value}")
        return value

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        choices = tuple(choices)
        raw = self._raw(name)
        if raw is None:
            return default
        if raw not in choices:
            raise BadInput(name, f"must be one of {', '.join(choices)}; got {raw[:40]!r}")
        return raw

    def text(self, name: str, default: str, *, max_length: int) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        if len(raw) > max_length:
            raise BadInput(name, f"at most {max_length} characters, got {len(raw)}")
        if not raw.isprintable():
            raise BadInput(name, "may not contain control characters")
        return raw


def json_object(request: HttpRequest) -> dict:
    """The request body as a JSON object, or ``BadInput`` naming the body as the problem."""
    if not request.body:
        raise BadInput("body", "send a JSON object, for example {\"numbers\": [1, 2, 3]}", where="field")
    try:
        payload = json.loads(request.body)
    except (ValueError, RecursionError):  # also UnicodeDecodeError (not UTF-8), absurd nesting
        raise BadInput("body", "not valid JSON", where="field") from None
    if not isinstance(payload, dict):
        raise BadInput("body", f"must be a JSON object, got {type(payload).__name__}", where="field")
    return payload


def finite_number(value: object, name: str, *, low: float, high: float, where: str = "field") -> float:
    """A number (not a bool) within ``low``..``high``, else ``BadInput`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(name, f"must be a number, got {type(value).__name__}", where=where)
    if not low <= value <= high:  # also refuses nan, inf and integers too large for a float
        raise BadInput(name, f"must be between {low:g} and {high:g}", where=where)
    return value
