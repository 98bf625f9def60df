"""Chapter 4: views that call the slow upstream — results, timelines, clean failures, no SSRF,
and one shared client per event loop."""

from __future__ import annotations

import asyncio
import socket

import pytest
from django.test import AsyncClient

from helpers.server import LabServer, load_app
from lab_project.http_clients.client import shared_client, shared_client_is_open
from lab_project.http_clients.target import loopback_base
from lab_project.params import BadInput

FAN_OUT = ["sequential", "gather", "taskgroup"]


async def test_fetch_returns_the_upstreams_answer_and_its_timing(http):
    response = await http.get("http/fetch/", params={"latency_ms": 20, "name": "one"})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "fetch" and body["n"] == 1 and body["client"] == "shared"
    assert body["upstream"]["name"] == "one" and body["upstream"]["delay_ms"] == 20
    [call] = body["calls"]
    assert call["name"] == "one" and call["outcome"] == "ok"
    assert 0 <= call["start"] < call["end"] <= body["elapsed_s"]


@pytest.mark.parametrize("mode", FAN_OUT)
async def test_fan_out_views_make_n_named_calls(http, mode):
    response = await http.get(f"http/{mode}/", params={"n": 4, "latency_ms": 30})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == mode and body["n"] == 4
    assert [c["name"] for c in body["calls"]] == ["call-1", "call-2", "call-3", "call-4"]
    assert all(c["outcome"] == "ok" and c["delay_ms"] == 30 for c in body["calls"])


async def test_sequential_calls_do_not_overlap(http):
    calls = (await http.get("http/sequential/", params={"n": 4, "latency_ms": 30})).json()["calls"]
    for before, after in zip(calls, calls[1:]):
        assert after["start"] >= before["end"]


@pytest.mark.parametrize("mode", ["gather", "taskgroup"])
async def test_concurrent_calls_all_start_before_any_ends(http, mode):
    calls = (await http.get(f"http/{mode}/", params={"n": 8, "latency_ms": 150})).json()["calls"]
    assert max(c["start"] for c in calls) < min(c["end"] for c in calls)


FAILURES = [
    ({"status": 503}, 502, "status", "the upstream answered 503 Service Unavailable"),
    ({"status": 500}, 502, "status", "the upstream answered 500 Internal Server Error"),
    ({"status": 404}, 502, "status", "the upstream answered 404 Not Found"),
    ({"fail_rate": 1}, 502, "status", "the upstream answered 503"),
    ({"fault": "invalid_json"}, 502, "invalid_json", "not a JSON object"),
    ({"fault": "hang", "timeout": 0.2}, 504, "timeout", "did not answer within 0.2 s"),
]


