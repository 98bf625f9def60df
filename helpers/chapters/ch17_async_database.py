"""Chapter 17: PostgreSQL three ways — stock a-methods, Django's pool, django-async-backend.

    from helpers.chapters import ch17_async_database as ch17

    ch17.use_postgres()                       # before lab.start(): PostgreSQL, with both backends
    stock = await ch17.start_server("stock", limit=20)  # as a role PostgreSQL caps at 20 sessions
    row = await ch17.measure(stock, "db/book/", clients=50)

Every server is a separate uvicorn process on the kernel's database (one process per setting:
settings are read once per process). Each logs in as a non-superuser role with a
``CONNECTION LIMIT`` of its own, so a server that opens a connection per request runs into
*that* limit, not the shared server's ``max_connections``, and other users of the server keep
their connections. Each server names itself to PostgreSQL (libpq's ``PGAPPNAME``), so
``pg_stat_activity`` counts each server's own sessions while it is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from helpers.measure import run_load
from helpers.server import start_process
from helpers.server.inprocess import ASGI_APPS

__all__ = [
    "CONFIGS",
    "ROLE",
    "Role",
    "as_request",
    "connections_of",
    "fetch_all",
    "line",
    "limited_role",
    "measure",
    "plot",
    "pool_in_use",
    "start_server",
    "use_postgres",
]

ROLE = "lab_ch17"  # roles are cluster-wide; their privileges are granted per (throw-away) database
# The three ways to run a query, as server environments (lab_project/config.py reads them).
CONFIGS = {
    "stock": {"LAB_DB_BACKEND": "django", "LAB_DB_POOL": "off"},
    "pool": {"LAB_DB_BACKEND": "django", "LAB_DB_POOL": "10"},
    # One number, two pools: the sync one (a-methods, migrations) and the async one, 10 each:
    # the async pool as big as the "pool" server's, at the price of up to 20 sessions.
    "native": {"LAB_DB_BACKEND": "async", "LAB_DB_POOL": "20"},
}


def use_postgres() -> str:
    """Make this kernel's database PostgreSQL with django-async-backend; return a display line.

    Call it before ``lab.start()``: settings are read once per process. ``DATABASE_URL`` is kept
    when it already names PostgreSQL; otherwise ``LAB_POSTGRES_URL`` or 127.0.0.1:5432 is used
    (``lab_project.config.postgres_choice``).
    """
    from django.conf import settings

    from lab_project.config import KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV, postgres_choice, redact

    line = "PostgreSQL, django-async-backend, pools of 5 + 5 (see settings.DATABASES)"
    if settings.configured:
        if settings.DATABASES["default"]["ENGINE"] == "django_async_backend.db.backends.postgresql":
            return line  # Run All again in the same kernel
        raise RuntimeError("Django's settings are loaded already: restart the kernel and run ch17.use_postgres() first.")
    url, tried = postgres_choice()
    if url is None:
        raise RuntimeError(
            f"chapter 17 needs PostgreSQL and none answers at {', '.join(map(redact, tried))}: "
            "run `docker compose up -d` (or set LAB_POSTGRES_URL) and restart the kernel."
        )
    os.environ["DATABASE_URL"] = url  # the shared one: lab.start(fresh_db=True) copies it
    for inherited in (KERNEL_DATABASE_ENV, SHARED_DATABASE_ENV):
        os.environ.pop(inherited, None)
    os.environ["LAB_DB_BACKEND"] = "async"  # this kernel runs both paths: a-methods and async_objects
    os.environ["LAB_DB_POOL"] = "10"
    return line


# -- the database's own view: who is connected --------------------------------------------------
def _admin_params() -> dict:
    from django.db import connection

    s = connection.settings_dict
    params = {"host": s["HOST"] or None, "port": s["PORT"] or None, "user": s["USER"] or None, "password": s["PASSWORD"] or None}
    return {k: v for k, v in params.items() if v} | {"dbname": s["NAME"], "autocommit": True}


async def _admin():
    import psycopg

    return await psycopg.AsyncConnection.connect(**_admin_params())


_COUNT = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"


def app_name(server) -> str:
    """The name a server started by ``start_server`` gives its PostgreSQL sessions."""
    return server.env_overrides["PGAPPNAME"]


async def connections_of(server) -> int:
    """Sessions ``server`` holds on this kernel's database now."""
    async with await _admin() as admin:
        return (await (await admin.execute(_COUNT, (app_name(server),))).fetchone())[0]


