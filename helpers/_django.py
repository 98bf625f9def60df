"""Django set-up for a kernel or a test process: settings, migrations, a fresh database."""

from __future__ import annotations

import asyncio
import os

import django

SETTINGS_MODULE = "lab_project.settings"


def setup_django() -> None:
    """Configure Django for this process once (safe to call again)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _migrate(fresh: bool) -> None:
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", interactive=False, verbosity=0)
        if fresh:
            # flush empties every table and resets id sequences, on SQLite and PostgreSQL
            # alike, so a notebook run from the top sees ids 1, 2, 3 ... every time.
            call_command("flush", interactive=False, verbosity=0)
    finally:
        # This runs on a borrowed worker thread: leave no connection open on it.
        connections.close_all()


async def prepare_database(*, fresh: bool = False) -> None:
    """Migrate the lab's database (and empty it when ``fresh``), off the event loop.

    Migrations are synchronous ORM work; called straight from a cell they would raise
    SynchronousOnlyOperation, because the kernel's thread runs an event loop.
    """
    setup_django()
    await asyncio.to_thread(_migrate, fresh)


def prepare_database_sync(*, fresh: bool = False) -> None:
    """The same, for code with no running event loop (test set-up, scripts)."""
    setup_django()
    _migrate(fresh)
