"""Pin an image in a kustomization.yaml, like `kustomize edit set image NAME=NEW:TAG`.

python3 scripts/set_image.py KUSTOMIZATION NAME NEW_NAME TAG
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def set_image(path: Path, name: str, new_name: str, tag: str) -> None:
    if not tag or tag == "latest":
        raise SystemExit("refusing an empty or :latest tag; use an immutable one (git SHA)")
    document = yaml.safe_load(path.read_text())
    images = document.setdefault("images", [])
    entry = next((image for image in images if image.get("name") == name), None)
    if entry is None:
        entry = {"name": name}
        images.append(entry)
    entry.pop("digest", None)
    entry.update({"newName": new_name, "newTag": tag})
    path.write_text(yaml.safe_dump(document, sort_keys=False))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    set_image(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
