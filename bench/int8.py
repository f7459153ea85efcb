"""Int8 attempts for `bench.attempts`: quantizers, an OpenVINO runner, the embedder, the roofline.

Every quantizer rewrites an fp32 ONNX export (a classifier's `model.onnx` or an embedder's
`embedding.onnx`; the tokenizer lies two folders up) into `target`, calibrating on real
sentences where it needs to (`calibration_texts`: the tail of SST-2's training split, never
a held-out sentence):

- `dynamic_per_channel`: ONNX Runtime's `quantize_dynamic`, per-channel int8 weights, one
  activation range per tensor (the whole padded batch);
- `static_qdq`: `quantize_static`, QDQ, per-channel weights, one fixed activation range per
  tensor from the calibration sentences (MinMax or a percentile);
- `smooth_quant`: SmoothQuant's migration (s_j = max|X_j|^a / max|W_j|^(1-a); the input is
  divided by s, the weight's rows multiplied) in front of per-token int8 with 8-bit weights;
- `SensitiveMixed`: per-token int8, 8-bit weights (with `alpha`: after SmoothQuant's
  migration), then the projection kinds whose fp32 copy helps most stay fp32 until the
  calibration sentences are within the bound (tightened by TRIAL_MARGIN);
- `openvino_int8`: OpenVINO's converter and `nncf.quantize(model_type=TRANSFORMER)` (which
  applies its own SmoothQuant), run by OpenVINO's CPU plugin (`OpenVinoSession`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlapi.runtime.base import IntArray
from mlapi.runtime.calibration import MAX_P99_DIFF, MIN_P1_COSINE, TRIAL_MARGIN
from mlapi.runtime.embedder import Embedder, SentenceTransformerFolder
from mlapi.runtime.onnx_backend import OnnxClassifier

CALIBRATION = 128  # sentences
SEARCH = 512  # sentences SensitiveMixed judges on: a p99 from 128 is little more than a max
Feeds = list[dict[str, IntArray]]
Write = Callable[[Path, Path], object]  # (fp32 ONNX, target) -> writes target
KINDS = ("qkv", "attn_out", "ffn_up", "ffn_down", "head")


@functools.cache
def calibration_texts(count: int = CALIBRATION) -> tuple[str, ...]:
    """The last sentences of SST-2's training split (synthetic ones without the file)."""
    from bench.fidelity import SST2
    from bench.sst2 import real_sentences

    return tuple(real_sentences(SST2, smoke=False).texts[-count:])


def feeds(
    source: Path,
    texts: Sequence[str],
    batch: int = 16,
    max_length: int = 128,
    *,
    same_width: bool = False,
) -> Feeds:
    """`texts` tokenized as the model's inputs, in padded batches of `batch` (`same_width`: all
    padded to the longest text, as ONNX Runtime's histogram calibrators need)."""
    import onnx
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source.parent.parent / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding()
    if same_width:
        longest = max(len(e.ids) for e in tokenizer.encode_batch(list(texts)))
        tokenizer.enable_padding(length=longest)
    names = {i.name for i in onnx.load(str(source), load_external_data=False).graph.input}
    out: Feeds = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer.encode_batch(list(texts[start : start + batch]))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in encoded])}
        feed["attention_mask"] = feed["attention_mask"].astype(np.int64)
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        out.append(feed)
    return out


def kind(readers: int, k: int, n: int) -> str:
    """A projection's kind from (MatMuls reading its input, k, n), as mlapi.tools.quantize's
    `keep` sees it: the pooler / pre-classifier counts as attn_out (both h x h)."""
    if readers > 1:
        return "qkv"
    if n <= 16:
        return "head"
    return "ffn_up" if n > k else "ffn_down" if k > n else "attn_out"


def _projections(model: Any) -> list[tuple[Any, str]]:
    """(node, kind) of every MatMul with a constant 2-D weight."""
    weights = {init.name: init for init in model.graph.initializer}
    nodes = [
        node
        for node in model.graph.node
        if node.op_type == "MatMul" and len(getattr(weights.get(node.input[1]), "dims", ())) == 2
    ]
    readers: dict[str, int] = {}
    for node in nodes:
        readers[node.input[0]] = readers.get(node.input[0], 0) + 1
    return [(node, kind(readers[node.input[0]], *weights[node.input[1]].dims)) for node in nodes]


def dynamic_per_channel(source: Path, target: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source,
        target,
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        extra_options={"MatMulConstBOnly": True},
    )
    return target


