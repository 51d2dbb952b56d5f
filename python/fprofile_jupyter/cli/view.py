"""``fprofile view [FILE]``: the standalone timeline viewer on 127.0.0.1 (``_viewer``)."""
from __future__ import annotations

import os
from typing import Sequence

from .common import PROG, Parser, UsageError


def cmd_view(argv: Sequence[str]) -> int:
    parser = Parser(
        prog=f"{PROG} view",
        description="Open a trace in the standalone timeline viewer (a local page on 127.0.0.1; works offline).",
    )
    parser.add_argument("input", nargs="?", metavar="FILE", help="trace to open (.fpt, PYME text or JSON); without it, pick one in the page")
    parser.add_argument("--port", type=int, metavar="N", help="port to serve on (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser (the address is printed either way)")
    from .. import _viewer

    _viewer.add_live_options(parser)
    opts = parser.parse_args(argv)
    if opts.port is not None and not 0 <= opts.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {opts.port}")
    problem = _viewer.check_live_options(opts)
    if problem is not None:
        raise UsageError(problem)
    if opts.input is not None:
        if not os.path.exists(opts.input) and not opts.live:
            raise FileNotFoundError(2, "No such file or directory", opts.input)
        if os.path.isdir(opts.input):
            raise IsADirectoryError(21, "Is a directory, not a trace file", opts.input)
    return int(_viewer.serve(opts.input, opts.port, open_browser=not opts.no_browser, live=opts.live,
                             last_s=opts.last, rewritten=opts.rewritten) or 0)
