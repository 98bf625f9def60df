"""Load with long-lived connections on one server process (one uvicorn worker, ``LAB_DEBUG=0``):
1,000 SSE streams at once, and 200 WebSocket clients in one chat room on each channel layer.

What is asserted is delivery only: every event and every message arrives exactly once, in
order, none lost. Timings and memory are printed (run with ``-s`` to see them) and never
asserted: on a shared 2-core machine they say more about the neighbours than about the lab.
``helpers.measure.connections`` produces the same figures for the benchmark command.

The third load of issue 7, 200 concurrent writes through the server into SQLite with every row
present, is ``tests/chapters/test_02_async_orm.py::test_200_concurrent_creates_all_land``.
"""

from __future__ import annotations

import json
import resource
import uuid

import pytest
from django.conf import settings

import helpers as lab
from helpers.measure.connections import raise_fd_limit, run_chat_load, run_sse_load

pytestmark = pytest.mark.slow

STREAMS = 1000
# 16 ticks 1.5 s apart: each stream runs 22.5 s, several times longer than the server needs to
# accept all of them here (about 4 s), so they are all open at once even on a loaded machine.
TICKS, TICK_INTERVAL = 16, 1.5
CHAT_CLIENTS = 200
# Two messages each, said back to back: inside the chat's burst of 5, so the rate limiter
# refuses none; run_chat_load keeps at most 50 undelivered messages per channel (capacity 100).
MESSAGES_EACH = 2


def server_env(tmp_path, **overrides) -> dict[str, str | None]:
    return {
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",  # this run's, migrated
        "LAB_DATA_DIR": str(tmp_path),
        "LAB_DEBUG": "0",
        **overrides,
    }


def enough_file_descriptors(connections: int) -> None:
    """Client and server sockets, in this process and (inherited) in the server's."""
    wanted = 2 * connections + 256
    if raise_fd_limit(wanted) < wanted:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        pytest.fail(f"need {wanted} open files, the hard limit is {hard}: raise it (ulimit -Hn) to run the load tests")


def report(result) -> None:
    print()
    print(result.line())
    print(json.dumps(result.figures(), sort_keys=True))


async def test_a_thousand_sse_streams_on_one_worker_deliver_every_event_once_in_order(tmp_path):
    enough_file_descriptors(STREAMS)
    server = await lab.start_process(env=server_env(tmp_path, REDIS_URL="off"))
    try:
        result = await run_sse_load(
            server.url, streams=STREAMS, events=TICKS, interval=TICK_INTERVAL, server_pid=server.pid
        )
    finally:
        await server.stop()
    report(result)
    assert result.problems() == []
    assert result.peak_open == STREAMS, "not every stream was open at the same time"
    assert sum(len(ids) for ids in result.ids) == STREAMS * TICKS


async def chat_room_load(server) -> None:
    room = f"load{uuid.uuid4().hex[:10]}"
    result = await run_chat_load(
        server, room, clients=CHAT_CLIENTS, messages_per_client=MESSAGES_EACH, server_pid=server.pid
    )
    report(result)
    assert result.problems() == []
    assert result.figures()["deliveries"] == CHAT_CLIENTS * CHAT_CLIENTS * MESSAGES_EACH


async def test_two_hundred_clients_in_one_room_in_memory_layer(tmp_path):
    enough_file_descriptors(CHAT_CLIENTS)
    server = await lab.start_process(env=server_env(tmp_path, REDIS_URL="off"))
    try:
        await chat_room_load(server)
    finally:
        await server.stop()


@pytest.mark.redis
async def test_two_hundred_clients_in_one_room_redis_layer(tmp_path, redis_url):
    enough_file_descriptors(CHAT_CLIENTS)
    server = await lab.start_process(env=server_env(tmp_path, REDIS_URL=redis_url))
    try:
        await chat_room_load(server)
    finally:
        await server.stop()
    # The 200 sessions left together (redis-py's pool limit once failed that): none stayed behind.
    assert "channel layer failed" not in server.log(), server.log()[-2000:]
