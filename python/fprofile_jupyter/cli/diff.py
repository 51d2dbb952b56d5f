"""``fprofile diff A B``: two traces compared per function, as a table in the terminal (the
``Comparison`` of ``fprofile_jupyter.compare``; any format ``fprofile`` reads on either side). An
``.fpt`` side is file-backed: compared from its summary, in memory bounded by its functions."""
from __future__ import annotations

import os
import sys
from typing import Sequence

from .common import PROG, Parser, UsageError, load


def cmd_diff(argv: Sequence[str]) -> int:
    from .._compare import SORTS, Comparison, compare

    parser = Parser(
        prog=f"{PROG} diff",
        description=(
            "Compare two traces per function (matched by file and name): the calls, total and self time "
            "of each and the differences B - A. A and B may be in any format fprofile reads."
        ),
    )
    parser.add_argument("a", metavar="A", help="the trace to compare from (the baseline)")
    parser.add_argument("b", metavar="B", help="the trace to compare with it")
    parser.add_argument("--top", type=int, default=30, metavar="N", help="show the first N rows (default 30; 0 = all)")
    parser.add_argument(
        "--sort", choices=SORTS, default="abs",
        help="order of the rows: absolute change of time, relative change, change in calls (default abs)",
    )
    parser.add_argument("--per-call", action="store_true", help="compare the mean time of one call instead of the total time")
    parser.add_argument(
        "--names", nargs=2, metavar=("NAME_A", "NAME_B"),
        help="what the title and the columns call A and B, e.g. --names 'chunk 1' 'chunk 20' (default: their file names)",
    )
    opts = parser.parse_args(argv)
    if opts.top < 0:
        raise UsageError("--top must be 0 or more")
    if opts.names is not None and (not all(n.strip() for n in opts.names) or opts.names[0].strip() == opts.names[1].strip()):
        raise UsageError("--names needs two different non-empty names")
    # .fpt files file-backed: the comparison is made from their summaries, their calls never loaded
    ta = load(opts.a, empty_is_error=True, backed=True)
    tb = load(opts.b, empty_is_error=True, backed=True)
    name_a, name_b = os.path.basename(opts.a) or opts.a, os.path.basename(opts.b) or opts.b
    if name_a == name_b:
        name_a, name_b = opts.a, opts.b
    if name_a == name_b:  # one file compared with itself
        name_a, name_b = f"a ({name_a})", f"b ({name_b})"
    if opts.names is not None:
        name_a, name_b = (n.strip() for n in opts.names)
    comparison: Comparison = compare(ta, tb, names=(name_a, name_b))
    out = comparison.sort(opts.sort, per_call=opts.per_call).format_table(limit=min(opts.top, sys.maxsize) or None)
    print(out)
    return 0
