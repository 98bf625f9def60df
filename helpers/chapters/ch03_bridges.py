"""What nest-asyncio2 allows in a Jupyter kernel, and what it costs — measured in a throwaway one.

``nest_asyncio2.apply()`` patches process-wide state and has no undo: the ``asyncio.Task`` and
``asyncio.Future`` classes become the slower pure-Python ones, and the event loop *class* (so
every loop of that class), the loop policy and ``asyncio.run`` are replaced. Applied in the
reader's own kernel it would silently change every later cell and every later chapter run in
that kernel. So ``run_nesting_experiment()`` starts a second, throwaway ipykernel, boots the lab
server in it, measures before and after patching, and shuts the kernel down.

The functions prefixed ``step_`` run inside that throwaway kernel, one cell each.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.server.errors import LabServerError

__all__ = ["NestingReport", "run_nesting_experiment"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REPORT_MARKER = "NESTING-REPORT:"

# The cells the throwaway kernel runs, in order. Each is short on purpose: the work is in the
# step_ functions below, which a reader can open.
CELLS = (
    "import json\nimport helpers.chapters.ch03_bridges as nesting\nserver = await nesting.step_boot()",
    "before = await nesting.step_before_patching(server)",
    "import nest_asyncio2\nnest_asyncio2.apply()",
    "after = await nesting.step_after_patching(server)",
    "await server.stop()\nprint(nesting.REPORT_MARKER + json.dumps({'before': before, 'after': after}))",
)

CHURN_TASKS = 2000  # tasks created and awaited per churn round
CALLS = 2000  # awaits / nested runs per overhead measurement


# -- in the throwaway kernel -----------------------------------------------------------------


async def step_boot():
    import helpers as lab

    return await lab.start()


async def _noop() -> int:
    return 1


async def _running_loop_id() -> int:
    return id(asyncio.get_running_loop())


async def _task_churn_seconds(rounds: int = 7) -> float:
    """Best of ``rounds``: create and await CHURN_TASKS tasks (every task pays for Task's class)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(_noop() for _ in range(CHURN_TASKS)))
        best = min(best, time.perf_counter() - started)
    return best


def _refusal(call) -> str:
    """Run ``call`` and return the RuntimeError message it raises (or 'no error')."""
    coroutine = _noop()
    try:
        call(coroutine)
    except RuntimeError as exc:
        return str(exc)
    finally:
        coroutine.close()  # refused before it started: no "never awaited" warning
    return "no error"


async def step_before_patching(server) -> dict:
    import httpx

    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=server.url) as client:
        sdk = await client.get("bridges/sdk/", params={"seconds": 0.01, "mode": "direct"})
    return {
        "pure_python_tasks": asyncio.Task is asyncio.tasks._PyTask,
        "task_churn": await _task_churn_seconds(),
        "asyncio_run": _refusal(asyncio.run),
        "run_until_complete": _refusal(loop.run_until_complete),
        "sdk_direct_status": sdk.status_code,
    }


def _async_to_sync_refusal() -> str:
    from asgiref.sync import async_to_sync

    try:
        async_to_sync(_noop)()
    except RuntimeError as exc:
        return str(exc)
    return "no error"


async def _overhead_per_call() -> tuple[float, float]:
    """Seconds per plain ``await`` of a coroutine and per nested ``asyncio.run`` of the same."""
    started = time.perf_counter()
    for _ in range(CALLS):
        await _noop()
    awaited = (time.perf_counter() - started) / CALLS
    started = time.perf_counter()
    for _ in range(CALLS):
        asyncio.run(_noop())  # nested: a task plus a trip round the loop, every call
    nested = (time.perf_counter() - started) / CALLS
    return awaited, nested


