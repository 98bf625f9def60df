"""A child process of this one: started from the project folder, its output kept in a file,
stopped with SIGTERM then SIGKILL, and never left behind.

Lab servers in their own process (``ProcessServer`` and its subclasses) and chapter 15's task
worker are all one of these. A child must not outlive the kernel that started it: ``stop()``
ends it, an exit hook ends any still running when this process exits normally, and on Linux
the kernel sends it SIGTERM if this process dies without running its exit hooks.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from helpers.server.errors import LabServerError

__all__ = ["ROOT", "ChildProcess"]

ROOT = Path(__file__).resolve().parents[2]

_running: set[ChildProcess] = set()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Linux only: ask the kernel to send this child SIGTERM when its parent dies."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class ChildProcess:
    """Subclasses say what to run (``command()``) and may add to its ``environment()``."""

    what = "the child process"  # for error messages

    def __init__(self, *, env: Mapping[str, str | None] | None = None) -> None:
        self.env_overrides = dict(env or {})
        self._process: subprocess.Popen | None = None
        # A named file the child appends to through a handle of its own: with one shared handle,
        # reading the log here would move the offset the child writes at.
        self._log = tempfile.NamedTemporaryFile(prefix="lab-child-", suffix=".log")

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """This process's environment, the settings module, then ``env`` (None removes a name)."""
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")
        env["PYTHONUNBUFFERED"] = "1"  # log lines reach the file as they happen
        for key, value in self.env_overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What the process printed so far (stdout and stderr)."""
        return Path(self._log.name).read_bytes().decode(errors="replace")

    async def spawn_and_wait(self, ready: Callable[[], Awaitable[bool]], timeout: float) -> None:
        """Start the process and return once ``ready()`` is true; else stop it and raise with its log."""
        # Popen on this thread, not a worker thread: Linux's parent-death signal fires when the
        # *thread* that forked exits, and a pool thread may exit long before this process.
        with open(self._log.name, "ab") as log:
            self._process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.environment(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        _running.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                await self.stop()
                raise self.failure(f"{self.what} exited with code {code} during start-up:\n{self.log()}")
            if await ready():
                return
            await asyncio.sleep(0.05)
        await self.stop()
        raise self.failure(f"{self.what} did not get ready within {timeout} s:\n{self.log()}")

    def failure(self, message: str) -> Exception:
        return LabServerError(message)

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL after ``timeout`` seconds; the exit code."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        return process.returncode

    def kill_now(self) -> None:
        """Synchronous last resort (exit hook, a test's teardown without a loop)."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)


@atexit.register
def _stop_leftover_children() -> None:
    for child in list(_running):
        child.kill_now()
