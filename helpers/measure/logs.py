"""Read what a logger says, in a cell, without it landing on stderr.

The lab's own servers log through Django's ``django.request`` logger: request errors at ERROR
(with the exception) and, with DEBUG on, middleware adaptation at DEBUG. Inside the block the
logger's records are collected — and kept off stderr, which the notebook tests compare.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

__all__ = ["LoggedRecord", "capture_log"]


@dataclass(frozen=True)
class LoggedRecord:
    level: str
    message: str
    exception_type: str | None
    exception_message: str | None


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[LoggedRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.records.append(
            LoggedRecord(
                level=record.levelname,
                message=record.getMessage(),
                exception_type=type(exc).__name__ if exc is not None else None,
                exception_message=str(exc) if exc is not None else None,
            )
        )


@contextlib.contextmanager
def capture_log(name: str = "django.request", level: int | str = logging.DEBUG):
    """``with capture_log("django.request") as records: ...`` — a list filled as records arrive."""
    logger = logging.getLogger(name)
    collector = _Collector()
    saved = logger.level, logger.handlers[:], logger.propagate
    logger.setLevel(level)
    logger.handlers[:] = [collector]
    logger.propagate = False
    try:
        yield collector.records
    finally:
        logger.level, logger.handlers[:], logger.propagate = saved[0], saved[1], saved[2]
