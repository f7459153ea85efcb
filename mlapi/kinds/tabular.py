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

from mlapi.errors import InvalidRequest, TooManyTexts
from mlapi.fleet.admission import check_folder, load_roots
from mlapi.kinds.base import Capability, Decoded, ModelKind, Servable
from mlapi.kinds.text_classifier import decode_rows, encode_rows, valid_row
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings

META = "tabular.json"


class UntrustedModel(ValueError):
    """A skops file holding types skops does not trust by default."""


class TabularServable(Servable):
    runtime_attrs = ("_session", "_input", "_estimator", "_dtype")

    def __init__(self, folder: Path, runtime: str, threads: int) -> None:
        meta = json.loads((folder / META).read_text())
        self.n_features = int(meta["n_features"])
        self.labels = tuple(str(c) for c in meta["classes"])
        self.feature_names = list(meta.get("feature_names") or [])
        self.width = len(self.labels)
        self.input_width = self.n_features
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

    def keys(self, items: list[Any], settings: Settings) -> list[str]:
        """One key per row; `[...]` alone is one row, as the plane-delay seed sends it."""
        rows = items
        if rows and not isinstance(rows[0], list):
            rows = [rows]
        if not rows:
            raise InvalidRequest("send a row of numbers or a non-empty list of rows")
        if len(rows) > settings.max_texts:
            raise TooManyTexts(
                f"{len(rows)} rows sent, at most {settings.max_texts} per request",
                limit="max_texts",
            )
        return [_key(row, i, self.n_features) for i, row in enumerate(rows)]

    def decode(self, values: list[bytes]) -> Decoded:
        return decode_rows(values)

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
    capability = Capability.CLASSIFY_ROWS
    caches_by_default = False  # rows rarely repeat; per model: settings.cache_results

    def load(self, spec: ModelVersion, settings: Settings) -> TabularServable:
        if not (spec.path / META).is_file():
            raise FileNotFoundError(f"{spec.path} has no {META} (not a tabular model folder)")
        check_folder(spec.path, load_roots(settings, spec.path))  # every file under the roots
        servable = TabularServable(spec.path, settings.tabular_runtime, settings.threads)
        servable.run([_key([0.0] * servable.n_features, 0, servable.n_features)])  # warm up
        return servable


KIND = TabularKind()
