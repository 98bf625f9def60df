"""Strict reading of what a client sends — query parameters, a JSON body — for every app.

A view that quietly replaced a mistyped ``delay`` with its default would make a timing
experiment lie, so unknown, repeated, malformed and out-of-range values are all refused. Each
refusal is a ``BadInput``, and every view answers it the same way: a 400 whose JSON names the
problem, ``{"error": "delay: must be between 0 and 5, got 9", "parameter": "delay"}``. The key
says where the bad value was: ``parameter`` (query string), ``field`` (JSON body) or ``header``.

The usual shape of a view::

    @answers_bad_input
    async def pause(request):
        delay = QueryParams(request.GET, ["delay"]).number("delay", 0.2, low=0, high=5)
        ...
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse, QueryDict

SHOWN = 40  # characters of a bad value echoed back: enough to recognise it, never a flood
LABEL = re.compile(r"[A-Za-z0-9._-]+")


class BadInput(ValueError):
    """A value the client can fix; ``str()`` is ``"<name>: <problem>"``, the message it gets.

    ``where`` is the JSON key that names the value in the answer: "field" (of a JSON body, the
    default, as most checks written in views are of bodies), "parameter" (of the query string;
    ``QueryParams`` says so itself) or "header".
    """

    def __init__(self, name: str, problem: str, *, where: str = "field") -> None:
        self.name = name
        self.where = where
        super().__init__(f"{name}: {problem}")

    def response(self) -> JsonResponse:
        return JsonResponse({"error": str(self), self.where: self.name}, status=400)


def bad_parameter(name: str, problem: str) -> BadInput:
    """A ``BadInput`` for a query parameter: ``raise bad_parameter("delay", "must be ...")``."""
    return BadInput(name, problem, where="parameter")


def answers_bad_input(view):
    """Answer ``BadInput`` raised by ``view`` (sync or async, a function or a view method) with
    its 400; the view itself then only has to read its input and raise."""
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_view(*args, **kwargs):
            try:
                return await view(*args, **kwargs)
            except BadInput as problem:
                return problem.response()

        return async_view

    @functools.wraps(view)
    def sync_view(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except BadInput as problem:
            return problem.response()

    return sync_view


class QueryParams:
    """Typed, range-checked access to a query string that holds only the ``known`` names.

    A blank value counts as absent, so ``?delay=`` means the default, as in an HTML form.
    """

    def __init__(self, query: QueryDict, known: Iterable[str] = ()) -> None:
        known = tuple(known)
        for name in query:
            if name not in known:
                takes = f"takes: {', '.join(sorted(known))}" if known else "takes none"
                raise bad_parameter(name[:SHOWN], f"unknown parameter (this endpoint {takes})")
            if len(query.getlist(name)) > 1:
                raise bad_parameter(name, "given more than once")
        self._query = query

    def _raw(self, name: str) -> str | None:
        value = self._query.get(name, "").strip()
        return value or None

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise bad_parameter(name, f"must be a number, got {raw[:SHOWN]!r}") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise bad_parameter(name, f"must be between {low:g} and {high:g}, got {raw[:SHOWN]}")
        return value

    def integer(self, name: str, default: int | None, *, low: int, high: int) -> int | None:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:  # also a number too long for int() to parse
            raise bad_parameter(name, f"must be a whole number, got {raw[:SHOWN]!r}") from None
        if not low <= value <= high:
            raise bad_parameter(name, f"must be between {low} and {high}, got {raw[:SHOWN]}")
        return value

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        choices = tuple(choices)
        raw = self._raw(name)
        if raw is None:
            return default
        if raw not in choices:
            raise bad_parameter(name, f"must be one of {', '.join(choices)}; got {raw[:SHOWN]!r}")
        return raw

    def text(self, name: str, default: str | None, *, max_length: int) -> str | None:
        """Free text, printable only (no control characters, no lone surrogates)."""
        raw = self._raw(name)
        if raw is None:
            return default
        if len(raw) > max_length:
            raise bad_parameter(name, f"at most {max_length} characters, got {len(raw)}")
        if not raw.isprintable():
            raise bad_parameter(name, "may not contain control characters")
        return raw

    def label(self, name: str, default: str, *, max_length: int = 64) -> str:
        """A short name such as a call's: letters, digits, '.', '_' and '-' only."""
        raw = self._raw(name)
        if raw is None:
            return default
        if len(raw) > max_length:
            raise bad_parameter(name, f"at most {max_length} characters")
        if not LABEL.fullmatch(raw):
            raise bad_parameter(name, f"may only contain letters, digits, '.', '_' and '-'; got {raw[:SHOWN]!r}")
        return raw


def json_object(request: HttpRequest, fields: Collection[str]) -> dict:
    """The body as a JSON object with no keys beyond ``fields``; an empty body counts as ``{}``,
    so a view's own checks name the field that is missing."""
    try:
        raw = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise BadInput("body", f"too large (the limit is {limit} bytes)") from None
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError covers bad JSON and bad UTF-8; absurd nesting
        raise BadInput("body", "not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInput("body", f"must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise BadInput(unknown[0][:SHOWN], f"unknown field; expected one of {', '.join(sorted(fields))}")
    return data
