"""``fprofile convert IN OUT``: a trace written in another format (any format ``fprofile`` reads in,
any it writes out). A compact ``.fpt`` written as ``.fpt`` is copied without decoding; every other
conversion loads the trace."""
from __future__ import annotations

from typing import Sequence

from .._io import LOAD_FORMATS, SAVE_FORMATS
from .._progress import say
from .common import PROG, Parser, load, save


def cmd_convert(argv: Sequence[str]) -> int:
    parser = Parser(
        prog=f"{PROG} convert",
        description=(
            "Convert a trace between formats. IN may be an .fpt file, a PYME raw text file or a PYME JSON "
            "file (detected from the content), or the session directory a recording killed before its stop left "
            "(its child processes' recordings, merged). The output format is chosen by OUT's extension "
            "(.fpt, .json = PYME JSON, .perfetto.json / .trace.json = Perfetto, .speedscope.json, "
            ".txt = PYME raw text, .html = self-contained page, .png = static picture) or by --format."
        ),
    )
    parser.add_argument("input", metavar="IN")
    parser.add_argument("output", metavar="OUT")
    parser.add_argument("--format", choices=SAVE_FORMATS, help="output format (default: from OUT's extension)")
    parser.add_argument("--input-format", choices=LOAD_FORMATS, help="input format (default: detected)")
    opts = parser.parse_args(argv)
    # to .fpt from a compact .fpt: the file copied, never decoded; other formats need every call
    to_fpt = opts.format == "fpt" if opts.format is not None else opts.output.lower().endswith(".fpt")
    trace = load(opts.input, opts.input_format, backed=to_fpt)
    save(trace, opts.output, opts.format)
    say(f"fprofile: wrote {opts.output} ({len(trace):,} calls)")
    return 0