async def _send_raw_get(server, path: str):
    """Open a connection and send the request now; the server reads it on its next loop turn."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def _read_raw_response(reader, writer) -> tuple[int, dict]:
    raw = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def _server_reentered_during_nested_call(server) -> dict:
    """A request queued just before a nested ``asyncio.run(sleep)`` is served *inside* it."""
    connection = await _send_raw_get(server, "/clock/")
    started = time.monotonic()
    asyncio.run(asyncio.sleep(0.5))  # a sync call in this cell: no await until it returns
    finished = time.monotonic()
    status, body = await _read_raw_response(*connection)
    return {
        "status": status,
        "served_after": body["monotonic"] - started,
        "nested_call_took": finished - started,
    }


async def _work_after_sdk_call_started(seconds: float) -> float:
    from lab_project.bridges import legacy_sdk

    while legacy_sdk.active_calls() < 1:
        await asyncio.sleep(0.005)
    await asyncio.sleep(seconds)
    return time.perf_counter()


async def _cell_held_by_server_nesting(server, *, own: float, inner: float) -> dict:
    """The cell nests; a server request nests inside it; the cell is stuck until that ends.

    The cell's nested coroutine waits until the server's SDK call is running, then does
    ``own`` seconds of work. Its ``asyncio.run`` still cannot return before the inner one does:
    nested runs unwind last-in, first-out.
    """
    connection = await _send_raw_get(server, f"/bridges/sdk/?seconds={inner}&mode=direct")
    started = time.perf_counter()
    own_done = asyncio.run(_work_after_sdk_call_started(own))
    returned = time.perf_counter()
    status, _ = await _read_raw_response(*connection)
    return {
        "status": status,
        "own_work": own,
        "server_call": inner,
        "own_work_done_after": own_done - started,
        "returned_after": returned - started,
    }


async def _request_held_by_later_request(server, *, mode: str, first: float, second: float) -> dict:
    """Two SDK requests: the second starts while the first is inside its call.

    With ``mode=direct`` both nest the server's loop, so the first cannot answer before the
    second has; with ``mode=thread`` each runs its own loop in a worker thread.
    """
    import httpx

    from lab_project.bridges import legacy_sdk

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def timed(seconds: float) -> float:
            started = time.perf_counter()
            response = await client.get("bridges/sdk/", params={"seconds": seconds, "mode": mode})
            response.raise_for_status()
            return time.perf_counter() - started

        first_task = asyncio.create_task(timed(first))
        while legacy_sdk.active_calls() < 1:  # the first request is inside the SDK call
            await asyncio.sleep(0.005)
        second_task = asyncio.create_task(timed(second))
        return {"mode": mode, "first": first, "second": second,
                "first_latency": await first_task, "second_latency": await second_task}


async def step_after_patching(server) -> dict:
    import httpx

    loop = asyncio.get_running_loop()
    awaited, nested = await _overhead_per_call()
    async with httpx.AsyncClient(base_url=server.url) as client:
        sdk = await client.get("bridges/sdk/", params={"seconds": 0.01, "mode": "direct"})
    return {
        "pure_python_tasks": asyncio.Task is asyncio.tasks._PyTask,
        "task_churn": await _task_churn_seconds(),
        "asyncio_run": asyncio.run(_noop()),
        "run_until_complete": loop.run_until_complete(_noop()),
        # A nested asyncio.run does not start a second loop: it re-enters this one.
        "nested_run_reuses_the_loop": asyncio.run(_running_loop_id()) == id(loop),
        "sdk_direct_status": sdk.status_code,
        "async_to_sync": _async_to_sync_refusal(),
        "await_per_call": awaited,
        "nested_run_per_call": nested,
        "server_reentered": await _server_reentered_during_nested_call(server),
        "cell_held": await _cell_held_by_server_nesting(server, own=0.3, inner=1.2),
        "request_held": await _request_held_by_later_request(server, mode="direct", first=0.3, second=1.2),
        "request_alone": await _request_held_by_later_request(server, mode="thread", first=0.3, second=1.2),
    }


# -- in the reader's kernel ------------------------------------------------------------------


@dataclass(frozen=True)
class NestingReport:
    """What the throwaway kernel measured; ``before`` and ``after`` are its raw step results."""

    before: dict
    after: dict

    @property
    def task_churn_slowdown(self) -> float:
        return self.after["task_churn"] / self.before["task_churn"]

    @property
    def nested_run_overhead(self) -> float:
        return self.after["nested_run_per_call"] / self.after["await_per_call"]


async def _execute(client, code: str, timeout: float) -> str:
    out: list[str] = []
    errors: list[str] = []

    def collect(message: dict) -> None:
        kind = message["msg_type"]
        if kind == "stream" and message["content"]["name"] == "stdout":
            out.append(message["content"]["text"])
        elif kind == "error":
            errors.append(f"{message['content']['ename']}: {message['content']['evalue']}")

    reply = await client.execute_interactive(code, output_hook=collect, timeout=timeout, allow_stdin=False)
    if reply["content"]["status"] != "ok" or errors:
        detail = "; ".join(errors) or reply["content"]
        raise LabServerError(f"the throwaway kernel failed on {code.splitlines()[-1]!r}: {detail}")
    return "".join(out)


async def run_nesting_experiment(*, timeout: float = 120.0) -> NestingReport:
    """Start a throwaway kernel, run the experiment in it, shut it down, return the numbers.

    This kernel is never patched: nest-asyncio2 only ever runs in the throwaway one.
    """
    from jupyter_client.manager import start_new_async_kernel

    with tempfile.TemporaryFile() as kernel_log:  # the child's own stderr chatter stays out of the cell
        manager, client = await start_new_async_kernel(
            kernel_name="python3", cwd=str(PROJECT_ROOT), stdout=subprocess.DEVNULL, stderr=kernel_log
        )
        try:
            async with asyncio.timeout(timeout):
                output = ""
                for cell in CELLS:
                    output = await _execute(client, cell, timeout)
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
    line = next((ln for ln in output.splitlines() if ln.startswith(REPORT_MARKER)), None)
    if line is None:
        raise LabServerError(f"the throwaway kernel printed no report: {output[-500:]!r}")
    data = json.loads(line[len(REPORT_MARKER):])
    return NestingReport(before=data["before"], after=data["after"])
