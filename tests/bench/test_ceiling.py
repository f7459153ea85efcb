"""FLOPs counted from the config, GEMM rates measured here, ceilings and fractions from both."""

from __future__ import annotations

import pytest

from bench import ceiling, gemm

DISTILBERT = {"dim": 768, "hidden_dim": 3072, "n_layers": 6}
BERT = {"hidden_size": 384, "intermediate_size": 1536, "num_hidden_layers": 6}


def test_encoder_shapes_from_either_config() -> None:
    assert ceiling.Encoder.from_config(DISTILBERT) == ceiling.Encoder(768, 3072, 6)
    assert ceiling.Encoder.from_config(BERT) == ceiling.Encoder(384, 1536, 6)


def test_flops_per_sentence_count_projections_and_attention() -> None:
    encoder = ceiling.Encoder(768, 3072, 6)
    flops = encoder.flops([10, 20])  # mean 15 tokens; mean square 250
    h, f = 768, 3072
    projections = sum(v for k, v in flops.items() if k != "attention")
    assert projections == pytest.approx(6 * 15 * 2 * (4 * h * h + 2 * h * f))
    assert flops["attention"] == pytest.approx(6 * 250 * 2 * 2 * h)


def test_int8_mixed_keeps_query_key_value_and_down_projection_in_fp32() -> None:
    mixed = ceiling.VARIANT_KERNELS["onnx-int8-mixed"]
    assert {k for k, v in mixed.items() if v.startswith("int8")} == {"out", "ffn1"}


def test_gemm_rates_are_measured() -> None:
    shape = gemm.Shape(16, 32, 64)
    for kernel in gemm.KERNELS:
        if gemm.unavailable(kernel) is None:
            assert gemm.rate(kernel, shape, 1, seconds=0.01, rounds=1) > 0


def test_ceilings_and_fractions() -> None:
    found = ceiling.measure(ceiling.Encoder(32, 64, 2), [5, 7, 9], threads=1, batch=2, seconds=0.01)
    assert found["m"] > 0 and found["mean_tokens"] == 7
    fp32 = found["variants"]["onnx-fp32"]["ceiling_sentences_per_s"]
    assert fp32 == found["kernels"]["fp32/onnxruntime"]["ceiling_sentences_per_s"] > 0
    ceiling.add_fractions(found, {"onnx-fp32": {"real_text": {"sentences_per_s": fp32 / 4}}})
    assert found["variants"]["onnx-fp32"]["of_ceiling"] == pytest.approx(0.25, abs=0.001)
    assert "| onnx-fp32 |" in "\n".join(ceiling.table(found))


def test_unpadded_variants_are_charged_at_their_real_tokens_per_forward() -> None:
    lengths = [10, 12, 11, 13]  # batches of 2: (10, 12) pads to 24 rows, (11, 13) to 26
    found = ceiling.measure(
        ceiling.Encoder(32, 64, 2), lengths, threads=1, batch=2, seconds=0.01, packed=["torch-fp32"]
    )
    assert found["m"] == 25 and found["m_packed"] == 23  # 46 real tokens in 2 forwards
    torch = found["kernels"]["fp32/torch"]
    assert "gflops_packed" in torch and "gflops_packed" not in found["kernels"]["bf16/torch"]
    row = found["variants"]["torch-fp32"]
    assert (
        row["packed"] and row["ceiling_sentences_per_s"] == torch["ceiling_sentences_per_s_packed"]
    )
    assert "| torch-fp32 | unpadded |" in "\n".join(ceiling.table(found))


def test_packed_variants_follow_the_architecture() -> None:
    assert ceiling.packed_variants({"architectures": ["DistilBertForSequenceClassification"]}) == [
        "torch-bf16",
        "torch-fp32",
    ]
    assert ceiling.packed_variants({"architectures": ["RobertaForSequenceClassification"]}) == []
