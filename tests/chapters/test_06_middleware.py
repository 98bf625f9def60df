"""Chapter 6: the three middlewares, the stacks built from them, Django's adaptation log,
and the thread hops each stack costs per request."""

from __future__ import annotations

import logging
from inspect import iscoroutinefunction

import httpx
import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import AsyncClient

import helpers as lab
from helpers.chapters import ch06_middleware as ch06
from lab_project.middleware.middleware import AsyncOnlyMiddleware, SyncOnlyMiddleware, dual_mode_middleware
from lab_project.middleware.stacks import (
    ASYNC_ONLY,
    DUAL,
    SYNC_ONLY,
    async_stack,
    build_stack,
    captured_log,
    mixed_stack,
)

SYNC_ADAPTED = "Asynchronous handler adapted for middleware lab_project.middleware.middleware.SyncOnlyMiddleware."
ASYNC_ADAPTED = "Synchronous handler adapted for middleware lab_project.middleware.middleware.AsyncOnlyMiddleware."


def in_process(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=handler), base_url="http://127.0.0.1")


def route(body: dict) -> list[tuple[str, str, str]]:
    return [(v["middleware"], v["mode"], v["thread"]) for v in body["middleware"]]


# -- the middlewares themselves ------------------------------------------------------------


def test_declared_capabilities():
    assert (AsyncOnlyMiddleware.sync_capable, AsyncOnlyMiddleware.async_capable) == (False, True)
    assert (dual_mode_middleware.sync_capable, dual_mode_middleware.async_capable) == (True, True)
    assert (SyncOnlyMiddleware.sync_capable, SyncOnlyMiddleware.async_capable) == (True, False)


async def _async_view(request):
    return HttpResponse("ok")


def _sync_view(request):
    return HttpResponse("ok")


def test_the_async_only_instance_is_marked_as_a_coroutine_function():
    assert iscoroutinefunction(AsyncOnlyMiddleware(_async_view))


def test_the_dual_middleware_takes_the_mode_of_its_get_response():
    assert iscoroutinefunction(dual_mode_middleware(_async_view))
    assert not iscoroutinefunction(dual_mode_middleware(_sync_view))


# -- building stacks and reading Django's log ----------------------------------------------


def test_stacks_extend_the_lab_setting():
    assert async_stack() == [*settings.MIDDLEWARE, ASYNC_ONLY, DUAL]
    assert mixed_stack() == [*settings.MIDDLEWARE, ASYNC_ONLY, DUAL, SYNC_ONLY]
    assert mixed_stack(django=False) == [ASYNC_ONLY, DUAL, SYNC_ONLY]


def test_an_async_stack_needs_no_adaptation():
    assert build_stack(async_stack()).adaptation_log == []
    assert build_stack(settings.MIDDLEWARE).adaptation_log == []


def test_a_sync_only_middleware_is_adapted_on_both_sides():
    assert build_stack(mixed_stack()).adaptation_log == [SYNC_ADAPTED, ASYNC_ADAPTED]


def test_a_sync_only_middleware_next_to_the_view_only_adapts_the_view():
    assert build_stack([DUAL, SYNC_ONLY]).adaptation_log == [SYNC_ADAPTED]


def test_django_logs_adaptations_only_with_debug():
    assert build_stack(mixed_stack(), debug=False).adaptation_log == []


def test_building_a_stack_leaves_settings_and_logging_as_they_were():
    logger = logging.getLogger("django.request")
    before = (logger.handlers[:], logger.level, logger.propagate, settings.DEBUG, list(settings.MIDDLEWARE))
    build_stack(mixed_stack())
    assert (logger.handlers, logger.level, logger.propagate, settings.DEBUG, list(settings.MIDDLEWARE)) == before


def test_captured_log_collects_without_printing(capsys):
    with captured_log("lab.test-capture") as lines:
        logging.getLogger("lab.test-capture").debug("seen %s", 1)
    logging.getLogger("lab.test-capture").debug("after")
    assert lines == ["seen 1"]
    assert capsys.readouterr().err == ""


def test_a_middleware_with_neither_mode_is_refused_by_django():
    with pytest.raises(RuntimeError, match="must have at least one of sync_capable/async_capable"):
        build_stack([f"{__name__}.NeitherMiddleware"])


class NeitherMiddleware:
    sync_capable = False
    async_capable = False


# -- what each middleware sees per request -------------------------------------------------


async def test_in_the_async_stack_everything_runs_on_the_event_loop():
    async with in_process(build_stack(async_stack()).handler) as client:
        response = await client.get("/middleware/trace/")
    assert response.status_code == 200
    assert response.headers["x-lab-dual-mode"] == "async"
    assert response.headers["x-lab-async-only"] == "event loop"
    assert "x-lab-sync-only" not in response.headers
    assert route(response.json()) == [("async_only", "async", "event loop"), ("dual", "async", "event loop")]
    assert response.json()["view"] == {"mode": "async", "thread": "event loop"}


