"""Chapter 17: the database settings (pool, backend choice), the 503 for "out of connections", and
the one-query views served stock, pooled and native — the last ones on a real PostgreSQL (marked
``postgres``: skipped with the reason when none answers, failed when LAB_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError

from lab_project import config
from lab_project.async_database.middleware import out_of_connections


# -- settings ------------------------------------------------------------------------------------
def test_async_backend_on_sqlite_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setenv("LAB_DB_BACKEND", "async")
    with pytest.raises(ImproperlyConfigured, match=r"needs PostgreSQL.*DATABASE_URL=postgres://"):
        config.db_backend_choice("sqlite:////tmp/x.sqlite3")
    assert config.db_backend_choice("postgres://u@127.0.0.1/lab") == "async"


def test_unknown_backend_and_bad_pool_values_say_what_is_allowed(monkeypatch):
    monkeypatch.setenv("LAB_DB_BACKEND", "mysql-async")
    with pytest.raises(ImproperlyConfigured, match="use one of django, async"):
        config.db_backend_choice("postgres://u@127.0.0.1/lab")
    for raw, size in (("on", config.DEFAULT_POOL_SIZE), ("off", 0), ("25", 25)):
        monkeypatch.setenv("LAB_DB_POOL", raw)
        assert config.pool_size() == size
    monkeypatch.setenv("LAB_DB_POOL", "lots")
    with pytest.raises(ValueError, match="LAB_DB_POOL"):
        config.pool_size()
    monkeypatch.setenv("LAB_DB_POOL_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="LAB_DB_POOL_TIMEOUT"):
        config.pool_timeout()


def test_pool_is_on_by_default_on_postgresql_only(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_DB_POOL", raising=False)
    monkeypatch.delenv("LAB_DB_BACKEND", raising=False)
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1:5432/lab")
    assert config.load().db_pool_size == config.DEFAULT_POOL_SIZE
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert config.load().db_pool_size == 0
    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1:5432/lab")
    monkeypatch.setenv("LAB_DB_CONN_MAX_AGE", "60")
    with pytest.raises(ValueError, match="LAB_DB_POOL=off"):  # Django's pool refuses persistent connections
        config.load()


def test_a_process_asking_for_the_async_backend_on_sqlite_stops_at_settings(tmp_path):
    env = {**os.environ, "LAB_DB_BACKEND": "async", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "LAB_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: LAB_DB_BACKEND=async needs PostgreSQL" in done.stderr


# -- out of connections: a 503 -------------------------------------------------------------------
def test_out_of_connections_is_recognised_and_nothing_else():
    from psycopg_pool import PoolTimeout

    timed_out = OperationalError("couldn't get a connection")
    timed_out.__cause__ = PoolTimeout("couldn't get a connection after 10.00 sec")
    refused = OperationalError('FATAL:  too many connections for role "lab_ch17"')
    assert out_of_connections(timed_out) == "every pooled database connection stayed busy"
    assert out_of_connections(refused) == "the database refused another connection"
    assert out_of_connections(OperationalError("relation does not exist")) is None
    assert out_of_connections(ValueError("too many clients")) is None


async def test_the_views_say_they_need_postgresql_off_it(http):
    from django.db import connection

    if connection.vendor == "postgresql":
        pytest.skip("this run's database is PostgreSQL")
    for path in ("/db/book/", "/db/book/native/", "/db/sleep/", "/db/pid/"):
        answer = await http.get(path)
        assert answer.status_code == 409, path
        assert "need PostgreSQL" in answer.json()["error"]


# -- on PostgreSQL -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_database(postgres_url):
    """A migrated database of this module's own on the PostgreSQL server, dropped afterwards."""
    import dj_database_url
    from psycopg import sql

    from helpers.server.migrations import migrate_elsewhere
    from helpers.server.postgres_copies import admin_connection, url_for

    shared = dj_database_url.parse(postgres_url)
    name = f"lab_t17_{os.getpid()}"
    with admin_connection(shared) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = url_for(postgres_url, name)
    migrate_elsewhere(url)
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("INSERT INTO lab_async_database_book (title, hidden) VALUES ('shown', false), ('hidden', true)")
    yield url
    with admin_connection(shared) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _server(url: str, *, app: str | None = None, **env: str):
    from helpers.server import start_process

    overrides = {"DATABASE_URL": url, "LAB_KERNEL_DATABASE_URL": None, "LAB_SHARED_DATABASE_URL": None, **env}
    return await start_process(env=overrides, **({"app": app} if app else {}))


