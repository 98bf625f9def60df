"""Test set-up shared by pytest and nbval.

Every run gets its own throw-away data folder, so tests never touch the user's lab database,
and its own Redis key prefix, so two runs on one Redis never see each other's keys.

Redis: tests marked ``redis`` (and notebooks whose metadata says ``"lab": {"needs_redis":
true}``) use the real server at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, where the
compose file puts it). Without one they skip, with the reason, unless ``LAB_REQUIRE_REDIS=1``
(set by CI): then a missing Redis is a failure, because a green run that skipped the Redis
parts would be a lie.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

_RUN_ROOT = Path(tempfile.mkdtemp(prefix="lab-test-"))
os.environ["LAB_DATA_DIR"] = str(_RUN_ROOT / "tests")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["LAB_REDIS_PREFIX"] = f"labtest{os.getpid()}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")

from lab_project.config import redis_answers  # noqa: E402

import helpers as lab  # noqa: E402
from helpers.server import prepare_database_sync  # noqa: E402

from django.test.utils import setup_test_environment  # noqa: E402

REDIS_URL = os.environ["REDIS_URL"]
REDIS_REQUIRED = os.environ.get("LAB_REQUIRE_REDIS", "").lower() in {"1", "true", "yes"}
REDIS_UP = redis_answers(REDIS_URL)

# Browser tests (marked ``browser``) drive Debian's Chromium; the same rule as for Redis, with
# LAB_REQUIRE_BROWSER=1 (set by CI) turning "no browser, skipped" into a failure.
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_REQUIRED = os.environ.get("LAB_REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}

prepare_database_sync(fresh=True)
# What Django's own test runner does first: allow the test client's 'testserver' host, etc.
setup_test_environment()

# Django in this process has read its settings; the notebook kernels nbval starts inherit the
# environment from here on, and get a data folder of their own.
os.environ["LAB_DATA_DIR"] = str(_RUN_ROOT / "notebooks")


def _no_redis_reason() -> str:
    return f"no Redis answers at {REDIS_URL} (start one with `docker compose up -d`)"


def _require_browser(items: list[pytest.Item]) -> None:
    needs_browser = [item for item in items if item.get_closest_marker("browser")]
    if not needs_browser or CHROMIUM.exists():
        return
    reason = f"no Chromium at {CHROMIUM} (install Debian's `chromium` package)"
    if BROWSER_REQUIRED:
        raise pytest.UsageError(f"LAB_REQUIRE_BROWSER=1 but {reason}: browser tests must run, not skip.")
    for item in needs_browser:
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _require_browser(items)
    needs_redis = [item for item in items if item.get_closest_marker("redis") or _notebook_needs_redis(item)]
    if not needs_redis or REDIS_UP:
        return
    if REDIS_REQUIRED:
        raise pytest.UsageError(f"LAB_REQUIRE_REDIS=1 but {_no_redis_reason()}: Redis tests must run, not skip.")
    for item in needs_redis:
        item.add_marker(pytest.mark.skip(reason=_no_redis_reason()))


_notebook_metadata_cache: dict[Path, dict] = {}


def _notebook_needs_redis(item: pytest.Item) -> bool:
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb":
        return False
    if path not in _notebook_metadata_cache:
        _notebook_metadata_cache[path] = json.loads(path.read_text()).get("metadata", {}).get("lab", {})
    return bool(_notebook_metadata_cache[path].get("needs_redis"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis for tests marked ``redis`` (collection already skipped or failed them)."""
    if not REDIS_UP:
        pytest.fail(_no_redis_reason())
    return REDIS_URL


@pytest.fixture(scope="session")
async def lab_server():
    """lab_project served by uvicorn on the session's event loop, like in a notebook."""
    server = await lab.start()
    yield server
    await server.stop()


@pytest.fixture
async def http(lab_server):
    import httpx

    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as client:
        yield client


def pytest_unconfigure(config: pytest.Config) -> None:
    # The run's data folders (SQLite files, generated secret) are throw-away by design.
    import shutil

    shutil.rmtree(_RUN_ROOT, ignore_errors=True)
