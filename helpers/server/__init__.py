"""Serving lab_project: in this kernel's event loop, on a thread, in a child process, under WSGI.

    server = await start(fresh_db=True)        # uvicorn as a task on this loop
    other = await start_process()              # uvicorn in a child process
    wsgi = await start_wsgi(threads=10)        # gunicorn gthread, the threaded baseline

Every server is a ``Server``: ``url``, ``ws_url``, ``start()``, ``stop()``, ``async with``.
"""

from helpers.server.base import Server
from helpers.server.database import (
    prepare_database,
    prepare_database_sync,
    setup_django,
)
from helpers.server.errors import LabServerError, PortInUseError
from helpers.server.inprocess import DEFAULT_APP, bind_socket, free_port, load_app
from helpers.server.kernel import LabServer, current_server, start
from helpers.server.playground import (
    MountError,
    Playground,
    PlaygroundSocket,
    UserCodeError,
)
from helpers.server.process import ProcessServer, start_process
from helpers.server.status import LabStatus, status
from helpers.server.thread import ThreadServer, start_thread_server
from helpers.server.wsgi import (
    GunicornServer,
    RunserverServer,
    start_runserver,
    start_wsgi,
)

__all__ = [
    "DEFAULT_APP",
    "GunicornServer",
    "LabServer",
    "LabServerError",
    "LabStatus",
    "MountError",
    "Playground",
    "PlaygroundSocket",
    "PortInUseError",
    "ProcessServer",
    "RunserverServer",
    "Server",
    "ThreadServer",
    "UserCodeError",
    "bind_socket",
    "current_server",
    "free_port",
    "load_app",
    "prepare_database",
    "prepare_database_sync",
    "setup_django",
    "start",
    "start_process",
    "start_runserver",
    "start_thread_server",
    "start_wsgi",
    "status",
]
