"""Django set-up for a kernel or a test process: settings, migrations, a database of its own.

Several notebooks run at once in one JupyterLab, each kernel calling ``start(fresh_db=True)``.
On one shared database they would migrate it concurrently ("table already exists") and empty
each other's tables mid-chapter. So ``fresh=True`` gives the calling process a database of
its own, a copy of a migrated template:

* ``DATABASE_URL`` unset: a SQLite file ``<data dir>/kernels/<pid>.sqlite3``
  (``helpers.server.sqlite_copies``);
* ``DATABASE_URL`` naming PostgreSQL: a database ``<name>_k<pid>``
  (``helpers.server.postgres_copies``);
* any other database the user named: migrated and emptied in place, under a lock.

The copy starts with ids 1, 2, 3 ..., like an emptied database. Django is switched to it the
way its test runner switches to a test database, and ``DATABASE_URL`` is exported so that the
servers and workers this process starts use it too. It is removed when the process exits; the
copies of processes that died without cleaning up are removed at the next fresh start.

``fresh=False`` migrates whatever database Django is using, under the same lock, so a shared
database is never migrated twice at once.

Redis is shared too: ``setup_django`` gives the process a key prefix of its own (see
``_keep_redis_keys_apart``), which its children inherit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django

__all__ = ["prepare_database", "prepare_database_sync", "setup_django"]

SETTINGS_MODULE = "lab_project.settings"

# What this process made for itself, to remove at exit: ("sqlite", path) or ("postgres", (shared settings, name)).
_owned: dict[str, Any] = {}


def setup_django() -> None:
    """Configure Django for this process once (safe to call again)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    _keep_redis_keys_apart()
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _keep_redis_keys_apart() -> None:
    """Give this process's chat rooms and cache keys a Redis prefix of their own.

    Two kernels running chapter 9 on one Redis would otherwise share the room "lobby", and two
    running chapter 8 each other's counters. The prefix is exported before the settings read
    it, so the servers and workers this process starts share it (the cross-process demos), and
    only then: once the settings are loaded, changing it would split this process from its
    children. An explicit ``LAB_REDIS_PREFIX`` (tests, benchmarks) is kept as it is. Servers
    started outside a lab process (``uvicorn`` in a terminal) keep the default prefix.
    """
    from django.conf import settings

    if "LAB_REDIS_PREFIX" not in os.environ and not settings.configured:
        os.environ["LAB_REDIS_PREFIX"] = f"lab{os.getpid()}"


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "postgis"}


def _prepare(fresh: bool) -> None:
    from django.db import connections

    from lab_project.config import shared_database_url

    try:
        shared_url = shared_database_url()
        if fresh and shared_url is None:
            _use_fresh_sqlite_copy()
        elif fresh and _is_postgres(shared_url):
            _use_fresh_postgres_database(shared_url)
        else:
            _migrate_in_place(shared_url, flush=fresh)
    finally:
        # This may run on a borrowed worker thread: leave no connection open on it.
        connections.close_all()


def _use_fresh_sqlite_copy() -> None:
    from django.conf import settings

    from helpers.server import sqlite_copies

    path = sqlite_copies.fresh_copy(settings.LAB.data_dir)
    _switch_to(str(path), f"sqlite:///{path}", shared_url=None)
    _remember("sqlite", path)


def _use_fresh_postgres_database(shared_url: str) -> None:
    import dj_database_url

    from helpers.server import postgres_copies

    shared = dj_database_url.parse(shared_url)
    name, kept = postgres_copies.fresh_database(shared, shared_url, keep_existing="postgres" in _owned)
    if kept:
        # Ours already, and connections of this process's threads may be open on it: empty it.
        _migrate_and_flush()
        return
    _switch_to(name, postgres_copies.url_for(shared_url, name), shared_url=shared_url)
    _remember("postgres", (shared, name))


def _migrate_in_place(shared_url: str | None, *, flush: bool) -> None:
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    if shared_url is not None and _is_postgres(shared_url):
        import dj_database_url

        from helpers.server.postgres_copies import advisory_lock

        lock = advisory_lock(dj_database_url.parse(shared_url))
    elif settings_dict["ENGINE"].endswith("sqlite3"):
        from helpers.server.sqlite_copies import file_lock

        lock = file_lock(Path(f"{settings_dict['NAME']}.lock"))
    else:
        lock = contextlib.nullcontext()
    with lock:
        _migrate_and_flush() if flush else _migrate()


def _migrate() -> None:
    from helpers.server.migrations import migrate

    migrate("default")


def _migrate_and_flush() -> None:
    from django.core.management import call_command

    _migrate()
    # flush empties every table and resets id sequences, on SQLite and PostgreSQL alike, so a
    # notebook run from the top sees ids 1, 2, 3 ... every time.
    call_command("flush", interactive=False, verbosity=0)


def _switch_to(name: str, url: str, *, shared_url: str | None) -> None:
    """Point Django's ``default`` database at ``name``, as Django's test runner does."""
    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    from lab_project.config import KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV

    for connection in connections.all(initialized_only=True):
        connection.close()
    _close_pools()  # a pool keeps connections to the database we leave, and would hand them out
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name  # the same dict today; set both, as Django does
    ContentType.objects.clear_cache()  # ids cached from the database we leave
    # Children (start_process, runserver, gunicorn, task workers) share this database.
    os.environ["DATABASE_URL"] = url
    os.environ[KERNEL_DATABASE_ENV] = url
    os.environ[SHARED_DATABASE_ENV] = shared_url or ""


def _close_pools() -> None:
    """Close Django's connection pools (``OPTIONS["pool"]``), sync and async, of every alias.

    A pool is made once per alias from the settings of the moment; after ``NAME`` changes it
    must be made again. The async backend's pool (an ``AsyncConnectionPool``) belongs to an
    event loop this function may not be on: it is dropped, and its connections close when it is
    collected (they are idle: the kernel switches databases before it serves anything).
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        # The class's registry, not ``connection.pool``: that property makes a pool if none exists.
        if connection.alias in getattr(type(connection), "_connection_pools", {}):
            connection.close_pool()
    with contextlib.suppress(ImportError):
        from django_async_backend.db.backends.postgresql.async_base import AsyncDatabaseWrapper

        AsyncDatabaseWrapper._connection_pools.clear()


def _remember(kind: str, what: Any) -> None:
    if not _owned:
        atexit.register(_remove_own_database, os.getpid())
    _owned[kind] = what


def _remove_own_database(owner: int) -> None:
    if os.getpid() != owner:  # a forked child inherited this hook: the database is not its own
        return
    from django.db import connections

    from helpers.server import postgres_copies, sqlite_copies

    with contextlib.suppress(Exception):
        connections.close_all()
        _close_pools()  # before the drop: WITH (FORCE) would cut them, and their threads complain
    if "sqlite" in _owned:
        sqlite_copies.remove_copy(_owned["sqlite"])
    if "postgres" in _owned:
        with contextlib.suppress(Exception):  # the server may be gone already; nothing to report at exit
            postgres_copies.drop_database(*_owned["postgres"])


async def prepare_database(*, fresh: bool = False) -> None:
    """Migrate the lab's database (``fresh``: switch to a new copy of its own), off the event loop.

    Migrations are synchronous ORM work; called straight from a cell they would raise
    SynchronousOnlyOperation, because the kernel's thread runs an event loop.
    """
    setup_django()
    await asyncio.to_thread(_prepare, fresh)


def prepare_database_sync(*, fresh: bool = False) -> None:
    """The same, for code with no running event loop (test set-up, scripts)."""
    setup_django()
    _prepare(fresh)
