"""WebSocket URL patterns (filled in by the chat chapter)."""

websocket_urlpatterns: list = []
