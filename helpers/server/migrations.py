"""Migrating a database other than the one Django is using, and knowing when to migrate again.

The per-process databases (``helpers.server.database``) are copies of a migrated *template*.
The template is migrated by a short-lived ``django migrate`` process whose only database it
is. Not in this process under a second connection alias: data migrations (django-tasks-db's,
for one) query through the default alias whatever alias migrate was given, and pointing this
process's ``default`` elsewhere, even for a second, could misdirect a running server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["fingerprint", "migrate", "migrate_elsewhere"]

ROOT = Path(__file__).resolve().parent.parent.parent


def fingerprint() -> str:
    """A digest of every migration file on disk (and Django's version).

    A template whose stored fingerprint differs was made by other migrations: it is rebuilt
    from scratch rather than migrated forward, since an edited migration would not be re-run.
    """
    import django
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)  # reads files only, no database
    digest = hashlib.sha256(f"django {django.get_version()}\n".encode())
    for (app_label, name), migration in sorted(loader.disk_migrations.items()):
        digest.update(f"{app_label}.{name}\n".encode())
        digest.update(Path(sys.modules[type(migration).__module__].__file__).read_bytes())
    return digest.hexdigest()


def migrate(alias: str = "default") -> None:
    from django.core.management import call_command

    call_command("migrate", database=alias, interactive=False, verbosity=0)


def migrate_elsewhere(database_url: str, timeout: float = 300) -> None:
    """Migrate the database at ``database_url`` in a separate process; raise with its output."""
    from lab_project.config import KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV

    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "lab_project.settings"}
    for inherited in (KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV):
        env.pop(inherited, None)
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"migrating the template database failed:\n{done.stdout}{done.stderr}")
