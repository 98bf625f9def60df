"""What only the lab's tests use, kept out of the notebook library (like ``channels.testing``).

    RawWebSocket      frames no real client would send, on a bare socket
    ThrowawayRedis    a private redis-server a test may crash, hang and restart
    shutdown_report   lab_project's app plus a report of what a server process left behind
    port_is_free      whether a stopped server gave its port back
"""

from helpers.testing.ports import port_is_free
from helpers.testing.raw_websocket import Opcode, RawWebSocket, chat_message, close_payload, frame
from helpers.testing.shutdown_report import read_shutdown_report, write_shutdown_report
from helpers.testing.throwaway_redis import ThrowawayRedis

__all__ = [
    "Opcode",
    "RawWebSocket",
    "ThrowawayRedis",
    "chat_message",
    "close_payload",
    "frame",
    "port_is_free",
    "read_shutdown_report",
    "write_shutdown_report",
]
