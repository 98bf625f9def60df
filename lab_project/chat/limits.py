"""How much one chat connection may send, and a per-connection flood guard.

The numbers are small on purpose: a chat message is short, and a client sending faster than a
person types is a bug or an abuse. They live on ``ChatConsumer.limits`` so a test can swap in
others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ChatLimits:
    max_frame_bytes: int = 4096  # a frame larger than this is refused before parsing it
    max_text_chars: int = 500  # the "text" of one chat message
    history: int = 20  # messages kept per room, and replayed to a newcomer
    burst: int = 5  # messages a connection may send at once ...
    per_second: float = 2.0  # ... then this many per second


class RateLimiter:
    """A token bucket: ``burst`` tokens, refilled at ``per_second``; one message costs one.

    Hand-written because it is ten lines and shows the whole idea; it rejects rather than
    waits, so a flooding client is told at once and nobody else is slowed down.
    """

    def __init__(self, burst: int, per_second: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_second)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