@pytest.mark.parametrize(("params", "status", "kind", "message"), FAILURES, ids=[str(f[0]) for f in FAILURES])
async def test_upstream_failures_become_clean_json_errors(http, params, status, kind, message):
    response = await http.get("http/fetch/", params={"latency_ms": 0} | params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["kind"] == kind and message in body["error"]
    assert body["failed"] == ["call"] and body["calls"][0]["outcome"] == "failed"


async def test_a_refused_connection_is_a_502(http):
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        response = await http.get("http/fetch/", params={"upstream": f"http://127.0.0.1:{port}/"})
    assert response.status_code == 502
    assert response.json()["kind"] == "connect"
    assert f"could not connect to http://127.0.0.1:{port}" in response.json()["error"]


async def test_the_django_test_client_without_a_server_gets_a_502_not_a_500():
    # Its scope names 127.0.0.1:80, where nothing listens: a connect error, handled.
    response = await AsyncClient().get("/http/fetch/", {"latency_ms": 0, "timeout": 2})
    assert response.status_code in (502, 504)
    assert response.json()["kind"] in ("connect", "timeout")


async def test_gather_waits_for_all_and_reports_the_failures(http):
    body = (await http.get("http/gather/", params={"n": 10, "latency_ms": 100, "fail_rate": 0.1, "seed": 12})).json()
    assert body["failed"] == ["call-6"] and body["kind"] == "status"
    assert [c["outcome"] for c in body["calls"]].count("ok") == 9
    assert "cancelled" not in body


async def test_taskgroup_cancels_the_other_calls_on_the_first_failure(http):
    response = await http.get("http/taskgroup/", params={"n": 10, "latency_ms": 300, "fail_rate": 0.1, "seed": 12})
    body = response.json()
    assert response.status_code == 502
    assert body["failed"] == ["call-6"] and body["cancelled"] == 9
    assert {c["name"]: c["outcome"] for c in body["calls"]} == {
        f"call-{i}": "failed" if i == 6 else "cancelled" for i in range(1, 11)
    }
    assert body["elapsed_s"] < 0.3  # it did not wait out the others' latency


async def test_sequential_stops_at_the_first_failure(http):
    body = (await http.get("http/sequential/", params={"n": 10, "latency_ms": 0, "fail_rate": 0.1, "seed": 12})).json()
    assert [c["name"] for c in body["calls"]] == [f"call-{i}" for i in range(1, 7)]
    assert body["failed"] == ["call-6"]


async def test_many_failures_are_counted_in_the_message(http):
    response = await http.get("http/gather/", params={"n": 5, "fail_rate": 1})
    assert response.status_code == 502
    assert response.json()["error"].startswith("5 of 5 upstream calls failed; first: call-1: ")
    assert response.json()["failed"] == [f"call-{i}" for i in range(1, 6)]


async def test_a_loopback_upstream_parameter_is_used(http, lab_server):
    response = await http.get("http/fetch/", params={"latency_ms": 0, "upstream": lab_server.url})
    assert response.status_code == 200


BAD = [
    ("http/gather/", {"n": 0}, "n", "between 1 and 50"),
    ("http/gather/", {"n": 51}, "n", "between 1 and 50"),
    ("http/sequential/", {"n": "ten"}, "n", "whole number"),
    ("http/fetch/", {"n": 2}, "n", "unknown parameter"),
    ("http/fetch/", {"timeout": 0}, "timeout", "between 0.01 and 60"),
    ("http/fetch/", {"timeout": "soon"}, "timeout", "a number"),
    ("http/taskgroup/", {"client": "pooled"}, "client", "one of shared, per_call"),
    ("http/fetch/", {"latency_ms": -5}, "latency_ms", "between 0 and 10000"),
    ("http/gather/", {"fault": "boom"}, "fault", "one of"),
    ("http/gather/", {"latncy_ms": 1}, "latncy_ms", "unknown parameter"),
]


@pytest.mark.parametrize(("path", "params", "parameter", "message"), BAD, ids=[f"{b[0]}{b[1]}" for b in BAD])
async def test_bad_parameters_are_refused_before_any_call(http, path, params, parameter, message):
    response = await http.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter and message in response.json()["error"]


NOT_LOOPBACK = [
    "http://example.com/",
    "http://10.0.0.1:8000/",
    "http://169.254.169.254/",  # cloud metadata service
    "http://0.0.0.0:8000/",
    "http://127.0.0.1@example.com/",
    "http://user:pw@127.0.0.1/",
    "http://localhost:8000/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://[::1%25lo]/",
    "https://127.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http://127.0.0.1:8000/admin/",
    "http://127.0.0.1:99999/",
    "127.0.0.1:8000",
]


@pytest.mark.parametrize("target", NOT_LOOPBACK)
async def test_the_views_are_not_an_open_proxy(http, target):
    response = await http.get("http/fetch/", params={"upstream": target})
    assert response.status_code == 400
    assert response.json()["parameter"] == "upstream"


@pytest.mark.parametrize(
    ("value", "base"),
    [("http://127.0.0.1:8000", "http://127.0.0.1:8000/"), ("http://127.0.0.5:81/", "http://127.0.0.5:81/"),
     ("http://[::1]:9000/", "http://[::1]:9000/"), ("http://127.0.0.1/", "http://127.0.0.1:80/")],
)
def test_loopback_bases_are_rebuilt_from_their_checked_parts(value, base):
    assert loopback_base(value) == base


def test_a_refused_base_names_the_host():
    with pytest.raises(BadInput, match="only loopback IP addresses.*'example.com'"):
        loopback_base("http://example.com/")


@pytest.mark.parametrize("path", ["/http/fetch/", "/http/gather/"])
async def test_other_methods_are_refused_with_json(path):
    response = await AsyncClient().post(path)  # the test client skips the CSRF check
    assert response.status_code == 405
    assert "use GET" in response.json()["error"]


async def test_the_shared_client_reuses_one_connection(http):
    shared = (await http.get("http/sequential/", params={"n": 5, "latency_ms": 0})).json()
    per_call = (await http.get("http/sequential/", params={"n": 5, "latency_ms": 0, "client": "per_call"})).json()
    assert shared["client"] == "shared" and shared["connections"] == 1
    assert per_call["client"] == "per_call" and per_call["connections"] > 1


async def test_one_client_per_event_loop():
    here = shared_client()
    assert shared_client() is here

    def other_loops_client():
        async def get():
            client = shared_client()
            await client.aclose()
            return client

        return asyncio.run(get())

    assert await asyncio.to_thread(other_loops_client) is not here


async def test_lifespan_shutdown_closes_the_client_and_the_next_call_opens_a_new_one(http):
    assert (await http.get("http/fetch/", params={"latency_ms": 0})).status_code == 200
    assert shared_client_is_open()
    other = await LabServer(load_app()).start()
    await other.stop()  # its lifespan shutdown closes this loop's shared client
    assert not shared_client_is_open()
    assert (await http.get("http/fetch/", params={"latency_ms": 0})).status_code == 200
    assert shared_client_is_open()
