"""Test set-up shared by pytest and nbval.

Every run gets its own throw-away data folder, so tests never touch the user's lab database,
and its own Redis key prefix, so two runs on one Redis never see each other's keys.

Redis: tests marked ``redis`` (and notebooks whose metadata says ``"lab": {"needs_redis":
true}``) use the real server at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, where the
compose file puts it). Without one they skip, with the reason, unless ``LAB_REQUIRE_REDIS=1``
(set by CI): then a missing Redis is a failure, because a green run that skipped the Redis
parts would be a lie.

PostgreSQL, the same rule: tests marked ``postgres`` (and notebooks whose metadata says
``"lab": {"needs_postgres": true}``) need a server (``lab_project.config.postgres_choice``:
``DATABASE_URL`` if it is PostgreSQL, else ``LAB_POSTGRES_URL``, else 127.0.0.1:5432). Without
one they skip with the reason, unless ``LAB_REQUIRE_POSTGRES=1`` (set by CI).
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

from lab_project.config import postgres_choice, redact, redis_answers  # noqa: E402

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

# Looked up before this process exports a database of its own (prepare_database_sync).
POSTGRES_URL, POSTGRES_TRIED = postgres_choice()
POSTGRES_REQUIRED = os.environ.get("LAB_REQUIRE_POSTGRES", "").lower() in {"1", "true", "yes"}

prepare_database_sync(fresh=True)
# What Django's own test runner does first: allow the test client's 'testserver' host, etc.
setup_test_environment()

# Django in this process has read its settings; the notebook kernels nbval starts inherit the
# environment from here on, and get a data folder of their own.
os.environ["LAB_DATA_DIR"] = str(_RUN_ROOT / "notebooks")


def _no_redis_reason() -> str:
    return f"no Redis answers at {REDIS_URL} (start one with `docker compose up -d`)"


def _no_postgres_reason() -> str:
    tried = ", ".join(redact(url) for url in POSTGRES_TRIED)
    return f"no PostgreSQL answers at {tried} (start one with `docker compose up -d`, or set LAB_POSTGRES_URL)"


def _require(items: list[pytest.Item], what: str, available: bool, reason: str, required: bool, flag: str) -> None:
    """Skip the items needing ``what`` (marker or notebook metadata) with ``reason`` when it is
    not available; with ``flag=1`` (CI) fail the run instead, since a skip there would be a lie."""
    needs = [item for item in items if item.get_closest_marker(what) or _notebook_needs(item, f"needs_{what}")]
    if not needs or available:
        return
    if required:
        raise pytest.UsageError(f"{flag}=1 but {reason}: {what} tests must run, not skip.")
    for item in needs:
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_browser = f"no Chromium at {CHROMIUM} (install Debian's `chromium` package)"
    _require(items, "browser", CHROMIUM.exists(), no_browser, BROWSER_REQUIRED, "LAB_REQUIRE_BROWSER")
    _require(items, "postgres", bool(POSTGRES_URL), _no_postgres_reason(), POSTGRES_REQUIRED, "LAB_REQUIRE_POSTGRES")
    _require(items, "redis", REDIS_UP, _no_redis_reason(), REDIS_REQUIRED, "LAB_REQUIRE_REDIS")


_notebook_metadata_cache: dict[Path, dict] = {}


def _notebook_needs(item: pytest.Item, what: str) -> bool:
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb":
        return False
    if path not in _notebook_metadata_cache:
        _notebook_metadata_cache[path] = json.loads(path.read_text()).get("metadata", {}).get("lab", {})
    return bool(_notebook_metadata_cache[path].get(what))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis for tests marked ``redis`` (collection already skipped or failed them)."""
    if not REDIS_UP:
        pytest.fail(_no_redis_reason())
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL server's URL for tests marked ``postgres`` (collection skipped or failed them)."""
    if not POSTGRES_URL:
        pytest.fail(_no_postgres_reason())
    return POSTGRES_URL


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
