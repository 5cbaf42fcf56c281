"""``python -m tinysam_mobile.train``: see :mod:`tinysam_mobile.cli.train`."""

import sys

from .cli.train import main

if __name__ == "__main__":
    sys.exit(main())
