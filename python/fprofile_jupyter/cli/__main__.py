"""``python -m fprofile_jupyter.cli``: the ``fprofile`` command (as ``python -m fprofile_jupyter``)."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
