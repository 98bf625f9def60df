"""Chapter 10: the measured views, and the instruments that measure them (server modes, load
runner, stream readers, process usage, the lab-bench command). Performance itself is measured by
the notebook and lab-bench, never asserted here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.http import QueryDict
from django.test import AsyncClient
from hypothesis import given
from hypothesis import strategies as st

import helpers as lab
from helpers.testing import port_is_free
from helpers import measure
from helpers.chapters import ch10_when_async_helps as ch10
from helpers.clients import call_asgi
from lab_project import raw_asgi
from lab_project.params import BadInput, QueryParams

ROOT = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
async def thread_server():
    server = await lab.start_thread_server()
    yield server
    await server.stop()


# -- views ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_trivial_pair_answers_the_raw_apps_body(kind):
    response = await AsyncClient().get(f"/helps/trivial/{kind}/")
    assert response.status_code == 200
    assert response.content == raw_asgi.TRIVIAL_BODY


async def test_raw_asgi_app_answers_any_path_without_django():
    reply = await call_asgi(raw_asgi.app, "/anything/")
    assert (reply.status, reply.body, reply.headers["content-type"]) == (200, raw_asgi.TRIVIAL_BODY, "application/json")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/helps/io/async/?ms=0", {"waited_ms": 0}),
        ("/helps/io/sync/?ms=5", {"waited_ms": 5}),
        ("/helps/sync-behind/async/?steps=3&ms=1", {"steps": 3, "waited_ms": 3}),
        ("/helps/sync-behind/sync/?steps=3&ms=1", {"steps": 3, "waited_ms": 3}),
        ("/helps/cpu/async/?rounds=10", {"result": sum(i * i % 7 for i in range(10))}),
        ("/helps/cpu/sync/?rounds=10", {"result": sum(i * i % 7 for i in range(10))}),
    ],
)
async def test_json_views(path, expected):
    response = await AsyncClient().get(path)
    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_db_pair_reads_one_row(kind):
    body = (await AsyncClient().get(f"/helps/db/{kind}/")).json()
    assert body["model"] == "user" and body["id"] > 0


async def _body(response) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


async def test_sse_async_streams_numbered_events():
    response = await AsyncClient().get("/helps/sse/async/?events=3&interval_ms=0")
    assert response["Content-Type"] == "text/event-stream"
    assert await _body(response) == 'id: 0\ndata: {"n": 0}\n\nid: 1\ndata: {"n": 1}\n\nid: 2\ndata: {"n": 2}\n\n'


async def test_token_stream_ends_with_done():
    response = await AsyncClient().get("/helps/tokens/async/?tokens=3&delay_ms=0")
    body = await _body(response)
    assert body.count('"token"') == 3
    assert body.endswith("data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/helps/io/async/?ms=abc", "ms"),
        ("/helps/io/sync/?ms=-1", "ms"),
        ("/helps/io/async/?ms=999999", "ms"),
        ("/helps/cpu/async/?rounds=1e9", "rounds"),
        ("/helps/cpu/sync/?rounds=99999999", "rounds"),
        ("/helps/sync-behind/async/?steps=0", "steps"),
        ("/helps/sync-behind/sync/?ms=x", "ms"),
        ("/helps/sse/async/?events=0", "events"),
        ("/helps/sse/sync/?interval_ms=-5", "interval_ms"),
        ("/helps/tokens/async/?tokens=100000", "tokens"),
        ("/helps/tokens/sync/?delay_ms=%F0%9F%98%80", "delay_ms"),
    ],
)
async def test_bad_parameters_are_a_400_naming_the_parameter(path, name):
    response = await AsyncClient().get(path)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{name}: ")


def _query(raw: str | None) -> QueryDict:
    query = QueryDict(mutable=True)
    if raw is not None:
        query["n"] = raw
    return query


@given(st.one_of(st.none(), st.text(max_size=30), st.integers(-10**6, 10**6).map(str)))
def test_integer_param_returns_an_in_range_int_or_names_the_problem(raw):
    try:
        value = QueryParams(_query(raw), ["n"]).integer("n", 7, low=0, high=100)
    except BadInput as error:
        assert str(error).startswith("n: ")
    else:
        assert 0 <= value <= 100
        assert value == 7 or value == int(raw)


# -- server modes ----------------------------------------------------------------------------------
async def test_thread_server_serves_from_its_own_loop_and_frees_its_port():
    server = await lab.start_thread_server()
    assert server.is_running
    async with httpx.AsyncClient() as client:
        clock = (await client.get(server.url + "clock/")).json()
    assert clock["thread"].startswith("lab-thread-server-")
    port = server.port
    await server.stop()
    assert not server.is_running and port_is_free(port)
    await server.stop()  # stopping twice is harmless


async def test_gunicorn_server_is_a_threaded_wsgi_process_and_stops_cleanly():
    server = await lab.start_wsgi(threads=3)
    try:
        async with httpx.AsyncClient() as client:
            answer = await client.get(server.url + "helps/trivial/sync/")
        assert answer.content == raw_asgi.TRIVIAL_BODY
        assert "gunicorn" in answer.headers["server"]
        assert measure.usage(server.pid).threads >= 3  # the arbiter plus a worker with its pool
    finally:
        await server.stop()
    assert not server.is_running and port_is_free(server.port)


async def test_bench_servers_start_and_stop_together():
    servers = await ch10.start_bench_servers(threads=2)
    ports = [servers.asgi.port, servers.wsgi.port, servers.raw.port]
    async with servers:
        async with httpx.AsyncClient() as client:
            for url in (servers.asgi.url, servers.wsgi.url, servers.raw.url):
                assert (await client.get(url + "health/")).status_code == 200
    assert all(port_is_free(port) for port in ports)


# -- load runner -----------------------------------------------------------------------------------
async def test_load_runner_counts_requests_and_latencies(thread_server, tmp_path):
    result = await lab.run_load(thread_server.url + "health/", clients=3, requests=30, label="tiny")
    assert (result.ok, result.errors, result.statuses) == (30, 0, {"200": 30})
    assert result.percentile(50) <= result.percentile(90) <= result.percentile(99)
    assert result.throughput_rps > 0
    saved = json.loads(result.save(tmp_path / "tiny.json").read_text())
    assert saved["requests_ok"] == 30 and saved["label"] == "tiny" and set(saved["latency_ms"]) == {"p50", "p90", "p99"}
    assert "≈" in result.line()


async def test_load_runner_for_a_duration_with_server_usage(thread_server):
    result = await lab.run_load(thread_server.url + "health/", clients=2, duration=0.3, server_pid=os.getpid())
    assert result.ok > 0 and 0.3 <= result.window_s < 5
    assert set(result.server) == {"cpu_cores_busy", "peak_threads", "peak_rss_mib"}


async def test_load_runner_counts_http_errors_and_dead_servers(thread_server):
    missing = await lab.run_load(thread_server.url + "no-such-page/", clients=2, requests=6)
    assert (missing.ok, missing.errors, missing.statuses) == (0, 6, {"404": 6})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]  # bound, never listening: connections are refused
        refused = await lab.run_load(f"http://127.0.0.1:{dead_port}/", clients=2, requests=4, timeout=2)
    assert refused.ok == 0 and refused.errors == 4 and refused.error_samples[0].startswith("ConnectError")


async def test_load_runner_across_client_processes(thread_server):
    result = await lab.run_load(thread_server.url + "health/", clients=4, requests=20, processes=2)
    assert (result.ok, result.processes) == (20, 2)


def test_combined_results_add_up():
    from helpers.measure.load import LoadResult, combine_results

    def result(ok, window, latencies, cpu):
        server = {"cpu_cores_busy": cpu, "peak_threads": ok, "peak_rss_mib": 1.0}
        return LoadResult("x", "u", 2, 1, window, ok, 0, {"200": ok}, [], 0.5, latencies, server)

    both = combine_results([result(2, 1.0, [1.0, 2.0], 0.2), result(6, 3.0, [3.0] * 6, 0.6)])
    assert (both.ok, both.window_s, both.throughput_rps, both.statuses) == (8, 4.0, 2.0, {"200": 8})
    assert both.server == {"cpu_cores_busy": 0.5, "peak_threads": 6, "peak_rss_mib": 1.0}
    assert both.percentile(50) == 3.0


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"duration": 1, "requests": 5},
        {"requests": 0},
        {"duration": -1},
        {"requests": 5, "clients": 0},
        {"requests": 5, "clients": 2, "processes": 3},
    ],
)
async def test_load_runner_rejects_bad_arguments(options):
    with pytest.raises(ValueError):
        await lab.run_load("http://127.0.0.1:9/", **options)


# -- streams and usage -------------------------------------------------------------------------------
async def test_hold_sse_streams_counts_streams_that_delivered(thread_server):
    url = thread_server.url + "helps/sse/async/?events=100&interval_ms=1000"
    async with measure.hold_sse_streams(url, 5, first_event_within=5) as held:
        assert held.held == 5 and not held.failures


async def test_read_token_streams_reads_to_done(thread_server):
    times = await measure.read_token_streams(thread_server.url + "helps/tokens/async/?tokens=3&delay_ms=10", 3)
    assert times.tokens == [3, 3, 3]
    assert all(first <= done for first, done in zip(times.first_token_s, times.complete_s))


def test_usage_reads_this_process():
    now = measure.usage(os.getpid())
    assert now.rss_bytes > 10 * 2**20 and now.threads >= 1 and now.cpu_s > 0


# -- the benchmark command ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)  # the whole benchmark, in quick mode, in a child process
def test_bench_quick_mode_writes_json_and_png(tmp_path):
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "helpers.bench", "--quick", "--no-progress", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=480,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "results.json").read_text())
    assert report["mode"] == "quick"
    from helpers.bench import STEPS

    assert set(report["steps"]) == set(STEPS)  # every step, other chapters' included
    for step in report["steps"].values():
        if "plot" in step:
            assert (out / step["plot"]).read_bytes().startswith(b"\x89PNG")
    assert "| experiment | figures |" in (out / "summary.md").read_text()
    assert "| overhead |" in result.stdout


def test_bench_rejects_an_unknown_step(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "helpers.bench", "--only", "nonsense", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "unknown step(s) nonsense" in result.stderr
