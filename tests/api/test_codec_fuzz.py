"""Property-based fuzzing of every codec's `decode` (Hypothesis): random JSON, binary tensors and
headers never raise anything but a typed 4xx `MLAPIError`, and what a codec accepts passes the
per-request text checks the same way.

Example counts are bounded (`FUZZ`) so that the module runs in seconds; the deadline bounds a
single example's failure, not its speed.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlapi.errors import MLAPIError
from mlapi.kinds import Capability
from mlapi.protocols import native, openai, tei
from mlapi.protocols.v2 import binary as v2_binary
from mlapi.protocols.v2 import codec as v2
from mlapi.serving.parsing import check_texts
from mlapi.settings import Settings

FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SETTINGS = Settings()
TEXTS = v2.Limits(elements=8, setting="max_texts")
ROWS = v2.Limits(elements=8 * 3, setting="max_texts", width=3)
DATATYPES = [*v2_binary.DTYPES, "BYTES", "bytes", "fp32", "BF16", ""]

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: JSON allows them
    | st.floats()  # NaN and infinities too: json.dumps writes them, orjson refuses them
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def typed(decode: Callable[[], Any]) -> Any:
    """What `decode` returns, or None for a typed 4xx; anything else fails the example."""
    try:
        return decode()
    except MLAPIError as exc:
        assert 400 <= exc.status_code < 500, (type(exc).__name__, exc.message)
        return None


def texts_checked(items: list[Any]) -> None:
    """The model's per-request checks on a codec's texts: typed as well."""
    typed(lambda: check_texts(items, SETTINGS))


BODIES = st.binary(max_size=64) | JSON.map(body)


def fields(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Bodies of the codec's own shape, each field JSON of any type or a plausible value."""
    return st.fixed_dictionaries(required, optional=optional).map(body) | BODIES


TEXTS_OR_JSON = st.lists(st.text(max_size=8), max_size=4) | st.text(max_size=8) | JSON


@FUZZ
@given(fields({"text": TEXTS_OR_JSON}, {}), st.sampled_from(list(Capability)))
def test_native(raw: bytes, capability: Capability) -> None:
    if capability is Capability.EMBED:  # an embedding model's body is /embed's
        capability = Capability.CLASSIFY
    items = typed(lambda: native.decode(raw, capability))
    if items is not None and capability is Capability.CLASSIFY:
        texts_checked(items)


@FUZZ
@given(fields({"x": st.lists(st.lists(st.floats(), max_size=4), max_size=3) | JSON}, {}))
def test_native_rows(raw: bytes) -> None:
    typed(lambda: native.decode(raw, Capability.CLASSIFY_ROWS))


@FUZZ
@given(fields({"inputs": TEXTS_OR_JSON}, {"normalize": JSON, "truncate": JSON}))
def test_tei(raw: bytes) -> None:
    decoded = typed(lambda: tei.decode(raw))
    if decoded is not None:
        texts, options = decoded
        assert set(options) == {"normalize", "truncate"}
        texts_checked(texts)


