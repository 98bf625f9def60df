"""Load with long-lived connections: many SSE streams, many WebSocket clients in one chat room.

Each run checks delivery (every event and message exactly once, in order, none lost) and
measures the figures a benchmark records: throughput, latency percentiles and the server's
memory per open connection (its resident set size, read from ``/proc/<pid>/status``, before
and while the connections are open). ``problems()`` lists what went wrong with delivery;
``figures()`` the numbers. Tests assert the first and only print the second.

Run the server in another process (``lab.start_process``): these clients keep one core busy
themselves, and on the server's own loop they would measure each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass

import httpx
from httpx_sse import aconnect_sse

from helpers.clients.chat import ChatSession
from helpers.measure.process_stats import usage
from helpers.measure.stats import p50_p99_ms

__all__ = ["ChatLoadResult", "StreamLoadResult", "raise_fd_limit", "run_chat_load", "run_sse_load"]


# -- the machine -----------------------------------------------------------------------------------
def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit towards ``wanted`` (never above the hard limit).

    Child processes inherit it, so call this before starting a server for many connections.
    Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class _PeakMemory:
    """Samples a process's RSS every ``interval`` seconds in the background; keeps the peak."""

    def __init__(self, pid: int | None, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.before = usage(pid).rss_bytes if pid else 0
        self.peak = self.before
        self._task: asyncio.Task | None = None

    def sample(self) -> None:
        if self.pid:
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, usage(self.pid).rss_bytes)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def __enter__(self) -> _PeakMemory:
        if self.pid:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def per_connection_kib(self, connections: int) -> float:
        return (self.peak - self.before) / 1024 / connections if self.pid and connections else math.nan


# -- many SSE streams --------------------------------------------------------------------------------
@dataclass
class StreamLoadResult:
    """One run of ``run_sse_load``. Per stream: the tick ids in arrival order and the done count."""

    streams: int
    events: int  # tick events each stream should carry (then one "done")
    interval: float
    ids: list[list[int]]
    done: list[int | None]
    failures: list[str]
    first_event_s: list[float]  # request sent → first tick, per stream
    lateness_s: list[float]  # per tick: how far behind its stream's most punctual tick (schedule taken out)
    peak_open: int  # streams open at once (first tick seen, done not yet)
    wall_s: float
    memory_kib_per_stream: float = math.nan

    def problems(self) -> list[str]:
        """Every way delivery went wrong; empty when each stream got 1..events once, in order, then done."""
        wanted = list(range(1, self.events + 1))
        found = [f"stream {i}: ids {ids[:3]}..{ids[-3:]} ({len(ids)})" for i, ids in enumerate(self.ids) if ids != wanted]
        found += [f"stream {i}: done said {count}" for i, count in enumerate(self.done) if count != self.events]
        return self.failures[:5] + found[:10]

    def figures(self) -> dict:
        delivered = sum(len(ids) for ids in self.ids)
        started = len(self.first_event_s)
        return {
            "streams": self.streams,
            "peak_open_streams": self.peak_open,
            "events_delivered": delivered,
            "events_per_s": round(delivered / self.wall_s, 1),  # bounded by the ticks' schedule
            # how fast the server took streams on: every stream had its first event by then
            "streams_started_per_s": round(started / max(self.first_event_s), 1) if started else 0.0,
            "first_event_ms": p50_p99_ms(self.first_event_s),
            "event_lateness_ms": p50_p99_ms(self.lateness_s),
            "memory_kib_per_stream": round(self.memory_kib_per_stream, 1),
            "wall_s": round(self.wall_s, 2),
        }

    def line(self) -> str:
        f = self.figures()
        return (
            f"{self.streams} SSE streams (≈{f['peak_open_streams']} open at once): "
            f"started ≈{f['streams_started_per_s']:.0f}/s, ≈{f['events_per_s']:.0f} events/s, "
            f"first event p99 ≈{f['first_event_ms']['p99']:.0f} ms, "
            f"lateness p99 ≈{f['event_lateness_ms']['p99']:.0f} ms, "
            f"server memory ≈{f['memory_kib_per_stream']:.0f} KiB per stream"
        )


