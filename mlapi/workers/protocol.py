"""Frames between the server and a worker: a 4-byte length, then a pickle.

Pickle is safe here: both ends are this package, over the pipes of a child process the server
started itself. Messages are tuples whose first item names them:

server -> worker: ("init", spec, kind, settings), ("run", batch_id, keys), ("stop",)
worker -> server: ("ready", pid, servable_without_runtime), ("failed", message),
                  ("done", batch_id, rows), ("error", batch_id, message)
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")


def pack(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def write(stream: BinaryIO, message: tuple[Any, ...]) -> None:
    stream.write(pack(message))
    stream.flush()


def read(stream: BinaryIO) -> tuple[Any, ...] | None:
    """The next message, None at end of stream."""
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


async def read_async(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        payload = await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    message = pickle.loads(payload)
    assert isinstance(message, tuple)
    return message
