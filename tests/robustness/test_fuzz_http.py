"""Every HTTP endpoint of lab_project, fuzzed: whatever the method, query string, body or
headers, the answer is a 4xx with a message (or a success), never a 5xx and never a hang.

Endpoints are found by walking the URL resolver, so a new chapter's views are fuzzed without
anyone remembering to add them here.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from django.test import AsyncClient
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SAMPLE_ARGUMENTS = {"int": "1", "str": "lobby", "slug": "lobby", "path": "lobby", "uuid": "00000000-0000-0000-0000-000000000000"}


def concrete_paths(patterns=None, prefix: str = "") -> list[str]:
    """One concrete path per URL pattern, route converters filled with plausible values."""
    paths = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths += concrete_paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            full = prefix + route
            full = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_ARGUMENTS.get(m.group(1) or "str", "1"), full)
            if not full.startswith("^"):
                paths.append("/" + full)
    return sorted(set(paths))


PATHS = concrete_paths()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]
text = st.text(max_size=40)
query = st.lists(st.tuples(text, st.one_of(text, st.integers().map(str), st.floats().map(str))), max_size=5)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
body = st.one_of(
    st.binary(max_size=300),
    json_like.map(lambda v: __import__("json").dumps(v).encode()),
    st.just(b"{"),
    st.just(b'{"text": "' + b"x" * 20000 + b'"}'),
)
content_type = st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "x/y;;"]
)


# 502/504 from the chapter-4 gateway views and 503 from the cache views when Redis is down are
# answers, not crashes; a 500 never is.
DELIBERATE_GATEWAY_ERRORS = {502, 503, 504}


def deliberate_mistake(path: str) -> type[Exception] | None:
    """The exception a chapter-11 view raises on purpose (its lesson), if it is one of those."""
    return getattr(resolve(path).func, "deliberate_mistake", None)


def test_the_resolver_walk_finds_the_endpoints():
    assert "/hello/" in PATHS
    assert "/health/" in PATHS


def message_of(response) -> str:
    if response.streaming:
        return "stream"
    if not response.content:  # HEAD, 204, ...
        return ""
    if response.get("Content-Type", "").startswith("application/json"):
        return str(response.json())
    return response.content.decode(errors="replace")


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS), params=query, payload=body, ctype=content_type)
async def test_no_input_makes_an_endpoint_fail(path, method, params, payload, ctype):
    # Django's test client raises the view's exception instead of rendering a 500, so a crash
    # shows here with its traceback. It skips CSRF checks, so bodies reach the views.
    client = AsyncClient(raise_request_exception=True)
    mistake = deliberate_mistake(path)
    async with asyncio.timeout(15):
        try:
            response = await client.generic(method, path, data=payload, content_type=ctype, QUERY_STRING=str(httpx.QueryParams(params)))
        except Exception as error:
            if mistake and isinstance(error, mistake):
                return  # the lesson of that view, not a crash
            raise
    if response.status_code in DELIBERATE_GATEWAY_ERRORS:
        # A gateway view whose upstream is unreachable (the test client's "testserver" has no
        # port to call back) says so on purpose: allowed, as long as it explains itself.
        assert "error" in response.json(), (method, path, message_of(response)[:300])
    else:
        assert response.status_code < 500, (method, path, params, message_of(response)[:300])
    if 400 <= response.status_code < 500 and response.status_code not in (403, 404, 405) and method != "HEAD":
        assert message_of(response).strip(), f"{method} {path} answered {response.status_code} without a message"


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Content-Type": "application/json; charset=nonsense"},
        {"Cookie": "sessionid=" + "x" * 4000},
        {"Accept-Encoding": "gzip;q=abc"},
        {"X-Forwarded-For": "not-an-ip"},
    ],
)
async def test_odd_headers_never_crash_the_real_server(lab_server, headers):
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as client:
        for path in PATHS:
            async with client.stream("GET", path.lstrip("/"), headers=headers) as response:
                if deliberate_mistake(path) and response.status_code == 500:
                    continue
                if response.status_code in DELIBERATE_GATEWAY_ERRORS:
                    # Chapter 4's gateway views call the lab's slow upstream with timeouts; on a
                    # loaded machine the upstream can be late, and a 502/504 that says so is the
                    # designed answer (as in the test above), not a crash.
                    await response.aread()
                    assert "error" in response.json(), (path, headers, response.status_code, response.text[:300])
                    continue
                assert response.status_code < 500, (path, headers, response.status_code)


MALFORMED_REQUESTS = {
    "garbage request line": b"HELLO THERE\r\n\r\n",
    "header without colon": b"GET /hello/ HTTP/1.1\r\nHost: 127.0.0.1\r\nnonsense\r\n\r\n",
    "body shorter than its length": b"POST /hello/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc",
    "huge declared length": b"POST /hello/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n",
    "bad chunked body": b"POST /hello/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "http/0.9": b"GET /hello/\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED_REQUESTS.values(), ids=MALFORMED_REQUESTS.keys())
async def test_malformed_http_gets_a_4xx_or_a_closed_connection_never_a_hang(lab_server, raw):
    reader, writer = await asyncio.open_connection("127.0.0.1", lab_server.port)
    try:
        writer.write(raw)
        await writer.drain()
        writer.write_eof()  # the client has nothing more to say
        async with asyncio.timeout(5):
            answer = await reader.read(200)
    finally:
        writer.close()
    if answer:  # an empty answer means the server closed the connection: also fine
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer
    async with httpx.AsyncClient() as client:
        assert (await client.get(lab_server.url + "health/")).status_code == 200
