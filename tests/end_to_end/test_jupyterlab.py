"""The README's "start the lab" command, headless: JupyterLab comes up, and chapter 0 runs top to
bottom in a kernel that JupyterLab itself started (over its REST and WebSocket API, the way the
browser drives it)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from helpers.server import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def jupyterlab():
    port, token = free_port(), secrets.token_hex(16)
    # The README's command is `uv run jupyter lab notebooks/`; `--no-browser` for a headless box.
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "notebooks/", "--no-browser",
         f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=5) as client:
            for _ in range(300):
                try:
                    if (await client.get("/api/status")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stderr.read().decode()
                await asyncio.sleep(0.1)
            else:
                pytest.fail("JupyterLab did not answer within 30 s")
            yield client, f"ws://127.0.0.1:{port}", token
    finally:
        process.terminate()
        process.wait(timeout=20)


def execute_request(code: str, session: str) -> dict:
    msg_id = uuid.uuid4().hex
    return {
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                   "username": "test", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip


async def test_chapter_0_runs_in_a_kernel_started_by_jupyterlab(jupyterlab):
    client, ws_base, token = jupyterlab
    assert (await client.get("/lab")).status_code == 200
    listing = (await client.get("/api/contents/")).json()
    assert "00_start_here.ipynb" in {item["name"] for item in listing["content"]}

    kernel = (await client.post("/api/kernels", json={"name": "python3"})).json()
    notebook = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    session = uuid.uuid4().hex
    url = f"{ws_base}/api/kernels/{kernel['id']}/channels?session_id={session}&token={token}"
    try:
        async with websockets.connect(url, max_size=None) as channel:
            for code in cells:
                request = execute_request(code, session)
                await channel.send(json.dumps(request))
                async with asyncio.timeout(120):
                    while True:
                        message = json.loads(await channel.recv())
                        if (message.get("msg_type") == "execute_reply"
                                and message["parent_header"].get("msg_id") == request["header"]["msg_id"]):
                            break
                content = message["content"]
                assert content["status"] == "ok", f"cell failed:\n{code}\n{content.get('evalue')}"
    finally:
        await client.delete(f"/api/kernels/{kernel['id']}")