async def run_sse_load(
    base_url: str,
    *,
    streams: int = 1000,
    events: int = 20,
    interval: float = 1.5,
    server_pid: int | None = None,
    timeout: float = 120.0,
) -> StreamLoadResult:
    """Open ``streams`` SSE streams of chapter 5's ``/stream/events/`` at once and read each to the end.

    A stream runs ``(events - 1) * interval`` seconds once started: make that longer than it
    takes the server to accept them all, or they are never all open together (``peak_open``
    says how many were). ``server_pid`` adds the memory per stream.
    """
    raise_fd_limit(streams * 2 + 256)
    url = f"{base_url.rstrip('/')}/stream/events/?count={events}&interval={interval:g}"
    ids: list[list[int]] = [[] for _ in range(streams)]
    done: list[int | None] = [None] * streams
    first_event: list[float] = []
    lateness: list[float] = []
    failures: list[str] = []
    open_now = peak_open = 0
    shared_ssl = ssl.create_default_context()  # one per client would cost ~30 ms each (see helpers.measure.load)
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def read(index: int) -> None:
        nonlocal open_now, peak_open
        first_at = None
        offsets = []  # arrival - (n - 1) * interval: equal for every tick of a stream kept on time
        sent = time.perf_counter()
        try:
            async with (
                httpx.AsyncClient(limits=one_connection, timeout=timeout, verify=shared_ssl) as client,
                aconnect_sse(client, "GET", url) as source,
            ):
                source.response.raise_for_status()
                async for event in source.aiter_sse():
                    now = time.perf_counter()
                    if event.event == "done":
                        done[index] = event.json()["ticks"]
                        break
                    n = int(event.id)
                    ids[index].append(n)
                    offsets.append(now - (n - 1) * interval)
                    if first_at is None:
                        first_at = now
                        first_event.append(now - sent)
                        open_now += 1
                        peak_open = max(peak_open, open_now)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            failures.append(f"stream {index}: {type(exc).__name__}: {exc}"[:200])
        finally:
            if first_at is not None:
                open_now -= 1
            if offsets:
                punctual = min(offsets)
                lateness.extend(offset - punctual for offset in offsets)

    started = time.perf_counter()
    with _PeakMemory(server_pid) as memory:
        await asyncio.gather(*(read(i) for i in range(streams)))
    result = StreamLoadResult(
        streams=streams, events=events, interval=interval, ids=ids, done=done, failures=failures,
        first_event_s=first_event, lateness_s=lateness, peak_open=peak_open, wall_s=time.perf_counter() - started,
    )  # fmt: skip
    result.memory_kib_per_stream = memory.per_connection_kib(streams)
    return result


# -- many WebSocket clients in one room ----------------------------------------------------------------
# A channel holds at most this many undelivered messages (the capacity both channel layers use
# by default); a group message to a full channel is dropped without a word. The load keeps at
# most half of it in flight.
LAYER_CAPACITY = 100
IN_FLIGHT = LAYER_CAPACITY // 2


@dataclass
class ChatLoadResult:
    """One run of ``run_chat_load``. ``received[client]`` lists the (sender, n) of each message, in arrival order."""

    clients: int
    messages_per_client: int
    received: dict[str, list[tuple[str, int]]]
    latencies_s: list[float]
    errors: list[str]
    connect_s: float
    wall_s: float  # the message phase only
    memory_kib_per_client: float = math.nan
    stalled: str | None = None  # what was still awaited when the run gave up

    def problems(self) -> list[str]:
        """Empty when every client got every sender's messages 0..m-1 exactly once, in order."""
        wanted = list(range(self.messages_per_client))
        found = list(self.errors[:5])
        if self.stalled:
            found.append(self.stalled)
        for client, messages in self.received.items():
            per_sender: dict[str, list[int]] = defaultdict(list)
            for sender, n in messages:
                per_sender[sender].append(n)
            if len(per_sender) != self.clients:
                found.append(f"{client}: heard from {len(per_sender)} of {self.clients} senders")
            found += [f"{client}: from {sender} got {got}" for sender, got in per_sender.items() if got != wanted]
            if len(found) > 10:
                break
        return found[:10]

    def figures(self) -> dict:
        deliveries = sum(len(m) for m in self.received.values())
        return {
            "clients": self.clients,
            "messages_sent": self.clients * self.messages_per_client,
            "deliveries": deliveries,
            "deliveries_per_s": round(deliveries / self.wall_s, 1) if self.wall_s else math.nan,
            "latency_ms": p50_p99_ms(self.latencies_s),
            "connect_s": round(self.connect_s, 2),
            "memory_kib_per_client": round(self.memory_kib_per_client, 1),
        }

    def line(self) -> str:
        f = self.figures()
        return (
            f"{self.clients} chat clients, {f['messages_sent']} messages: ≈{f['deliveries_per_s']:.0f} deliveries/s, "
            f"latency p50 ≈{f['latency_ms']['p50']:.0f} ms, p99 ≈{f['latency_ms']['p99']:.0f} ms, "
            f"joining ≈{f['connect_s']:.1f} s, server memory ≈{f['memory_kib_per_client']:.0f} KiB per client"
        )


