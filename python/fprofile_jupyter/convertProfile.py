"""Drop-in for PYME's ``convertProfile``: PYME raw event text -> PYME call-tree JSON.

    python -m fprofile_jupyter.convertProfile somefile.txt calltrees.json

Reads the raw file written by ``ThreadProfiler.profile_on(..., outfile=...)`` (ours or the original
tool's; .fpt and PYME JSON inputs are accepted too) and writes the JSON PYME's viewer opens, in the
original converter's schema and order. As the original does, calls still running at the end of the
file and returns with no call are left out of the JSON (``fprofile convert in.txt out.fpt`` keeps
them). Unlike the original, it runs with any Python and needs no pandas.
"""
from __future__ import annotations

import sys
from typing import List, Optional, Sequence

USAGE = "usage: python -m fprofile_jupyter.convertProfile INFILE.txt OUTFILE.json"


def convert(infile: str, outfile: str) -> int:
    """Converts ``infile`` to PYME JSON in ``outfile``; returns the number of calls written."""
    from . import _core

    trace = _core.load(infile, None)
    trace.save(outfile, "pyme-json")
    return len(trace)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 1 and args[0] in ("-h", "--help"):
        print(USAGE)
        print(__doc__.strip().split("\n\n", 2)[-1])
        return 0
    if len(args) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        convert(args[0], args[1])
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        where = e.filename if e.filename is not None else ""
        print(f"convertProfile: error: {where}: {e.strerror or e}" if where else f"convertProfile: error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # FormatError
        msg = str(e).strip().splitlines()
        print(f"convertProfile: error: {msg[0] if msg else type(e).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
