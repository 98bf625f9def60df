"""``fanout_app`` on the lean entry point: the fan-out benchmark's chat with HTTP on the lean path.

    uvicorn lab_project.where_the_time_goes.fanout_on_lean_app:application

The WebSocket branch of ``lab_project.lean_asgi`` is stock's very object, so the lean step of
``lab-bench`` checks here that serving HTTP on the lean path costs the chat nothing.
"""

from lab_project.lean_asgi import application  # noqa: F401  (the app this module serves)
from lab_project.where_the_time_goes import fanout_app  # noqa: F401  (widens the chat's flood guard)
