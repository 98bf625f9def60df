"""The slow upstream: every parameter does what it says, and every bad one is a 400 naming it."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import pytest
from django.http import QueryDict
from django.test import AsyncClient
from hypothesis import given
from hypothesis import strategies as st

from lab_project.slow_upstream.behaviour import PARAMETERS, Behaviour
from lab_project.params import BadInput

URL = "/upstream/data/"


async def get(params: dict | str = ""):
    query = params if isinstance(params, str) else urlencode(params)
    return await AsyncClient().get(f"{URL}?{query}" if query else URL)


async def test_defaults_answer_json_that_says_what_was_done():
    started = time.monotonic()
    response = await get()
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "name", "latency_ms", "jitter_ms", "seed", "fail_rate", "fault", "delay_ms",
        "client_port", "status", "started", "ended",
    }
    assert body | {"started": 0, "ended": 0, "client_port": 0} == {
        "name": "call", "latency_ms": 100, "jitter_ms": 0, "seed": None, "fail_rate": 0.0,
        "fault": "none", "delay_ms": 100.0, "status": 200, "started": 0, "ended": 0, "client_port": 0,
    }
    # The server's monotonic clock: the same clock as this process's, since the test client is in-process.
    assert started <= body["started"] <= body["ended"] - 0.1


async def test_latency_is_waited():
    started = time.perf_counter()
    body = (await get({"latency_ms": 60, "name": "slow"})).json()
    assert time.perf_counter() - started >= 0.06
    assert body["name"] == "slow" and body["delay_ms"] == 60


async def test_seeded_jitter_is_repeatable_and_depends_on_the_name():
    params = {"latency_ms": 10, "jitter_ms": 40, "seed": 7}
    first = (await get(params | {"name": "a"})).json()["delay_ms"]
    again = (await get(params | {"name": "a"})).json()["delay_ms"]
    other = (await get(params | {"name": "b"})).json()["delay_ms"]
    assert first == again != other
    assert all(10 <= d <= 50 for d in (first, other))


def test_plan_without_a_seed_still_stays_in_range():
    delays = {Behaviour(latency_ms=5, jitter_ms=10).plan().delay_ms for _ in range(50)}
    assert len(delays) > 1 and all(5 <= d <= 15 for d in delays)


@pytest.mark.parametrize("status", [200, 201, 404, 418, 500, 503])
async def test_status_is_answered_with_a_json_body(status):
    response = await get({"status": status, "latency_ms": 0})
    assert response.status_code == status
    assert response.json()["status"] == status


async def test_fail_rate_one_fails_at_once_with_503():
    started = time.perf_counter()
    response = await get({"fail_rate": 1, "latency_ms": 5000})
    assert time.perf_counter() - started < 2  # not after the 5 s latency
    assert response.status_code == 503
    assert response.json()["error"] == "simulated failure (fail_rate=1)"
    assert response.json()["delay_ms"] == 0


async def test_seeded_failures_are_repeatable():
    names = [f"call-{i}" for i in range(1, 11)]
    failing = [n for n in names if Behaviour(name=n, seed=12, fail_rate=0.1).plan().fails]
    assert failing == ["call-6"]
    statuses = [(await get({"name": n, "seed": 12, "fail_rate": 0.1, "latency_ms": 0})).status_code for n in names]
    assert statuses == [503 if n == "call-6" else 200 for n in names]


async def test_invalid_json_fault_is_cut_off_json():
    response = await get({"fault": "invalid_json", "latency_ms": 0})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


async def test_a_hanging_call_outlives_a_client_timeout_and_the_server_carries_on(lab_server):
    async with httpx.AsyncClient(base_url=lab_server.url) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(URL, params={"fault": "hang"}, timeout=0.2)
        assert (await client.get(URL, params={"latency_ms": 0})).status_code == 200


async def test_client_port_names_the_connection(lab_server):
    async with httpx.AsyncClient(base_url=lab_server.url) as client:
        ports = {(await client.get(URL, params={"latency_ms": 0})).json()["client_port"] for _ in range(3)}
    assert len(ports) == 1 and next(iter(ports)) > 0  # one kept-alive connection


async def test_other_methods_are_refused_with_json():
    response = await AsyncClient().post(URL)
    assert response.status_code == 405
    assert "use GET" in response.json()["error"]


BAD_QUERIES = [
    ("latency_ms=fast", "latency_ms", "whole number"),
    ("latency_ms=-1", "latency_ms", "between 0 and 10000"),
    ("latency_ms=10001", "latency_ms", "between 0 and 10000"),
    ("latency_ms=1.5", "latency_ms", "whole number"),
    ("jitter_ms=20000", "jitter_ms", "between"),
    ("seed=-3", "seed", "between"),
    ("seed=x", "seed", "whole number"),
    ("status=204", "status", "cannot carry a body"),
    ("status=304", "status", "cannot carry a body"),
    ("status=199", "status", "between 200 and 599"),
    ("status=600", "status", "between 200 and 599"),
    ("fail_rate=2", "fail_rate", "between 0 and 1"),
    ("fail_rate=nan", "fail_rate", "between 0 and 1"),
    ("fail_rate=inf", "fail_rate", "between 0 and 1"),
    ("fail_rate=half", "fail_rate", "a number"),
    ("fault=explode", "fault", "one of none, invalid_json, hang"),
    ("name=a%20b", "name", "may only contain"),
    ("name=" + "x" * 65, "name", "at most 64"),
    ("latncy_ms=200", "latncy_ms", "unknown parameter"),
    ("seed=1&seed=2", "seed", "more than once"),
]


@pytest.mark.parametrize(("query", "parameter", "message"), BAD_QUERIES, ids=[q[0][:30] for q in BAD_QUERIES])
async def test_bad_parameters_are_refused_with_a_message_naming_them(query, parameter, message):
    response = await get(query)
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ") and message in body["error"]


@given(st.dictionaries(st.sampled_from(PARAMETERS + ("other",)), st.text(max_size=12), max_size=4))
def test_any_query_parses_or_is_refused_cleanly(params):
    # Never anything but a Behaviour or a BadInput: no ValueError, OverflowError, ...
    try:
        behaviour = Behaviour.from_query(QueryDict(urlencode(params)))
    except BadInput as error:
        assert str(error).startswith(f"{error.name}: ")
    else:
        assert 0 <= behaviour.latency_ms <= 10_000 and 0 <= behaviour.fail_rate <= 1
