"""The lab's database task backend: django-tasks-db's ``DatabaseBackend`` with one more task option.

Django 6.1's ``task()`` passes keyword arguments it does not know on to the backend's
``task_class`` (``django/tasks/base.py``, ``task(..., **kwargs)``). That is how a backend adds
options of its own. Here the option is ``time_limit``: an ``async def`` task that runs longer is
cancelled (``asyncio.timeout``) and its result is recorded as FAILED with ``TimeoutError``.

Only ``async def`` tasks can take a limit: a sync task runs in a thread, and a thread cannot be
interrupted from outside, so a limit there would be a promise nobody keeps.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from inspect import iscoroutinefunction

from asgiref.sync import async_to_sync
from django.tasks import Task
from django.tasks.exceptions import InvalidTask
from django_tasks_db import DatabaseBackend as StockDatabaseBackend


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeLimitedTask(Task):
    time_limit: float | None = None  # seconds; None: no limit

    # Workers run a task with ``call()`` (Immediate and db_worker alike), cells and views with
    # ``acall()``. Both go through the limit. (Explicit ``Task.`` calls: zero-argument super()
    # does not work in a slots dataclass, which is a rebuilt class.)
    def call(self, *args, **kwargs):
        if self.time_limit is None:
            return Task.call(self, *args, **kwargs)
        return async_to_sync(self.acall)(*args, **kwargs)

    async def acall(self, *args, **kwargs):
        if self.time_limit is None:
            return await Task.acall(self, *args, **kwargs)
        async with asyncio.timeout(self.time_limit):
            return await Task.acall(self, *args, **kwargs)


class DatabaseBackend(StockDatabaseBackend):
    task_class = TimeLimitedTask

    def validate_task(self, task: Task) -> None:
        super().validate_task(task)
        limit = getattr(task, "time_limit", None)
        if limit is None:
            return
        if not iscoroutinefunction(task.func):
            raise InvalidTask("time_limit needs an async def task: a thread cannot be interrupted.")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit <= 0:
            raise InvalidTask(f"time_limit must be a positive number of seconds, got {limit!r}.")
