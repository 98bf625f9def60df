"""Talking to a lab server from a cell: one in-process ASGI call, SSE, chat sessions, probes."""

from helpers.clients.asgi import AsgiReply, call_asgi, http_scope
from helpers.clients.chat import ChatRefused, ChatSession, chat, login_session, room_channels
from helpers.clients.probe import time_request_in_thread
from helpers.clients.sse import SSEStream, read_sse

__all__ = [
    "AsgiReply",
    "ChatRefused",
    "ChatSession",
    "SSEStream",
    "call_asgi",
    "chat",
    "http_scope",
    "login_session",
    "read_sse",
    "room_channels",
    "time_request_in_thread",
]
