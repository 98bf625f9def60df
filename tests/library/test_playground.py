"""Your own code on the running server (helpers.server.playground, helpers.measure.trace,
helpers.measure.load_compare): mount, replace, unmount, contain errors, trace, compare."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import nbformat
import pytest
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer
from django.contrib.auth.models import User
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views import View
from nbclient import NotebookClient
from websockets.exceptions import ConnectionClosed

import helpers as lab
from helpers.chapters.ch13_where_the_time_goes import count_sync_hops
from helpers.server import MountError
from helpers.server.playground import django_handler

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def server(lab_server):
    yield lab_server
    lab_server.playground.unmount_all()


# -- mounting -------------------------------------------------------------------------------------
async def test_async_sync_and_class_views_with_converters(server, http):
    @server.view("try/a/")
    async def a(request):
        return JsonResponse({"kind": "async"})

    @server.view("try/s/")
    def s(request):
        return JsonResponse({"kind": "sync", "users": User.objects.count()})

    @server.view("try/posts/<int:pk>/")
    class Post(View):
        async def get(self, request, pk):
            return JsonResponse({"pk": pk})

    assert Post.__name__ == "Post" and callable(a)  # the decorator hands the object back
    assert (await http.get("try/a/")).json() == {"kind": "async"}
    assert (await http.get("try/s/")).json()["kind"] == "sync"
    assert (await http.get("try/posts/7/")).json() == {"pk": 7}
    assert (await http.get("try/posts/x/")).status_code == 404
    assert server.mounted() == ["try/a/", "try/s/", "try/posts/<int:pk>/"]


async def test_remounting_replaces_and_unmount_removes(server, http):
    @server.view("try/v/", name="v")
    async def first(request):
        return HttpResponse("first")

    assert (await http.get("try/v/")).text == "first"
    assert reverse("try:v") == "/try/v/"

    @server.view("try/v/", name="v2")
    def second(request):
        return HttpResponse("second")

    assert (await http.get("try/v/")).text == "second"
    assert reverse("try:v2") == "/try/v/"  # reverse() sees the change: the resolver caches were cleared
    assert server.mounted() == ["try/v/"]
    server.unmount("try/v/")
    assert (await http.get("try/v/")).status_code == 404
    with pytest.raises(MountError, match="nothing is mounted"):
        server.unmount("try/v/")


async def test_a_mount_cannot_shadow_the_labs_urls(server, http):
    before = (await http.get("/hello/")).json()
    with pytest.raises(MountError, match="outside 'try/'"):
        server.view("hello/")
    with pytest.raises(MountError, match="outside 'try/'"):
        server.view("/orm/authors/")

    @server.view("try/hello/")  # the same tail under try/ is a different URL
    async def hello(request):
        return HttpResponse("mine")

    assert (await http.get("/hello/")).json() == before
    assert (await http.get("/try/hello/")).text == "mine"


@pytest.mark.parametrize(
    ("route", "target", "message"),
    [
        ("try/<nope:x>/", lambda r: None, "invalid converter"),
        ("try/../x/", lambda r: None, "not a usable URL path"),
        ("try/", lambda r: None, "give a path below"),
        (42, lambda r: None, "takes a path"),
        ("try/x/", 42, "mounts a function"),
        ("try/x/", type("Plain", (), {}), "View subclass"),
        ("try/x/", WebsocketConsumer, "Channels consumer"),
    ],
)
def test_bad_paths_and_objects_raise_clear_errors(lab_server, route, target, message):
    with pytest.raises(MountError, match=message):
        lab_server.view(route)(target)


def test_experiment_settings_must_be_upper_case(lab_server):
    with pytest.raises(MountError, match="UPPER_CASE"):
        with lab_server.experiment(debug=True):
            pass


# -- errors in the user's code ----------------------------------------------------------------------
async def test_an_exception_answers_500_with_the_traceback_and_the_server_carries_on(server, http, capsys):
    @server.view("try/boom/")
    def boom(request):
        return 1 / 0

    reply = await http.get("try/boom/")
    assert reply.status_code == 500
    assert "ZeroDivisionError" in reply.text and "return 1 / 0" in reply.text
    assert "ZeroDivisionError" in capsys.readouterr().err  # shown in the cell
    assert isinstance(server.playground.errors[-1].exception, ZeroDivisionError)
    assert (await http.get("/hello/")).status_code == 200


async def test_sync_orm_in_an_async_view_gets_the_a_method_hint(server, http):
    @server.view("try/orm/")
    async def orm(request):
        return JsonResponse({"users": User.objects.count()})

    reply = await http.get("try/orm/")
    assert reply.status_code == 500
    assert "SynchronousOnlyOperation" in reply.text
    assert "acount" in reply.text and "sync_to_async" in reply.text


async def test_request_user_in_an_async_view_gets_the_auser_hint(server, lab_server):
    import httpx

    @server.view("try/who/")
    async def who(request):
        return HttpResponse(str(request.user))

    key = await lab.login_session("playground-user")
    async with httpx.AsyncClient(base_url=lab_server.url, cookies={"sessionid": key}) as client:
        reply = await client.get("try/who/")
    assert reply.status_code == 500
    assert "await request.auser()" in reply.text


async def test_a_view_that_returns_no_response_says_what_to_return(server, http):
    @server.view("try/none/")
    async def none(request):
        return {"forgot": "JsonResponse"}

    reply = await http.get("try/none/")
    assert reply.status_code == 500 and "JsonResponse" in reply.text


# -- consumers ----------------------------------------------------------------------------------------
async def test_consumers_mount_replace_and_unmount(server):
    @server.consumer("ws/try/echo/")
    class Echo(AsyncWebsocketConsumer):
        async def connect(self):
            await self.accept()

        async def receive(self, text_data=None, bytes_data=None):
            await self.send(text_data=text_data.upper())

    @server.consumer("ws/try/rooms/<str:name>/")
    class Room(WebsocketConsumer):  # a sync consumer works too
        def connect(self):
            self.accept()
            self.send(text_data=f"welcome to {self.scope['url_route']['kwargs']['name']}")

    async with server.websocket("ws/try/echo/") as ws:
        await ws.send("hi")
        assert await ws.receive() == "HI"
    async with server.websocket("ws/try/rooms/blue/") as ws:
        assert await ws.receive() == "welcome to blue"

    @server.consumer("ws/try/echo/")
    class Shout(AsyncWebsocketConsumer):
        async def connect(self):
            await self.accept()

        async def receive(self, text_data=None, bytes_data=None):
            await self.send(text_data=text_data + "!")

    async with server.websocket("ws/try/echo/") as ws:
        await ws.send({"a": 1})  # a dict goes as JSON text
        assert await ws.receive() == '{"a": 1}!'
    server.unmount("ws/try/echo/")
    async with server.websocket("ws/try/echo/") as ws:
        with pytest.raises(ConnectionClosed):
            await ws.receive()
        assert ws.close_code == 4404  # the lab's catch-all: no WebSocket here
    async with server.chat("lobby", user="alice") as alice:  # the lab's own routes still answer
        assert alice.user == "alice"


async def test_a_consumer_that_raises_closes_with_1011_and_is_reported(server):
    @server.consumer("ws/try/boom/")
    class Boom(AsyncWebsocketConsumer):
        async def connect(self):
            await self.accept()

        async def receive(self, text_data=None, bytes_data=None):
            raise RuntimeError("consumer bug")

    async with server.websocket("ws/try/boom/") as ws:
        await ws.send("x")
        with pytest.raises(ConnectionClosed):
            await ws.receive()
        assert ws.close_code == 1011
    assert "consumer bug" in str(server.playground.errors[-1])


# -- middleware and settings for one experiment ----------------------------------------------------------
async def test_experiment_middleware_and_settings_are_undone_on_exit(server, http):
    class Stamp:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            response = self.get_response(request)
            response["X-Stamp"] = "on"
            return response

    @server.view("try/plain/")
    async def plain(request):
        from django.conf import settings

        return JsonResponse({"append_slash": settings.APPEND_SLASH})

    with server.experiment(add_middleware=[Stamp], APPEND_SLASH=False):
        inside = await http.get("try/plain/")
    outside = await http.get("try/plain/")
    assert inside.headers.get("x-stamp") == "on" and inside.json() == {"append_slash": False}
    assert "x-stamp" not in outside.headers and outside.json() == {"append_slash": True}
    with server.experiment(middleware=[]):
        bare = await server.trace("try/plain/")
    assert not bare.of_kind("middleware")


# -- trace ----------------------------------------------------------------------------------------------
async def test_trace_hops_agree_with_chapter_13s_counter(server):
    @server.view("try/sync-orm/")
    def sync_orm(request):
        return JsonResponse({"users": User.objects.count()})

    @server.view("try/a-method/")
    async def a_method(request):
        return JsonResponse({"users": await User.objects.acount()})

    handler = django_handler(server.app)
    for path in ("try/sync-orm/", "try/a-method/", "/hello/"):
        trace = await server.trace(path)
        assert trace.status == 200
        assert trace.hops == await count_sync_hops(handler, "/" + path.lstrip("/")), path
    sync = await server.trace("try/sync-orm/")
    [view] = sync.of_kind("view")
    assert view.thread.startswith("worker") and len(sync.queries) == 1
    native = await server.trace("try/a-method/")
    [view] = native.of_kind("view")
    assert view.thread == "event loop"
    assert native.of_kind("query")[0].thread.startswith("worker")  # acount hops to run the query
    assert "hop(s) to a worker thread" in str(sync) and sync.of_kind("signal")
    # One hop either way: the sync view runs in a worker (its query with it); the async view
    # stays on the loop and its acount() makes the hop.
    assert native.hops == sync.hops


def test_trace_plots_offline(lab_server):
    import matplotlib

    matplotlib.use("Agg")
    from helpers.measure import RequestTrace, TraceEvent

    drawn = RequestTrace("GET", "/x/", 200, [TraceEvent("request", "GET /x/", 0.0, 0.01, "event loop")], 0).plot()
    assert drawn is not None


# -- compare --------------------------------------------------------------------------------------------
async def test_compare_two_known_views(server):
    @server.view("try/fast/")
    async def fast(request):
        return HttpResponse("ok")

    @server.view("try/slow/")
    async def slow(request):
        await asyncio.sleep(0.1)  # every request waits 100 ms: at most clients / 0.1 = 40 per second
        return HttpResponse("ok")

    report = await lab.compare({"fast": "try/fast/", "slow": "try/slow/"}, clients=4, seconds=1.0, rounds=2)
    assert set(report.results) == {"fast", "slow"}
    assert report.results["slow"].errors == report.results["fast"].errors == 0
    assert report.throughput("slow") <= 42  # a bound set by the sleep, not by the machine
    assert report.results["slow"].percentile(50) >= 95
    assert report.ratio("fast", "slow") > 1.2  # ideal: several times; the box is shared
    assert report.results["fast"].server["peak_threads"] >= 1
    assert re.search(r"fast: ≈\d+ req/s, p50 ≈[\d.]+ ms, p99 ≈[\d.]+ ms", str(report))


async def test_compare_refuses_a_path_that_fails(server):
    @server.view("try/broken/")
    async def broken(request):
        raise ValueError("nope")

    with pytest.raises(RuntimeError, match="answered 500"):
        await lab.compare({"broken": "try/broken/"}, seconds=0.5)


# -- in a real kernel ---------------------------------------------------------------------------------------
@pytest.mark.timeout(240)
async def test_in_a_real_kernel_an_error_in_a_mounted_view_leaves_the_kernel_alive():
    cells = [
        "import helpers as lab\nserver = await lab.start(fresh_db=True)",
        (
            "from django.contrib.auth.models import User\nfrom django.http import JsonResponse\n"
            "@server.view('try/mistake/')\nasync def mistake(request):\n    return JsonResponse({'n': User.objects.count()})"
        ),
        (
            "import httpx\nasync with httpx.AsyncClient(base_url=server.url) as client:\n"
            "    reply = await client.get('try/mistake/')\nprint(reply.status_code)"
        ),
        (
            "@server.view('try/mistake/')\nasync def mistake(request):\n    return JsonResponse({'n': await User.objects.acount()})\n"
            "async with httpx.AsyncClient(base_url=server.url) as client:\n    print((await client.get('try/mistake/')).json())"
        ),
        "print(server.is_running, len(server.playground.errors))\nawait server.stop()",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}})
    started = time.monotonic()
    await client.async_execute()
    outputs = ["".join(o.get("text", "") for o in cell.outputs) for cell in notebook.cells]
    assert "500" in outputs[2]
    assert "SynchronousOnlyOperation" in outputs[2] and "hint:" in outputs[2]  # the traceback, in the cell
    assert outputs[3].strip() == "{'n': 0}"
    assert outputs[4].strip() == "True 1"
    assert time.monotonic() - started < 200


async def test_sync_to_async_fix_is_one_extra_hop(server):
    """The other fix the hint names: the sync code moved to a worker with sync_to_async."""

    @server.view("try/wrapped/")
    async def wrapped(request):
        return JsonResponse({"users": await sync_to_async(User.objects.count)()})

    trace = await server.trace("try/wrapped/")
    assert trace.status == 200
    assert [e.thread for e in trace.of_kind("query")] == ["worker 1"]
