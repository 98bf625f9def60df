"""WebSocket routes. ``lab_project.asgi`` serves these behind the origin check and the session.

Only well-formed room names reach the chat consumer. Every other path still gets a consumer
that closes with a code and a reason: an unmatched path would make Channels' outermost
URLRouter raise ValueError, which the server logs as a crash and the client sees as HTTP 500.
"""

from django.urls import re_path

from lab_project.chat.consumers import ChatConsumer, ClosingConsumer
from lab_project.chat.protocol import CLOSE_BAD_REQUEST, CLOSE_NO_ROUTE
from lab_project.chat.rooms import ROOM_PATTERN, ROOM_RULE

websocket_urlpatterns = [
    re_path(rf"^ws/chat/(?P<room>{ROOM_PATTERN})/$", ChatConsumer.as_asgi()),
    re_path(r"^ws/chat/", ClosingConsumer.as_asgi(code=CLOSE_BAD_REQUEST, reason=f"bad room name: {ROOM_RULE}")),
    # Last: WebSocket routes of other chapters go above this line.
    re_path(r"", ClosingConsumer.as_asgi(code=CLOSE_NO_ROUTE, reason="no WebSocket is served at this path")),
]
