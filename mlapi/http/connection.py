"""Each connection bounded in time as well as bytes: uvicorn's httptools protocol, bounded.

- The request line and headers: at most `MLAPI_MAX_HEADER_BYTES` (431, then closed), complete
  within `MLAPI_HEADER_TIMEOUT_S` of their start (closed).
- The body: nothing received for `MLAPI_BODY_IDLE_TIMEOUT_S` while the server reads, or not
  complete `MLAPI_BODY_TIMEOUT_S` after the headers, is a 408 and the connection is closed.
  Time the server itself does not read (a buffer the app has not taken yet) is not idling.
- An answer given before the body was read (a 401, a 413, uvicorn's 503 beyond
  `MLAPI_MAX_CONNECTIONS`) says `Connection: close`; the rest of the body is read and dropped
  for at most `LINGER_S` (so that a client still sending sees the answer, not a reset), then
  the connection is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mlapi.errors import BodyTimeout, HeadersTooLarge, MLAPIError
from mlapi.http.errors import error_body
from mlapi.http.middleware.limits import DISCARD_BYTES

LINGER_S = 2.0


def _raw_response(status: bytes, error: MLAPIError) -> bytes:
    """A whole typed error answer that closes the connection, written by the protocol itself
    (before, or instead of, the app's)."""
    body = error_body(error.type, error.message, limit=error.limit)
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


HEADERS_TOO_LARGE = _raw_response(
    b"431 Request Header Fields Too Large",
    HeadersTooLarge(
        "request line and headers are larger than MLAPI_MAX_HEADER_BYTES",
        limit="max_header_bytes",
    ),
)
BODY_TIMEOUT = _raw_response(
    b"408 Request Timeout",
    BodyTimeout(
        "the request body stalled past MLAPI_BODY_IDLE_TIMEOUT_S or was not complete within "
        "MLAPI_BODY_TIMEOUT_S",
        limit="body_timeout_s",
    ),
)


class _Flow(FlowControl):
    """uvicorn's flow control, telling the protocol when the server reads again."""

    def __init__(self, transport: asyncio.Transport, on_resume: Callable[[], None]) -> None:
        super().__init__(transport)
        self._on_resume = on_resume

    def resume_reading(self) -> None:
        if self.read_paused:
            self._on_resume()
        super().resume_reading()


class _AnswerTransport(asyncio.Transport):
    """What a request's cycle writes its answer to: the connection, except that the cycle's
    close goes through the protocol (which lingers while the request's body is still due)."""

    def __init__(self, transport: asyncio.Transport, close: Callable[[], None]) -> None:
        super().__init__()
        self._transport, self._close = transport, close

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._close()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with each request's head bounded in size and time, and its
    body in time.

    `configure` sets the bounds (class attributes: uvicorn builds one protocol per connection
    from the class it is given)."""

    max_header_bytes: ClassVar[int] = 65_536
    header_timeout_s: ClassVar[float] = 10.0
    body_idle_timeout_s: ClassVar[float] = 10.0
    body_timeout_s: ClassVar[float] = 60.0

    @classmethod
    def configure(
        cls,
        *,
        max_header_bytes: int,
        header_timeout_s: float,
        body_idle_timeout_s: float,
        body_timeout_s: float,
    ) -> type[HttpToolsProtocol]:
        return type(
            "BoundedHttpTools",
            (cls,),
            {
                "max_header_bytes": max_header_bytes,
                "header_timeout_s": header_timeout_s,
                "body_idle_timeout_s": body_idle_timeout_s,
                "body_timeout_s": body_timeout_s,
            },
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _Flow(transport, self._reading_again)
        self._answers = _AnswerTransport(transport, self._close_after_answer)
        self._in_head = True
        self._refused = False
        self._head_bytes = 0  # received while the head is incomplete (a bound on buffering)
        self._head_size = 0  # the head's own bytes: request target and headers
        self._head_since = self._last_read = self.loop.time()
        self._body_since: float | None = None  # while a request's body is still due
        self._keep_alive = True  # the request's own wish, while its body is due
        self._linger_until: float | None = None  # answered early: dropping the rest till then
        self._dropped = 0
        self._timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout_s, self._check
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._last_read = self.loop.time()
        if self._linger_until is not None:  # answered and closing: the rest is dropped
            self._dropped += len(data)
            if self._dropped > DISCARD_BYTES:
                self.transport.close()
            return
        super().data_received(data)
        if self._in_head and not self._refused:  # the parser holds an unfinished head
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse_head()
        elif self._body_since is not None:
            self._arm(self._body_deadline())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # the next request on a kept-alive connection
            self._in_head = True
            self._head_bytes = self._head_size = 0
            self._head_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > self.max_header_bytes:  # a head that came in one read
            self._refuse_head()
            return
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is before:  # an upgrade: no request cycle of ours
            return
        # Until the body is complete, an answer closes the connection after it.
        self._body_since = self._last_read
        self._keep_alive, cycle.keep_alive = cycle.keep_alive, False
        cycle.transport = self._answers

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._body_since = None
        if not self.cycle.response_started:
            self.cycle.keep_alive = self._keep_alive

    def _reading_again(self) -> None:
        self._last_read = self.loop.time()

    def _close_after_answer(self) -> None:
        """The cycle closes the connection after its answer: at once when the request was read
        whole, else after lingering (half-closed, the rest of the body dropped)."""
        transport = self.transport
        if self._body_since is None or transport.is_closing() or self._linger_until is not None:
            transport.close()
            return
        self._linger_until = self.loop.time() + LINGER_S
        if transport.can_write_eof():
            transport.write_eof()  # the client sees the answer end; it may stop sending
        self.flow.resume_reading()
        self._arm(self._body_deadline())

    def _body_deadline(self) -> float:
        assert self._body_since is not None
        end = self._body_since + self.body_timeout_s
        if self._linger_until is not None:
            end = min(end, self._linger_until)
        if not self.flow.read_paused:  # while the server does not read, the client is not idle
            end = min(end, self._last_read + self.body_idle_timeout_s)
        return end

    def _arm(self, deadline: float) -> None:
        """The next check no later than `deadline`."""
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        """Closes a connection stuck in a request's head or body; otherwise looks again when
        the next bound would pass."""
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._in_head:
            deadline = self._head_since + self.header_timeout_s
            if now >= deadline:
                self.transport.close()
                return
        elif self._body_since is not None:
            deadline = self._body_deadline()
            if now >= deadline:
                self._body_expired()
                return
        else:  # between requests (uvicorn's keep-alive timeout closes an idle connection)
            deadline = now + self.header_timeout_s
        self._timer = self.loop.call_at(max(deadline, now + 0.01), self._check)

    def _body_expired(self) -> None:
        """408 when the app has not answered yet, then closed; the app reads a disconnect (as
        it would once the close is done) and its own answer is not written."""
        cycle = self.cycle
        if not cycle.response_started:
            self.transport.write(BODY_TIMEOUT)
        cycle.disconnected = True
        cycle.message_event.set()
        self.transport.close()

    def _refuse_head(self) -> None:
        self._in_head = False
        self._refused = True
        self.transport.write(HEADERS_TOO_LARGE)
        self.transport.close()