@FUZZ
@given(
    fields(
        {"model": st.text(max_size=8) | JSON, "input": TEXTS_OR_JSON},
        {"encoding_format": st.sampled_from(["float", "base64"]) | JSON, "dimensions": JSON},
    )
)
def test_openai(raw: bytes) -> None:
    request = typed(lambda: openai.decode(raw))
    if request is not None:
        assert request.encoding in ("float", "base64")
        texts_checked(request.texts)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid object, or one with one field (or a new one) replaced by any JSON."""
    value = draw(valid)
    if draw(st.booleans()):
        value[draw(st.sampled_from([*sorted(value), "parameters", "extra"]))] = draw(JSON)
    return value


PARAMETERS = mutated(
    st.fixed_dictionaries(
        {},
        optional={
            "binary_data": st.booleans(),
            "binary_data_output": st.booleans(),
            "other": SCALARS,
        },
    )
)
OUTPUT = mutated(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["label", "probabilities", "embedding", "x"])},
        optional={"parameters": PARAMETERS},
    )
)
TENSOR = mutated(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["text", "x"]),
            "shape": st.lists(st.integers(0, 12), max_size=3),
            "datatype": st.sampled_from(DATATYPES),
            "data": st.lists(st.text(max_size=6) | st.floats() | st.integers(), max_size=12),
        },
    )
)


def request(tensor: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(
        st.fixed_dictionaries(
            {"inputs": st.lists(tensor, min_size=1, max_size=2)},
            optional={
                "id": st.text(max_size=8),
                "outputs": st.lists(OUTPUT, max_size=3),
                "parameters": PARAMETERS,
            },
        )
    )


def v2_decode(raw: bytes, declared: str | None, limits: v2.Limits) -> None:
    decoded = typed(lambda: v2.decode(raw, declared, limits))
    if decoded is not None:
        parsed, items = decoded
        for given_input in parsed.inputs:  # what the codec accepted, it accepted typed
            assert isinstance(given_input.name, str) and isinstance(given_input.data, list)
        for output in parsed.outputs or ():
            v2_binary.wants_binary(output.name, parsed.outputs, parsed.parameters)
        if limits.width is None:
            texts_checked(items)


@FUZZ
@given(request(TENSOR).map(body) | BODIES, st.sampled_from([TEXTS, ROWS]))
def test_v2_json(raw: bytes, limits: v2.Limits) -> None:
    v2_decode(raw, None, limits)


def _strings(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


TAILS = (
    st.binary(max_size=80)
    | st.lists(st.binary(max_size=8), max_size=6).map(_strings)
    | st.lists(st.text(max_size=6).map(str.encode), max_size=6).map(_strings)
)
DECLARED = (
    st.none()
    | st.text(max_size=24)
    | st.sampled_from([1, 18, 19, 4_300, 4_301, 5_000]).map(lambda n: "9" * n)
    | st.sampled_from(["²", "+1", "-1", " 1", "1_0", "٣", "0" * 30 + "1"])
)


@st.composite
def binary_tensor(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    """A tensor in binary form (BYTES or numbers) whose header says its true size, then
    perhaps mutated (shape, size, datatype or any field)."""
    datatype = draw(st.sampled_from(DATATYPES))
    count = draw(st.integers(0, 12))
    if datatype.upper() == "BYTES":
        raw = _strings(draw(st.lists(st.binary(max_size=6), min_size=count, max_size=count)))
    else:
        width = int(v2_binary.DTYPES.get(datatype.upper(), "<f4")[-1])
        raw = draw(st.binary(min_size=count * width, max_size=count * width))
    tensor: dict[str, Any] = {"name": "text", "shape": [count], "datatype": datatype}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    changed = draw(mutated(st.just(tensor)))
    return changed, raw + draw(st.sampled_from([b"", b"x"]))


@FUZZ
@given(
    request(st.just({})),
    st.lists(binary_tensor(), min_size=1, max_size=2),
    st.booleans(),
    DECLARED,
    st.sampled_from([TEXTS, ROWS]),
)
def test_v2_binary(
    header: dict[str, Any],
    tensors: list[tuple[dict[str, Any], bytes]],
    exact: bool,
    other: str | None,
    limits: v2.Limits,
) -> None:
    """A binary body: its header's true length, or any header value at all."""
    header["inputs"] = [tensor for tensor, _ in tensors]
    head = body(header)
    tail = b"".join(raw for _, raw in tensors)
    v2_decode(head + tail, str(len(head)) if exact else other, limits)


@FUZZ
@given(
    st.sampled_from(DATATYPES),
    st.integers(0, 40),
    TAILS,
)
def test_binary_tensor(datatype: str, count: int, raw: bytes) -> None:
    typed(lambda: v2_binary.decode("x", datatype, count, raw))


@FUZZ
@given(st.text(max_size=40) | st.binary(max_size=40) | DECLARED.filter(bool))
def test_header_byte_counts(value: str | bytes) -> None:
    from mlapi.validation import COUNT_DIGITS, byte_count

    count = byte_count(value)
    if count is not None:
        text = value.decode() if isinstance(value, bytes) else value
        assert text.isascii() and text.isdigit() and len(text) <= COUNT_DIGITS
        assert count == int(text)
