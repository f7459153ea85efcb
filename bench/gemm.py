"""GEMM rates of the kernels the variants run, at one shape, with the service's thread count.

- fp32/torch and bf16/torch: `torch.nn.functional.linear`, as the torch variants' nn.Linear
  (bf16: the whole model is cast, so activations and weights are both bf16);
- fp32/onnxruntime: one ONNX `MatMul` with a constant weight (the fp32 export's projections);
- int8/onnxruntime: one `MatMulInteger` of uint8 activations and a constant int8 weight with
  7-bit values, as mlapi.tools.quantize writes them (the per-token quantize and rescale nodes around
  it are left out: they are not GEMM work);
- q8/onnxruntime: one `MatMulNBits` with 8-bit weights in blocks of 32 and `accuracy_level` 4,
  as `mlapi.tools.quantize.quantize_blocks` writes it (fp32 in and out: its activation quantization
  is inside the kernel, and counted).

A rate is the best of `rounds` rounds of at least `seconds` each: the peak this machine
reached, which is what a ceiling should be.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlapi.runtime.cpu import has_fast_bf16

KERNELS = ("fp32/torch", "bf16/torch", "fp32/onnxruntime", "int8/onnxruntime", "q8/onnxruntime")


@dataclass(frozen=True)
class Shape:
    m: int  # tokens per forward pass
    k: int
    n: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def unavailable(kernel: str) -> str | None:
    """Why `kernel` is not measured here, or None."""
    if kernel == "bf16/torch" and not has_fast_bf16():
        return "not on this CPU (no AVX512_BF16 or AMX)"
    return None


def _torch_call(shape: Shape, threads: int, bf16: bool) -> Callable[[], object]:
    import torch

    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if bf16 else torch.float32
    x = torch.randn(shape.m, shape.k, dtype=dtype)
    w = torch.randn(shape.n, shape.k, dtype=dtype)

    def call() -> object:
        with torch.inference_mode():
            return torch.nn.functional.linear(x, w)

    return call


def _onnx_call(shape: Shape, threads: int, precision: str, spin: bool) -> Callable[[], object]:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    int8 = precision == "int8"

    rng = np.random.default_rng(0)
    a: npt.NDArray[Any]
    b: npt.NDArray[Any]
    if int8:
        a = rng.integers(0, 256, (shape.m, shape.k), dtype=np.uint8)
        b = rng.integers(-63, 64, (shape.k, shape.n), dtype=np.int8)
        op, a_type, y_type = "MatMulInteger", TensorProto.UINT8, TensorProto.INT32
    else:
        a = rng.standard_normal((shape.m, shape.k), dtype=np.float32)
        b = rng.standard_normal((shape.k, shape.n), dtype=np.float32)
        op, a_type, y_type = "MatMul", TensorProto.FLOAT, TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["y"])],
        "gemm",
        [helper.make_tensor_value_info("a", a_type, [shape.m, shape.k])],
        [helper.make_tensor_value_info("y", y_type, [shape.m, shape.n])],
        [numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    if precision == "q8":
        from mlapi.tools.quantize import in_blocks

        model = in_blocks(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return lambda: session.run(["y"], {"a": a})


def rate(
    kernel: str,
    shape: Shape,
    threads: int,
    *,
    seconds: float = 0.3,
    rounds: int = 3,
    spin: bool = False,
) -> float:
    """GFLOP/s of `kernel` on an [m, k] x [k, n] product."""
    precision, runtime = kernel.split("/")
    if runtime == "torch":
        call = _torch_call(shape, threads, bf16=precision == "bf16")
    else:
        call = _onnx_call(shape, threads, precision, spin=spin)
    call()  # warm-up: first-call allocations and kernel selection
    best = 0.0
    for _ in range(rounds):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds or calls == 0:
            call()
            calls += 1
        best = max(best, calls * shape.flops / elapsed / 1e9)
    return best
