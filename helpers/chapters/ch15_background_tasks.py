"""A django-tasks-db worker (``manage.py db_worker``) in a process of its own, for chapter 15.

    from helpers.chapters import ch15_background_tasks as ch15
    worker = await ch15.start_worker()
    ...
    await worker.stop()

The worker must work through the *same* database as the process that enqueues: a queue in
another SQLite file is a queue nobody reads. The kernel's data folder and database can differ
from run to run (and from the environment the kernel was started with), so the child gets the
database this process actually uses, read from Django's connection settings, as
``DATABASE_URL``; every other variable is inherited.

Start and stop are bounded. The child is never left behind: ``stop()`` ends it (SIGTERM, then
SIGKILL), an exit hook stops any worker still running when this process exits, and on Linux
the kernel sends the child SIGTERM if this process dies without running its exit hooks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from urllib.parse import quote

from helpers.server.child import ChildProcess
from helpers.server.errors import LabServerError

__all__ = ["TaskWorker", "WorkerError", "database_url", "start_worker"]

READY_LINE = "Starting worker"  # what db_worker logs once its loop begins (db_worker.py, Worker.run)


class WorkerError(LabServerError):
    """The worker did not start, with what it printed."""


def database_url(settings_dict: Mapping[str, object]) -> str:
    """A ``DATABASE_URL`` (dj-database-url syntax) for the database these settings point at."""
    engine = str(settings_dict["ENGINE"])
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or name.startswith("file:"):
            raise ValueError("an in-memory SQLite database cannot be shared with another process")
        # Absolute: the worker starts in the project folder, the kernel in notebooks/.
        return f"sqlite:///{os.path.abspath(name)}"
    if engine in {"django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"}:
        user = quote(str(settings_dict.get("USER") or ""), safe="")
        password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(name, safe='')}"
    raise ValueError(f"don't know how to hand a {engine} database to a worker process")


class TaskWorker(ChildProcess):
    """``python -m lab_project.manage db_worker`` as a child process of this one."""

    what = "the worker"

    def __init__(
        self,
        *,
        backend: str = "database",
        queues: tuple[str, ...] = ("default", "reports"),
        interval: float = 0.1,
        worker_id: str = "lab-worker",
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(env=env)
        self.backend = backend
        self.queues = tuple(queues)
        self.interval = interval  # seconds between two looks at an empty queue
        self.worker_id = worker_id  # recorded in each result's worker_ids

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "lab_project.manage", "db_worker",
            "--backend", self.backend,
            "--queue-name", ",".join(self.queues),
            "--interval", str(self.interval),
            "--worker-id", self.worker_id,
            "--no-reload",  # DEBUG turns the autoreloader on: a second process, a grandchild to orphan
            "--no-startup-delay",  # up to 1 s of random sleep, meant for a fleet of workers
            "--verbosity", "1",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        """The inherited environment, with the database this process really uses."""
        from django.conf import settings
        from django.db import connections

        env = {
            "DATABASE_URL": database_url(connections["default"].settings_dict),
            "LAB_DATA_DIR": str(settings.LAB.data_dir),
        }
        return {**super().environment(), **env, **{k: v for k, v in self.env_overrides.items() if v is not None}}

    def failure(self, message: str) -> Exception:
        return WorkerError(message)

    async def start(self, timeout: float = 30.0) -> TaskWorker:
        """Start the worker; return once it has logged that its loop runs, or raise with its log."""
        if not self.is_running:

            async def polling() -> bool:
                return READY_LINE in self.log()

            await self.spawn_and_wait(polling, timeout)
        return self

    async def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (db_worker exits at once when idle, after the job in hand otherwise), then
        SIGKILL after ``timeout`` seconds. Returns the exit code."""
        return await super().stop(timeout)

    async def __aenter__(self) -> TaskWorker:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<TaskWorker {self.worker_id} backend={self.backend} {'running' if self.is_running else 'stopped'}>"


async def start_worker(*, timeout: float = 30.0, **options) -> TaskWorker:
    """Start a db_worker process (see ``TaskWorker`` for options) and wait until it polls."""
    return await TaskWorker(**options).start(timeout)
