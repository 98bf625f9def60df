"""What a piece of async code really did: SQL statements, Redis commands and thread hops.

    with trace.record() as seen:
        await session.aget("visits")
    seen.summary()  # {"sql": 1, "redis": 0, "thread_hops": 1, "io_on_loop": 0, ...}

"Session access in an async view is free" is a claim about work you cannot see in the code:
``aget`` looks like a dict lookup, yet it may load the session from the database or Redis, and
that load may run in a worker thread. This recorder counts that work and notes where it ran.

How: while at least one recording is open, three process-wide hooks are installed (and removed
when the last one closes): Django's ``CursorWrapper`` (every SQL statement), redis-py's sync
``Redis.execute_command`` (Django's ``RedisCache`` is built on it), and asgiref's
``SyncToAsync.__call__`` (every thread hop). A hook only records when the code that runs it
belongs to an open recording; the recording travels in a ContextVar, which asgiref copies into
the worker thread of ``sync_to_async`` and back, so work done there still lands in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from asgiref.sync import SyncToAsync
from django.db.backends import utils as db_utils

_current: ContextVar[Recording | None] = ContextVar("lab_auth_trace", default=None)
_lock = threading.Lock()
_installed = 0
_originals: dict[str, object] = {}

_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


@dataclass(frozen=True)
class Event:
    kind: str  # "sql", "redis" or "thread hop"
    detail: str  # "SELECT django_session", "GET", "load"
    thread: str
    on_loop: bool  # did the thread that did it run an event loop?


@dataclass
class Recording:
    events: list[Event] = field(default_factory=list)
    # The recording that was open when this one started: it sees these events too, so a
    # recording around a whole request also counts what a view recorded for itself.
    outer: Recording | None = field(default=None, repr=False)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def summary(self) -> dict:
        """Counts, and where the I/O ran: "loop" (blocking the event loop) or "worker thread"."""
        io = [e for e in self.events if e.kind in ("sql", "redis")]
        return {
            "sql": len(self.of("sql")),
            "redis": len(self.of("redis")),
            "thread_hops": len(self.of("thread hop")),
            "io_on_loop": sum(e.on_loop for e in io),
            "io_in_worker_thread": sum(not e.on_loop for e in io),
        }

    def details(self, kind: str) -> list[str]:
        return [e.detail for e in self.of(kind)]


def _note(kind: str, detail: str) -> None:
    recording = _current.get()
    if recording is None:
        return
    try:
        asyncio.get_running_loop()
        on_loop = True
    except RuntimeError:
        on_loop = False
    event = Event(kind, detail, threading.current_thread().name, on_loop)
    while recording is not None:
        recording.events.append(event)
        recording = recording.outer


# Transaction control is left out: SQLite (in IMMEDIATE mode) sends BEGIN where PostgreSQL's
# driver opens transactions itself, and neither reads or writes session data.
_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _note_sql(sql: str) -> None:
    detail = _sql_detail(sql)
    if detail.split()[0] not in _TRANSACTION_CONTROL:
        _note("sql", detail)


def _sql_detail(sql: str) -> str:
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table else verb


def _install() -> None:
    original_execute = db_utils.CursorWrapper._execute
    original_executemany = db_utils.CursorWrapper._executemany
    original_hop = SyncToAsync.__call__

    def _execute(self, sql, params, *ignored_wrapper_args):
        _note_sql(sql)
        return original_execute(self, sql, params, *ignored_wrapper_args)

    def _executemany(self, sql, param_list, *ignored_wrapper_args):
        _note_sql(sql)
        return original_executemany(self, sql, param_list, *ignored_wrapper_args)

    async def hop(self, *args, **kwargs):
        # Never repr() the function: a QuerySet's repr would run a query of its own.
        _note("thread hop", getattr(self.func, "__name__", None) or type(self.func).__name__)
        return await original_hop(self, *args, **kwargs)

    _originals.update(execute=original_execute, executemany=original_executemany, hop=original_hop)
    db_utils.CursorWrapper._execute = _execute
    db_utils.CursorWrapper._executemany = _executemany
    SyncToAsync.__call__ = hop
    try:
        from redis.client import Redis
    except ImportError:  # no redis-py: nothing of Redis to record
        return
    original_command = Redis.execute_command

    def execute_command(self, *args, **options):
        _note("redis", str(args[0]) if args else "?")
        return original_command(self, *args, **options)

    _originals["redis"] = original_command
    Redis.execute_command = execute_command


def _uninstall() -> None:
    db_utils.CursorWrapper._execute = _originals.pop("execute")
    db_utils.CursorWrapper._executemany = _originals.pop("executemany")
    SyncToAsync.__call__ = _originals.pop("hop")
    if "redis" in _originals:
        from redis.client import Redis

        Redis.execute_command = _originals.pop("redis")


@contextlib.contextmanager
def record() -> Iterator[Recording]:
    """Record the SQL, Redis commands and thread hops caused inside the block."""
    global _installed
    with _lock:
        if _installed == 0:
            _install()
        _installed += 1
    recording = Recording(outer=_current.get())
    token = _current.set(recording)
    try:
        yield recording
    finally:
        _current.reset(token)
        with _lock:
            _installed -= 1
            if _installed == 0:
                _uninstall()
