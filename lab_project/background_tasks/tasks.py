"""The chapter's tasks. They live in a module because a worker in another process finds a task by
its import path (``Task.module_path``), never by a reference handed over from this process.

All three run on the ``database`` backend (a worker process picks them up); a cell or a view
can send the same task elsewhere with ``.using(backend="immediate")``.
"""

from __future__ import annotations

import asyncio
import os

from django.tasks import task

MAX_SECONDS = 5.0


@task(backend="database", time_limit=10)
async def slow_job(seconds: float, label: str = "") -> dict:
    """Stands in for slow I/O (a report, a call to a slow API): it awaits, then says where it ran."""
    await asyncio.sleep(seconds)
    # The process id tells whether the job ran in the process that enqueued it or in a worker.
    return {"label": label, "slept": seconds, "pid": os.getpid()}


@task(backend="database")
async def failing_job(message: str) -> None:
    """Fails on purpose: the worker records the exception instead of the return value."""
    raise ValueError(message)


@task(backend="database", time_limit=0.3, queue_name="reports", priority=10)
async def limited_job(seconds: float) -> float:
    """Runs under ``time_limit`` (the option this lab's task class adds, see backends.py)."""
    await asyncio.sleep(seconds)
    return seconds
