"""Frames between the server and a worker: a 4-byte length, then the message.

The server trusts the worker with nothing. What it sends the worker is a pickle (the worker
runs the server's own code and settings anyway):

server -> worker: ("init", spec, kind, settings), ("run", batch_id, keys, tokens), ("stop",)

What the worker sends back is read as data only, never unpickled: a 4-byte header length, a
JSON header, then raw bytes. A batch's answers are one value of bytes per key (float32 vectors,
JSON rows), sent as they are, their sizes in the header:

worker -> server: {"type": "ready", "pid", "servable"} (its state, `mlapi.workers.state`),
                  {"type": "failed", "message"}, {"type": "done", "batch", "sizes"} + bytes,
                  {"type": "error", "batch", "message"}

A reply that does not parse is a `ProtocolError`: the server treats the worker as failed.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

HEADER = struct.Struct(">I")
# A reply is bounded before it is read: a worker's answer to a batch is kilobytes, a servable
# (the tokenizer's JSON included) a few megabytes.
MAX_REPLY_BYTES = 512 * 1024 * 1024


class ProtocolError(Exception):
    """A worker's reply that is not one of the four replies, well formed."""


@dataclass(frozen=True)
class Ready:
    pid: int
    servable: dict[str, Any]  # the servable's state, as `mlapi.workers.state` writes it


@dataclass(frozen=True)
class Failed:
    message: str


@dataclass(frozen=True)
class Done:
    batch: int
    rows: list[bytes]


@dataclass(frozen=True)
class BatchError:
    batch: int
    message: str


Reply = Ready | Failed | Done | BatchError


# --- server -> worker (pickle: the worker trusts the server) ----------------------------------


def pack(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def read(stream: BinaryIO) -> tuple[Any, ...] | None:
    """The server's next message, in the worker; None at end of stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    message = pickle.loads(payload)
    assert isinstance(message, tuple)
    return message


# --- worker -> server (data only) -----------------------------------------------------------


def _frame(header: dict[str, Any], blob: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    body = HEADER.pack(len(head)) + head + blob
    return HEADER.pack(len(body)) + body


def ready(pid: int, servable: dict[str, Any]) -> bytes:
    return _frame({"type": "ready", "pid": pid, "servable": servable})


def failed(message: str) -> bytes:
    return _frame({"type": "failed", "message": message})


def done(batch: int, rows: list[bytes]) -> bytes:
    return _frame({"type": "done", "batch": batch, "sizes": [len(r) for r in rows]}, b"".join(rows))


def error(batch: int, message: str) -> bytes:
    return _frame({"type": "error", "batch": batch, "message": message})


def write(stream: BinaryIO, frame: bytes) -> None:
    stream.write(frame)
    stream.flush()


def _int(header: dict[str, Any], name: str) -> int:
    value = header.get(name)
    if type(value) is not int or value < 0:
        raise ProtocolError(f"{name!r} must be a non-negative integer")
    return value


def _str(header: dict[str, Any], name: str) -> str:
    value = header.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f"{name!r} must be a string")
    return value


def parse(payload: bytes) -> Reply:
    """One reply from its frame's payload, parsed as data; `ProtocolError` if malformed."""
    if len(payload) < HEADER.size:
        raise ProtocolError("reply shorter than its header")
    (size,) = HEADER.unpack_from(payload)
    if size > len(payload) - HEADER.size:
        raise ProtocolError(f"header of {size} bytes in a reply of {len(payload)}")
    try:
        header = orjson.loads(payload[HEADER.size : HEADER.size + size])
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    blob = memoryview(payload)[HEADER.size + size :]
    kind = header.get("type")
    if kind == "done":
        sizes = header.get("sizes")
        if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes):
            raise ProtocolError("'sizes' must be a list of non-negative integers")
        if sum(sizes) != len(blob):
            raise ProtocolError(f"sizes add up to {sum(sizes)}, {len(blob)} bytes sent")
        rows, start = [], 0
        for n in sizes:
            rows.append(bytes(blob[start : start + n]))
            start += n
        return Done(_int(header, "batch"), rows)
    if len(blob):
        raise ProtocolError(f"{len(blob)} bytes after a {kind!r} header")
    if kind == "ready":
        servable = header.get("servable")
        if not isinstance(servable, dict):
            raise ProtocolError("'servable' must be an object")
        return Ready(_int(header, "pid"), servable)
    if kind == "failed":
        return Failed(_str(header, "message"))
    if kind == "error":
        return BatchError(_int(header, "batch"), _str(header, "message"))
    raise ProtocolError(f"unknown reply type {kind!r}")


async def read_async(reader: asyncio.StreamReader) -> Reply | None:
    """The worker's next reply, in the server; None at end of stream, `ProtocolError` if it is
    not a well-formed reply."""
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if size > MAX_REPLY_BYTES:
            raise ProtocolError(f"reply of {size} bytes, at most {MAX_REPLY_BYTES}")
        payload = await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return parse(payload)
