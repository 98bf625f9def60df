"""Chapter 15's endpoints: enqueue a job and answer at once, read a job's result, and the
alternative the chapter measures it against — doing the slow work inside the request.

A request names the backend; only the ``database`` backend keeps results where another
request (or process) can read them, so ``GET jobs/<id>/`` reads from there.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.tasks import TaskResult, TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist

from lab_project.async_orm.json_api import NotFound
from lab_project.async_orm.validation import seconds, text
from lab_project.params import BadInput, json_object
from lab_project.background_tasks.tasks import MAX_SECONDS, failing_job, slow_job

BACKENDS = ("database", "immediate", "dummy")
JOBS = {"sleep": slow_job, "fail": failing_job}
# The inline view holds its request for the whole job: keep it short (fuzzers call it too).
MAX_INLINE_SECONDS = 2.0


def describe(result: TaskResult) -> dict:
    """A TaskResult as JSON: what a client polling for its job gets to see."""
    answer = {
        "id": str(result.id),
        "task": result.task.name,
        "backend": result.backend,
        "queue": result.task.queue_name,
        "priority": result.task.priority,
        "status": result.status.value,
        "args": result.args,
        "kwargs": result.kwargs,
        "worker_ids": list(result.worker_ids),
        "enqueued_at": result.enqueued_at.isoformat() if result.enqueued_at else None,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "finished_at": result.finished_at.isoformat() if result.finished_at else None,
    }
    if result.status == TaskResultStatus.SUCCESSFUL:
        answer["return_value"] = result.return_value
    if result.errors:
        last = result.errors[-1]
        answer["error"] = {"exception": last.exception_class_path, "message": last.traceback.strip().splitlines()[-1]}
    return answer


async def enqueue_job(request: HttpRequest) -> JsonResponse:
    """``aenqueue`` and answer with the result id at once."""
    data = json_object(request, {"job", "seconds", "message", "backend"})
    job = text(data, "job", max_length=10, required=True)
    if job not in JOBS:
        raise BadInput("job", f"unknown job {job!r}; use one of {', '.join(sorted(JOBS))}")
    backend = text(data, "backend", max_length=20, required=False) or "database"
    if backend not in BACKENDS:
        raise BadInput("backend", f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if job == "sleep":
        if "seconds" not in data:
            raise BadInput("seconds", "required for the sleep job")
        high = MAX_SECONDS if backend != "immediate" else MAX_INLINE_SECONDS  # immediate runs in here
        kwargs = {"seconds": seconds(data, "seconds", default=0.0, high=high), "label": "from a view"}
    else:
        kwargs = {"message": text(data, "message", max_length=200, required=False) or "failed on purpose"}
    result = await JOBS[job].using(backend=backend).aenqueue(**kwargs)
    # 202 Accepted: queued, still to run. The Immediate backend has run it already: say so.
    return JsonResponse(describe(result), status=200 if result.is_finished else 202)


async def read_job(request: HttpRequest, result_id: str) -> JsonResponse:
    """``aget_result`` on the database backend: the job's status as the worker left it."""
    try:
        result = await task_backends["database"].aget_result(result_id)
    except TaskResultDoesNotExist:
        raise NotFound(f"no job with id {result_id[:64]!r}") from None
    return JsonResponse(describe(result))


async def run_inline(request: HttpRequest) -> JsonResponse:
    """The alternative: await the job right here with ``acall()`` — the client waits it out."""
    data = json_object(request, {"seconds"})
    if "seconds" not in data:
        raise BadInput("seconds", "required")
    delay = seconds(data, "seconds", default=0.0, high=MAX_INLINE_SECONDS)
    return JsonResponse({"status": "done", "return_value": await slow_job.acall(seconds=delay, label="inline")})


async def list_backends(request: HttpRequest) -> JsonResponse:
    """What each configured backend can do (the ``supports_*`` flags of BaseTaskBackend)."""
    flags = ("supports_async_task", "supports_get_result", "supports_defer", "supports_priority")
    return JsonResponse(
        {
            alias: {"class": type(backend).__module__ + "." + type(backend).__qualname__}
            | {flag: getattr(backend, flag) for flag in flags}
            for alias, backend in ((b.alias, b) for b in task_backends.all())
        }
    )
