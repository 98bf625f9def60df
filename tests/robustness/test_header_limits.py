"""Every lab server bounds a request's head: 431 past 32 KiB of request line and headers.

uvicorn's httptools parser has no such bound; ``lab_project.header_limits`` adds it, and the
in-kernel server, the thread server and the child-process server all use it. A request whose
head is refused never reaches Django.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

import helpers as lab
from lab_project.header_limits import MAX_HEADER_BYTES


@pytest.fixture(scope="module")
async def process_server():
    server = await lab.start_process()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def thread_server():
    server = await lab.start_thread_server()
    yield server
    await server.stop()


@pytest.fixture(params=["kernel", "thread", "process"])
def server(request, lab_server, thread_server, process_server):
    return {"kernel": lab_server, "thread": thread_server, "process": process_server}[request.param]


async def get(server, **options) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(server.url + "hello/", **options)


async def test_a_200_kb_header_is_refused_with_431(server):
    response = await get(server, headers={"X-Big": "a" * 200_000})
    assert response.status_code == 431
    assert response.headers["connection"] == "close"
    assert "at most 32768 bytes" in response.text


async def test_many_headers_adding_up_past_the_bound_are_refused(server):
    response = await get(server, headers={f"X-Part-{i}": "a" * 1000 for i in range(40)})
    assert response.status_code == 431


async def test_ordinary_and_generous_headers_are_served(server):
    assert (await get(server)).status_code == 200
    # A cookie jar of 24 KB: three quarters of the bound, far more than any browser sends here.
    response = await get(server, headers={"Cookie": "; ".join(f"c{i}={'v' * 3000}" for i in range(8))})
    assert response.status_code == 200
    assert response.json()["view"] == "function"


async def test_a_header_line_that_never_ends_is_cut_off(server):
    """Bytes are counted as they arrive: the server answers long before 5 MB are buffered."""

    def send_endless_header() -> bytes:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(b"GET /hello/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
            sent = 0
            try:
                while sent < 5_000_000:
                    sock.sendall(b"a" * 16384)
                    sent += 16384
            except OSError:
                pass  # the server stopped listening to us: the point
            received = b""
            try:
                while chunk := sock.recv(4096):
                    received += chunk
            except OSError:
                pass
            return received

    answer = await asyncio.to_thread(send_endless_header)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_the_bound_is_the_documented_one():
    assert MAX_HEADER_BYTES == 32 * 1024
