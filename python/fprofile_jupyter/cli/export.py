"""``fprofile export FILE -o OUT.html|OUT.png``: a trace as one self-contained page or a picture."""
from __future__ import annotations

import os
from typing import Sequence

from .._progress import say
from .common import PROG, Parser, UsageError, load, save


def cmd_export(argv: Sequence[str]) -> int:
    parser = Parser(
        prog=f"{PROG} export",
        description=("Write a trace as one self-contained HTML page (the timeline and the summary; opens offline), "
                     "or, for OUT.png, as a static picture of the whole run (every thread as lanes, the time axis, "
                     "the caption)."),
    )
    parser.add_argument("input", metavar="FILE")
    parser.add_argument("-o", "--output", metavar="OUT.html", help="page or picture to write: .html (the default: FILE with .html) or .png")
    parser.add_argument("--title", help="title of the page or the picture's caption (default: the output file's name)")
    parser.add_argument("--width", type=int, metavar="PX", help="width of a .png picture in pixels (default 960; 320 to 4096)")
    opts = parser.parse_args(argv)
    out = opts.output or os.path.splitext(opts.input)[0] + ".html"
    if os.path.abspath(out) == os.path.abspath(opts.input):
        raise UsageError("the output would overwrite the input; pass -o OUT.html")
    picture = out.lower().endswith(".png")
    if opts.width is not None and not picture:
        raise UsageError("--width is the width of a picture: pass -o OUT.png")
    trace = load(opts.input)
    if picture:
        save(trace, out, "png", title=opts.title, width_px=opts.width)
    else:
        save(trace, out, "html", title=opts.title)
    say(f"fprofile: wrote {out}")
    return 0
