"""Per-token int8: an answer that depends only on its own text, identical on every x86 CPU.

ONNX Runtime's `quantize_dynamic` inserts DynamicQuantizeLinear, which takes one activation
scale for the whole padded batch: a text's scores then move with its batch partners. Here
every MatMul with a constant weight becomes

    lo, hi = min(x, 0), max(x, 0)       over the last axis: one range per token (row)
    scale  = (hi - lo) / 255;  zp = round(-lo / scale)
    q      = uint8(round(x / scale) + zp)
    y      = (float(MatMulInteger(q, w_q)) - zp * colsum(w_q)) * scale * w_scale

with weights quantized symmetrically per output channel. Each token is quantized on its own,
so a text's scores do not depend on the rest of the batch. `weight_bits=7` keeps every
u8 x s8 pair sum inside int16, so AVX2's `vpmaddubsw` (no VNNI) cannot saturate: the integer
products are exact on AVX2, AVX-512 VNNI and AMX alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# (projections reading the same input, k, n) of a MatMul -> leave it in fp32
Keep = Callable[[int, int, int], bool]


def quantize_weight(
    weight: npt.NDArray[np.float32], bits: int
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Symmetric per-output-channel (column) quantization of a [K, N] weight."""
    limit = 2 ** (bits - 1) - 1
    scale = np.abs(weight).max(axis=0) / limit
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(weight / scale), -limit, limit).astype(np.int8)
    return quantized, scale


def _constants(activation_bits: int) -> list[Any]:
    from onnx import numpy_helper

    values = {"pt_zero": 0.0, "pt_levels": 2.0**activation_bits - 1, "pt_eps": 1e-12}
    return [numpy_helper.from_array(np.array(v, dtype=np.float32), k) for k, v in values.items()]


def _quantize_rows(name: str, p: str) -> list[Any]:
    """Nodes that turn fp32 `name` into u8 `{p}_q` with a per-row `{p}_scale` and `{p}_zp`."""
    from onnx import TensorProto, helper

    node = helper.make_node
    return [
        node("ReduceMin", [name], [f"{p}_min"], axes=[-1], keepdims=1),
        node("ReduceMax", [name], [f"{p}_max"], axes=[-1], keepdims=1),
        node("Min", [f"{p}_min", "pt_zero"], [f"{p}_lo"]),
        node("Max", [f"{p}_max", "pt_zero"], [f"{p}_hi"]),
        node("Sub", [f"{p}_hi", f"{p}_lo"], [f"{p}_range"]),
        node("Max", [f"{p}_range", "pt_eps"], [f"{p}_range_e"]),
        node("Div", [f"{p}_range_e", "pt_levels"], [f"{p}_scale"]),
        node("Div", [f"{p}_lo", f"{p}_scale"], [f"{p}_lo_q"]),
        node("Neg", [f"{p}_lo_q"], [f"{p}_neg"]),
        node("Round", [f"{p}_neg"], [f"{p}_zp"]),
        node("Div", [name, f"{p}_scale"], [f"{p}_div"]),
        node("Round", [f"{p}_div"], [f"{p}_round"]),
        node("Add", [f"{p}_round", f"{p}_zp"], [f"{p}_shift"]),
        node("Clip", [f"{p}_shift", "pt_zero", "pt_levels"], [f"{p}_clip"]),
        node("Cast", [f"{p}_clip"], [f"{p}_q"], to=TensorProto.UINT8),
    ]


def quantize_per_token(
    source: Path,
    target: Path,
    *,
    weight_bits: int = 7,
    activation_bits: int = 8,
    mixed: bool = False,
    keep: Keep | None = None,
) -> Path:
    """Rewrite the fp32 model at `source` with per-token int8 MatMuls into `target`.

    `mixed`: leave the projections that int8 hurts most in fp32, found by shape so that it
    holds for any encoder: an input shared by several projections (query, key, value) and
    down-projections (more inputs than outputs: the second feed-forward layer, the head).
    `keep`: any other choice, given (projections reading the same input, k, n) of a MatMul.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    uses: dict[str, int] = {}
    projections: dict[str, int] = {}  # fp32 input -> MatMuls with a constant weight reading it
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
        if node.op_type == "MatMul" and node.input[1] in weights:
            projections[node.input[0]] = projections.get(node.input[0], 0) + 1

    def sensitive(node: onnx.NodeProto, dims: list[int]) -> bool:
        if keep is not None:
            return keep(projections[node.input[0]], dims[0], dims[1])
        return mixed and (projections[node.input[0]] > 1 or dims[0] > dims[1])

    inits: list[onnx.TensorProto] = _constants(activation_bits)
    quantized: dict[str, str] = {}  # fp32 input -> prefix of its u8 tensor, scale, zero point
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2 or sensitive(node, list(weight.dims)):
            nodes.append(node)
            continue
        if node.input[0] not in quantized:
            quantized[node.input[0]] = p = f"pt{len(quantized)}"
            nodes.extend(_quantize_rows(node.input[0], p))
        p = quantized[node.input[0]]
        w_q, w_scale = quantize_weight(
            numpy_helper.to_array(weight).astype(np.float32), weight_bits
        )
        w = f"{node.input[1]}_pt"
        inits += [
            numpy_helper.from_array(w_q, f"{w}_q"),
            numpy_helper.from_array(w_scale, f"{w}_scale"),
            numpy_helper.from_array(w_q.astype(np.float32).sum(axis=0), f"{w}_colsum"),
        ]
        out = node.output[0]
        make = helper.make_node
        nodes += [
            make("MatMulInteger", [f"{p}_q", f"{w}_q"], [f"{out}_i"]),
            make("Cast", [f"{out}_i"], [f"{out}_f"], to=TensorProto.FLOAT),
            make("Mul", [f"{p}_zp", f"{w}_colsum"], [f"{out}_offset"]),
            make("Sub", [f"{out}_f", f"{out}_offset"], [f"{out}_centered"]),
            make("Mul", [f"{out}_centered", f"{p}_scale"], [f"{out}_rows"]),
            make("Mul", [f"{out}_rows", f"{w}_scale"], [out]),
        ]
        uses[node.input[1]] -= 1
    if not quantized:
        raise ValueError(f"{source} has no MatMul with a constant 2-D weight to quantize")
    kept = [init for init in graph.initializer if uses.get(init.name, 0) > 0]
    del graph.initializer[:]
    graph.initializer.extend(kept + inits)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return target


def quantize_blocks(source: Path, target: Path, *, bits: int = 8, block_size: int = 32) -> Path:
    """Rewrite the fp32 model at `source` with ONNX Runtime's `MatMulNBits` into `target`.

    Every MatMul with a constant weight keeps its weight in `bits`-bit integers, symmetric,
    one scale per block of `block_size` values along the input axis; `accuracy_level` 4 has
    ONNX Runtime quantize the activations to int8 at run time, also per block of one row, so
    a text's answer does not depend on the rest of its batch. With 8 bits and blocks of 32
    this is inside the fidelity bounds on the trained MiniLM, where per-token 7-bit int8 is
    not (docs/variants.md).
    """
    import onnx

    model = in_blocks(onnx.load(str(source)), bits=bits, block_size=block_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return target


def in_blocks(model: Any, *, bits: int = 8, block_size: int = 32) -> Any:
    """`quantize_blocks` on an in-memory `onnx.ModelProto`; the rewritten ModelProto."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        model, bits=bits, block_size=block_size, is_symmetric=True, accuracy_level=4
    )
    quantizer.process()
    quantizer.model.topological_sort()  # as its own save_model_to_file does
    return quantizer.model.model
