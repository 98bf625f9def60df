"""Opt-in hop-free ASGI entry point: ``lab_project.lean_asgi:application``.

The same ProtocolTypeRouter as ``lab_project.asgi`` (its WebSocket branch is the very same
object), with HTTP served by ``LeanASGIHandler`` (``lab_project/lean/``): the bundled
middleware inline on the loop when their hooks do no I/O, the request signals without a hop
when their receivers have nothing to do, and a request thread borrowed from a pool only when
the request runs sync code. Chapter 13 measures it; ``tests/chapters/test_13_lean.py`` and
``scripts/django_suite_with_lean_handler.py`` (Django's own tests) prove it safe.
Stock Django stays the default (``LAB_ASGI=lean`` picks this one for the lab's servers).

    uvicorn lab_project.lean_asgi:application
"""

from channels.routing import ProtocolTypeRouter

from lab_project.asgi import application as stock_application
from lab_project.lean.executor import default_lean_pool
from lab_project.lean.handler import get_lean_asgi_application
from lab_project.lifespan import LabLifespan

application = ProtocolTypeRouter(
    {
        **stock_application.application_mapping,
        "http": get_lean_asgi_application(),
        # The pool's idle threads (and the connections they kept) are this app's to stop.
        "lifespan": LabLifespan(extra_shutdown=(default_lean_pool().shutdown_idle,)),
    }
)
