"""A private ``redis-server`` on a spare port, for tests that crash and restart Redis.

The machine's shared Redis (port 6379) is never stopped: other test runs and other people use
it. This one keeps nothing on disk (``--save "" --appendonly no``), so a crash loses every key,
as a cache-only Redis in production would.

    async with ThrowawayRedis() as redis:
        server = await lab.start_process(env={"REDIS_URL": redis.url})
        redis.crash()               # SIGKILL: connections drop, keys are gone
        await redis.start()         # the same port again
        redis.pause(); redis.resume()   # SIGSTOP / SIGCONT: a hung Redis
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tempfile

from helpers._errors import LabServerError
from helpers._process import free_port
from lab_project.config import redis_answers


class ThrowawayRedis:
    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="lab-redis-")
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self, timeout: float = 10.0) -> ThrowawayRedis:
        """Start (or restart) the server; return once it answers PING."""
        if self.is_running:
            return self
        binary = shutil.which("redis-server")
        if binary is None:
            raise LabServerError("redis-server is not installed (Debian: `apt-get install redis-server`)")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir.name, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await asyncio.to_thread(redis_answers, self.url, 0.2):
            if self._process.poll() is not None or loop.time() > deadline:
                self.crash()
                raise LabServerError(f"redis-server on port {self.port} did not start within {timeout} s")
            await asyncio.sleep(0.05)
        return self

    def crash(self) -> None:
        """SIGKILL: what a crashed or OOM-killed Redis looks like to its clients."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """SIGSTOP: Redis hangs with every connection open, as on a stalled host or a long fork."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    async def __aenter__(self) -> ThrowawayRedis:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.crash()
        self._dir.cleanup()
