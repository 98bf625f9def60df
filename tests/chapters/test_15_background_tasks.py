"""Chapter 15: django.tasks on the Immediate, Dummy and database backends, the chapter's views,
and a real db_worker process (always stopped, even when a test fails)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dj_database_url
import pytest
from django.db import connection
from django.tasks import TaskResultStatus, task, task_backends
from django.tasks.exceptions import InvalidTask
from django.test import AsyncClient

from helpers.chapters import ch15_background_tasks as ch15
from lab_project.background_tasks.tasks import failing_job, limited_job, slow_job

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


async def wait_finished(result, timeout: float = 20.0) -> list[str]:
    """Refresh ``result`` until it finishes; the statuses it went through."""
    seen, deadline = [result.status], time.monotonic() + timeout
    while not result.is_finished and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        await result.arefresh()
        if result.status != seen[-1]:
            seen.append(result.status)
    assert result.is_finished, f"still {result.status} after {timeout} s"
    return seen


@pytest.fixture
async def worker():
    # One per test (≈2 s to start): a worker left running across tests would empty the queue
    # that the no-worker test needs to see waiting.
    running = await ch15.start_worker(worker_id="test-worker", interval=0.05)
    try:
        yield running
    finally:
        await running.stop()
    assert not running.is_running


# -- backends and task options (no worker) ------------------------------------------------------
def test_every_backend_takes_async_tasks_and_only_the_database_keeps_results():
    backends = {b.alias: b for b in task_backends.all()}
    assert set(backends) == {"default", "immediate", "dummy", "database"}
    assert all(b.supports_async_task for b in backends.values())
    assert [alias for alias, b in backends.items() if b.supports_get_result] == ["database"]
    assert type(backends["default"]).__name__ == "ImmediateBackend"  # other chapters: unchanged


def test_unknown_task_kwargs_reach_the_backends_task_class():
    assert limited_job.time_limit == 0.3 and slow_job.time_limit == 10
    with pytest.raises(TypeError, match="time_limit"):
        task(backend="immediate", time_limit=1)(slow_job.func)  # Django's own Task has no such field
    with pytest.raises(InvalidTask, match="async def"):
        task(backend="database", time_limit=1)(json.dumps)
    for bad in (0, -1, float("inf"), True, "5"):
        with pytest.raises(InvalidTask, match="positive number"):
            task(backend="database", time_limit=bad)(slow_job.func)


async def test_immediate_aenqueue_runs_the_task_dummy_and_database_do_not():
    started = time.perf_counter()
    immediate = await slow_job.using(backend="immediate").aenqueue(seconds=0.2)
    assert time.perf_counter() - started >= 0.2
    assert immediate.status == TaskResultStatus.SUCCESSFUL and immediate.return_value["pid"] == os.getpid()
    for alias in ("dummy", "database"):
        started = time.perf_counter()
        result = await slow_job.using(backend=alias).aenqueue(seconds=0.2)
        assert time.perf_counter() - started < 0.2
        assert result.status == TaskResultStatus.READY
        with pytest.raises(ValueError, match="not finished"):
            result.return_value


async def test_a_time_limit_cancels_an_async_task_run_in_place():
    with pytest.raises(TimeoutError):
        await limited_job.acall(seconds=1)
    assert await limited_job.acall(seconds=0.01) == 0.01


def test_database_url_names_the_database_this_process_uses(tmp_path, monkeypatch):
    # Round trip: the URL handed to the worker parses back to this process's database.
    parsed = dj_database_url.parse(ch15.database_url(connection.settings_dict))
    for key in ("ENGINE", "NAME", "USER", "HOST"):
        assert (parsed[key] or "") == str(connection.settings_dict[key] or ""), key
    assert str(parsed["PORT"] or "") == str(connection.settings_dict["PORT"] or "")
    monkeypatch.chdir(tmp_path)
    relative = ch15.database_url({"ENGINE": "django.db.backends.sqlite3", "NAME": "lab.sqlite3"})
    assert relative == f"sqlite:///{tmp_path / 'lab.sqlite3'}"
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": "lab", "USER": "me", "PASSWORD": "p@ss", "HOST": "db", "PORT": 5433}
    back = dj_database_url.parse(ch15.database_url(pg))  # a password survives quoting ("@" in it)
    assert (back["USER"], back["PASSWORD"], back["HOST"], back["PORT"], back["NAME"]) == ("me", "p@ss", "db", 5433, "lab")
    with pytest.raises(ValueError, match="in-memory"):
        ch15.database_url({"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"})


def test_the_worker_gets_this_processs_database_not_the_environments():
    # conftest points LAB_DATA_DIR at another folder after Django read its settings: a worker that
    # trusted the environment would read another SQLite file.
    env = ch15.TaskWorker().environment()
    assert env["DATABASE_URL"] == ch15.database_url(connection.settings_dict)
    assert "--no-reload" in ch15.TaskWorker().command()


def test_the_labs_migration_of_the_task_table_matches_django_tasks_db_models():
    # MIGRATION_MODULES replaces django-tasks-db's migrations (queue_migrations/__init__.py says
    # why); after an upgrade of the package this fails until the migration is regenerated.
    from django.core.management import call_command

    call_command("makemigrations", "django_tasks_database", check=True, dry_run=True, verbosity=0)


# -- views ------------------------------------------------------------------------------------------
async def test_enqueue_view_answers_202_with_the_id_and_the_result_can_be_read():
    client = AsyncClient(raise_request_exception=True)
    started = time.perf_counter()
    response = await client.post("/tasks/jobs/", {"job": "sleep", "seconds": 1.0}, content_type="application/json")
    assert time.perf_counter() - started < 0.5
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "READY" and job["task"] == "slow_job" and job["backend"] == "database"
    read = await client.get(f"/tasks/jobs/{job['id']}/")
    assert read.status_code == 200 and read.json()["id"] == job["id"]


async def test_enqueue_view_on_the_immediate_backend_answers_when_the_job_is_done():
    client = AsyncClient(raise_request_exception=True)
    response = await client.post(
        "/tasks/jobs/", {"job": "fail", "message": "boom", "backend": "immediate"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "FAILED"
    assert response.json()["error"] == {"exception": "builtins.ValueError", "message": "ValueError: boom"}


async def test_inline_view_awaits_the_job():
    client = AsyncClient(raise_request_exception=True)
    started = time.perf_counter()
    response = await client.post("/tasks/inline/", {"seconds": 0.3}, content_type="application/json")
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200 and response.json()["return_value"]["pid"] == os.getpid()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/tasks/jobs/", {}, "job"),
        ("/tasks/jobs/", {"job": "sleep"}, "seconds"),
        ("/tasks/jobs/", {"job": "sleep", "seconds": 6}, "seconds"),
        ("/tasks/jobs/", {"job": "sleep", "seconds": 3, "backend": "immediate"}, "seconds"),
        ("/tasks/jobs/", {"job": "sleep", "seconds": "1"}, "seconds"),
        ("/tasks/jobs/", {"job": "nap", "seconds": 1}, "job"),
        ("/tasks/jobs/", {"job": "sleep", "seconds": 1, "backend": "rq"}, "backend"),
        ("/tasks/jobs/", {"job": "fail", "extra": 1}, "extra"),
        ("/tasks/inline/", {}, "seconds"),
        ("/tasks/inline/", {"seconds": 2.5}, "seconds"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(path, body, field):
    response = await AsyncClient().post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize("result_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "x" * 300])
async def test_unknown_job_is_a_404(result_id):
    response = await AsyncClient().get(f"/tasks/jobs/{result_id}/")
    assert response.status_code == 404 and "no job" in response.json()["error"]


async def test_wrong_method_is_a_405():
    client = AsyncClient()
    assert (await client.get("/tasks/jobs/")).status_code == 405
    assert (await client.post("/tasks/backends/")).status_code == 405


# -- a real worker process ------------------------------------------------------------------------
async def test_the_worker_runs_an_async_task_in_its_own_process(worker):
    result = await slow_job.aenqueue(seconds=0.3, label="test")
    statuses = await wait_finished(result)
    assert statuses[-1] == TaskResultStatus.SUCCESSFUL, result.errors
    assert statuses[0] == TaskResultStatus.READY
    assert result.return_value == {"label": "test", "slept": 0.3, "pid": worker.pid}
    assert worker.pid != os.getpid() and result.worker_ids == ["test-worker"]


async def test_the_worker_records_failures(worker):
    failed = await failing_job.aenqueue(message="no such customer")
    limited = await limited_job.aenqueue(seconds=5)
    for result in (failed, limited):
        await wait_finished(result)
    assert failed.status == limited.status == TaskResultStatus.FAILED
    assert failed.errors[0].exception_class is ValueError
    assert failed.errors[0].traceback.strip().endswith("ValueError: no such customer")
    assert limited.errors[0].exception_class is TimeoutError
    with pytest.raises(ValueError, match="failed"):
        failed.return_value


async def test_the_enqueue_view_round_trip_through_the_worker(worker):
    client = AsyncClient(raise_request_exception=True)
    job = (await client.post("/tasks/jobs/", {"job": "sleep", "seconds": 0.1}, content_type="application/json")).json()
    deadline = time.monotonic() + 20
    while (answer := (await client.get(f"/tasks/jobs/{job['id']}/")).json())["status"] in {"READY", "RUNNING"}:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.05)
    assert answer["status"] == "SUCCESSFUL" and answer["return_value"]["pid"] == worker.pid


async def test_a_result_waits_while_no_worker_runs_then_completes():
    result = await slow_job.aenqueue(seconds=0.05, label="waited")
    await asyncio.sleep(0.3)
    await result.arefresh()
    assert result.status == TaskResultStatus.READY and result.worker_ids == []
    async with ch15.TaskWorker(worker_id="late-worker", interval=0.05) as late:
        await wait_finished(result)
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.worker_ids == ["late-worker"] and result.return_value["pid"] == late.pid
    assert not late.is_running


async def test_stop_ends_the_process_and_a_failed_start_says_why():
    worker = await ch15.start_worker(worker_id="stopped-worker")
    pid = worker.pid
    assert await worker.stop() == 0
    assert not process_alive(pid)
    with pytest.raises(ch15.WorkerError, match="exited with code"):
        await ch15.start_worker(backend="immediate")  # db_worker refuses a non-database backend


def process_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's prctl")
def test_the_worker_does_not_outlive_a_kernel_that_dies_without_cleaning_up():
    # A parent that starts a worker and then dies at once, skipping its exit hooks (os._exit).
    script = textwrap.dedent(
        """
        import asyncio, os
        import helpers as lab
        from helpers.chapters import ch15_background_tasks as ch15
        lab.setup_django()
        worker = asyncio.run(ch15.start_worker(worker_id="orphan-check"))
        print(worker.pid, flush=True)
        os._exit(0)
        """
    )
    env = dict(os.environ, DATABASE_URL=ch15.database_url(connection.settings_dict))
    parent = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert parent.returncode == 0, parent.stderr
    pid = int(parent.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if process_alive(pid):  # do not leave it behind even when the test fails
        os.kill(pid, 9)
        pytest.fail(f"worker {pid} outlived its parent")
