"""A SQLite file of its own for every process that asks for a fresh database.

    <data dir>/template.sqlite3        migrated once, rebuilt when the migrations change
    <data dir>/template.fingerprint    which migrations built it (helpers.server.migrations)
    <data dir>/template.lock           flock: one process at a time builds or copies
    <data dir>/kernels/<pid>.sqlite3   one process's copy, removed when that process exits

Copying a migrated file takes milliseconds; migrating takes most of a second and, run by two
processes on one file at once, fails ("table already exists"). So only the template is ever
migrated, under the lock, and each process works on a copy nobody else flushes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from helpers.server.migrations import fingerprint, migrate_elsewhere
from helpers.server.pids import process_is_alive

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent first starts are then not serialized
    fcntl = None

__all__ = ["copy_path", "file_lock", "fresh_copy", "remove_copy", "remove_dead_copies"]

TEMPLATE = "template.sqlite3"
FINGERPRINT = "template.fingerprint"
LOCK = "template.lock"
COPIES = "kernels"
# A SQLite database in WAL mode is up to three files; a crashed writer may leave a journal;
# migrating a database in place locks "<file>.lock" (helpers.server.database).
SIDE_SUFFIXES = ("", "-wal", "-shm", "-journal", ".lock")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing); the OS drops it if we die."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def copy_path(folder: Path, pid: int | None = None) -> Path:
    return folder / COPIES / f"{pid or os.getpid()}.sqlite3"


def fresh_copy(folder: Path) -> Path:
    """This process's own database, a copy of the migrated template (made or overwritten)."""
    target = copy_path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / LOCK):
        template = _migrated_template(folder)
        remove_dead_copies(folder)
        _copy(template, target)
    return target


def _migrated_template(folder: Path) -> Path:
    template, stamp = folder / TEMPLATE, folder / FINGERPRINT
    wanted = fingerprint()
    if template.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return template
    # Built under another name and renamed into place: a build that dies half-way leaves no
    # template that looks finished.
    building = folder / "template.building.sqlite3"
    _remove(building)
    migrate_elsewhere(f"sqlite:///{building}")
    # One self-contained file to copy: leaving WAL mode checkpoints the log into it.
    with contextlib.closing(sqlite3.connect(building)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    _remove(template)
    os.replace(building, template)
    stamp.write_text(wanted + "\n")
    return template


def _copy(template: Path, target: Path) -> None:
    # SQLite's backup API rather than a file copy: it writes through SQLite's own locking, so
    # a copy made over this process's previous one (Run All again) is safe even while a
    # connection of ours still has that file open.
    with (
        contextlib.closing(sqlite3.connect(f"{template.as_uri()}?mode=ro", uri=True)) as source,
        contextlib.closing(sqlite3.connect(target, timeout=20)) as copy,
    ):
        source.backup(copy)


def remove_dead_copies(folder: Path) -> list[Path]:
    """Delete the copies of processes that no longer run (a kernel killed before its clean-up)."""
    removed = []
    for path in (folder / COPIES).glob("*.sqlite3*"):
        owner = path.name.split(".", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not process_is_alive(int(owner)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_copy(path: Path) -> None:
    """Delete one copy (run at exit by the process that owns it)."""
    _remove(path)


def _remove(path: Path) -> None:
    for suffix in SIDE_SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
