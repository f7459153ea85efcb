"""`python -m mlapi`: the `mlapi` command; without arguments it serves (as the image does)."""

import sys

from mlapi.cli import main

if __name__ == "__main__":
    sys.exit(main(default="serve"))
