"""The lab's notebook library: what several chapters share.

    import helpers as lab

    server = await lab.start(fresh_db=True)     # lab_project under uvicorn, on this event loop
    reply = await lab.call_asgi(app, "/path/")   # one request in process, no socket

    @server.view("try/hello/")                   # your own view, written in a cell (chapter 18)
    async def hello(request): ...
    print(await server.trace("try/hello/"))      # where its request ran
    print(await lab.compare({"a": "try/a/", "b": "try/b/"}, clients=20, seconds=2))
    await server.stop()

By concern, each with its own ``__all__``:

    helpers.server     the servers (in this loop, on a thread, in a process, under WSGI), status
    helpers.clients    one in-process ASGI call, SSE, chat sessions, probes
    helpers.measure    the instruments: interleaved comparison, stats, load clients, counters, plots
    helpers.chapters   one module per chapter that needs its own code, named after its notebook
    helpers.testing    what only the tests use
    helpers.bench      ``lab-bench``, the benchmark command
"""

from helpers.clients import (
    ChatRefused,
    ChatSession,
    call_asgi,
    chat,
    login_session,
    read_sse,
    time_request_in_thread,
)
from helpers.measure import LoadResult, capture_log, interleaved, run_load
from helpers.measure.load_compare import compare
from helpers.server import (
    LabServer,
    LabServerError,
    PortInUseError,
    ProcessServer,
    Server,
    ThreadServer,
    current_server,
    prepare_database,
    setup_django,
    start,
    start_process,
    start_runserver,
    start_thread_server,
    start_wsgi,
    status,
)

__all__ = [  # sorted; tests/library/test_exported_members.py pins it
    "ChatRefused", "ChatSession", "LabServer", "LabServerError", "LoadResult", "PortInUseError",
    "ProcessServer", "Server", "ThreadServer", "call_asgi", "capture_log", "chat", "compare",
    "current_server", "interleaved", "login_session", "prepare_database", "read_sse", "run_load",
    "setup_django", "start", "start_process", "start_runserver", "start_thread_server",
    "start_wsgi", "status", "time_request_in_thread"
]
