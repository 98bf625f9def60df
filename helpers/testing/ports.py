"""Whether a port is free again (a stopped server must give its port back)."""

import socket

__all__ = ["port_is_free"]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