class _Stalled(Exception):
    pass


async def run_chat_load(
    server,
    room: str,
    *,
    clients: int = 200,
    messages_per_client: int = 2,
    server_pid: int | None = None,
    timeout: float = 60.0,
) -> ChatLoadResult:
    """``clients`` sessions join ``room`` on ``server``; each then says ``messages_per_client`` messages.

    A sender says its messages back to back, so their order on arrival means something. Two
    limits of the chat shape the schedule, so that nothing is refused or dropped by design:

    * the per-connection rate limit: a client sends at most ``ChatLimits.burst`` messages;
    * the channel layer's capacity: joins and messages go out in rounds of at most
      ``IN_FLIGHT`` (50) per channel, and a round starts once every client has received the
      previous one. Without the rounds, 200 members joining or talking at once fill members'
      channels faster than they drain, and the layer drops the overflow silently: Channels
      runs ``close_old_connections`` through ``sync_to_async`` before every event it
      dispatches, and outside a request all those calls queue for asgiref's one
      thread-sensitive thread.
    """
    from lab_project.chat.limits import ChatLimits

    burst = ChatLimits().burst
    if not 1 <= messages_per_client <= burst:
        raise ValueError(f"messages_per_client={messages_per_client}: more than the chat's burst of {burst}")
    raise_fd_limit(clients * 2 + 256)
    names = [f"c{i:03d}" for i in range(clients)]
    received: dict[str, list[tuple[str, int]]] = {name: [] for name in names}
    joins_seen: dict[str, set[str]] = {name: set() for name in names}
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    errors: list[str] = []
    progress = asyncio.Condition()
    delivered = 0

    async def read(session: ChatSession) -> None:
        nonlocal delivered
        while True:
            event = await session.receive(timeout=3600)
            now = time.perf_counter()
            if event["type"] == "message":
                sender, _, n = event["text"].partition(":")
                received[session.user].append((sender, int(n)))
                latencies.append(now - sent_at[event["text"]])
                delivered += 1
            elif event["type"] == "join":
                joins_seen[session.user].add(event["user"])
            elif event["type"] == "error":
                errors.append(f"{session.user}: {event['code']}: {event['text']}")
            async with progress:
                progress.notify_all()

    async def settle(what: str, done) -> None:
        try:
            async with asyncio.timeout(timeout), progress:
                await progress.wait_for(done)
        except TimeoutError:
            raise _Stalled(f"gave up after {timeout:g} s waiting for {what}") from None

    memory = _PeakMemory(server_pid)
    sessions: list[ChatSession] = []
    readers: list[asyncio.Task] = []
    stalled = None
    connect_s = wall_s = 0.0
    started = time.perf_counter()
    try:
        for start in range(0, clients, IN_FLIGHT):
            newcomers = names[start : start + IN_FLIGHT]
            earlier = list(names[:start])
            joined = await asyncio.gather(*(ChatSession(server, room, name).connect() for name in newcomers))
            sessions += joined
            readers += [asyncio.create_task(read(s)) for s in joined]

            def everyone_heard() -> bool:
                return all(joins_seen[c].issuperset(newcomers) for c in earlier)

            await settle(f"the joins of {newcomers[0]}..", everyone_heard)
        connect_s = time.perf_counter() - started
        memory.sample()  # the cost of the open, idle connections
        memory_kib_per_client = memory.per_connection_kib(clients)

        async def say_all(session: ChatSession) -> None:
            for n in range(messages_per_client):
                sent_at[f"{session.user}:{n}"] = time.perf_counter()
                await session.send(f"{session.user}:{n}")

        started = time.perf_counter()
        expected = 0
        per_round = max(1, IN_FLIGHT // messages_per_client)
        for start in range(0, clients, per_round):
            senders = sessions[start : start + per_round]
            await asyncio.gather(*(say_all(s) for s in senders))
            expected += len(senders) * messages_per_client * clients
            await settle(f"{expected} deliveries", lambda: delivered >= expected)
        wall_s = time.perf_counter() - started
        await asyncio.sleep(0.2)  # a duplicate would arrive just after the count was reached
    except _Stalled as stall:
        stalled = str(stall)
        wall_s = time.perf_counter() - started
        memory_kib_per_client = math.nan
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return ChatLoadResult(
        clients=clients, messages_per_client=messages_per_client, received=received, latencies_s=latencies,
        errors=errors, connect_s=connect_s, wall_s=wall_s, memory_kib_per_client=memory_kib_per_client, stalled=stalled,
    )  # fmt: skip
