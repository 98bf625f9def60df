"""Is the process that owns a per-process database still alive?"""

from __future__ import annotations

import os

__all__ = ["process_is_alive"]


def process_is_alive(pid: int) -> bool:
    """True when a process with this id runs on this machine (signal 0 checks, sends nothing).

    A recycled id keeps a dead kernel's leftovers a little longer; it never removes a live one's.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
