"""Opt-in faster ASGI entry point: ``lab_project.fast_asgi:application``.

The same ProtocolTypeRouter as ``lab_project.asgi`` (its WebSocket branch is the very same
object), with HTTP served by ``FastASGIHandler``: Django's ASGIHandler reusing
per-request executors from a bounded pool instead of starting and joining a thread for every
request. Chapter 13 measures it and ``tests/chapters/test_13_where_the_time_goes.py`` proves it safe.
Stock Django stays the default everywhere else, so every other chapter teaches real Django.

    uvicorn lab_project.fast_asgi:application
"""

from channels.routing import ProtocolTypeRouter

from lab_project.asgi import application as stock_application
from lab_project.lifespan import LabLifespan
from lab_project.where_the_time_goes.fast_handler import default_pool, get_fast_asgi_application

application = ProtocolTypeRouter(
    {
        **stock_application.application_mapping,
        "http": get_fast_asgi_application(),
        # The pool's idle threads are this app's to stop when its server shuts down (and only
        # its: a stock server stopping in the same process must leave them alone).
        "lifespan": LabLifespan(extra_shutdown=(default_pool().shutdown_idle,)),
    }
)
