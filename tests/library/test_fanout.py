"""Chat fan-out delivers every message to every member exactly once, on every channel layer the
lab offers (``LAB_CHANNEL_LAYER``), in one server process and, for the Redis layers, across two.

These are the correctness checks behind ``helpers.bench.fanout`` (chapter 13): a layer
whose speed the README quotes must first deliver every copy. Counts are asserted, never times.
The chat runs with its real limits here: each sender says 4 things, inside its burst of 5.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

import helpers as lab
from helpers.measure.fanout import FanOutRoom, RawBroadcastServer
from lab_project import config

CLIENTS, SENDERS, MESSAGES = 12, 4, 4
REDIS_LAYERS = ["core", "core-json", "pubsub"]


def server_env(tmp_path, layer: str, **overrides) -> dict[str, str | None]:
    return {
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",  # this run's, migrated
        "LAB_DATA_DIR": str(tmp_path),
        "LAB_DEBUG": "0",
        "LAB_CHANNEL_LAYER": layer,
        **overrides,
    }


async def one_round(ws_urls) -> object:
    room = f"fan{uuid.uuid4().hex[:10]}"
    async with FanOutRoom(ws_urls, room, CLIENTS) as fan:
        return await fan.round(senders=SENDERS, messages=MESSAGES, stall_timeout=10)


def assert_exact(run) -> None:
    assert not run.timed_out, run.summary()
    assert run.received == [SENDERS * MESSAGES] * CLIENTS, run.summary()
    assert run.duplicates == 0, run.summary()
    assert run.exact


async def test_raw_broadcast_baseline_delivers_every_message_once():
    async with RawBroadcastServer() as raw:
        assert_exact(await one_round(raw.ws_url))


async def test_in_memory_layer_delivers_every_message_once(tmp_path):
    server = await lab.start_process(env=server_env(tmp_path, "memory"))
    try:
        assert_exact(await one_round(server.ws_url))
    finally:
        await server.stop()


async def test_lean_delivery_variant_delivers_every_message_once(tmp_path):
    """The benchmark's consumer without the per-delivery database clean-up hop loses nothing."""
    app = "lab_project.where_the_time_goes.fanout_lean_app:application"
    server = await lab.start_process(app=app, env=server_env(tmp_path, "memory"))
    try:
        assert_exact(await one_round(server.ws_url))
    finally:
        await server.stop()


@pytest.mark.redis
@pytest.mark.parametrize("layer", REDIS_LAYERS)
async def test_redis_layer_delivers_every_message_once(tmp_path, redis_url, layer):
    server = await lab.start_process(env=server_env(tmp_path, layer, REDIS_URL=redis_url))
    try:
        assert_exact(await one_round(server.ws_url))
    finally:
        await server.stop()


@pytest.mark.redis
@pytest.mark.parametrize("layer", REDIS_LAYERS)
async def test_redis_layer_delivers_every_message_once_across_two_processes(tmp_path, redis_url, layer):
    env = server_env(tmp_path, layer, REDIS_URL=redis_url)
    first = await lab.start_process(env=env)
    second = await lab.start_process(env=env)
    try:
        assert_exact(await one_round([first.ws_url, second.ws_url]))  # members alternate between them
    finally:
        await first.stop()
        await second.stop()


def test_channel_layer_choice(monkeypatch):
    monkeypatch.delenv("LAB_CHANNEL_LAYER", raising=False)
    assert config.channel_layer_choice(uses_redis=True) == config.RECOMMENDED_CHANNEL_LAYER
    assert config.channel_layer_choice(uses_redis=False) == "memory"  # no Redis: the only choice
    monkeypatch.setenv("LAB_CHANNEL_LAYER", "PubSub")
    assert config.channel_layer_choice(uses_redis=True) == "pubsub"
    monkeypatch.setenv("LAB_CHANNEL_LAYER", "rabbit")
    with pytest.raises(ValueError, match="LAB_CHANNEL_LAYER='rabbit' is not a channel layer: use one of"):
        config.channel_layer_choice(uses_redis=True)


def test_settings_follow_the_choice():
    """This test process runs the default: the recommended layer when Redis answers."""
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if not settings.LAB.uses_redis:
        assert backend == "channels.layers.InMemoryChannelLayer"
    else:
        expected = {"core": "core.RedisChannelLayer", "pubsub": "pubsub.RedisPubSubChannelLayer"}
        assert backend == "channels_redis." + expected[config.RECOMMENDED_CHANNEL_LAYER.removesuffix("-json")]
