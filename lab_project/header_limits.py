"""A bound on the size of a request's head: 431 Request Header Fields Too Large past 32 KiB.

uvicorn's default HTTP parser (httptools) accepts headers of any size: a client can send a
200 KB header, or keep one header line going for megabytes, and the server buffers all of it.
(Only uvicorn's other parser, h11, has a limit, ``h11_max_incomplete_event_size``.) This
protocol is uvicorn's httptools one with a count of the bytes in the request line and
headers, every lab server uses it (``helpers.server.inprocess.lab_uvicorn_config`` and
``helpers.server.process``), and so can a deployment:

    uvicorn lab_project.asgi:application --http lab_project.header_limits:BoundedHeadersProtocol

Why 32 KiB in total: it is nginx's ceiling with its default buffers (4 x 8 KiB), so a request a
common proxy passes is never refused here; it is twice Node.js's default (16 KiB), so cookie
jars that grow on ``localhost`` (every local dev server shares them) still fit; and it is far
above anything a browser or this lab's clients send. One total rather than a per-header bound:
it is the total that costs memory.

The check happens while the request arrives, before Django sees it: bytes are counted as they
are received (so one endless header line is cut off after about 32 KiB, not buffered whole),
and parsed header fields are counted exactly (so the bound is the same however the request
was split into packets).
"""

from __future__ import annotations

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["MAX_HEADER_BYTES", "BoundedHeadersProtocol"]

MAX_HEADER_BYTES = 32 * 1024
# After refusing, read and drop what the client is still sending, for a little while: closing
# a socket with unread data makes the kernel reset the connection, and a reset can destroy
# the refusal before the client has read it (the "lingering close" of nginx and Apache).
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


class _HeadTooLarge(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BoundedHeadersProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 when a request's head exceeds the bound."""

    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True  # the next bytes belong to a request line or headers
        self._raw_head_bytes = 0  # received while the current head was still incomplete
        self._parsed_head_bytes = 0  # request target + header names and values, exactly
        self._refusal: _HeadTooLarge | None = None
        self._discard_budget: int | None = None  # set once refused: bytes still to be dropped

    # -- counting ------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 414, "Request target too long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 431, "Request header fields too large")  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._raw_head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True

    def _count(self, size: int, status: int, what: str) -> None:
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > self.max_header_bytes:
            self._refusal = _HeadTooLarge(status, self._words(what))
            raise self._refusal  # stops the parser; data_received answers

    def _words(self, what: str) -> str:
        return f"{what}: the request line and headers may total at most {self.max_header_bytes} bytes.\n"

    # -- receiving -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, plus the two checks; its own answers a parser error with 400,
        # which would hide why the request was refused.
        if self._discard_budget is not None:  # refused already: drop what is still coming
            self._discard_budget -= len(data)
            if self._discard_budget < 0:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._raw_head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return
        if self._reading_head and self._raw_head_bytes > self.max_header_bytes:
            # A head still incomplete after this many bytes: one header line that never ends.
            self._refuse(_HeadTooLarge(431, self._words("Request header fields too large")))

    def _refuse(self, refusal: _HeadTooLarge) -> None:
        """Answer ``refusal.status`` and close; the rest of the request is never parsed."""
        body = refusal.message.encode("ascii")
        head = [STATUS_LINE[refusal.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n",
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # the answer, then end of stream; the client closes on reading it
        self._discard_budget = LINGER_BYTES
        self.loop.call_later(LINGER_SECONDS, self.transport.close)  # closing twice is harmless
