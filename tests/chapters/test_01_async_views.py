"""Chapter 1: async function views, async class-based views, and the mixed class Django refuses."""

import asyncio
import inspect
import threading
import time

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient

from lab_project.async_views import refused, views


async def test_function_view_awaits_and_answers_json_on_the_loop_thread():
    response = await AsyncClient().get("/views/pause/", {"delay": "0.01"})
    assert response.status_code == 200
    assert response.json() == {"view": "function", "slept": 0.01, "thread": threading.current_thread().name}


async def test_function_view_default_delay():
    assert (await AsyncClient().get("/views/pause/")).json()["slept"] == 0.2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("delay=abc", "delay: must be a number, got 'abc'"),
        ("delay=-0.1", "delay: must be between 0 and 5, got -0.1"),
        ("delay=5.01", "delay: must be between 0 and 5, got 5.01"),
        ("delay=nan", "delay: must be between 0 and 5, got nan"),
        ("delay=inf", "delay: must be between 0 and 5, got inf"),
        ("delay=1&delay=2", "delay: given more than once"),
        ("dealy=1", "dealy: unknown parameter (this endpoint takes: delay)"),
    ],
)
async def test_function_view_rejects_a_bad_delay_with_a_message(query, message):
    response = await AsyncClient().get("/views/pause/?" + query)
    assert response.status_code == 400
    assert response.json() == {"error": message, "parameter": message.split(":")[0]}


async def test_function_view_only_answers_get():
    assert (await AsyncClient().post("/views/pause/")).status_code == 405


async def test_class_view_get_and_post():
    client = AsyncClient()
    got = await client.get("/views/sum/", {"numbers": "1,2,3.5"})
    assert got.status_code == 200
    assert got.json() == {"view": "class", "handler": "get", "count": 3, "sum": 6.5}
    posted = await client.post("/views/sum/", {"numbers": [1, 2, 3], "delay": 0.01}, content_type="application/json")
    assert posted.status_code == 200
    assert posted.json() == {"view": "class", "handler": "post", "count": 3, "sum": 6}


def test_class_view_is_async_although_a_helper_method_is_sync():
    assert views.Sum.view_is_async
    assert inspect.iscoroutinefunction(views.Sum.as_view())  # marked by as_view()
    assert not inspect.iscoroutinefunction(views.Sum.parse_numbers)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"", "numbers", "numbers: must be a non-empty list"),
        (b"{", "body", "body: not valid JSON"),
        (b"\xff\xfe", "body", "body: not valid JSON"),
        (b"[1, 2]", "body", "body: must be a JSON object, got list"),
        (b"[" * 100_000, "body", "body: not valid JSON"),
        (b"{}", "numbers", "numbers: must be a non-empty list"),
        (b'{"numbers": []}', "numbers", "numbers: must be a non-empty list"),
        (b'{"numbers": "1,2"}', "numbers", "numbers: must be a non-empty list"),
        (b'{"numbers": [1, "2"]}', "numbers", "numbers: must be a number, got str"),
        (b'{"numbers": [true]}', "numbers", "numbers: must be a number, got bool"),
        (b'{"numbers": [1e400]}', "numbers", "numbers: must be between"),
        (b'{"numbers": [' + b"9" * 400 + b"]}", "numbers", "numbers: must be between"),
        (b'{"numbers": [' + b"1," * 100 + b"1]}", "numbers", "numbers: at most 100 numbers, got 101"),
        (b'{"numbers": [1], "delay": -1}', "delay", "delay: must be between 0 and 5"),
        (b'{"numbers": [1], "delay": "0.1"}', "delay", "delay: must be a number, got str"),
        (b'{"numbers": [1], "colour": "red"}', "colour", "colour: unknown field"),
    ],
)
async def test_class_view_post_rejects_a_bad_body_naming_the_field(body, field, message):
    response = await AsyncClient().post("/views/sum/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "numbers: must be a non-empty list"),
        ("numbers=1,x", "numbers: must be numbers separated by commas"),
        ("numbers=1,nan", "numbers: must be between"),
        ("numbers=1&delay=9", "delay: must be between 0 and 5"),
        ("numbers=1&sum=2", "sum: unknown parameter"),
    ],
)
async def test_class_view_get_rejects_bad_parameters(query, message):
    response = await AsyncClient().get("/views/sum/?" + query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert response.json()["parameter"] == message.split(":")[0]


async def test_class_view_refuses_other_methods():
    client = AsyncClient()
    assert (await client.put("/views/sum/")).status_code == 405
    options = await client.options("/views/sum/")
    assert options.status_code == 200
    assert options["Allow"] == "GET, POST, OPTIONS"
    assert (await client.head("/views/sum/")).status_code == 405


@pytest.mark.parametrize("view_class", [refused.MixedHandlers, refused.AsyncRedirect])
def test_a_mixed_class_is_refused_by_as_view(view_class):
    with pytest.raises(ImproperlyConfigured) as raised:
        view_class.as_view()
    assert str(raised.value) == f"{view_class.__qualname__} HTTP handlers must either be all sync or all async."


def test_options_is_left_out_of_the_check():
    # View.options is sync, yet every async view inherits it: Django skips it in the check.
    assert not inspect.iscoroutinefunction(views.Sum.options)
    assert views.Sum.view_is_async


async def test_real_server_answers_both_views(http):
    pause = await http.get("views/pause/", params={"delay": "0"})
    assert pause.json()["view"] == "function"
    posted = await http.post("views/sum/", json={"numbers": [2, 3]})
    assert posted.json()["sum"] == 5
    bad = await http.post("views/sum/", content="{", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["field"] == "body"


async def test_concurrent_calls_overlap_on_the_real_server(lab_server):
    calls, delay = 10, 0.2
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as client:
        await client.get("views/pause/", params={"delay": "0"})  # connection and URLconf warm
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.get("views/pause/", params={"delay": delay}) for _ in range(calls)))
        elapsed = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    # One after another they could not take less than calls × delay = 2 s; overlapped, about 0.2 s.
    assert elapsed >= delay
    assert elapsed < calls * delay / 2, elapsed


