"""Strict query-parameter parsing: every bad value becomes a 400 that names the parameter.

An upstream that silently ignored a typo (``latncy_ms=200``) would answer at full speed and
make a timing experiment lie, so unknown and repeated parameters are refused too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.http import JsonResponse, QueryDict


class BadParameter(ValueError):
    """A query parameter the endpoint cannot use; ``str()`` is the message for the user."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")


def bad_parameter_response(error: BadParameter) -> JsonResponse:
    return JsonResponse({"error": str(error), "parameter": error.name}, status=400)


class QueryParams:
    """Typed, range-checked access to a request's query string."""

    def __init__(self, query: QueryDict, known: Iterable[str]) -> None:
        known = tuple(known)
        for name in query:
            if name not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise BadParameter(name, f"unknown parameter (this endpoint takes: {allowed})")
            if len(query.getlist(name)) > 1:
                raise BadParameter(name, "given more than once")
        self._query = query

    def raw(self, name: str) -> str | None:
        value = self._query.get(name)
        return None if value is None else value.strip()

    def integer(self, name: str, default: int | None, *, low: int, high: int) -> int | None:
        raw = self.raw(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadParameter(name, f"must be a whole number, got {raw[:40]!r}") from None
        if not low <= value <= high:
            raise BadParameter(name, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.raw(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadParameter(name, f"must be a number, got {raw[:40]!r}") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise BadParameter(name, f"must be between {low:g} and {high:g}, got {raw[:40]}")
        return value

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        choices = tuple(choices)
        raw = self.raw(name)
        if raw is None or raw == "":
            return default
        if raw not in choices:
            raise BadParameter(name, f"must be one of {', '.join(choices)}; got {raw[:40]!r}")
        return raw

    def label(self, name: str, default: str, *, max_length: int = 64) -> str:
        """A short label such as a call's name: letters, digits, '.', '_' and '-'."""
        raw = self.raw(name)
        if raw is None or raw == "":
            return default
        if len(raw) > max_length:
            raise BadParameter(name, f"at most {max_length} characters")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", raw):
            raise BadParameter(name, f"may only contain letters, digits, '.', '_' and '-'; got {raw!r}")
        return raw
