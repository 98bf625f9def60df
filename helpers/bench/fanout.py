"""Chapter 13's chat fan-out benchmark: which channel layer, at what cost, against a raw broadcast.

    uv run lab-bench --only chat_fanout            # about 2 minutes
    uv run lab-bench --only chat_fanout --quick    # about 40 s, small rounds

50 clients sit in one room; 10 of them talk (each with at most 4 messages in flight), and every
client must hear every message exactly once. The same room runs on:

* a raw ``websockets`` server relaying with the library's ``broadcast()`` (the floor);
* the lab's chat (``lab_project/chat``, served by uvicorn in its own process, ``LAB_DEBUG=0``,
  the chat's flood guard widened, see ``where_the_time_goes/fanout_app.py``) on each channel
  layer ``LAB_CHANNEL_LAYER`` offers: in-memory, channels_redis core (msgpack, json), pub/sub;
* the same with "lean delivery" (``fanout_lean_app.py``): the consumer skips Channels' database
  clean-up hop for deliveries, which never touch the database.

Small (16-character) and large (480-character, near the chat's 500 limit) messages. Every
figure is a ratio to the raw broadcast measured in the same round (rounds interleave all
servers); the median of 3 rounds counts, and a configuration qualifies only if every one of its
rounds delivered every message exactly once. Prints a table; ``lab-bench`` saves the figures
in its report, with ``chat_fanout.png``.
"""

from __future__ import annotations

__all__ = ["bench_step", "measure"]

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

STOCK_APP = "lab_project.where_the_time_goes.fanout_app:application"
LEAN_APP = "lab_project.where_the_time_goes.fanout_lean_app:application"
RAW = "raw websockets broadcast"


@dataclass(frozen=True)
class Config:
    name: str
    layer: str  # LAB_CHANNEL_LAYER
    app: str = STOCK_APP

    @property
    def needs_redis(self) -> bool:
        return self.layer != "memory"

    @property
    def across_processes(self) -> bool:  # can one room span several server processes?
        return self.layer != "memory"


CONFIGS = [
    Config("in-memory", "memory"),
    Config("core, msgpack", "core"),
    Config("core, json", "core-json"),
    Config("pubsub", "pubsub"),
    Config("in-memory, lean delivery", "memory", LEAN_APP),
    Config("core, msgpack, lean delivery", "core", LEAN_APP),
    Config("core, json, lean delivery", "core-json", LEAN_APP),
    Config("pubsub, lean delivery", "pubsub", LEAN_APP),
]
SIZES = {"small": 16, "large": 480}
TARGET = 0.20  # issue 8: fan-out with every message delivered >= 20% of the raw broadcast


@dataclass(frozen=True)
class Plan:
    clients: int = 50
    senders: int = 10
    messages: int = 24  # per sender, per round, for the lab's chat
    raw_messages: int = 240  # the raw server is ~10x faster: a round of similar length
    rounds: int = 3


