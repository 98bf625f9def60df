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
import tempfile

from helpers.server.errors import LabServerError
from helpers.server.process import ProcessServer
from lab_project.config import redis_answers

__all__ = ["ThrowawayRedis"]


class ThrowawayRedis(ProcessServer):
    scheme = "redis"

    def __init__(self, port: int = 0) -> None:
        super().__init__(port=port)
        self._dir = tempfile.TemporaryDirectory(prefix="lab-redis-")

    @property
    def url(self) -> str:
        return f"redis://{self.netloc}/0"

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LabServerError("redis-server is not installed (Debian: `apt-get install redis-server`)")
        return [binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--dir", self._dir.name, "--loglevel", "warning"]  # fmt: skip

    async def ready(self) -> bool:
        return await asyncio.to_thread(redis_answers, self.url, 0.2)

    async def start(self, timeout: float = 10.0) -> ThrowawayRedis:
        """Start (or restart, on the same port) the server; return once it answers PING."""
        return await super().start(timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        self.crash()

    def crash(self) -> None:
        """SIGKILL: what a crashed or OOM-killed Redis looks like to its clients."""
        self.kill_now()

    def pause(self) -> None:
        """SIGSTOP: Redis hangs with every connection open, as on a stalled host or a long fork."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    async def __aexit__(self, *exc_info: object) -> None:
        self.crash()
        self._dir.cleanup()
