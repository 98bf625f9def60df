"""Re-run notebooks top to bottom and save their outputs, in the environment nbval will use.

    uv run python scripts/refresh_notebooks.py notebooks/05_streaming_sse.ipynb [...]
    uv run python scripts/refresh_notebooks.py --all

Each run gets a throw-away data folder and Redis key prefix, like the test suite, and the
kernel is this environment's Python. Commit the notebooks it writes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def refresh(path: Path, timeout: int) -> None:
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="lab-refresh-") as data:
        os.environ["LAB_DATA_DIR"] = data
        os.environ["LAB_REDIS_PREFIX"] = f"labrefresh{os.getpid()}"
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    nbformat.write(notebook, path)
    print(f"refreshed {path.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook under notebooks/")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) if args.all else [p.resolve() for p in args.notebooks]
    if not paths:
        parser.error("name notebooks, or pass --all")
    for path in paths:
        refresh(path, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
