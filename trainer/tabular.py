"""`python -m trainer.tabular --output DIR`: a real tabular classifier mlapi serves.

Trains a scikit-learn pipeline (standard scaling + logistic regression) on the Wisconsin
breast-cancer data set that scikit-learn ships (569 rows, 30 numeric features, 2 classes),
with a seeded held-out split, and writes the folder the `tabular` kind loads: `model.skops`,
`model.onnx` (skl2onnx, float64, probabilities as a tensor), `tabular.json` and `metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def train(output: Path, *, seed: int = 42, test_size: float = 0.25) -> dict[str, Any]:
    import skops.io as sio
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=test_size, random_state=seed, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    model.fit(x_train, y_train)
    probs = model.predict_proba(x_test)
    metrics = {
        "dataset": "sklearn.datasets.load_breast_cancer",
        "train_rows": len(x_train),
        "test_rows": len(x_test),
        "accuracy": round(float(accuracy_score(y_test, probs.argmax(1))), 4),
        "f1": round(float(f1_score(y_test, probs.argmax(1))), 4),
        "roc_auc": round(float(roc_auc_score(y_test, probs[:, 1])), 4),
        "seed": seed,
    }
    output.mkdir(parents=True, exist_ok=True)
    sio.dump(model, output / "model.skops")
    onnx_model = to_onnx(
        model,
        x_train[:1].astype("float64"),
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    (output / "model.onnx").write_bytes(onnx_model.SerializeToString())
    meta = {
        "n_features": int(data.data.shape[1]),
        "feature_names": [str(n) for n in data.feature_names],
        "classes": [str(data.target_names[c]) for c in model.classes_],
    }
    (output / "tabular.json").write_text(json.dumps(meta, indent=2) + "\n")
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def build_parser(
    prog: str = "python -m trainer.tabular",
    formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter,
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=formatter_class
    )
    parser.add_argument("--output", type=Path, required=True, help="model folder to write")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25, help="held-out fraction")
    return parser


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    args = (parser or build_parser()).parse_args(argv)
    print(json.dumps(train(args.output, seed=args.seed, test_size=args.test_size), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
