"""The Open Inference Protocol's binary tensor data extension (KServe, Triton), both ways.

A request or response body is a JSON header of `Inference-Header-Content-Length` bytes, then
the raw data of each tensor whose `parameters` hold `binary_data_size`, in order. Numbers are
little-endian, row-major, without padding; BOOL is one byte; a BYTES element is a 4-byte
little-endian length and then its bytes. An output is answered in binary when its requested
output says `"binary_data": true`, or, when it names no such choice, when the request's
parameters say `"binary_data_output": true` (tritonclient's default when no outputs are named).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from mlapi.errors import InvalidRequest

HEADER = "inference-header-content-length"
LENGTH = struct.Struct("<I")
# v2 datatype -> little-endian numpy dtype of its binary form.
DTYPES = {
    "BOOL": "|b1",
    "UINT8": "|u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "|i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def split(body: bytes, declared: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary tail) of a body; without the header, the whole body is JSON."""
    if declared is None:
        return body, b""
    if not declared.isdigit() or int(declared) > len(body):
        raise InvalidRequest(
            f"Inference-Header-Content-Length must be a number of bytes, at most the body's "
            f"{len(body)}, got {declared[:32]!r}"
        )
    size = int(declared)
    return body[:size], body[size:]


def binary_size(name: str, parameters: dict[str, Any] | None) -> int | None:
    """The input's `binary_data_size` parameter, checked; None when its data is JSON."""
    size = (parameters or {}).get("binary_data_size")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidRequest(f"input {name!r}: binary_data_size must be a byte count")
    return size


def decode(name: str, datatype: str, raw: bytes) -> list[Any]:
    """The flat elements of one tensor's binary data (BYTES elements as UTF-8 strings)."""
    kind = datatype.upper()
    if kind == "BYTES":
        return _strings(name, raw)
    dtype = DTYPES.get(kind)
    if dtype is None:
        raise InvalidRequest(f"input {name!r}: datatype {datatype[:16]!r} has no binary form here")
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise InvalidRequest(
            f"input {name!r}: {len(raw)} bytes is not a whole number of {kind} elements"
        )
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


def _strings(name: str, raw: bytes) -> list[str]:
    items: list[str] = []
    view = memoryview(raw)
    offset = 0
    while offset < len(raw):
        if offset + LENGTH.size > len(raw):
            raise InvalidRequest(f"input {name!r}: BYTES data ends inside an element's length")
        (size,) = LENGTH.unpack_from(view, offset)
        offset += LENGTH.size
        if offset + size > len(raw):
            raise InvalidRequest(f"input {name!r}: a BYTES element runs past its data")
        try:
            items.append(str(view[offset : offset + size], "utf-8"))
        except UnicodeDecodeError:
            raise InvalidRequest(f"input {name!r}: BYTES elements must be UTF-8 text") from None
        offset += size
    return items


def encode(datatype: str, data: list[Any]) -> bytes:
    """One output tensor's flat data in binary form."""
    if datatype == "BYTES":
        parts: list[bytes] = []
        for item in data:
            raw = item if isinstance(item, bytes) else str(item).encode()
            parts += (LENGTH.pack(len(raw)), raw)
        return b"".join(parts)
    return np.asarray(data, dtype=DTYPES[datatype]).tobytes()


def wants_binary(
    name: str, requested: list[dict[str, Any]] | None, parameters: dict[str, Any] | None
) -> bool:
    """Whether output `name` is answered as binary data (see the module's docstring)."""
    for output in requested or ():
        if output.get("name") == name:
            choice = (output.get("parameters") or {}).get("binary_data")
            if choice is not None:
                return choice is True
    return (parameters or {}).get("binary_data_output") is True
