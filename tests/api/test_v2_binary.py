"""The binary tensor data codec against tritonclient's own serialization."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from mlapi.errors import InvalidRequest
from mlapi.protocols.v2 import binary as v2_binary
from mlapi.protocols.v2.request import OutputParameters, RequestedOutput, RequestParameters


def test_bytes_round_trip_with_tritonclient() -> None:
    texts = ["I love you.", "", "émoji 🎉"]
    raw = serialize_byte_tensor(np.array([t.encode() for t in texts], dtype=np.object_)).item()
    assert v2_binary.decode("text", "BYTES", len(texts), raw) == texts
    back = deserialize_bytes_tensor(v2_binary.encode("BYTES", texts))
    assert [b.decode() for b in back] == texts


@pytest.mark.parametrize("datatype", ["FP32", "FP64", "INT64", "BOOL", "FP16", "UINT8"])
def test_numbers_are_little_endian_row_major(datatype: str) -> None:
    values = np.array([[1, 0, 3], [4, 5, 1]], dtype=v2_binary.DTYPES[datatype])
    decoded = v2_binary.decode("x", datatype, values.size, values.tobytes())
    assert decoded == values.ravel().tolist()
    assert v2_binary.encode(datatype, decoded) == values.tobytes()


def test_partial_elements_and_unknown_types_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="2 FP32 elements are 8 bytes, binary_data_size is 6"):
        v2_binary.decode("x", "FP32", 2, b"\x00" * 6)
    with pytest.raises(InvalidRequest, match="no binary form"):
        v2_binary.decode("x", "BF16", 1, b"\x00" * 4)


def test_output_choice_output_first_then_request() -> None:
    asked = [RequestedOutput(name="label", parameters=OutputParameters(binary_data=False))]
    every = RequestParameters(binary_data_output=True)
    assert not v2_binary.wants_binary("label", asked, every)
    assert v2_binary.wants_binary("probabilities", asked, every)
    assert not v2_binary.wants_binary("probabilities", None, None)
