"""``python -m tinysam_mobile.evaluate``: see :mod:`tinysam_mobile.cli.evaluate`."""

import sys

from .cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
