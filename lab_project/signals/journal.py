"""An in-process journal of signal receivers: which ran, in which thread, in which order, when.

Receivers write into it with ``with journal.entry(...)``; a cell or a view reads it back. A
``run("name")`` block collects just the entries caused inside it: the run travels in a
ContextVar, and asgiref copies context both ways across ``sync_to_async`` and
``async_to_sync``, so entries made on worker threads or back on the event loop still land in
the right run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

_EPOCH = time.monotonic()
_lock = threading.Lock()
_order = itertools.count(1)
_recent: deque[Entry] = deque(maxlen=500)  # bounded: every Post save in the lab lands here


@dataclass
class Entry:
    order: int  # when it started, across the whole process
    receiver: str
    signal: str
    kind: str  # "sync" or "async"
    thread: str
    thread_runs_event_loop: bool
    started: float  # time.monotonic()
    finished: float | None = None
    note: str = ""

    def as_dict(self, since: float = _EPOCH) -> dict:
        return {
            "order": self.order,
            "receiver": self.receiver,
            "signal": self.signal,
            "kind": self.kind,
            "thread": self.thread,
            "thread_runs_event_loop": self.thread_runs_event_loop,
            "started_ms": round((self.started - since) * 1000, 1),
            "finished_ms": None if self.finished is None else round((self.finished - since) * 1000, 1),
            "note": self.note,
        }


@dataclass
class Run:
    """The entries caused inside one ``with run(...)`` block."""

    name: str
    started: float = field(default_factory=time.monotonic)
    entries: list[Entry] = field(default_factory=list)

    def table(self) -> list[dict]:
        """Entries in the order the receivers started, times relative to the run's start."""
        return [e.as_dict(self.started) for e in sorted(self.entries, key=lambda e: e.order)]

    def receivers(self) -> list[str]:
        return [e.receiver for e in sorted(self.entries, key=lambda e: e.order)]

    def report(self) -> str:
        """One line per receiver, for a notebook. Times follow "≈" (the lab's convention for
        measured numbers) and nothing is padded after a thread name, whose width varies."""
        return report(self.table())


def report(rows: list[dict]) -> str:
    """The lines of ``Run.report()`` for rows from ``Run.table()`` (or a view's JSON answer)."""
    return "\n".join(describe(row, position) for position, row in enumerate(rows, start=1)) or "(no receiver ran)"


def describe(row: dict, position: int) -> str:
    loop = "yes" if row["thread_runs_event_loop"] else "no"
    finished = "(still running)" if row["finished_ms"] is None else f"≈{row['finished_ms']:.1f} ms"
    return (
        f"{position}. {row['receiver']} ({row['kind']}) ran from ≈{row['started_ms']:.1f} to {finished}; "
        f"event loop in its thread: {loop}; thread {row['thread']}"
    )


_current_run: ContextVar[Run | None] = ContextVar("lab_signal_run", default=None)


def _event_loop_runs_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def entry(receiver: str, signal: str, kind: str, note: str = "") -> Iterator[Entry]:
    """Wrap a receiver's body: records its start, thread and (on exit) its finish."""
    with _lock:
        record = Entry(
            order=next(_order),
            receiver=receiver,
            signal=signal,
            kind=kind,
            thread=threading.current_thread().name,
            thread_runs_event_loop=_event_loop_runs_here(),
            started=time.monotonic(),
            note=note,
        )
        run = _current_run.get()
        if run is not None:
            run.entries.append(record)
        _recent.append(record)
    try:
        yield record
    finally:
        record.finished = time.monotonic()


@contextlib.contextmanager
def run(name: str) -> Iterator[Run]:
    """``with journal.run("asave") as r: await post.asave()`` → ``r.table()``."""
    current = Run(name)
    token = _current_run.set(current)
    try:
        yield current
    finally:
        _current_run.reset(token)


def recent(limit: int = 50) -> list[dict]:
    with _lock:
        return [e.as_dict() for e in list(_recent)[-limit:]]


def clear() -> int:
    with _lock:
        count = len(_recent)
        _recent.clear()
        return count
