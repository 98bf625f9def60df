"""What the example tests saw, written down for the notebook that runs them in another process.

The test runner's own output only says ok or FAIL. The facts behind an ok (which thread ran
the test's coroutine, which thread ran the ORM, whether a transaction was open there) are
appended, one JSON line per observation, to the file named by ``LAB_TEST_OBSERVATIONS``.
Without that variable (a plain test run) nothing is written.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

OBSERVATIONS_ENV = "LAB_TEST_OBSERVATIONS"


def where_this_runs() -> dict[str, Any]:
    """The calling thread, and whether its database connection is inside a transaction."""
    thread = threading.current_thread()
    return {
        "thread": thread.name,
        "main_thread": thread is threading.main_thread(),
        "in_transaction": connection.in_atomic_block,
    }


def on_a_throwaway_connection(query: Callable[[], Any]) -> Callable[[], Any]:
    """``query`` for a thread of its own: it closes that thread's connection afterwards.

    A connection left open by a worker thread would outlive the test (and on PostgreSQL keep
    the test database from being dropped).
    """

    def run() -> Any:
        try:
            return query()
        finally:
            connection.close()

    return run


def observe(test: str, **facts: Any) -> None:
    path = os.environ.get(OBSERVATIONS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps({"test": test, **facts}, sort_keys=True) + "\n")
