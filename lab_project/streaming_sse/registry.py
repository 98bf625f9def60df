"""A per-process ledger of the streams this server has served, so a cell can *see* clean-up.

Django (5.0 and later) cancels the task that is sending a streaming response when the client
disconnects. Cancellation is invisible from outside unless the stream writes down what
happened to it: ``tracked()`` below does that, and ``/stream/registry/`` reads it back.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import asdict, dataclass

ENDED = ("finished", "cancelled", "closed")


@dataclass
class StreamRecord:
    """What happened to one stream.

    ``state`` moves from ``open`` (response created) to ``streaming`` (first chunk asked for)
    to one of: ``finished`` (ran to the end), ``cancelled`` (its task was cancelled while it
    awaited, as on a client disconnect) or ``closed`` (its consumer stopped asking for chunks).
    """

    id: int
    kind: str
    state: str = "open"
    chunks_sent: int = 0
    cleaned_up: bool = False

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def as_dict(self) -> dict:
        return asdict(self)


class StreamRegistry:
    """Thread-safe: under WSGI, streams run in one-off event loops on worker threads."""

    def __init__(self, keep: int = 200) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._records: OrderedDict[int, StreamRecord] = OrderedDict()
        self._keep = keep

    def open(self, kind: str) -> StreamRecord:
        with self._lock:
            record = StreamRecord(id=next(self._ids), kind=kind)
            self._records[record.id] = record
            while len(self._records) > self._keep:  # a long-running server must not grow forever
                self._records.popitem(last=False)
            return record

    def get(self, stream_id: int) -> StreamRecord | None:
        with self._lock:
            return self._records.get(stream_id)

    def counts(self) -> dict[str, int]:
        """How many of the remembered streams (the last ``keep``) are in each state."""
        with self._lock:
            states = [record.state for record in self._records.values()]
        counts = {state: states.count(state) for state in ("open", "streaming", *ENDED)}
        counts["started"] = len(states) - counts["open"]
        return counts

    def snapshot(self, last: int = 20) -> dict:
        with self._lock:
            recent = list(self._records.values())[-last:]
        return {"counts": self.counts(), "streams": [record.as_dict() for record in recent]}


streams = StreamRegistry()


async def tracked(record: StreamRecord, chunks: AsyncGenerator[str]) -> AsyncGenerator[str]:
    """Relay ``chunks``, writing into ``record`` how the stream ended.

    The pattern Django's docs recommend: catch ``asyncio.CancelledError``, clean up, and
    re-raise, so the cancellation still ends the task. The ``finally`` block is the clean-up
    (in a real view: close the upstream connection, leave the channel group, ...).
    """
    record.state = "streaming"
    try:
        async with aclosing(chunks):  # a consumer that stops early closes the source too
            async for chunk in chunks:
                yield chunk
                record.chunks_sent += 1
    except asyncio.CancelledError:
        record.state = "cancelled"
        raise
    except GeneratorExit:
        record.state = "closed"
        raise
    else:
        record.state = "finished"
    finally:
        record.cleaned_up = True