FULL = Plan()
QUICK = Plan(messages=8, raw_messages=60, rounds=1)


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _forget_redis_keys(url: str, prefix: str) -> int:
    """Delete this run's keys (never anything else: no FLUSH on a shared Redis)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()


async def measure(plan: Plan = FULL) -> dict:
    """Every figure of this benchmark, as one JSON-able report."""
    import helpers as lab
    from helpers.measure.fanout import FanOutRoom, RawBroadcastServer
    from lab_project.config import redis_answers

    await lab.prepare_database(fresh=False)
    redis_url = _redis_url()
    has_redis = redis_answers(redis_url)
    prefix = f"labfanout{os.getpid()}"
    configs = [c for c in CONFIGS if has_redis or not c.needs_redis]
    env = {"LAB_DEBUG": "0", "REDIS_URL": redis_url, "LAB_REDIS_PREFIX": prefix}
    servers: dict[str, object] = {}
    rooms: dict[str, FanOutRoom] = {}
    runs: dict[str, dict[str, list]] = {}
    try:
        servers[RAW] = await RawBroadcastServer().start()
        for config in configs:
            servers[config.name] = await lab.start_process(app=config.app, env=env | {"LAB_CHANNEL_LAYER": config.layer})
        for index, (name, server) in enumerate(servers.items()):
            rooms[name] = await FanOutRoom(server.ws_url, f"fanout{index}", plan.clients).__aenter__()
            await rooms[name].round(senders=plan.senders, messages=2)  # warm-up: everyone is in, code paths hot
        for round_number in range(plan.rounds):
            for size, chars in SIZES.items():
                for name, room in rooms.items():
                    messages = plan.raw_messages if name == RAW else plan.messages
                    run = await room.round(senders=plan.senders, messages=messages, text_chars=chars, label=name)
                    runs.setdefault(name, {}).setdefault(size, []).append(run)
                    state = "" if run.exact else f"  NOT exact: {run.missing} missing, {run.duplicates} duplicated"
                    print(f"  round {round_number + 1}, {size:>5}, {name:<30} ≈{run.deliveries_per_s:>9.0f} deliveries/s{state}", flush=True)
    finally:
        for room in rooms.values():
            await room.__aexit__(None, None, None)
        for server in servers.values():
            await server.stop()
        if has_redis:
            _forget_redis_keys(redis_url, prefix)
    return report_from(runs, configs, plan, has_redis)


def report_from(runs: dict, configs: list[Config], plan: Plan, has_redis: bool) -> dict:
    best = {
        name: {size: max(r.deliveries_per_s for r in rs) for size, rs in by_size.items()} for name, by_size in runs.items()
    }
    exact = {name: all(r.exact for rs in by_size.values() for r in rs) for name, by_size in runs.items()}
    # Each round of a configuration is compared with the raw round just before it (same size),
    # so a change in the machine's load between rounds hits both; the median round counts.
    ratios = {
        c.name: {
            size: round(statistics.median(
                mine.deliveries_per_s / raw.deliveries_per_s for mine, raw in zip(runs[c.name][size], runs[RAW][size])
            ), 4)  # fmt: skip
            for size in SIZES
        }
        for c in configs
    }
    qualifying = [c for c in configs if exact[c.name] and c.across_processes]
    fastest = {}
    for group, wanted in (("stock consumer", STOCK_APP), ("lean delivery", LEAN_APP)):
        candidates = [c for c in qualifying if c.app == wanted]
        if candidates:
            top = max(candidates, key=lambda c: sum(ratios[c.name].values()))  # over both message sizes
            fastest[group] = {"config": top.name, "layer": top.layer, "ratio": ratios[top.name]}
    return {
        "plan": plan.__dict__,
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "redis": has_redis,
        "deliveries_per_s_best": {n: {s: round(v, 1) for s, v in by_size.items()} for n, by_size in best.items()},
        "exact": exact,
        "ratio_to_raw": ratios,
        "runs": {n: {s: [r.summary() for r in rs] for s, rs in by_size.items()} for n, by_size in runs.items()},
        "fastest_exact_across_processes": fastest,
        "recommended": recommended(configs, ratios, exact),
        "target": {
            "text": f"chat fan-out, every message delivered: >= {TARGET:.0%} of a raw websockets broadcast",
            "threshold": TARGET,
            "best_ratio": max((min(ratios[c.name].values()) for c in qualifying), default=None),  # at both sizes
        },
    }


def recommended(configs: list[Config], ratios: dict, exact: dict) -> dict | None:
    """The lab's default when Redis answers (``config.RECOMMENDED_CHANNEL_LAYER``), as served."""
    from lab_project.config import RECOMMENDED_CHANNEL_LAYER

    for c in configs:
        if c.layer == RECOMMENDED_CHANNEL_LAYER and c.app == STOCK_APP:
            return {"config": c.name, "layer": c.layer, "ratio": ratios[c.name], "exact": exact[c.name]}
    return None


def print_table(report: dict) -> None:
    print(f"\n{'configuration':<30} {'small':>8} {'large':>8}  every message once?")
    raw = report["deliveries_per_s_best"][RAW]
    print(f"{RAW:<30} {raw['small']:>8.0f} {raw['large']:>8.0f}  deliveries/s, best round (the floor: 100%)")
    for name, ratio in report["ratio_to_raw"].items():
        print(f"{name:<30} {ratio['small']:>8.1%} {ratio['large']:>8.1%}  {'yes' if report['exact'][name] else 'NO'}")
    for group, top in report["fastest_exact_across_processes"].items():
        shares = ", ".join(f"{size} ≈{value:.1%}" for size, value in top["ratio"].items())
        print(f"fastest layer that delivers every message across processes ({group}): {top['config']} ({shares})")
    if report["recommended"]:
        shares = ", ".join(f"{size} ≈{value:.1%}" for size, value in report["recommended"]["ratio"].items())
        print(f"the lab's default (LAB_CHANNEL_LAYER={report['recommended']['layer']}), as served: {shares}")


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c.name for c in CONFIGS if c.name in report["ratio_to_raw"]]  # this order, also from a saved JSON
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.4
    for offset, (size, colour) in zip((-width / 2, width / 2), (("small", "#36c"), ("large", "#c63"))):
        values = [report["ratio_to_raw"][n][size] * 100 for n in names]
        bars = ax.barh([i + offset for i in range(len(names))], values, height=width, color=colour, label=f"{size} messages")
        for bar, name in zip(bars, names):
            if not report["exact"][name]:
                bar.set_hatch("//")
    ax.axvline(TARGET * 100, color="#444", linestyle="--", label=f"target {TARGET:.0%}")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("deliveries/s, % of a raw websockets broadcast (same run)")
    ax.set_title(f"Chat fan-out: {report['plan']['clients']} clients in one room, {report['plan']['senders']} talking")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)  # below: bars reach past 20%
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def bench_step(ctx) -> dict:
    """``lab-bench --only chat_fanout``; prints the table of layers against the raw broadcast."""
    report = await measure(QUICK if ctx.sizes.duration < 1.0 else FULL)
    print_table(report)
    ctx.figures["chat_fanout"] = {
        "share of raw broadcast, small messages": {n: r["small"] for n, r in report["ratio_to_raw"].items()},
        "fastest exact across processes": report["fastest_exact_across_processes"],
    }
    path = ctx.out / "chat_fanout.png"
    plot(report, path)
    return report | {"plot": path.name}
