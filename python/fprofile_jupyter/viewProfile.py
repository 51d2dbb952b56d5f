"""Drop-in for PYME's ``viewProfile``: ``python -m fprofile_jupyter.viewProfile [FILE]``.

Opens the standalone timeline viewer (a local page on 127.0.0.1, offline), showing FILE when given
(``.fpt``, PYME JSON, old PYME files included, or PYME raw text); otherwise pick a file in the
page with "Choose File" or drop one on it. Options: ``--port N``, ``--no-browser``.
"""
import sys

from ._viewer import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m fprofile_jupyter.viewProfile"))
