"""`python -m trainer --help`."""

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
