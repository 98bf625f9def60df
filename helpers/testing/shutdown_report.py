"""lab_project's ASGI app, plus a report of what a server process left behind when it stopped.

For tests of a graceful stop in a separate process, where the stream registry and the
in-memory channel layer cannot be read from outside. Serve it with
``lab.start_process(app="helpers.testing.shutdown_report:application")``; after ``stop()``,
``read_shutdown_report(data_dir)`` returns what the process wrote into its data folder.

uvicorn runs the lifespan shutdown last: after it has closed every WebSocket (code 1012) and,
once the graceful timeout ran out, cancelled the tasks still streaming. So a callback there
sees how those connections ended, and whether their clean-up ran. The callback belongs to this
app's lifespan only (not ``on_shutdown``, which is process-wide): importing this module in a
test process must not make every other server's stop write a report.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from channels.routing import ProtocolTypeRouter

from lab_project.asgi import application as stock_application
from lab_project.config import data_dir
from lab_project.lifespan import LabLifespan

__all__ = ["read_shutdown_report", "write_shutdown_report"]

REPORT_NAME = "shutdown-report.json"
SETTLE_S = 2.0  # cancelled tasks run their clean-up on the next turns of the loop


def _groups() -> dict[str, list[str]]:
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        return {}  # channels_redis keeps groups in Redis: read them from there
    return {name: sorted(members) for name, members in layer.groups.items() if members}


async def write_shutdown_report() -> None:
    from lab_project.streaming_sse.registry import streams

    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_S
    while loop.time() < deadline:
        counts = streams.counts()
        if not (counts["streaming"] or _groups()):
            break
        await asyncio.sleep(0.02)
    report = {"streams": streams.snapshot(last=200)["streams"], "groups": _groups()}
    (data_dir() / REPORT_NAME).write_text(json.dumps(report, sort_keys=True))


application = ProtocolTypeRouter(
    {**stock_application.application_mapping, "lifespan": LabLifespan(extra_shutdown=(write_shutdown_report,))}
)


def read_shutdown_report(folder: str | Path) -> dict:
    """The report a process with ``LAB_DATA_DIR=folder`` wrote when it stopped."""
    return json.loads((Path(folder) / REPORT_NAME).read_text())
