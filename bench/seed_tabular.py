"""The plane-delay seed's design, as a stress-test baseline: Flask + flask-restful + pickle.

`python -m bench.seed_tabular MODEL.pkl --port P` serves `{"x": [...]}` on `/` and
`/predict` (GET or POST, like the seed) with Flask's own server in debug mode, as its README
runs it. Only the benchmark starts it, on a pickle it wrote itself from the trained model.
"""

from __future__ import annotations

import argparse
import pickle  # the seed's format; mlapi itself never loads pickles
import sys
from pathlib import Path
from typing import Any


def build(model_path: Path) -> Any:
    from flask import Flask, request
    from flask_restful import Api, Resource

    with model_path.open("rb") as handle:
        model = pickle.load(handle)  # noqa: S301 - the baseline's own file
    app = Flask(__name__)
    api = Api(app)

    class Predict(Resource):  # type: ignore[misc]
        def get(self) -> dict[str, Any]:
            x = request.get_json(force=True)["x"]
            rows = x if isinstance(x[0], list) else [x]
            return {"prediction": model.predict_proba(rows).tolist()}

        post = get

    api.add_resource(Predict, "/", "/predict")

    @app.get("/health")  # not in the seed: lets the harness see that it has started
    def health() -> dict[str, str]:
        return {"status": "healthy"}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_tabular", description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    build(args.model).run(host="127.0.0.1", port=args.port, debug=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
