"""ASGI entry point: HTTP goes to Django, WebSocket to Channels, lifespan to LabLifespan.

The WebSocket branch is stacked the way deployments stack it: origin check outermost (it is
the WebSocket's CSRF protection), then session/auth, then the URL router.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models (the chat routing does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from lab_project.chat.routing import websocket_urlpatterns  # noqa: E402
from lab_project.lifespan import LabLifespan  # noqa: E402
from lab_project.playground.registry import WS_PREFIX  # noqa: E402
from lab_project.playground.routing import PlaygroundConsumers  # noqa: E402

# Consumers a notebook cell mounts (chapter 18) come first; a path under ws/try/ that no cell
# mounted falls through to the chat routes' closing catch-all.
websocket_routes = [re_path(rf"^{WS_PREFIX}", PlaygroundConsumers()), *websocket_urlpatterns]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
        "lifespan": LabLifespan(),
    }
)
