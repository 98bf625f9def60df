"""Chapter 1: async function views and async class-based views, each answering JSON.

Every view ``await``s ``asyncio.sleep`` for a ``delay`` the caller chooses: that await is
where the event loop is free to serve other requests, which is what the chapter measures.
"""

import asyncio
import threading

from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from lab_project.params import BadInput, QueryParams, answers_bad_input, bad_parameter, json_object

MAX_DELAY = 5.0  # seconds; longer would only make a typo look like a hang
MAX_NUMBERS = 100


@require_GET
@answers_bad_input
async def pause(request):
    """An ``async def`` function view: await a pause, then answer JSON."""
    delay = QueryParams(request.GET, ["delay"]).number("delay", 0.2, low=0, high=MAX_DELAY)
    await asyncio.sleep(delay)
    # An async view runs on the event loop's own thread (in a notebook: the kernel's).
    return JsonResponse({"view": "function", "slept": delay, "thread": threading.current_thread().name})


# This view computes and stores nothing, so a forged cross-site POST could do no harm; without
# the exemption every notebook call would first have to fetch a CSRF token.
@method_decorator(csrf_exempt, name="dispatch")
class Sum(View):
    """A class-based view whose HTTP handlers are all ``async def``.

    ``parse_numbers`` stays a plain method: Django only requires the *HTTP handlers* (get,
    post, put, ...) to agree on sync or async.
    """

    # No HEAD: a sum has no headers worth asking for, and a HEAD answer could not carry the
    # error message a bad query deserves.
    http_method_names = ["get", "post", "options"]

    @answers_bad_input
    async def get(self, request):
        params = QueryParams(request.GET, ["numbers", "delay"])
        numbers = self.parse_numbers(params.text("numbers", "", max_length=2000))
        delay = params.number("delay", 0.0, low=0, high=MAX_DELAY)
        await asyncio.sleep(delay)
        return self.answer("get", numbers)

    @answers_bad_input
    async def post(self, request):
        payload = json_object(request, ["numbers", "delay"])
        numbers = self.check_numbers(payload.get("numbers"))
        delay = finite_number(payload.get("delay", 0.0), "delay", low=0, high=MAX_DELAY)
        await asyncio.sleep(delay)
        return self.answer("post", numbers)

    def parse_numbers(self, raw: str) -> list[float]:
        """``"1,2,3"`` from the query string as numbers."""
        try:
            numbers = [float(part) for part in raw.split(",")] if raw else []
        except ValueError:
            raise bad_parameter("numbers", f"must be numbers separated by commas, got {raw[:40]!r}") from None
        return self.check_numbers(numbers, where="parameter")

    def check_numbers(self, numbers: object, where: str = "field") -> list[float]:
        if not isinstance(numbers, list) or not numbers:
            example = "1,2,3" if where == "parameter" else "[1, 2, 3]"
            raise BadInput("numbers", f"must be a non-empty list of numbers, for example {example}", where=where)
        if len(numbers) > MAX_NUMBERS:
            raise BadInput("numbers", f"at most {MAX_NUMBERS} numbers, got {len(numbers)}", where=where)
        return [finite_number(n, "numbers", low=-1e12, high=1e12, where=where) for n in numbers]

    def answer(self, handler: str, numbers: list[float]) -> JsonResponse:
        return JsonResponse({"view": "class", "handler": handler, "count": len(numbers), "sum": sum(numbers)})


def finite_number(value: object, name: str, *, low: float, high: float, where: str = "field") -> float:
    """A number (not a bool) within ``low``..``high``, else ``BadInput`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(name, f"must be a number, got {type(value).__name__}", where=where)
    if not low <= value <= high:  # also refuses nan, inf and integers too large for a float
        raise BadInput(name, f"must be between {low:g} and {high:g}", where=where)
    return value
