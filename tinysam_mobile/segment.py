"""``python -m tinysam_mobile.segment``: see :mod:`tinysam_mobile.cli.segment`."""

import sys

from .cli.segment import main

if __name__ == "__main__":
    sys.exit(main())
