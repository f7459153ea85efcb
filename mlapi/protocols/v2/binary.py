"""The Open Inference Protocol's binary tensor data extension (KServe, Triton), both ways.

A request or response body is a JSON header of `Inference-Header-Content-Length` bytes, then
the raw data of each tensor whose `parameters` hold `binary_data_size`, in order. Numbers are
little-endian, row-major, without padding; BOOL is one byte; a BYTES element is a 4-byte
little-endian length and then its bytes. An output is answered in binary when its requested
output says `"binary_data": true`, or, when it names no such choice, when the request's
parameters say `"binary_data_output": true` (tritonclient's default when no outputs are named).

Nothing is decoded before its size is checked: a tensor's element count (its shape, held under
the codec's element cap) times its item size must be its `binary_data_size` (BYTES: at least 4
bytes an element), and a BYTES tensor is read element by element, exactly as many as its shape
holds.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlapi.errors import InvalidRequest
from mlapi.protocols.v2.request import RequestedOutput, RequestParameters
from mlapi.validation import byte_count

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
    size = byte_count(declared)
    if size is None or size > len(body):
        raise InvalidRequest(
            f"Inference-Header-Content-Length must be a number of bytes (ASCII digits), at most "
            f"the body's {len(body)}, got {declared[:32]!r}"
        )
    return body[:size], body[size:]


def check_size(name: str, datatype: str, count: int, size: int) -> None:
    """Refuses a `binary_data_size` that cannot hold `count` elements of `datatype` (before
    anything is decoded)."""
    kind = datatype.upper()
    if kind == "BYTES":
        if count * LENGTH.size > size:
            raise InvalidRequest(
                f"input {name!r}: BYTES data of {size} bytes ends inside an element's length "
                f"({count} elements take {count * LENGTH.size} bytes at least)"
            )
        return
    dtype = DTYPES.get(kind)
    if dtype is None:
        raise InvalidRequest(f"input {name!r}: datatype {datatype[:16]!r} has no binary form here")
    width = np.dtype(dtype).itemsize
    if count * width != size:
        raise InvalidRequest(
            f"input {name!r}: {count} {kind} elements are {count * width} bytes, "
            f"binary_data_size is {size}"
        )


def decode(name: str, datatype: str, count: int, raw: bytes) -> list[Any]:
    """The `count` flat elements of one tensor's binary data (BYTES elements as UTF-8
    strings), its size checked first (`check_size`)."""
    check_size(name, datatype, count, len(raw))
    kind = datatype.upper()
    if kind == "BYTES":
        return _strings(name, count, raw)
    values: list[Any] = np.frombuffer(raw, dtype=DTYPES[kind]).tolist()
    return values


def _strings(name: str, count: int, raw: bytes) -> list[str]:
    """Exactly `count` length-prefixed UTF-8 strings filling `raw`."""
    items: list[str] = []
    view = memoryview(raw)
    offset = 0
    for _ in range(count):
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
    if offset != len(raw):
        raise InvalidRequest(
            f"input {name!r}: {len(raw) - offset} bytes follow its {count} BYTES elements"
        )
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
    name: str, requested: Sequence[RequestedOutput] | None, parameters: RequestParameters | None
) -> bool:
    """Whether output `name` is answered as binary data (see the module's docstring)."""
    for output in requested or ():
        if output.name == name and output.parameters is not None:
            if output.parameters.binary_data is not None:
                return output.parameters.binary_data
    return parameters is not None and parameters.binary_data_output is True
