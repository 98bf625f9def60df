"""Several notebooks at once, in real kernels, with the default settings.

A JupyterLab user keeps several chapters open; each kernel calls ``lab.start(fresh_db=True)``.
The rest of the suite never sees that: nbval runs one notebook at a time, in a data folder of
its own. Here the kernels share one data folder, as they share a user's ``.lab-data/``, and
nothing tells them apart but their process ids (``helpers.server.database``):

* three chapters that write to the database, run at the same time, on a fresh data folder and
  again on the folder the first round left (template already migrated);
* Run All twice in one kernel;
* a kernel killed mid-chapter (a restart), then Run All in the new kernel.

Each notebook asserts its own outcomes (cells that check ids, counts, verdicts), and its
outputs are compared with the stored ones the way nbval compares them (same sanitizer, same
``nbval-ignore-output`` cells skipped). Afterwards no kernel's database is left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient

from lab_project.config import KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = ROOT / "notebooks"
# Small chapters that create rows and print their ids (fast: about 15 s each on the 2-core box).
AT_ONCE = ["01_async_views.ipynb", "02_async_orm.ipynb", "07_signals.ipynb"]
CELL_TIMEOUT = 180
UNCOMPARED_TAGS = {"nbval-ignore-output", "nbval-skip"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def kernel_environment(data_dir: Path) -> dict[str, str]:
    """This process's environment, minus what makes the test suite's kernels special.

    No DATABASE_URL (the test run's own database, which kernels would otherwise inherit) and a
    data folder the kernels share: what `uv run jupyter lab` gives every kernel.
    """
    env = dict(os.environ)
    for name in ("DATABASE_URL", KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV):
        env.pop(name, None)
    env["LAB_DATA_DIR"] = str(data_dir)
    return env


def client_for(name: str) -> NotebookClient:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    return NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )


async def run_all(client: NotebookClient) -> None:
    """Run every cell of the client's notebook in its (running) kernel, top to bottom."""
    for index, cell in enumerate(client.nb.cells):
        await client.async_execute_cell(cell, index)


# -- comparing outputs the way nbval does -----------------------------------------------------
def _sanitizers() -> list[tuple[re.Pattern, str]]:
    lines = (ROOT / "tests" / "nbval_sanitize.cfg").read_text().splitlines()
    pairs, pattern = [], None
    for line in lines:
        if line.startswith("regex:"):
            pattern = re.compile(line.removeprefix("regex:").strip())
        elif line.startswith("replace:") and pattern is not None:
            pairs.append((pattern, line.removeprefix("replace:").strip()))
            pattern = None
    return pairs


SANITIZERS = _sanitizers()


def _sanitized(text: str) -> str:
    for pattern, replacement in SANITIZERS:
        text = pattern.sub(replacement, text)
    return text


def _comparable(outputs: list) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for output in outputs:
        if output["output_type"] == "stream":
            # Consecutive writes to one stream are one output, however the kernel flushed them.
            if seen and seen[-1][0] == output["name"]:
                seen[-1] = (output["name"], seen[-1][1] + output["text"])
            else:
                seen.append((output["name"], output["text"]))
        elif output["output_type"] == "execute_result" and "text/plain" in output.get("data", {}):
            seen.append(("result", output["data"]["text/plain"]))
    return [(kind, _sanitized(text)) for kind, text in seen]


def differences(name: str, executed: nbformat.NotebookNode) -> list[str]:
    """Cells whose outputs differ from the stored notebook's (as nbval would report them)."""
    stored = nbformat.read(NOTEBOOKS / name, as_version=4)
    found = []
    for index, (before, after) in enumerate(zip(stored.cells, executed.cells, strict=True)):
        if before.cell_type != "code" or UNCOMPARED_TAGS & set(before.metadata.get("tags", [])):
            continue
        expected, got = _comparable(before.outputs), _comparable(after.outputs)
        if expected != got:
            found.append(f"{name} cell {index}: stored {expected!r}\n  got {got!r}")
    return found


def leftover_databases(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "kernels").glob("*.sqlite3"))


# -- the tests ---------------------------------------------------------------------------------
async def test_three_chapters_at_once_on_a_fresh_then_a_used_data_folder(tmp_path):
    data_dir = tmp_path / "lab-data"  # fresh: no template, no database yet
    env = kernel_environment(data_dir)
    for round_ in ("fresh data folder", "used data folder"):
        clients = [client_for(name) for name in AT_ONCE]
        await asyncio.gather(*(client.async_execute(env=env) for client in clients))
        found = [d for name, client in zip(AT_ONCE, clients, strict=True) for d in differences(name, client.nb)]
        assert not found, f"{round_}: outputs differ from the stored ones:\n" + "\n".join(found)
        # Each kernel removed its own database when it shut down: the folder does not grow.
        assert leftover_databases(data_dir) == [], round_
    assert (data_dir / "template.sqlite3").exists()


async def test_run_all_twice_in_one_kernel(tmp_path):
    data_dir = tmp_path / "lab-data"
    client = client_for("02_async_orm.ipynb")
    async with client.async_setup_kernel(env=kernel_environment(data_dir)):
        await run_all(client)
        await run_all(client)  # fresh_db=True again: the same ids, the same outputs
        assert not differences("02_async_orm.ipynb", client.nb)
        assert len(leftover_databases(data_dir)) == 1  # one kernel, one database, reused
    assert leftover_databases(data_dir) == []


async def test_a_kernel_killed_mid_chapter_then_run_all(tmp_path):
    data_dir = tmp_path / "lab-data"
    client = client_for("07_signals.ipynb")
    async with client.async_setup_kernel(env=kernel_environment(data_dir)):
        half = len(client.nb.cells) // 2
        for index, cell in enumerate(client.nb.cells[:half]):
            await client.async_execute_cell(cell, index)
        killed = leftover_databases(data_dir)
        assert len(killed) == 1
        # "Restart kernel": now=True kills it, so its exit-time clean-up never runs.
        await client.km.restart_kernel(now=True)
        await ensure_async(client.kc.wait_for_ready(timeout=60))
        await run_all(client)
        assert not differences("07_signals.ipynb", client.nb)
        # The new kernel's fresh start removed the killed kernel's database.
        remaining = leftover_databases(data_dir)
        assert len(remaining) == 1 and remaining != killed
    assert leftover_databases(data_dir) == []
