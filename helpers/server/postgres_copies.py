"""A PostgreSQL database of its own for every process that asks for a fresh database.

    <name>              the database DATABASE_URL names: shared, migrated under the lock
    <name>_template     migrated once (its comment holds the migrations' fingerprint)
    <name>_k<pid>       one process's database, CREATE DATABASE ... TEMPLATE <name>_template

Every step that migrates, creates or drops holds one session-level advisory lock, taken on the
maintenance database ``postgres`` (advisory locks are per database, and every lab process can
reach that one). ``CREATE DATABASE ... TEMPLATE`` refuses a template with other sessions
connected; under the lock, nobody else is. The ``_k<pid>`` names assume one machine uses the
server: a database whose pid is not running *here* counts as left over, and is dropped if
nobody is connected to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from helpers.server.migrations import fingerprint, migrate_elsewhere
from helpers.server.pids import process_is_alive

__all__ = ["admin_connection", "advisory_lock", "drop_database", "fresh_database", "url_for", "wait_until_unused"]

LOCK_NAMESPACE = b"async-django-lab: migrate "
COMMENT_PREFIX = "async-django-lab migrations "


def admin_connection(shared: dict[str, Any]):
    """An autocommit session on the server's maintenance database ``postgres``, as ``shared``'s user."""
    import psycopg

    params = {
        "host": shared.get("HOST") or None,
        "port": shared.get("PORT") or None,
        "user": shared.get("USER") or None,
        "password": shared.get("PASSWORD") or None,
        "sslmode": (shared.get("OPTIONS") or {}).get("sslmode"),
    }
    return psycopg.connect(dbname="postgres", autocommit=True, **{k: v for k, v in params.items() if v})


@contextlib.contextmanager
def advisory_lock(shared: dict[str, Any]) -> Iterator[Any]:
    """Hold the lab's lock for the database ``shared["NAME"]``; yields an autocommit connection."""
    key = int.from_bytes(hashlib.sha256(LOCK_NAMESPACE + shared["NAME"].encode()).digest()[:8], "big", signed=True)
    with admin_connection(shared) as admin:  # closing the session would release the lock too
        admin.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield admin
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (key,))


def fresh_database(shared: dict[str, Any], shared_url: str, *, keep_existing: bool) -> tuple[str, bool]:
    """(this process's database name, whether it already existed and was kept).

    ``keep_existing``: this process made that database earlier (Run All again); it is kept and
    the caller empties it, because dropping it would cut the connections our threads hold.
    """
    from psycopg import sql

    base = shared["NAME"]
    own, template = f"{base}_k{os.getpid()}", f"{base}_template"
    with advisory_lock(shared) as admin:
        _migrate_template(admin, template, url_for(shared_url, template))
        drop_dead_databases(admin, base)
        if keep_existing and _exists(admin, own):
            return own, True
        # Same name as a dead process's (a recycled pid): nothing of ours is connected to it.
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(own)))
        wait_until_unused(admin, template)
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(own), sql.Identifier(template)))
    return own, False


def url_for(shared_url: str, name: str) -> str:
    """``shared_url`` naming the database ``name`` instead (query options kept)."""
    return urlsplit(shared_url)._replace(path=f"/{name}").geturl()


def _exists(admin: Any, name: str) -> bool:
    return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _migrate_template(admin: Any, template: str, template_url: str) -> None:
    from psycopg import sql

    wanted = COMMENT_PREFIX + fingerprint()
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (template,)
    ).fetchone()
    if row is not None and row[0] == wanted:
        return
    name = sql.Identifier(template)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    migrate_elsewhere(template_url)
    # That process has exited, but PostgreSQL ends its sessions (the pool's among them) a moment
    # later; CREATE DATABASE ... TEMPLATE refuses a template anyone is still connected to.
    wait_until_unused(admin, template)
    admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(wanted)))


def wait_until_unused(admin: Any, name: str, timeout: float = 10.0) -> None:
    """Return once no session is connected to database ``name`` (or after ``timeout`` s)."""
    import time

    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    while admin.execute(query, (name,)).fetchone()[0] and time.monotonic() < deadline:
        time.sleep(0.05)


def drop_dead_databases(admin: Any, base: str) -> list[str]:
    """Drop ``<base>_k<pid>`` databases whose process no longer runs (and nobody uses)."""
    import psycopg
    from psycopg import sql

    pattern = base.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_k%"
    dropped = []
    for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)).fetchall():
        owner = name[len(base) + 2 :]
        if not owner.isdigit() or int(owner) == os.getpid() or process_is_alive(int(owner)):
            continue
        try:
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))  # no FORCE: in use → kept
            dropped.append(name)
        except psycopg.Error:
            pass
    return dropped


def drop_database(shared: dict[str, Any], name: str) -> None:
    """Drop one process's database (at its exit); its children's sessions are cut."""
    from psycopg import sql

    with admin_connection(shared) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
