"""Pin a server and its load client to different CPUs (Linux), so they do not steal each other's."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["cpus_for_pinning", "on_cpus"]


@contextlib.contextmanager
def on_cpus(cpus: set[int]) -> Iterator[None]:
    """Run the calling thread — and processes or threads it starts meanwhile — on ``cpus`` only.

    Linux keeps CPU affinity per thread and hands it down to children, so a server process
    started inside this block runs every one of its threads on ``cpus``.
    """

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpus_for_pinning() -> tuple[set[int], set[int]] | None:
    """(server CPU, client CPUs) for a pinned run, or None on a machine with a single CPU."""

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[-1]}, set(cpus[:-1])