# -- view decorators on async views (lab_project/async_views/decorated.py) -----------------

from lab_project.async_views import decorated  # noqa: E402


@pytest.mark.parametrize(
    "view",
    [decorated.cacheable, decorated.private, decorated.versioned, decorated.long_text, decorated.no_slash,
     decorated.with_csp, decorated.form_echo, decorated.stream, decorated.greeter, decorated.Headlines.as_view()],
)
def test_decorated_views_stay_coroutine_functions(view):
    assert inspect.iscoroutinefunction(view)


async def test_cache_and_frame_headers():
    cacheable = await AsyncClient().get("/views/decorated/cacheable/")
    assert (cacheable["Cache-Control"], cacheable["Vary"]) == ("max-age=60, public", "Accept-Language")
    private = await AsyncClient().get("/views/decorated/private/")
    assert private["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert private["X-Frame-Options"] == "DENY" and "Expires" in private


async def test_require_get_and_require_post():
    assert (await AsyncClient().post("/views/decorated/cacheable/")).status_code == 405
    refused_get = await AsyncClient().get("/views/decorated/form/")
    assert (refused_get.status_code, refused_get["Allow"]) == (405, "POST")


async def test_etag_gives_304_for_the_current_version():
    first = await AsyncClient().get("/views/decorated/versioned/")
    assert first["ETag"] == '"chapter-1-v1"'
    again = await AsyncClient().get("/views/decorated/versioned/", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""


async def test_gzip_page_compresses_only_when_accepted():
    zipped = await AsyncClient().get("/views/decorated/long-text/", headers={"Accept-Encoding": "gzip"})
    plain = await AsyncClient().get("/views/decorated/long-text/")
    assert zipped["Content-Encoding"] == "gzip" and not plain.has_header("Content-Encoding")
    import gzip

    assert gzip.decompress(zipped.content) == plain.content


async def test_the_form_stars_out_the_password_and_refuses_other_bodies():
    client = AsyncClient(enforce_csrf_checks=True)  # csrf_exempt: no token needed
    form = await client.post("/views/decorated/form/", "user=ada&password=s3cret", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 200
    assert form.json() == {"fields": ["password", "user"], "marked sensitive": ["password"], "in an error report": {"password": "********************", "user": "ada"}, "password received": True}
    as_json = await client.post("/views/decorated/form/", {"password": "x"}, content_type="application/json")
    assert as_json.status_code == 400 and as_json.json()["header"] == "content-type"


def test_sensitive_variables_files_the_async_view_by_file_and_line():
    from django.views.decorators.debug import coroutine_functions_to_sensitive_variables

    inner = decorated.form_echo
    while hasattr(inner, "__wrapped__"):
        inner = inner.__wrapped__
    key = hash(f"{inspect.getfile(inner)}:{inner.__code__.co_firstlineno}")
    assert coroutine_functions_to_sensitive_variables[key] == ("password",)


async def test_no_append_slash_turns_the_redirect_into_a_404():
    assert (await AsyncClient().get("/views/pause")).status_code == 301
    assert (await AsyncClient().get("/views/decorated/no-slash")).status_code == 404
    assert (await AsyncClient().get("/views/decorated/no-slash/")).status_code == 200


async def test_method_decorator_on_an_async_method():
    response = await AsyncClient().get("/views/decorated/headlines/")
    assert response.status_code == 200 and response["Cache-Control"] == "max-age=30"
    assert "Accept" in response["Vary"]
    assert inspect.iscoroutinefunction(decorated.Headlines.get) and decorated.Headlines.view_is_async


async def test_the_marked_instance_is_awaited_and_an_unmarked_one_would_be_refused():
    from asgiref.sync import sync_to_async

    assert (await AsyncClient().get("/views/decorated/greeter/")).json()["view"] == "Greeter"
    unmarked = decorated.Greeter()
    assert not inspect.iscoroutinefunction(unmarked)
    # What the handler does with a view it takes for sync (django/core/handlers/base.py:250-253).
    with pytest.raises(TypeError, match="sync_to_async can only be applied to sync functions"):
        sync_to_async(unmarked, thread_sensitive=True)


async def test_csp_override_needs_the_csp_middleware():
    from helpers.chapters.ch11_common_mistakes import handler_with_middleware
    import helpers as lab

    assert not (await AsyncClient().get("/views/decorated/csp/")).has_header("Content-Security-Policy")
    handler, _ = handler_with_middleware(first=["django.middleware.csp.ContentSecurityPolicyMiddleware"])
    reply = await lab.call_asgi(handler, "/views/decorated/csp/")
    assert reply.headers["content-security-policy"] == "default-src 'self'; img-src 'self' https://images.example"
    assert "content-security-policy" not in (await lab.call_asgi(handler, "/views/decorated/cacheable/")).headers


@pytest.mark.parametrize("query", ["chunks=0", "chunks=21", "chunks=x", "lines=3"])
async def test_the_stream_refuses_bad_parameters(query):
    response = await AsyncClient().get("/views/decorated/stream/?" + query)
    assert response.status_code == 400 and response.json()["error"]


async def test_gzip_middleware_compresses_the_async_stream_piece_by_piece():
    import gzip
    import zlib

    from helpers.chapters.ch11_common_mistakes import handler_with_middleware
    from helpers.clients import http_scope

    handler, _ = handler_with_middleware(first=["django.middleware.gzip.GZipMiddleware"])
    scope = http_scope("/views/decorated/stream/", query="chunks=3")
    scope["headers"].append((b"accept-encoding", b"gzip"))
    inbox, sent = asyncio.Queue(), []
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    async def send(message):
        sent.append(message)

    await handler(scope, inbox.get, send)
    headers = dict(sent[0]["headers"])
    pieces = [m["body"] for m in sent[1:] if m.get("body")]
    assert headers[b"Content-Encoding"] == b"gzip"
    inflate = zlib.decompressobj(wbits=31)
    assert [len(inflate.decompress(p)) for p in pieces] == [0, 81, 81, 81, 0]
    assert gzip.decompress(b"".join(pieces)).decode().splitlines()[2].startswith("line 3: streamed")
