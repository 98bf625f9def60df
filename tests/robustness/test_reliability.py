"""The lab runs inside people's kernels: it must never take the process down, leak what it
opened, or hang. These tests start and stop real servers and real kernels to prove it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx

import helpers as lab
from helpers.server import LabServer

ROOT = Path(__file__).resolve().parents[2]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_hundred_start_stop_cycles_leak_nothing(lab_server):
    app = lab_server._config.app  # the same loaded app: importing is not what we measure

    async def cycle() -> float:
        started = time.perf_counter()
        server = await LabServer(app).start(timeout=5)
        elapsed = time.perf_counter() - started
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.url + "health/")).status_code == 200
        await server.stop()
        return elapsed

    await cycle()  # warm-up: first-use imports and caches are not leaks
    fds, threads, tasks = open_fds(), threading.active_count(), len(asyncio.all_tasks())
    slowest = max([await cycle() for _ in range(100)])
    assert slowest < 5, f"a start took {slowest:.2f} s"
    await asyncio.sleep(0.2)  # let closed transports finish their callbacks
    assert open_fds() <= fds, f"file descriptors: {fds} before, {open_fds()} after"
    assert threading.active_count() <= threads
    assert len(asyncio.all_tasks()) <= tasks


def run_isolated(script: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter (its own Django settings) and return the result."""
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


START_AND_REPORT = """
    import asyncio
    import helpers as lab

    async def main():
        try:
            server = await lab.start()
        except lab.LabServerError as error:
            print("LabServerError:", error)
        else:
            print("started", server.url)
            await server.stop()
        print("process still alive")

    asyncio.run(main())
"""


def test_broken_settings_are_an_exception_and_the_process_lives():
    result = run_isolated(START_AND_REPORT, DJANGO_SETTINGS_MODULE="no_such_settings_module")
    assert "LabServerError: could not set up the lab's database" in result.stdout, result.stderr
    assert "no_such_settings_module" in result.stdout
    assert "process still alive" in result.stdout
    assert result.returncode == 0


def test_an_unreachable_database_is_an_exception_and_the_process_lives():
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused fast.
    result = run_isolated(START_AND_REPORT, DATABASE_URL="postgres://lab@127.0.0.1:9/lab")
    assert "LabServerError: could not set up the lab's database: OperationalError" in result.stdout, result.stderr
    assert "Check DATABASE_URL" in result.stdout
    assert "process still alive" in result.stdout


def test_a_bad_environment_value_says_which_variable(tmp_path):
    result = run_isolated(START_AND_REPORT, LAB_DEBUG="maybe", LAB_DATA_DIR=str(tmp_path))
    assert "LAB_DEBUG='maybe' is not a boolean" in result.stdout, result.stderr
    assert "process still alive" in result.stdout


def test_interrupting_a_cell_leaves_the_server_running():
    """A real kernel: start the server, interrupt a long cell, the server still answers."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        def run(code: str, timeout: float = 60) -> dict:
            outputs: list[str] = []
            reply = client.execute_interactive(
                code, timeout=timeout, output_hook=lambda msg: outputs.append(str(msg["content"]))
            )
            return {"status": reply["content"]["status"], "outputs": "\n".join(outputs)}

        assert run("import helpers as lab\nserver = await lab.start()")["status"] == "ok"
        msg_id = client.execute("import asyncio\nawait asyncio.sleep(60)")
        time.sleep(1.0)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error"  # the cell was cancelled ...
        check = run(
            "import httpx\n"
            "async with httpx.AsyncClient() as c:\n"
            "    r = await c.get(server.url + 'health/')\n"
            "print(r.status_code, server.is_running)"
        )
        assert check["status"] == "ok"
        assert "200 True" in check["outputs"]  # ... the server was not
        assert run("await server.stop()\nprint(server.is_running)")["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_servers_bind_to_loopback_unless_asked():
    assert lab.Server.__init__.__kwdefaults__["host"] == "127.0.0.1"  # every server's default
    assert LabServer().host == "127.0.0.1"
    assert lab.start.__kwdefaults__["host"] == "127.0.0.1"
    assert lab.ProcessServer.__init__.__kwdefaults__["host"] == "127.0.0.1"
