"""``python -m tinysam_mobile.everything``: see :mod:`tinysam_mobile.cli.everything`."""

import sys

from .cli.everything import main

if __name__ == "__main__":
    sys.exit(main())
