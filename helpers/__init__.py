"""The lab's notebook helpers. Everything a notebook needs is exported here; the modules
behind it (named with a leading underscore) are free to change.

    import helpers as lab
    server = await lab.start()
    ...
    await server.stop()
"""

from helpers._django import prepare_database, setup_django
from helpers._errors import LabServerError, PortInUseError
from helpers._probe import time_request_in_thread
from helpers._process import ProcessServer, start_process
from helpers._server import LabServer, current_server, start
from helpers._status import LabStatus, status

__all__ = [
    "LabServer",
    "LabServerError",
    "LabStatus",
    "PortInUseError",
    "ProcessServer",
    "current_server",
    "prepare_database",
    "setup_django",
    "start",
    "start_process",
    "status",
    "time_request_in_thread",
]
