"""Chapter 8: Django's async cache methods on local memory and Redis, and what they really do."""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import threading
import uuid

import pytest
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.test import AsyncClient

from lab_project.bridges.threads import asgiref_shared_thread_name
from lab_project.cache import backends as cache_backends
from lab_project.cache import views as cache_views
from lab_project.cache.backends import LabCaches, lab_caches, recording_threads

BACKENDS = ["locmem", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture
def key() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def send(method: str, path: str, body: dict | bytes | None = None):
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return await AsyncClient().generic(method, path, data, content_type="application/json")


# -- the a-methods through the views, on each backend ------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_set_incr_get_delete(backend, key):
    base = f"/cache/{backend}/items/{key}/"
    assert (await send("PUT", base, {"value": 41, "timeout": 30})).json()["value"] == 41
    assert (await send("POST", base + "incr/", {"delta": 1})).json()["value"] == 42
    assert (await send("POST", base + "incr/", {"delta": -2})).json()["value"] == 40
    assert (await send("GET", base)).json() == {"backend": backend, "key": key, "value": 40}
    assert (await send("DELETE", base)).json()["deleted"] is True
    assert (await send("DELETE", base)).json()["deleted"] is False
    assert (await send("GET", base)).status_code == 404


@pytest.mark.parametrize("backend", BACKENDS)
async def test_values_keep_their_json_shape(backend, key):
    value = {"list": [1, 2.5, None, True], "text": "ü"}
    await send("PUT", f"/cache/{backend}/items/{key}/", {"value": value})
    assert (await send("GET", f"/cache/{backend}/items/{key}/")).json()["value"] == value
    await send("DELETE", f"/cache/{backend}/items/{key}/")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_get_or_set_keeps_the_first_value(backend, key):
    path = f"/cache/{backend}/items/{key}/get-or-set/"
    assert (await send("POST", path, {"default": "first"})).json()["value"] == "first"
    assert (await send("POST", path, {"default": "second"})).json()["value"] == "first"
    await send("DELETE", f"/cache/{backend}/items/{key}/")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_value_expires_after_its_timeout(backend, key):
    await send("PUT", f"/cache/{backend}/items/{key}/", {"value": 1, "timeout": 1})
    await asyncio.sleep(1.2)
    assert (await send("GET", f"/cache/{backend}/items/{key}/")).status_code == 404


@pytest.mark.parametrize("backend", BACKENDS)
async def test_incr_of_a_missing_key_is_404_and_of_text_is_400(backend, key):
    missing = await send("POST", f"/cache/{backend}/items/{key}/incr/", {})
    assert missing.status_code == 404 and "nothing to increment" in missing.json()["error"]
    await send("PUT", f"/cache/{backend}/items/{key}/", {"value": "words"})
    text = await send("POST", f"/cache/{backend}/items/{key}/incr/", {"delta": 1})
    assert text.status_code == 400 and "not an integer" in text.json()["error"]
    await send("DELETE", f"/cache/{backend}/items/{key}/")


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("GET", "/cache/memcached/items/k/", None, 400, "backend"),
        ("GET", "/cache/locmem/items/has%20space/", None, 400, "key"),
        ("GET", f"/cache/locmem/items/{'k' * 101}/", None, 400, "key"),
        ("PUT", "/cache/locmem/items/k/", {}, 400, "value"),
        ("PUT", "/cache/locmem/items/k/", {"value": "x" * 70_000}, 400, "value"),
        ("PUT", "/cache/locmem/items/k/", {"value": 1, "timeout": 0}, 400, "timeout"),
        ("PUT", "/cache/locmem/items/k/", {"value": 1, "timeout": "soon"}, 400, "timeout"),
        ("PUT", "/cache/locmem/items/k/", {"value": 1, "colour": "red"}, 400, "colour"),
        ("PUT", "/cache/locmem/items/k/", b"{not json", 400, "body"),
        ("PUT", "/cache/locmem/items/k/", b"[1]", 400, "body"),
        ("POST", "/cache/locmem/items/k/incr/", {"delta": "one"}, 400, "delta"),
        ("POST", "/cache/locmem/items/k/incr/", {"delta": True}, 400, "delta"),
        ("POST", "/cache/locmem/items/k/incr/", {"delta": 2**60}, 400, "delta"),
        ("POST", "/cache/locmem/items/k/get-or-set/", {"timeout": 5}, 400, "default"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(method, path, body, status, field):
    response = await send(method, path, body)
    assert response.status_code == status
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")


async def test_a_body_beyond_djangos_upload_limit_is_400_not_500():
    response = await send("PUT", "/cache/locmem/items/k/", b"x" * 3_000_000)
    assert response.status_code == 400 and "too large" in response.json()["error"]


async def test_other_methods_are_405_with_allow():
    response = await send("PATCH", "/cache/locmem/items/k/", {"value": 1})
    assert response.status_code == 405 and response["Allow"] == "GET, PUT, DELETE"


async def test_the_backend_list_says_what_is_live():
    answer = (await send("GET", "/cache/")).json()
    assert answer["backends"]["locmem"] is True
    assert answer["project_default"].startswith("django.core.cache.backends.")


def test_without_redis_only_local_memory_is_offered():
    caches = LabCaches(None, "unused")
    assert caches.available() == {"locmem": True, "redis": False}
    with pytest.raises(cache_backends.BackendUnavailable, match="REDIS_URL"):
        caches.get("redis")
    with pytest.raises(cache_backends.UnknownBackend, match="choose one of: locmem, redis"):
        caches.get("memcached")


async def test_redis_not_configured_is_503(monkeypatch):
    monkeypatch.setattr(cache_views, "lab_caches", lambda: LabCaches(None, "unused"))
    response = await send("GET", "/cache/redis/items/k/")
    assert response.status_code == 503 and "Redis is not available" in response.json()["error"]


async def test_redis_that_does_not_answer_is_503_within_seconds(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(cache_views, "lab_caches", lambda: LabCaches(f"redis://127.0.0.1:{port}/0", "unused"))
    started = asyncio.get_running_loop().time()
    response = await send("PUT", "/cache/redis/items/k/", {"value": 1})
    assert response.status_code == 503 and "Redis did not answer" in response.json()["error"]
    assert asyncio.get_running_loop().time() - started < 5


# -- the claim: thread wrappers, not native async I/O ------------------------------------------------


def test_every_async_method_is_basecaches_and_wraps_sync_code():
    a_methods = [name for name, f in vars(BaseCache).items() if inspect.iscoroutinefunction(f)]
    assert {"aget", "aset", "adelete", "aget_or_set", "aincr"} <= set(a_methods)
    for name in a_methods:
        source = inspect.getsource(getattr(BaseCache, name))
        assert "sync_to_async(" in source or "await self.a" in source, name
        assert name not in vars(LocMemCache) and name not in vars(RedisCache), name


@pytest.mark.parametrize("backend", BACKENDS)
async def test_awaited_a_methods_run_the_sync_method_on_asgirefs_thread(backend, key):
    cache = lab_caches().get(backend)
    shared = await asgiref_shared_thread_name()
    with recording_threads() as calls:
        await cache.aset(key, 1, timeout=30)
        assert await cache.aincr(key) == 2
        assert await cache.aget_or_set(key, 5, timeout=30) == 2
        await cache.adelete(key)
    assert [c.method for c in calls] == ["set", "incr", "get", "delete"]
    assert {c.thread for c in calls} == {shared} and shared != threading.current_thread().name


@pytest.mark.parametrize("backend", BACKENDS)
async def test_in_a_request_they_run_on_the_requests_worker_thread(http, backend):
    probe = (await http.get(f"cache/{backend}/threads/")).json()
    ran_on = {c["thread"] for c in probe["sync_calls"]}
    assert [c["method"] for c in probe["sync_calls"]] == ["set", "get", "incr", "get", "add", "get", "delete", "delete"]
    assert len(ran_on) == 1 and probe["view_thread"] not in ran_on


@pytest.mark.parametrize("backend", BACKENDS)
async def test_gathered_a_methods_queue_on_one_thread(backend, key):
    cache = lab_caches().get(backend)
    await cache.aset(key, 1, timeout=30)
    with recording_threads() as calls:
        await asyncio.gather(*(cache.aget(key) for _ in range(20)))
    await cache.adelete(key)
    assert len(calls) == 20 and len({c.thread for c in calls}) == 1


# -- Redis: the shared server is used with care ---------------------------------------------------


@pytest.mark.redis
async def test_redis_keys_carry_the_lab_prefix_and_always_expire(redis_url, key):
    import redis.asyncio as aioredis
    from django.conf import settings

    await send("PUT", f"/cache/redis/items/{key}/", {"value": 7, "timeout": 120})
    await send("POST", f"/cache/redis/items/{key}-default/get-or-set/", {"default": 1})
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = f"{settings.LAB.redis_prefix}:ch08:1:{key}"
        assert await client.get(raw) == b"7"
        assert 0 < await client.ttl(raw) <= 120
        assert 0 < await client.ttl(raw + "-default") <= 60  # the view's default timeout
        await client.delete(raw, raw + "-default")
    finally:
        await client.aclose()


# -- the other eleven a-methods, called ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_remaining_a_methods_behave_alike_on_both_backends(backend, key):
    cache = lab_caches().get(backend)
    a, b, n = f"{key}-a", f"{key}-b", f"{key}-n"
    assert await cache.aadd(a, 1) is True and await cache.aadd(a, 2) is False
    assert await cache.aset_many({b: "bee", n: 10}) == []
    assert await cache.aget_many([a, b, f"{key}-none"]) == {a: 1, b: "bee"}
    assert await cache.ahas_key(b) and not await cache.ahas_key(f"{key}-none")
    assert await cache.atouch(b, 120) and not await cache.atouch(f"{key}-none")
    assert await cache.adecr(n, 3) == 7
    assert await cache.aincr_version(b) == 2
    assert await cache.aget(b) is None and await cache.aget(b, version=2) == "bee"
    assert await cache.adecr_version(b, version=2) == 1 and await cache.aget(b) == "bee"
    assert await cache.adelete_many([a, b, n]) is None
    assert await cache.aget_many([a, b, n]) == {}
    assert await cache.aclose() is None
    await cache.aset(a, "still works")
    assert await cache.aget(a) == "still works"
    await cache.adelete(a)


async def test_aclear_empties_only_its_own_local_memory_store(key):
    scratch = LocMemCache(f"test-aclear-{key}", {})
    neighbour = LocMemCache(f"test-neighbour-{key}", {})
    await scratch.aset_many({"x": 1, "y": 2})
    await neighbour.aset("z", 3)
    await scratch.aclear()
    assert await scratch.aget_many(["x", "y"]) == {} and await neighbour.aget("z") == 3


def test_redis_clear_would_flush_the_whole_database():
    from django.core.cache.backends.redis import RedisCacheClient

    assert "flushdb()" in inspect.getsource(RedisCacheClient.clear)