@pytest.mark.postgres
async def test_a_pooled_server_serves_a_burst_of_200_with_10_connections(pg_database):
    server = await _server(pg_database, LAB_DB_POOL="10", PGAPPNAME="lab-t17-burst")
    try:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            answers = await asyncio.gather(*(client.get("db/sleep/?ms=20") for _ in range(200)))
        assert [a.status_code for a in answers].count(200) == 200
    finally:
        await server.stop()


@pytest.mark.postgres
async def test_an_exhausted_pool_answers_503_with_the_reason_not_a_hang(pg_database):
    server = await _server(pg_database, LAB_DB_POOL="2", LAB_DB_POOL_TIMEOUT="0.5")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answers = await asyncio.wait_for(
                asyncio.gather(*(client.get("db/sleep/?ms=1500") for _ in range(8))), timeout=20
            )
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) == {200, 503} and statuses.count(200) <= 4, statuses
        busy = next(a for a in answers if a.status_code == 503)
        assert busy.headers["Retry-After"] == "1"
        assert busy.json()["error"] == "database busy: every pooled database connection stayed busy; retry shortly"
    finally:
        await server.stop()


@pytest.mark.postgres
async def test_native_views_use_async_objects_and_respect_the_visible_manager(pg_database):
    native = await _server(pg_database, LAB_DB_BACKEND="async")
    stock = await _server(pg_database, LAB_DB_POOL="off")
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            got = (await client.get(native.url + "db/book/native/")).json()
            assert got == {"id": 1, "title": "shown", "via": "async_objects"}
            assert (await client.get(native.url + "db/book/")).json()["via"] == "a-method"
            slept = await client.get(native.url + "db/sleep/native/?ms=5")
            assert slept.json() == {"slept_s": 0.005, "via": "async cursor"}
            bad = await client.get(native.url + "db/sleep/native/?ms=lots")
            assert bad.status_code == 400 and bad.json()["parameter"] == "ms"
            refused = await client.get(stock.url + "db/book/native/")
            assert refused.status_code == 409 and "LAB_DB_BACKEND=async" in refused.json()["error"]
            # Many native requests in a row: each gives its connection back (no pool exhaustion).
            for _ in range(30):
                assert (await client.get(native.url + "db/pid/native/")).status_code == 200
    finally:
        await native.stop()
        await stock.stop()


@pytest.mark.postgres
async def test_the_lean_path_serves_the_native_view_on_no_thread_giving_its_connection_back(pg_database):
    from helpers.measure.process_stats import usage, watch_server
    from helpers.server.inprocess import ASGI_APPS

    # django-async-backend's request signals are on, as a user gets them: the lean handler awaits
    # their async receiver on the loop, so it must not cost a thread either.
    # LAB_DB_POOL=2: one sync and ONE async connection. A request that kept its async connection
    # would leave the next one waiting for it until the pool's timeout: a 503, not a 200.
    server = await _server(
        pg_database, app=ASGI_APPS["lean"], LAB_DB_BACKEND="async", LAB_DB_POOL="2", LAB_DB_POOL_TIMEOUT="5",
        PGAPPNAME="lab-t17-lean",
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            assert (await client.get("db/book/native/")).json() == {"id": 1, "title": "shown", "via": "async_objects"}
            in_a_row = [await client.get("db/pid/native/") for _ in range(20)]
            assert [a.status_code for a in in_a_row] == [200] * 20
            assert len({a.json()["backend_pid"] for a in in_a_row}) == 1  # the one pooled connection, reused
            idle_threads = usage(server.pid).threads
            async with watch_server(server.pid, interval=0.01) as watch:  # 20 requests in flight at once
                burst = await asyncio.gather(*(client.get("db/sleep/native/?ms=50") for _ in range(20)))
            assert [a.status_code for a in burst] == [200] * 20
            assert [a.json()["via"] for a in burst] == ["async cursor"] * 20
        # Stock Django would start a thread per request in flight here (20); the lean path none.
        assert watch.summary()["peak_threads"] <= idle_threads + 1, (idle_threads, watch.summary())
    finally:
        await server.stop()