def static_qdq(
    source: Path,
    target: Path,
    *,
    texts: Sequence[str] | None = None,
    exclude: Sequence[str] = ("head",),
    percentile: float | None = None,
) -> Path:
    """QDQ int8 with fixed activation ranges from `texts`; the `exclude` kinds stay fp32."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, quantize_static

    data = feeds(source, texts or calibration_texts(), same_width=percentile is not None)

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._rows = iter(data)

        def get_next(self) -> dict[str, IntArray] | None:
            return next(self._rows, None)

    model = onnx.load(str(source))
    excluded = [node.name for node, k in _projections(model) if k in exclude]
    method = CalibrationMethod.Percentile if percentile else CalibrationMethod.MinMax
    quantize_static(
        source,
        target,
        Reader(),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        nodes_to_exclude=excluded,
        calibrate_method=method,
        extra_options={
            "MatMulConstBOnly": True,
            "ActivationSymmetric": False,
            **({"CalibPercentile": percentile} if percentile else {}),
        },
    )
    return target


def _session(model: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])


def smooth(model: Any, data: Feeds, alpha: float) -> Any:
    """SmoothQuant's migration on every projection's input, in an in-memory ONNX model."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    groups: dict[str, list[Any]] = {}
    for node, _ in _projections(model):
        groups.setdefault(node.input[0], []).append(node)
    probe = type(model)()
    probe.CopyFrom(model)
    probe.graph.output.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in groups
    )
    session = _session(probe)
    x_max = {name: np.zeros(0, dtype=np.float32) for name in groups}
    for feed in data:
        values = session.run(list(groups), feed)
        real = feed["attention_mask"].reshape(-1) > 0
        for name, value in zip(groups, values, strict=True):
            rows = np.abs(value.reshape(-1, value.shape[-1]))
            rows = rows[real] if rows.shape[0] == real.shape[0] else rows
            top = rows.max(axis=0)
            x_max[name] = top if not x_max[name].size else np.maximum(x_max[name], top)
    added: list[Any] = []
    for name, nodes in groups.items():
        arrays = [numpy_helper.to_array(weights[n.input[1]]) for n in nodes]
        w_max = np.abs(np.concatenate(arrays, axis=1)).max(axis=1)
        scale = np.power(np.maximum(x_max[name], 1e-5), alpha) / np.power(
            np.maximum(w_max, 1e-5), 1 - alpha
        )
        scale = np.clip(scale, 1e-3, 1e3).astype(np.float32)
        smoothed = f"{name}_smooth"
        graph.initializer.append(numpy_helper.from_array(1 / scale, f"{smoothed}_inv"))
        added.append(helper.make_node("Mul", [name, f"{smoothed}_inv"], [smoothed]))
        for node, array in zip(nodes, arrays, strict=True):
            weights[node.input[1]].CopyFrom(
                numpy_helper.from_array(array * scale[:, None], node.input[1])
            )
            node.input[0] = smoothed
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(added + nodes)  # a Mul reads a tensor made later: sort below
    return _sorted(model)


def _sorted(model: Any) -> Any:
    from onnxruntime.transformers.onnx_model import OnnxModel

    wrapped = OnnxModel(model)
    wrapped.topological_sort()
    return wrapped.model


def smooth_quant(
    source: Path, target: Path, *, alpha: float = 0.5, texts: Sequence[str] | None = None
) -> Path:
    """SmoothQuant's migration, then per-token int8 with 8-bit weights (mlapi.tools.quantize)."""
    import onnx

    from mlapi.tools.quantize import quantize_per_token

    smoothed = smooth(onnx.load(str(source)), feeds(source, texts or calibration_texts()), alpha)
    middle = target.with_suffix(".smooth.onnx")
    onnx.save(smoothed, str(middle))
    quantize_per_token(middle, target, weight_bits=8)
    middle.unlink()
    return target


def _error(reference: list[npt.NDArray[Any]], found: list[npt.NDArray[Any]], data: Feeds) -> float:
    """Logits: p99 |dp| of the softmax, over the bound; token states: 1 - p1 cosine of the mean
    pooled vectors, over its bound. Below 1 is within the bound."""
    from mlapi.runtime.base import softmax
    from mlapi.runtime.embedder import pool

    if reference[0].ndim == 2:
        diffs = [
            np.abs(softmax(f) - softmax(r)).max(axis=1)
            for r, f in zip(reference, found, strict=True)
        ]
        return float(np.quantile(np.concatenate(diffs), 0.99)) / MAX_P99_DIFF
    cosines = []
    for r, f, feed in zip(reference, found, data, strict=True):
        a, b = pool(r, feed["attention_mask"], "mean"), pool(f, feed["attention_mask"], "mean")
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        cosines.append((a * b).sum(axis=1))
    return (1 - float(np.quantile(np.concatenate(cosines), 0.01))) / (1 - MIN_P1_COSINE)


