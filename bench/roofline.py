"""`python -m bench.roofline [MODEL_DIR]`: the GEMM rates here and the model's ceiling.

Measures the GEMM rate of every kernel the variants run (bench.gemm) at the model's shapes and
the real-text token mix, and the ceiling in sentences/s each variant's kernels allow
(bench.ceiling, which says what is counted); with `--model-only SECONDS`, every variant alone
on the same sentences and its fraction of that ceiling. `python -m bench` runs the same step
after its model-only one. Writes bench/out/roofline-<stamp>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.ceiling import Encoder, add_fractions, measure, packed_variants, table
from bench.machine import describe, save

OUT = Path(__file__).resolve().parent / "out"


def main(argv: list[str] | None = None) -> int:
    from bench.fidelity import SST2
    from bench.model import SHARED, full_size_model
    from bench.sst2 import real_sentences
    from bench.tokens import served_max_length, token_lengths
    from mlapi.runtime.base import read_config
    from mlapi.settings import Settings

    served = Settings(trial_dir=None)
    parser = argparse.ArgumentParser(prog="python -m bench.roofline", description=__doc__)
    parser.add_argument(
        "model_dir",
        type=Path,
        nargs="?",
        help="config.json and tokenizer.json [default: "
        "the benchmark's DistilBERT: its tokenizer folder, or with --model-only its export]",
    )
    parser.add_argument("--data", type=Path, default=SST2, help="SST-2 TSV for the token mix")
    parser.add_argument("--sentences", type=int, default=5000, help="sentences in the mix")
    parser.add_argument(
        "--threads", type=int, default=served.threads, help="[default: MLAPI_THREADS]"
    )
    parser.add_argument("--batch", type=int, default=served.max_batch_size)
    parser.add_argument("--seconds", type=float, default=0.3, help="per round of one GEMM")
    parser.add_argument(
        "--model-only",
        type=float,
        metavar="SECONDS",
        help="also run every variant alone on the mix (bench.modelonly): fraction of ceiling",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    model_dir = args.model_dir or (full_size_model() if args.model_only else SHARED)
    sentences = real_sentences(args.data, smoke=False)
    texts = sentences.texts[: args.sentences]
    lengths = token_lengths(model_dir, texts, served_max_length(model_dir, served.max_length))
    encoder = Encoder.from_config(read_config(model_dir))
    roofline = measure(
        encoder,
        lengths,
        threads=args.threads,
        batch=args.batch,
        seconds=args.seconds,
        spin=served.onnx_spin,
        packed=packed_variants(read_config(model_dir)),
    )
    model_only: dict[str, Any] = {}
    if args.model_only:
        from bench.modelonly import throughput
        from mlapi.runtime.variants import VARIANTS

        for name, variant in VARIANTS.items():
            if variant.missing(model_dir) is None:
                settings = Settings(variant=name, trial_dir=None, threads=args.threads)
                model_only[name] = throughput(settings, model_dir, args.model_only, real=texts)
        add_fractions(roofline, model_only)
    machine: dict[str, Any] = describe()
    command = " ".join(["python -m bench.roofline", *(sys.argv[1:] if argv is None else argv)])
    run = {
        "machine": machine,
        "command": command,
        "model_dir": str(model_dir),
        "sentences": {**sentences.describe(), "used": len(texts)},
        "roofline": roofline,
        "model_only": model_only,
    }
    header = [
        f"### Roofline · {machine['date']} · commit `{machine['commit']}`",
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu']} ({', '.join(machine['cpu_flags'])}); "
        f"torch {machine['torch']}, onnxruntime {machine['onnxruntime']}. Command: `{command}`.",
    ]
    markdown = "\n".join(header + table(roofline)) + "\n"
    save(args.out, "roofline-", run, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
