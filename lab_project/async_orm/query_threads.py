"""Which thread ran each SQL query — the runtime proof that an ``a``-method is a thread hop.

Django's ``connection_created`` signal fires in the thread that opens a connection; we add an
execute wrapper to every new connection there. The wrapper costs one ContextVar lookup per
query and records nothing unless a caller opened ``recording_query_threads()``. A ContextVar
(rather than a global) because asgiref copies the caller's context into the worker thread that
``sync_to_async`` uses, so the recording follows the query wherever it runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from django.db.backends.signals import connection_created

_sink: ContextVar[list[str] | None] = ContextVar("lab_query_threads", default=None)


def _record_thread(execute, sql, params, many, context):
    sink = _sink.get()
    if sink is not None:
        sink.append(threading.current_thread().name)
    return execute(sql, params, many, context)


def _wrap_new_connection(sender, connection, **kwargs) -> None:
    if _record_thread not in connection.execute_wrappers:
        connection.execute_wrappers.append(_record_thread)


def install() -> None:
    """Called once from the app's ``ready()``."""
    connection_created.connect(_wrap_new_connection, dispatch_uid="lab_async_orm.query_threads")


@contextlib.contextmanager
def recording_query_threads() -> Iterator[list[str]]:
    """``with recording_query_threads() as threads: await Post.objects.acount()`` → thread names."""
    threads: list[str] = []
    token = _sink.set(threads)
    try:
        yield threads
    finally:
        _sink.reset(token)
