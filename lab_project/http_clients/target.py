"""Where the HTTP-client views send their calls: this server, or another loopback address.

A view that fetched any URL a query string named would be an open proxy into whatever the
server can reach (SSRF). So the target is either the server that received the request, or an
``upstream`` parameter that must be a plain ``http://`` URL whose host is a loopback IP
literal. Host names are refused outright: a name can resolve anywhere.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from lab_project.params import bad_parameter

UPSTREAM_PATH = "upstream/data/"


def upstream_url(request, upstream: str | None) -> str:
    """The slow upstream's data URL for this request."""
    base = loopback_base(upstream) if upstream else same_server_base(request)
    return base + UPSTREAM_PATH


def same_server_base(request) -> str:
    """The address this request arrived on (ASGI ``scope["server"]``), reached over loopback."""
    server = getattr(request, "scope", {}).get("server")
    if not server or server[1] is None:
        raise bad_parameter("upstream", "this server's address is unknown; pass upstream=http://127.0.0.1:PORT/")
    host, port = server[0], int(server[1])
    if not _is_loopback_literal(host):
        # The server listens on all interfaces (or an external one): call it over loopback.
        host = "127.0.0.1"
    return f"http://{_netloc(host)}:{port}/"


def loopback_base(value: str) -> str:
    """Validate an ``upstream`` parameter and rebuild it from its checked parts."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise bad_parameter("upstream", f"not a valid URL ({exc})") from None
    if parts.scheme != "http":
        raise bad_parameter("upstream", f"must start with http:// (got {value[:60]!r})")
    if parts.username is not None or parts.password is not None:
        raise bad_parameter("upstream", "must not contain a user name or password")
    if not parts.hostname or not _is_loopback_literal(parts.hostname):
        raise bad_parameter(
            "upstream",
            f"only loopback IP addresses (127.0.0.0/8 or ::1) are allowed, got {parts.hostname or value[:60]!r}",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise bad_parameter("upstream", "give the server's base URL only, like http://127.0.0.1:8000/")
    return f"http://{_netloc(parts.hostname)}:{port or 80}/"


def _is_loopback_literal(host: str) -> bool:
    if "%" in host:  # an IPv6 zone id: never needed for loopback
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host
