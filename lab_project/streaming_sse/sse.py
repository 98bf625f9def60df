"""The server-sent events wire format, written by hand because it is what the chapter teaches.

An event is a few ``field: value`` lines ended by a blank line. ``id`` is what a browser sends
back as ``Last-Event-ID`` when it reconnects; ``event`` names the event (``message`` when
absent); each line of the payload gets its own ``data:`` line.
"""

from __future__ import annotations

import json


def sse_event(data: object, *, event: str | None = None, id: int | None = None) -> str:
    """One event; ``data`` is sent as JSON."""
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    # json.dumps never emits a raw newline, so the payload always fits on one data: line.
    lines.append(f"data: {json.dumps(data)}")
    return "\n".join(lines) + "\n\n"