class SensitiveMixed:
    """Per-token int8 (8-bit weights) with the fewest most sensitive projection kinds in fp32;
    with `alpha`, after SmoothQuant's migration.

    The first model it writes decides the kinds (on the calibration sentences, the bound
    tightened by TRIAL_MARGIN); later models (the speed model) keep the same kinds.
    """

    def __init__(self, texts: Sequence[str] | None = None, alpha: float | None = None) -> None:
        self._texts = texts
        self._alpha = alpha
        self.kept: tuple[str, ...] | None = None
        self.errors: dict[str, float] = {}

    def _write(self, source: Path, target: Path, kept: Sequence[str]) -> Path:
        import onnx

        from mlapi.tools.quantize import quantize_per_token

        if {k for _, k in _projections(onnx.load(str(source)))} <= set(kept):
            onnx.save(onnx.load(str(source)), str(target))  # nothing left to quantize: fp32
            return target
        return quantize_per_token(
            source, target, weight_bits=8, keep=lambda r, k, n: kind(r, k, n) in kept
        )

    def __call__(self, source: Path, target: Path) -> Path:
        import onnx

        data = feeds(source, self._texts or calibration_texts(SEARCH))
        if self._alpha is None:
            return self._choose(source, target, data)
        middle = target.with_suffix(".smooth.onnx")
        onnx.save(smooth(onnx.load(str(source)), data, self._alpha), str(middle))
        try:
            return self._choose(middle, target, data)
        finally:
            middle.unlink()

    def _choose(self, source: Path, target: Path, data: Feeds) -> Path:
        if self.kept is not None:
            return self._write(source, target, self.kept)
        import onnx

        model = onnx.load(str(source))
        output = model.graph.output[0].name
        fp32 = _session(model)
        reference = [fp32.run([output], feed)[0] for feed in data]

        def error(kept: Sequence[str]) -> float:
            self._write(source, target, kept)
            session = _session(onnx.load(str(target)))
            return _error(reference, [session.run([output], f)[0] for f in data], data)

        present = sorted({k for _, k in _projections(model)})
        self.errors = {"none": error(())} | {k: error((k,)) for k in present}
        kept: list[str] = []
        for name in sorted(present, key=self.errors.__getitem__):
            if error(kept) <= TRIAL_MARGIN:
                break
            kept.append(name)
        self.kept = tuple(kept)
        return self._write(source, target, self.kept)


def openvino_int8(
    source: Path,
    target: Path,
    *,
    texts: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
) -> Path:
    """OpenVINO IR (`target`, .xml and .bin) quantized by NNCF for transformers; the projections
    of the `ignore` kinds stay in fp32."""
    import nncf
    import onnx
    import openvino as ov

    data = feeds(source, texts or calibration_texts())
    names = [n.name for n, k in _projections(onnx.load(str(source))) if k in ignore]
    quantized = nncf.quantize(
        ov.convert_model(str(source)),
        nncf.Dataset(data),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(data),
        ignored_scope=nncf.IgnoredScope(names=names, validate=False) if names else None,
    )
    ov.save_model(quantized, str(target))
    return target


class OpenVinoSession:
    """The part of an onnxruntime InferenceSession the runtimes call, on OpenVINO's CPU plugin;
    fp32 where the graph is not int8 (OpenVINO would pick bf16 on CPUs with AVX512_BF16)."""

    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        config = {
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        }
        self._compiled = ov.Core().compile_model(str(path), "CPU", config)
        self._request = self._compiled.create_infer_request()
        self.names = {name for port in self._compiled.inputs for name in port.get_names()}

    def run(self, outputs: list[str], feeds: dict[str, IntArray]) -> list[npt.NDArray[Any]]:
        result = self._request.infer({k: v for k, v in feeds.items() if k in self.names})
        return [np.array(result[self._compiled.output(name)]) for name in outputs]


class OpenVinoClassifier(OnnxClassifier):
    """An export folder's classifier whose forward runs `xml` on OpenVINO."""

    def __init__(self, model_dir: Path, xml: Path, **options: Any) -> None:
        super().__init__(model_dir, variant="fp32", **options)
        self._session: Any = OpenVinoSession(xml, options["threads"])


class OpenVinoEmbedder(Embedder):
    def __init__(self, folder: SentenceTransformerFolder, xml: Path, **options: Any) -> None:
        super().__init__(folder, runtime="onnx-fp32", **options)
        self._session: Any = OpenVinoSession(xml, options["threads"])


def int8_ceiling(model_dir: Path, texts: list[str], batch: int, threads: int) -> dict[str, Any]:
    """The int8 roofline of bench.ceiling: every projection and attention at ONNX Runtime's
    MatMulInteger rate (bench.gemm), M = the padded tokens per forward pass of `texts`."""
    from bench import gemm
    from bench.ceiling import Encoder
    from bench.tokens import replay, served_max_length, token_lengths
    from mlapi.runtime.base import read_config
    from mlapi.settings import Settings

    lengths = token_lengths(
        model_dir, texts, served_max_length(model_dir, Settings(trial_dir=None).max_length)
    )
    m = max(1, round(replay(lengths, batch, batch).tokens_per_forward))
    encoder = Encoder.from_config(read_config(model_dir))
    h, f = encoder.hidden, encoder.ffn
    shapes = {"h x h": (h, h), "h x ffn": (h, f), "ffn x h": (f, h)}
    rates = {
        label: gemm.rate("int8/onnxruntime", gemm.Shape(m, k, n), threads)
        for label, (k, n) in shapes.items()
    }
    shape_of = {"qkv": "h x h", "out": "h x h", "ffn1": "h x ffn", "ffn2": "ffn x h"}
    flops = encoder.flops(lengths)
    seconds = sum(flops[p] / (rates[shape_of.get(p, "h x h")] * 1e9) for p in flops)
    return {
        "m": m,
        "gflops": {label: round(rate, 1) for label, rate in rates.items()},
        "sentences_per_s": round(1 / seconds, 1),
    }
