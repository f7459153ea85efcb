"""v2 inference inputs that were 500s (issue #36): each is a typed 422 in v2's error style, and
a binary tensor's size is checked against its shape before any of it is decoded."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mlapi.errors import InvalidRequest, TooManyTexts
from mlapi.protocols.v2 import codec as v2
from mlapi.validation import byte_count

URL = "/v2/models/default/infer"
TEXT = {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["I love this."]}


def _strings(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


@pytest.mark.parametrize(
    ("request_body", "says"),
    [
        ({"inputs": [TEXT], "outputs": [{"name": ["a"]}]}, "outputs.0.name"),
        ({"inputs": [TEXT], "outputs": [{"name": {"a": 1}}]}, "outputs.0.name"),
        ({"inputs": [TEXT], "parameters": [1]}, "parameters"),
        ({"inputs": [TEXT], "parameters": {"binary_data_output": "yes"}}, "binary_data_output"),
        ({"inputs": [TEXT], "parameters": {"nested": {"a": 1}}}, "parameters.nested"),
        (
            {"inputs": [TEXT], "outputs": [{"name": "label", "parameters": [1]}]},
            "outputs.0.parameters",
        ),
        ({"inputs": [{**TEXT, "parameters": [1]}]}, "inputs.0.parameters"),
        ({"inputs": [{**TEXT, "shape": ["1"]}]}, "inputs.0.shape.0"),
        ({"inputs": [{**TEXT, "shape": [True]}]}, "inputs.0.shape.0"),
        ({"inputs": [{**TEXT, "shape": [-1]}]}, "inputs.0.shape.0"),
        ({"inputs": [{**TEXT, "shape": [1] * 9}]}, "inputs.0.shape"),
        ({"inputs": [{**TEXT, "shape": [65], "data": ["a"] * 65}]}, "MLAPI_MAX_TEXTS"),
        ([1], "body"),
    ],
)
def test_untyped_json_is_a_v2_422(client: TestClient, request_body: Any, says: str) -> None:
    answer = client.post(URL, json=request_body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert isinstance(error, str) and says in error, error


def test_typed_requests_still_answer(client: TestClient) -> None:
    answer = client.post(
        URL,
        json={
            "inputs": [{**TEXT, "parameters": {"content_type": "str", "priority": 1}}],
            "outputs": [{"name": "label", "parameters": {"binary_data": False}}],
            "parameters": {"binary_data_output": False, "timeout": 1.5},
        },
    )
    assert answer.status_code == 200, answer.text
    assert [o["name"] for o in answer.json()["outputs"]] == ["label"]


@pytest.mark.parametrize("declared", [b"\xb2", b"9" * 5_000, b"+5", b" 5", b"0x10", b"9" * 19])
def test_header_length_is_ascii_digits_of_bounded_length(
    client: TestClient, declared: bytes
) -> None:
    """`²` (latin-1 0xB2) passes `str.isdigit`, 5,000 digits pass it and break `int`."""
    answer = client.post(
        URL,
        content=json.dumps({"inputs": [TEXT]}).encode(),
        headers={b"Inference-Header-Content-Length": declared},
    )
    assert answer.status_code == 422, answer.text
    assert "Inference-Header-Content-Length" in answer.json()["error"]


def test_binary_size_must_be_the_shape_times_the_item_size(client: TestClient) -> None:
    floats = {"name": "x", "shape": [2], "datatype": "FP32"}
    texts = {"name": "text", "datatype": "BYTES"}
    tensors = [  # (tensor, its binary data, what the 422 says)
        ({**floats, "size": 6}, b"\x00" * 6, "2 FP32 elements are 8 bytes, binary_data_size is 6"),
        ({**texts, "shape": [2], "size": 6}, _strings(b"hi"), "ends inside an element's length"),
        ({**texts, "shape": [1], "size": 11}, _strings(b"hi", b"x"), "5 bytes follow its 1"),
    ]
    for tensor, tail, says in tensors:
        tensor["parameters"] = {"binary_data_size": tensor.pop("size")}
        head = json.dumps({"inputs": [tensor]}).encode()
        answer = client.post(
            URL, content=head + tail, headers={"Inference-Header-Content-Length": str(len(head))}
        )
        assert answer.status_code == 422, answer.text
        assert says in answer.json()["error"], answer.json()


def test_a_megabyte_of_elements_is_refused_by_its_shape(client: TestClient) -> None:
    """990,000 UINT8 elements (a 1 MB body): refused at the element cap, 422, not decoded."""
    count = 990_000
    tensor = {"name": "x", "shape": [count], "datatype": "UINT8"}
    head = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": count}}]})
    answer = client.post(
        URL,
        content=head.encode() + b"\x01" * count,
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    assert answer.status_code == 422, answer.text
    assert "at most 64 per request (MLAPI_MAX_TEXTS)" in answer.json()["error"]


def test_the_cap_and_the_size_are_checked_before_decoding() -> None:
    """Garbage that decoding would refuse is refused for its shape or size first."""
    limits = v2.Limits(elements=4, setting="max_texts")
    garbage = _strings(b"\xff" * 36)  # 40 bytes: one element that is not UTF-8

    def body(shape: list[int], size: int) -> tuple[bytes, str]:
        tensor = {"name": "t", "shape": shape, "datatype": "BYTES"}
        head = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": size}}]})
        return head.encode() + garbage[:size], str(len(head))

    with pytest.raises(TooManyTexts, match="holds 5 elements, at most 4"):
        v2.decode(*body([5], 40), limits)
    with pytest.raises(InvalidRequest, match="ends inside an element's length"):
        v2.decode(*body([4], 12), limits)
    with pytest.raises(InvalidRequest, match="UTF-8"):  # only now decoded
        v2.decode(*body([1], 40), v2.Limits(elements=1, setting="max_texts"))


def test_rows_cap_is_rows_times_features() -> None:
    limits = v2.Limits(elements=2 * 3, setting="max_texts", width=3)
    rows = {"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}
    assert v2.decode(json.dumps({"inputs": [rows]}).encode(), None, limits)[1] == [
        [1, 2, 3],
        [4, 5, 6],
    ]
    more = {**rows, "shape": [3, 3], "data": list(range(9))}
    with pytest.raises(TooManyTexts, match=r"at most 6 per request \(MLAPI_MAX_TEXTS x 3"):
        v2.decode(json.dumps({"inputs": [more]}).encode(), None, limits)


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("0", 0),
        (b"1000", 1000),
        ("9" * 18, 10**18 - 1),
        ("9" * 19, None),
        ("9" * 5_000, None),
        ("²", None),
        (b"\xb2", None),
        ("٣", None),  # an Arabic-Indic digit: isdigit, not ASCII
        ("+1", None),
        (" 1", None),
        ("", None),
        (b"", None),
    ],
)
def test_byte_count(value: str | bytes, count: int | None) -> None:
    assert byte_count(value) == count