@dataclass
class ConnectionWatch:
    """Peak number of one server's sessions on this database, sampled every 20 ms."""

    app: str
    peak: int = 0
    _task: asyncio.Task | None = field(default=None, repr=False)

    async def _loop(self, admin) -> None:
        while True:
            (now,) = await (await admin.execute(_COUNT, (self.app,))).fetchone()
            self.peak = max(self.peak, now)
            await asyncio.sleep(0.02)

    @contextlib.asynccontextmanager
    async def watching(self):
        async with await _admin() as admin:
            self._task = asyncio.create_task(self._loop(admin))
            try:
                yield self
            finally:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task


# -- a role with a connection limit of its own ----------------------------------------------------
@dataclass(frozen=True)
class Role:
    name: str
    limit: int
    url: str  # this kernel's database, as that role


async def limited_role(name: str, limit: int) -> Role:
    """Role ``<ROLE>_<name>``, allowed ``limit`` connections, with the rights the lab's tables need.

    One role per server: a role's limit counts every session logged in as it, and the idle
    connections of one server's pool must not use up another server's budget.
    """
    from psycopg import sql

    if not 1 <= limit <= 80:
        raise ValueError(f"limit must be between 1 and 80 (PostgreSQL's default max_connections is 100), got {limit}")
    role = f"{ROLE}_{name}"
    ident = sql.Identifier(role)
    async with await _admin() as admin:
        exists = await (await admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))).fetchone()
        if not exists:
            with contextlib.suppress(Exception):  # another kernel made it meanwhile
                await admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(ident))
        # Superusers are exempt from CONNECTION LIMIT: the point of a role of its own.
        await admin.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER CONNECTION LIMIT {}").format(ident, sql.Literal(limit)))
        await admin.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(ident))
        await admin.execute(sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident))
    parts = urlsplit(os.environ["DATABASE_URL"])  # the kernel's database, exported by lab.start(fresh_db=True)
    return Role(role, limit, parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}").geturl())


async def start_server(config: str, *, limit: int, name: str = "", app: str = "stock", **extra_env: str):
    """One uvicorn process with ``CONFIGS[config]``, logged in as a role PostgreSQL caps at ``limit``.

    ``app`` is the entry point, ``"stock"`` or ``"lean"`` (``ASGI_APPS``), named explicitly so that
    the chapter measures the same handlers whatever ``LAB_ASGI`` says.
    """
    name = name or config
    role = await limited_role(name, limit)
    env = {**CONFIGS[config], "DATABASE_URL": role.url, "PGAPPNAME": f"lab-ch17-{name}", **extra_env}
    # The kernel's markers would make the child treat role.url as "not the user's choice".
    env |= {"LAB_KERNEL_DATABASE_URL": None, "LAB_SHARED_DATABASE_URL": None}
    server = await start_process(app=ASGI_APPS[app], env=env)
    server.role = role
    server.handler = app
    return server


# -- measuring ------------------------------------------------------------------------------------
async def measure(server, path: str, *, clients: int, seconds: float = 3.0, label: str = "") -> dict:
    """``run_load`` on ``server`` + ``path``, with the server's peak threads and PostgreSQL sessions."""
    watch = ConnectionWatch(app_name(server))
    async with watch.watching():
        result = await run_load(server.url + path, clients=clients, duration=seconds, server_pid=server.pid, label=label)
    return {
        "label": label,
        "clients": clients,
        "rps": result.throughput_rps,
        "p50_ms": result.percentile(50),
        "p99_ms": result.percentile(99),
        "ok": result.ok,
        "errors": result.errors,
        "statuses": dict(sorted(result.statuses.items())),
        "threads": result.server["peak_threads"],
        "pg_connections": watch.peak,
        "result": result,
    }