async def test_in_the_mixed_stack_the_dual_middleware_turns_sync_on_a_worker_thread():
    async with in_process(build_stack(mixed_stack()).handler) as client:
        responses = [await client.get("/middleware/trace/") for _ in range(3)]
    for response in responses:  # every request, not only the first
        assert response.headers["x-lab-dual-mode"] == "sync"
        assert response.headers["x-lab-sync-only"] == "worker"
        assert route(response.json()) == [
            ("async_only", "async", "event loop"), ("dual", "sync", "worker"), ("sync_only", "sync", "worker"),
        ]
        assert response.json()["view"] == {"mode": "async", "thread": "event loop"}


async def test_a_built_stack_serves_under_its_own_lab_server():
    built = build_stack(mixed_stack())
    async with lab.LabServer(built.app) as server, httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("middleware/ping/")
    assert response.json() == {"ok": True}
    assert response.headers["x-lab-dual-mode"] == "sync"


async def test_the_lab_default_stack_has_none_of_the_lab_middlewares(http):
    response = await http.get("middleware/trace/")
    assert response.json() == {"middleware": [], "view": {"mode": "async", "thread": "event loop"}}
    assert "x-lab-dual-mode" not in response.headers


@pytest.mark.parametrize("path", ["/middleware/ping/", "/middleware/trace/"])
async def test_the_views_take_no_parameters(path):
    response = await AsyncClient().get(path, {"verbose": "1"})
    assert response.status_code == 400
    assert response.json() == {"error": "verbose: unknown parameter (this endpoint takes none)", "parameter": "verbose"}


async def test_ping_answers():
    response = await AsyncClient().get("/middleware/ping/")
    assert response.status_code == 200 and response.json() == {"ok": True}


# -- thread hops ---------------------------------------------------------------------------


async def test_thread_hops_per_request():
    stacks = {"plain": async_stack(django=False), "mixed": mixed_stack(django=False), "django": async_stack()}
    timing = await ch06.time_handlers(
        {name: build_stack(middleware).handler for name, middleware in stacks.items()},
        "/middleware/ping/", requests=20, warmup=2,
    )
    assert {name: t.thread_hops for name, t in timing.items()} == {"plain": 0, "mixed": 1, "django": 12}
    assert all(len(t.seconds) == 20 and t.lower_quartile <= t.median for t in timing.values())


async def test_time_handlers_reports_a_refused_request():
    handler = build_stack(async_stack()).handler
    with pytest.raises(RuntimeError, match="answered 404"):
        await ch06.time_handlers({"x": handler}, "/no/such/page/", requests=1, warmup=0)


# -- the same modes as function middleware, flagged with Django's decorators ---------------------

from lab_project.middleware.middleware import async_only_function_middleware, sync_only_function_middleware  # noqa: E402
from lab_project.middleware.stacks import ASYNC_ONLY_FN, SYNC_ONLY_FN  # noqa: E402


def test_the_decorators_set_the_same_flags_as_the_class_attributes():
    assert (async_only_function_middleware.sync_capable, async_only_function_middleware.async_capable) == (False, True)
    assert (sync_only_function_middleware.sync_capable, sync_only_function_middleware.async_capable) == (True, False)
    assert iscoroutinefunction(async_only_function_middleware(_async_view))  # no markcoroutinefunction needed
    assert not iscoroutinefunction(sync_only_function_middleware(_sync_view))


async def test_function_middleware_is_adapted_like_the_class_versions():
    built = build_stack([ASYNC_ONLY_FN, DUAL, SYNC_ONLY_FN])
    assert built.adaptation_log == [
        "Asynchronous handler adapted for middleware lab_project.middleware.middleware.sync_only_function_middleware.",
        "Synchronous handler adapted for middleware lab_project.middleware.middleware.async_only_function_middleware.",
    ]
    async with in_process(built.handler) as client:
        body = (await client.get("/middleware/trace/")).json()
    assert route(body) == [("async_only_fn", "async", "event loop"), ("dual", "sync", "worker"), ("sync_only_fn", "sync", "worker")]


async def test_an_all_async_function_stack_needs_no_adaptation():
    built = build_stack([ASYNC_ONLY_FN, DUAL])
    assert built.adaptation_log == []
    async with in_process(built.handler) as client:
        response = await client.get("/middleware/trace/")
    assert route(response.json()) == [("async_only_fn", "async", "event loop"), ("dual", "async", "event loop")]
    assert response.headers["x-lab-async-only-fn"] == "event loop"
