"""lab_project under WSGI, in a child process: the baselines async is compared against.

Two servers, for two different questions:

* **gunicorn with gthread workers** (``start_wsgi``) is the benchmark baseline. It is a
  production WSGI server with a *bounded* pool — ``workers × threads`` requests at a time —
  which is what "sync Django with threads" means in a deployment, and the bound is the point:
  a thread blocked on I/O is a thread no other request can use.
* **Django's runserver** (``start_runserver``) answers chapter 11's question — what the
  development server really is. It is WSGI too, but starts a new thread per connection with no
  bound, and it is not meant for load; the lab does not benchmark it.

Both reuse ``ProcessServer``: start waits for ``/health/``, stop sends SIGTERM (then SIGKILL).
"""

from __future__ import annotations

import sys

from helpers.server.process import ProcessServer

__all__ = ["GunicornServer", "RunserverServer", "start_runserver", "start_wsgi"]

DEFAULT_WSGI_APP = "lab_project.wsgi:application"


class GunicornServer(ProcessServer):
    """``gunicorn --worker-class gthread`` with ``workers`` processes of ``threads`` threads."""

    def __init__(self, *, workers: int = 1, threads: int = 10, app: str = DEFAULT_WSGI_APP, **options) -> None:
        super().__init__(app=app, workers=workers, **options)
        self.threads = threads

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", self.app,
            "--bind", f"{self.host}:{self.port}",
            "--worker-class", "gthread",
            "--workers", str(self.workers), "--threads", str(self.threads),
            "--graceful-timeout", "3", "--timeout", "120",
            "--log-level", "warning",
            # gunicorn's default control socket is one path per user: two servers would clash.
            "--no-control-socket",
            *self.extra_args,
        ]  # fmt: skip

    def describe(self) -> str:
        return f"{self.workers}×{self.threads} threads"


class RunserverServer(ProcessServer):
    """``manage.py runserver --noreload`` (and ``--nothreading`` when ``threading=False``)."""

    def __init__(self, *, threading: bool = True, **options) -> None:
        env = {"DJANGO_RUNSERVER_HIDE_WARNING": "true", **dict(options.pop("env", None) or {})}
        super().__init__(env=env, **options)
        self.threading = threading

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "lab_project.manage", "runserver", "--noreload",
            *([] if self.threading else ["--nothreading"]),
            *self.extra_args,
            f"{self.host}:{self.port}",
        ]  # fmt: skip

    def describe(self) -> str:
        return "threaded" if self.threading else "--nothreading"


async def start_wsgi(*, workers: int = 1, threads: int = 10, timeout: float = 30.0, **options) -> GunicornServer:
    """Start lab_project under gunicorn (gthread) in a child process; return it once it answers."""
    return await GunicornServer(workers=workers, threads=threads, **options).start(timeout=timeout)


async def start_runserver(*, threading: bool = True, timeout: float = 30.0, **options) -> RunserverServer:
    """Start ``manage.py runserver --noreload`` in a child process; return it once it answers."""
    return await RunserverServer(threading=threading, **options).start(timeout=timeout)