async def fetch_all(server, path: str, *, at_once: int) -> dict:
    """``at_once`` concurrent GETs (a burst, not a sustained load): statuses and peak sessions."""
    watch = ConnectionWatch(app_name(server))
    limits = httpx.Limits(max_connections=at_once, max_keepalive_connections=at_once)
    async with watch.watching(), httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        answers = await asyncio.gather(*(client.get(path) for _ in range(at_once)))
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    errors = sorted({a.json().get("error", "") for a in answers if a.status_code != 200})
    return {"statuses": dict(sorted(statuses.items())), "errors": errors, "pg_connections": watch.peak}


async def as_request(query, *, sync_connections: bool = True):
    """Await ``query()`` the way Django's ASGI handler runs a request, connections given back after.

    A ``ThreadSensitiveContext`` of its own (so its a-methods get a thread of their own, as in a
    request), then what ``request_finished`` does: close this context's connections, sync and
    async. Without that last step a cell keeps every pooled connection it touched.
    """
    from asgiref.sync import ThreadSensitiveContext, sync_to_async
    from django.db import close_old_connections

    async with ThreadSensitiveContext():
        try:
            return await query()
        finally:
            if sync_connections:  # a hop of its own: skipped for queries that made no sync connection
                await sync_to_async(close_old_connections)()
            with contextlib.suppress(ImportError):
                from django_async_backend.db import close_old_async_connections

                await close_old_async_connections()


def pool_in_use() -> dict:
    """This kernel's pools: connections handed out now, per pool (sync: Django's; async: the backend's)."""
    from django.db import connections

    out = {}
    sync_pool = type(connections["default"])._connection_pools.get("default")
    if sync_pool is not None:
        stats = sync_pool.get_stats()
        out["sync"] = stats.get("pool_size", 0) - stats.get("pool_available", 0)
    with contextlib.suppress(ImportError):
        from django_async_backend.db.backends.postgresql.async_base import AsyncDatabaseWrapper

        async_pool = AsyncDatabaseWrapper._connection_pools.get("default")
        if async_pool is not None:
            stats = async_pool.get_stats()
            out["async"] = stats.get("pool_size", 0) - stats.get("pool_available", 0)
    return out


def line(row: dict) -> str:
    """One measured run, every number after "≈"."""
    return (
        f"{row['label']:<30} ≈{row['rps']:.0f} req/s, p50 ≈{row['p50_ms']:.0f} ms, p99 ≈{row['p99_ms']:.0f} ms, "
        f"errors ≈{row['errors']}, server threads ≈{row['threads']}, PostgreSQL sessions ≈{row['pg_connections']}"
    )


def plot(rows: list[dict]):
    """Throughput, server threads and PostgreSQL sessions of each run, side by side."""
    import matplotlib.pyplot as plt

    labels = [row["label"] for row in rows]
    ways = list(dict.fromkeys(label.split(" · ")[0] for label in labels))  # one colour per server
    colors = [f"C{ways.index(label.split(' · ')[0]) % 10}" for label in labels]
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.5 + 0.32 * len(rows)), sharey=True, layout="constrained")
    for ax, key, title in zip(axes, ("rps", "threads", "pg_connections"), ("requests/s (ok only)", "server OS threads (peak)", "PostgreSQL sessions (peak)")):
        ax.barh(range(len(rows)), [row[key] for row in rows], color=colors)
        ax.set_title(title, fontsize=10)
    axes[0].set_yticks(range(len(rows)), labels, fontsize=8)
    axes[0].invert_yaxis()
    return fig
