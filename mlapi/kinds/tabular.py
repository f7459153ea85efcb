"""Tabular models: a scikit-learn estimator saved with skops, or converted to ONNX (skl2onnx).

The folder holds `tabular.json` (feature count and names, class labels), `model.skops` and/or
`model.onnx`. skops files are loaded only when every type in them is one skops trusts (no
arbitrary code, unlike pickle). A row is `{"x": [[...], ...]}` or, as in the plane-delay seed,
a single `{"x": [...]}`; the answer is one list of `{label, score}` per row, like `/predict`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlapi.errors import InvalidJSON, InvalidRequest, TooManyTexts
from mlapi.kinds.base import ModelKind, ModelSpec, Parsed, Servable, V2Tensor
from mlapi.kinds.text_classifier import encode_rows, valid_row
from mlapi.settings import Settings

META = "tabular.json"
NUMERIC = {"FP32", "FP64", "INT64", "INT32"}


class UntrustedModel(ValueError):
    """A skops file holding types skops does not trust by default."""


class TabularServable(Servable):
    runtime_attrs = ("_session", "_input", "_estimator")

    def __init__(self, folder: Path, runtime: str, threads: int) -> None:
        meta = json.loads((folder / META).read_text())
        self.n_features = int(meta["n_features"])
        self.labels = tuple(str(c) for c in meta["classes"])
        self.feature_names = list(meta.get("feature_names") or [])
        self.runtime = runtime
        path = folder / ("model.onnx" if runtime == "onnx" else "model.skops")
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (tabular_runtime={runtime})")
        if runtime == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            self._input = self._session.get_inputs()[0]
            self._dtype = np.float64 if "double" in self._input.type else np.float32
        else:
            import skops.io as sio

            untrusted = sio.get_untrusted_types(file=path)
            if untrusted:
                raise UntrustedModel(f"{path.name} holds untrusted types {untrusted}; refused")
            self._estimator = sio.load(path, trusted=[])
        digest = hashlib.sha256(runtime.encode())
        for part in (folder / META, path):
            digest.update(part.read_bytes())
        self.fingerprint = digest.hexdigest()[:16]

    def predict_proba(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self.runtime == "onnx":
            outputs = self._session.run(None, {self._input.name: x.astype(self._dtype)})
            probs = next(o for o in outputs if getattr(o, "ndim", 0) == 2)
            return np.asarray(probs, dtype=np.float64)
        return np.asarray(self._estimator.predict_proba(x), dtype=np.float64)

    def run(self, keys: list[str]) -> list[bytes]:
        x = np.array([orjson.loads(key) for key in keys], dtype=np.float64)
        return encode_rows(self.labels, self.predict_proba(x))

    def valid(self, value: bytes) -> bool:
        return valid_row(self.labels, value)

    def card(self) -> dict[str, Any]:
        return {
            "name": "tabular",
            "backend": f"tabular-{self.runtime}",
            "fingerprint": self.fingerprint,
            "labels": list(self.labels),
            "n_features": self.n_features,
            "feature_names": self.feature_names,
            "max_length": 0,
        }


_NUMBERS = frozenset({int, float})  # not bool: True is not a feature value


def _key(row: Any, index: int, width: int) -> str:
    if not isinstance(row, list):
        raise InvalidRequest(f"x[{index}] must be a list of {width} numbers")
    if len(row) != width:
        raise InvalidRequest(f"x[{index}] has {len(row)} features, the model takes {width}")
    types = set(map(type, row))
    if types <= _NUMBERS and all(map(math.isfinite, row)):  # the common case, checked in C
        return orjson.dumps(
            row if float in types and len(types) == 1 else list(map(float, row))
        ).decode()
    values = []
    for j, value in enumerate(row):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest(f"x[{index}][{j}] must be a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidRequest(f"x[{index}][{j}] must be finite")
        values.append(number)
    return orjson.dumps(values).decode()


class TabularKind(ModelKind):
    name = "tabular"
    caches_by_default = False  # rows rarely repeat; per model: settings.cache_results

    def load(self, spec: ModelSpec, settings: Settings) -> TabularServable:
        if not (spec.path / META).is_file():
            raise FileNotFoundError(f"{spec.path} has no {META} (not a tabular model folder)")
        servable = TabularServable(spec.path, settings.tabular_runtime, settings.threads)
        servable.run([_key([0.0] * servable.n_features, 0, servable.n_features)])  # warm up
        return servable

    def keys(self, rows: Any, servable_width: int, settings: Settings) -> list[str]:
        if isinstance(rows, list) and rows and not isinstance(rows[0], list):
            rows = [rows]  # one row, as the seed sends it
        if not isinstance(rows, list) or not rows:
            raise InvalidRequest('"x" must be a row of numbers or a non-empty list of rows')
        if len(rows) > settings.max_texts:
            raise TooManyTexts(
                f"{len(rows)} rows sent, at most {settings.max_texts} per request",
                limit="max_texts",
            )
        return [_key(row, i, servable_width) for i, row in enumerate(rows)]

    def parse_predict(self, body: bytes, servable: Servable, settings: Settings) -> Parsed:
        assert isinstance(servable, TabularServable)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidJSON(f"body is not valid UTF-8 JSON: {exc}") from None
        if not isinstance(payload, dict) or "x" not in payload:
            raise InvalidRequest('body must be a JSON object like {"x": [[...], ...]}')
        return Parsed(self.keys(payload["x"], servable.n_features, settings))

    def predict_body(self, rows: list[bytes], parsed: Parsed) -> bytes:
        return b'{"predictions":[' + b",".join(rows) + b"]}"

    def v2_keys(self, inputs: list[V2Tensor], servable: Servable, settings: Settings) -> list[str]:
        assert isinstance(servable, TabularServable)
        numeric = [t for t in inputs if t.datatype in NUMERIC]
        if len(numeric) != 1:
            raise InvalidRequest(f"send exactly one input tensor of {sorted(NUMERIC)}")
        tensor = numeric[0]
        width = servable.n_features
        if tensor.shape[-1:] != [width] or len(tensor.data) != int(np.prod(tensor.shape)):
            raise InvalidRequest(
                f"input {tensor.name!r}: shape must be [N, {width}] with N*{width} values"
            )
        rows = [tensor.data[i : i + width] for i in range(0, len(tensor.data), width)]
        return self.keys(rows, width, settings)

    def v2_outputs(self, rows: list[bytes], servable: Servable) -> list[V2Tensor]:
        assert isinstance(servable, TabularServable)
        scores = [[entry["score"] for entry in orjson.loads(row)] for row in rows]
        return [
            V2Tensor(
                "probabilities",
                "FP32",
                [len(rows), len(servable.labels)],
                [x for r in scores for x in r],
            ),
            V2Tensor(
                "label", "BYTES", [len(rows)], [servable.labels[int(np.argmax(r))] for r in scores]
            ),
        ]

    def v2_signature(self, servable: Servable) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        assert isinstance(servable, TabularServable)
        inputs = [{"name": "x", "datatype": "FP64", "shape": [-1, servable.n_features]}]
        outputs = [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(servable.labels)]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ]
        return inputs, outputs


KIND = TabularKind()
