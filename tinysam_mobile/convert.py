"""``python -m tinysam_mobile.convert``: see :mod:`tinysam_mobile.cli.convert`."""

import sys

from .cli.convert import main

if __name__ == "__main__":
    sys.exit(main())
