"""The ``%%fprofile`` cell magic and the ``%fprofile`` line magic.

Over 500 lines: two magics over one option parser and one run/stop/show path (live view, attach elsewhere).

``%load_ext fprofile_jupyter`` registers them. ``%fprofile start`` / ``stop`` / ``status`` record
across cells (``_ongoing``; the rule that tells them from a statement: :func:`subcommand`), and
``--live`` shows the timeline while it records (``_livecell``, fed by ``_livewidget``). The cell runs through the shell
(``shell.run_cell``), so its output, its result and its traceback look exactly as without the
magic; the recorded trace is then shown under the cell (the timeline widget, see ``_display``).
Files are written only when asked (``-o``).
"""
from __future__ import annotations

import ast
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any, List, Optional

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from . import _ongoing
from ._options import is_stream_path
from ._subs import split_subs
from .cli.common import unknown_option
from ._stopping import held_sigint

USAGE = ("usage: %%fprofile [--subs A,B] [-o OUT] [--format F] [--builtins] [--max-events N] "
         "[--no-processes] [--no-display] [--dask] [--live]\n       %fprofile [options] statement\n"
         "       %fprofile start [options] | %fprofile stop | %fprofile status\n"
         "       %fprofile attach PID [--duration S] [-o OUT] [--subs A,B]")

#: The variable of the user's namespace that holds the last trace recorded by the magic.
TRACE_VARIABLE = "_fprofile_trace"

# Options that take a value (long and short spellings), for splitting a line magic's options
# from its statement.
_VALUE_OPTIONS = {"--subs", "-s", "--output", "-o", "--format", "-f", "--max-events"}
_FLAG_OPTIONS = {"--builtins", "--no-processes", "--no-display", "--dask", "--live", "-h", "--help"}
_TOKEN = re.compile(r"""(?:"[^"]*"?|'[^']*'?|[^\s"']+)+""")


@dataclass
class Options:
    """The parsed options of one ``%%fprofile`` / ``%fprofile`` call."""

    subs: Optional[List[str]] = None  # None: profile()'s default (the cells and the notebook's directory)
    output: Optional[str] = None
    format: Optional[str] = None
    builtins: bool = False
    max_events: Optional[int] = None
    processes: bool = True
    display: bool = True
    dask: bool = False
    live: bool = False
    statement: str = ""  # line magic only
    argv: List[str] = field(default_factory=list)


def _unquote(token: str) -> str:
    try:
        parts = shlex.split(token, posix=True)
    except ValueError as e:  # an unclosed quote
        raise UsageError(f"cannot parse {token!r}: {e}") from None
    return "".join(parts)


def split_line(line: str, *, allow_statement: bool) -> tuple[List[str], str]:
    """Split a magic's line into its option tokens (unquoted) and the rest (the statement).

    Options come first; the first token that is not an option (or not the value of one) starts
    the statement, which is returned verbatim (quotes, spacing). ``--`` ends the options.
    """
    argv: List[str] = []
    pos = 0
    expect_value = False
    for m in _TOKEN.finditer(line):
        tok = m.group(0)
        if expect_value:
            argv.append(_unquote(tok))
            expect_value = False
            pos = m.end()
            continue
        if tok == "--":
            pos = m.end()
            rest = line[pos:].strip()
            if rest and not allow_statement:
                raise UsageError(f"unexpected argument {rest!r}: %%fprofile takes options only "
                                 "(the code to profile is the cell's body)")
            return argv, rest
        if tok.startswith("-") and len(tok) > 1 and not tok[1].isdigit():
            name = tok.split("=", 1)[0]
            if name not in _VALUE_OPTIONS | _FLAG_OPTIONS:
                raise UsageError(unknown_option(name, _VALUE_OPTIONS | _FLAG_OPTIONS))
            argv.append(_unquote(tok))
            if "=" not in tok and name in _VALUE_OPTIONS:
                expect_value = True
            pos = m.end()
            continue
        # the statement starts here
        rest = line[m.start():].strip()
        if not allow_statement:
            raise UsageError(f"unexpected argument {tok!r}: %%fprofile takes options only "
                             "(the code to profile is the cell's body)")
        return argv, rest
    if expect_value:
        argv_opt = argv[-1] if argv else "option"
        raise UsageError(f"argument {argv_opt}: expected one argument")
    return argv, line[pos:].strip()


def _check_format(output: str, fmt: Optional[str]) -> None:
    """Refuse, before the cell runs, an output whose format is unknown: an empty trace is saved
    with the same file name and format into a scratch folder (the writers' own check)."""
    import tempfile

    from . import _core

    empty = _core._build_trace([], [])
    with tempfile.TemporaryDirectory(prefix="fprofile-check-") as scratch:
        probe = os.path.join(scratch, os.path.basename(output))
        try:
            if fmt is None:
                empty.save(probe)
            else:
                empty.save(probe, format=fmt)
        except ValueError as e:
            # the writer names the scratch file: say it of the user's path instead
            raise UsageError(f"-o {output}: {str(e).replace(probe, output)}") from None
        except OSError:
            pass  # not a format problem; the real write reports it


def _has_top_level_await(shell: Any, code: str) -> bool:
    """Would IPython run this cell as a coroutine (top-level ``await``)?"""
    check = getattr(shell, "should_run_async", None)
    if check is None:
        return False
    try:
        transformed = shell.transform_cell(code)
        return bool(check(code, transformed_cell=transformed, preprocessing_exc_tuple=None))
    except Exception:  # a cell IPython cannot transform: run_cell reports it as usual
        return False


#: The user-namespace name the profiled cell's last expression is shown through while it runs.
_DISPLAY_NAME = "__fprofile_sys__"


class _CellAsOneCall(ast.NodeTransformer):
    """While the magic runs its cell (a nested ``run_cell``): the cell is labelled with the prompt
    the user sees and runs as one ``<module>`` call.

    - **Label.** IPython counts the outer cell (``[N]``) before running it, so the nested run
      caches the cell's code under N+1 (``compile._filename_map``, which names cells in the trace's
      "paths.cells" and in tracebacks): set back to N.
    - **One call.** IPython runs each top-level statement as its own code object (one ``<module>``
      call each); the cell's statements are put under one ``if True:`` (which compiles to nothing)
      and the last expression is shown as IPython shows it (``sys.displayhook``, the
      ``last_expr`` / ``last_expr_or_assign`` rules), so the cell is one call. Leading ``from
      __future__`` imports stay in front; with other ``ast_node_interactivity`` settings the cell
      runs as IPython splits it. Only the cell is changed, not what its code transforms later
      (``%timeit``'s statement).
    """

    def __init__(self, shell: Any) -> None:
        super().__init__()
        self.shell = shell
        self.number = shell.execution_count  # what the nested run caches the cell under
        fmap = getattr(getattr(shell, "compile", None), "_filename_map", None)
        self.fmap = fmap if isinstance(fmap, dict) else None
        self.before = dict(fmap) if self.fmap is not None else {}
        self.done = False

    def __enter__(self) -> "_CellAsOneCall":
        self.shell.ast_transformers.append(self)
        self.shell.user_ns[_DISPLAY_NAME] = sys
        return self

    def __exit__(self, *exc: Any) -> None:
        if self in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self)
        self.shell.user_ns.pop(_DISPLAY_NAME, None)

    def _relabel(self) -> None:
        if self.fmap is None or not isinstance(self.number, int):
            return
        for name, n in list(self.fmap.items()):
            if n == self.number and self.before.get(name) != n:
                self.fmap[name] = self.number - 1

    def visit_Module(self, node: ast.Module) -> ast.Module:
        if self.done:  # code the cell's own code transforms (%timeit's statement): as it is
            return node
        self.done = True
        self._relabel()  # (the cell was just cached: before its code runs and before any traceback)
        body = list(node.body)
        future = 0
        while future < len(body) and isinstance(body[future], ast.ImportFrom) and body[future].module == "__future__":
            future += 1
        head, rest = body[:future], body[future:]
        mode = getattr(self.shell, "ast_node_interactivity", "last_expr")
        if len(rest) < 2 or mode not in ("last_expr", "last_expr_or_assign", "none"):
            return node
        last = rest[-1]
        shown: Optional[ast.expr] = None
        if mode != "none":
            if isinstance(last, ast.Expr):
                shown, rest = last.value, rest[:-1]
            elif mode == "last_expr_or_assign":
                target = (last.targets[0] if isinstance(last, ast.Assign) and len(last.targets) == 1 else
                          last.target if isinstance(last, (ast.AugAssign, ast.AnnAssign)) else None)
                if isinstance(target, ast.Name) and not (isinstance(last, ast.AnnAssign) and last.value is None):
                    shown = ast.copy_location(ast.Name(target.id, ast.Load()), last)
        if shown is not None:
            call = ast.Call(ast.Attribute(ast.Name(_DISPLAY_NAME, ast.Load()), "displayhook", ast.Load()), [shown], [])
            rest = rest + [ast.copy_location(ast.Expr(ast.copy_location(call, shown)), last)]
        one = ast.copy_location(ast.If(ast.Constant(True), rest, []), rest[0])
        return ast.fix_missing_locations(ast.Module(head + [one], list(node.type_ignores)))


class ProfiledCellError(Exception):
    """Re-raised after a profiled cell failed (its traceback is already shown), so that the
    cell still counts as failed (Run All stops, nbclient reports it) without a second traceback."""

    def __init__(self, ename: str):
        super().__init__(ename)
        self.ename = ename

    def _render_traceback_(self) -> List[str]:
        return [f"(the profiled cell raised {self.ename}; its traceback is above, and the trace "
                "recorded until then is shown)"]


@magics_class
class FprofileMagics(Magics):
    """``%%fprofile`` (cell) and ``%fprofile`` (line)."""

    @line_cell_magic
    @magic_arguments()
    @argument("-s", "--subs", action="append", metavar="A,B",
              help="record calls of functions whose file name contains any of these strings "
                   "(comma-separated or repeated). Default: this notebook's cells and the modules "
                   "in its directory (installed packages and the standard library excluded); "
                   "+NAME adds to it: --subs +urllib records the cells and urllib.")
    @argument("-o", "--output", metavar="OUT",
              help="also write the trace to this file (format from the extension: .fpt, .json "
                   "(PYME), .perfetto.json, .speedscope.json, .txt (PYME raw), .html). No file is "
                   "written otherwise.")
    @argument("-f", "--format", metavar="F",
              help="the format of -o when its extension does not say (fpt, pyme-json, "
                   "pyme-text, perfetto, speedscope, html)")
    @argument("--builtins", action="store_true",
              help="also record calls of C functions (builtins, numpy...) made from recorded code")
    @argument("--max-events", type=int, metavar="N",
              help="stop recording after N events (a call is two), with a warning")
    @argument("--no-processes", action="store_true",
              help="record this kernel only, not the processes it starts (multiprocessing, "
                   "ProcessPoolExecutor, subprocess of Python), which are followed by default")
    @argument("--no-display", action="store_true",
              help="do not show the timeline (the trace is still kept in _fprofile_trace)")
    @argument("--dask", action="store_true",
              help="also record every worker of the current Dask cluster (the current "
                   "distributed client), merged into one timeline")
    @argument("--live", action="store_true",
              help="show the timeline while the cell runs (updated about once a second: the overview and the last "
                   "seconds), becoming the normal timeline at the end; records through a streamed .fpt file")
    def fprofile(self, line: str = "", cell: Optional[str] = None) -> None:
        """Profile a cell (or one statement) call by call, in every thread, and show the timeline.

        Usage::

            %%fprofile [--subs A,B] [-o OUT] [--format F] [--builtins] [--max-events N] [--no-processes] [--no-display] [--dask] [--live]
            <the cell's code>

            %fprofile [options] statement

        The cell runs as without the magic (output, result and traceback); then the timeline
        widget of the recorded calls is shown under it (a static HTML copy is kept for viewers
        without widgets). An exception in the cell shows its traceback and the partial trace.
        The trace is also kept in the variable ``_fprofile_trace``.

        Examples::

            %%fprofile
            run_pipeline()

            %%fprofile --subs mypackage,worker --builtins -o run.fpt
            run_pipeline()

            %fprofile y = compute(x)

        Across cells (the cells between them run recorded)::

            %fprofile start [the options of %%fprofile]
            %fprofile status
            %fprofile stop

        ``%fprofile start`` returns at once; ``%fprofile stop`` shows the timeline and sets
        ``_fprofile_trace``; ``%fprofile status`` says what is recording. The rule: a line that
        begins with the word start, stop or status, followed by nothing or by options (words
        beginning with -), is one of these; anything else is a statement to profile
        (``%fprofile stop()`` profiles a call of ``stop``). A kernel shut down or restarted
        while recording stops it and writes ``-o OUT``. ``%fprofile attach PID [--duration S]
        [-o OUT] [--subs A,B]`` records a running CPython 3.14+ program (docs/attach.md) and shows
        its timeline (``attach`` followed by a number is not Python either).
        """
        if cell is None:
            sub = subcommand(line)
            if sub is not None:
                return self.subcommand(*sub)
        opts = self.parse(line, cell_mode=cell is not None)
        code = cell if cell is not None else opts.statement
        if not code or not code.strip():
            raise UsageError("nothing to profile: " + (
                "the cell is empty" if cell is not None else "give a statement: %fprofile f(x)"))
        return self.run(code, opts)

    # -- parsing -------------------------------------------------------------------------------

    def parse(self, line: str, *, cell_mode: bool) -> Options:
        """Parse the magic's line; any problem raises ``UsageError`` (and the cell is not run)."""
        parser = FprofileMagics.fprofile.parser  # made by @magic_arguments
        usage = USAGE
        try:
            argv, statement = split_line(line, allow_statement=not cell_mode)
            ns = parser.parse_args(argv)
        except UsageError as e:
            raise UsageError(f"{e}\n{usage}\n(%%fprofile? for help)") from None
        try:
            try:
                subs = split_subs(ns.subs) if ns.subs is not None else None
            except ValueError as e:
                raise UsageError(str(e)) from None
            if ns.max_events is not None and ns.max_events <= 0:
                raise UsageError(f"--max-events must be a positive number, not {ns.max_events}")
            if ns.format is not None and ns.output is None:
                raise UsageError("--format needs -o OUT (the file to write)")
            output = None
            if ns.output is not None:
                output = os.path.expanduser(ns.output)
                if not output or output.endswith(os.sep):
                    raise UsageError(f"-o needs a file name, not {ns.output!r}")
                folder = os.path.dirname(os.path.abspath(output))
                if not os.path.isdir(folder):
                    raise UsageError(f"-o {ns.output}: the folder {folder} does not exist")
                if not os.access(folder, os.W_OK):
                    raise UsageError(f"-o {ns.output}: the folder {folder} is not writable")
                _check_format(output, ns.format)
        except UsageError as e:
            raise UsageError(f"{e}\n{usage}") from None
        if ns.live and ns.no_display:
            raise UsageError(f"--live shows the timeline while the cell runs: it cannot go with --no-display\n{usage}")
        if ns.live and ns.max_events is not None:
            raise UsageError(f"--live records through a streamed file, which has no event cap: drop --max-events\n{usage}")
        return Options(subs=subs, output=output, format=ns.format, builtins=ns.builtins,
                       max_events=ns.max_events, processes=not ns.no_processes, display=not ns.no_display, dask=ns.dask,
                       live=ns.live, statement=statement, argv=argv)

    # -- running -------------------------------------------------------------------------------

    def run(self, code: str, opts: Options) -> None:
        from . import _display, _show
        from ._core import ProfilerError
        from ._recording import profile

        # no --subs: profile()'s own default (the cells plus the notebook's directory, installed
        # packages and the standard library excluded), the same as `with profile():` in a cell
        subs = opts.subs
        kwargs: dict = {"builtins": opts.builtins, "processes": opts.processes}
        if opts.max_events is not None:
            kwargs["max_events"] = opts.max_events
        shell = self.shell
        assert shell is not None  # a registered magic always has its shell
        if _has_top_level_await(shell, code):
            raise UsageError(
                "%%fprofile cannot run a cell with top-level `await` (the kernel's event loop is "
                "already running the magic). Use the context manager in the cell instead:\n"
                "    with fprofile_jupyter.profile() as p:\n        await ...\n    p.trace")
        if opts.dask:
            from ._dask import current_client

            try:
                kwargs["dask"] = current_client()
            except ProfilerError as e:
                raise UsageError(str(e)) from None
        streamed_output, scratch = self._live_outfile(opts, kwargs)
        prof = profile(subs=subs, **kwargs)
        prof._scratch_outfile = scratch is not None  # type: ignore[attr-defined]  # (removed at the end: .trace in memory)
        ongoing = _ongoing.current()
        if ongoing is not None:
            raise UsageError(f"cannot profile this cell: the recording {ongoing.origin} began is on (this cell is "
                             "recorded in it); %fprofile stop ends it")
        try:
            prof.__enter__()
        except ProfilerError as e:  # e.g. profiling already on, a worker without fprofile: one line, the cell not run
            if scratch is not None:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)
            raise UsageError(f"cannot profile this cell: {e}") from None
        live = None
        if opts.live:
            from ._livecell import CellView

            live = CellView(kwargs["outfile"], scratch)
        result: Any = None
        stopped = []
        interrupted = []

        def stop() -> None:
            # Ctrl-C while it stops is held (_stopping): the trace is kept, stored and shown, then
            # the KeyboardInterrupt is raised at the end of the magic
            if not stopped:
                stopped.append(True)
                with held_sigint(deliver=False) as held:
                    prof.__exit__(None, None, None)
                if held.interrupted:
                    interrupted.append(True)

        def stop_then(show: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                stop()  # the cell's code has ended: IPython's formatting of its error is not the cell's
                return show(*args, **kwargs)
            return wrapper

        hooks = ("showtraceback", "showsyntaxerror")
        saved = {name: shell.__dict__.get(name) for name in hooks}
        for name in hooks:
            setattr(shell, name, stop_then(getattr(shell, name)))
        try:
            # through the shell: output, display hook, traceback as without the magic; labelled
            # and run as one <module> (_CellAsOneCall)
            with _CellAsOneCall(shell):
                result = shell.run_cell(code, store_history=False)
        finally:
            for name in hooks:
                if saved[name] is None:
                    shell.__dict__.pop(name, None)
                else:
                    setattr(shell, name, saved[name])
            stop()
        trace = prof.trace
        shell.user_ns[TRACE_VARIABLE] = trace

        if live is not None:  # the live view becomes the trace's ordinary output (one output, whatever the length)
            live.finish(_display.mimebundle(trace) if trace is not None else None)
        elif opts.display:
            _show.show(trace)
        if streamed_output:
            size = os.path.getsize(opts.output) if opts.output and os.path.exists(opts.output) else 0
            print(f"fprofile: wrote {len(trace):,} calls to {opts.output} ({size:,} bytes)")
        elif opts.output is not None:
            self._write(trace, opts)

        failed = result is not None and (result.error_before_exec or result.error_in_exec)
        err = (result.error_in_exec or result.error_before_exec) if failed else None
        if interrupted and not isinstance(err, KeyboardInterrupt):  # (a Ctrl-C that ended the cell: said)
            raise KeyboardInterrupt
        if failed:
            raise ProfiledCellError(type(err).__name__)

    @staticmethod
    def _live_outfile(opts: Options, kwargs: dict) -> "tuple[bool, Optional[str]]":
        """``--live`` records through a streamed file: ``-o X.fpt`` when given, else a scratch file
        (its private folder returned, removed at the end). Sets ``kwargs["outfile"]``; returns
        (whether the output itself is streamed, the scratch folder or None)."""
        if not opts.live:
            return False, None

        if opts.output is not None and opts.format in (None, "fpt") and is_stream_path(opts.output):
            kwargs["outfile"] = opts.output
            return True, None
        from ._livecell import scratch_outfile

        folder, path = scratch_outfile()
        kwargs["outfile"] = path
        return False, folder

    # -- across cells: %fprofile start / stop / status ------------------------------------------

    def subcommand(self, word: str, rest: str) -> None:
        if word == "start":
            return self.start(rest)
        if word == "attach":
            return self.attach(rest)
        if rest.strip():
            raise UsageError(f"%fprofile {word} takes no options (got {rest.strip()!r})\n{USAGE}")
        if word == "stop":
            return self.stop()
        print(_ongoing.status())
        return None

    def start(self, line: str) -> None:
        """``%fprofile start [options]``: a recording of the kernel that the following cells run in."""
        from ._core import ProfilerError

        try:
            _argv, statement = split_line(line, allow_statement=True)
        except UsageError as e:
            raise UsageError(f"{e}\n{USAGE}") from None
        if statement:
            raise UsageError(f"%fprofile start takes options only, not {statement!r}: the cells that follow are "
                             f"recorded until %fprofile stop\n{USAGE}")
        opts = self.parse(line, cell_mode=True)
        kwargs: dict = {"builtins": opts.builtins, "processes": opts.processes}
        if opts.max_events is not None:
            kwargs["max_events"] = opts.max_events
        if opts.dask:
            from ._dask import current_client

            try:
                kwargs["dask"] = current_client()
            except ProfilerError as e:
                raise UsageError(str(e)) from None
        # a streamed .fpt is written while the kernel runs (a killed kernel leaves what was
        # recorded); any other format is written at the stop, or at the kernel's exit
        save_to = opts.output
        _streamed, scratch = self._live_outfile(opts, kwargs)
        if opts.output is not None and opts.format in (None, "fpt") and is_stream_path(opts.output):
            kwargs["outfile"] = opts.output
            save_to = None
        try:
            ongoing = _ongoing.begin(opts.subs, kwargs, origin="%fprofile start", save_to=save_to,
                                     save_format=opts.format, display=opts.display)
        except ProfilerError as e:
            if scratch is not None:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)
            raise UsageError(f"cannot start recording: {e}") from None
        prof = ongoing.prof
        prof._scratch_outfile = scratch is not None  # type: ignore[attr-defined]  # (removed at the end: .trace in memory)
        if opts.live:
            from ._livecell import CellView

            view = CellView(kwargs["outfile"], scratch)
            ended = {"text/plain": "fprofile: the recording ended; its timeline is under the %fprofile stop cell"}
            ongoing.on_stop.append(lambda _trace: view.finish(ended))
        where = f"; writes {opts.output}" if opts.output else ""
        print(f"fprofile: recording the cells that follow (subs {', '.join(prof.subs)}){where}; "
              "%fprofile stop ends it and shows the timeline")

    def stop(self) -> None:
        """``%fprofile stop``: ends the recording, shows the timeline, sets ``_fprofile_trace``."""
        from . import _show
        from ._core import ProfilerError

        try:
            with held_sigint(deliver=False) as held:
                ongoing, trace = _ongoing.end()
        except ProfilerError as e:
            raise UsageError(str(e)) from None
        shell = self.shell
        assert shell is not None
        shell.user_ns[TRACE_VARIABLE] = trace
        if ongoing.display and trace is not None:
            _show.show(trace)
        if ongoing.save_to is not None and trace is not None:
            self._write(trace, Options(output=ongoing.save_to, format=ongoing.save_format))
        elif ongoing.options.outfile is not None and trace is not None:
            outfile = ongoing.options.outfile
            size = os.path.getsize(outfile) if os.path.exists(outfile) else 0
            print(f"fprofile: wrote {len(trace):,} calls to {outfile} ({size:,} bytes)")
        if held.interrupted:
            raise KeyboardInterrupt

    def attach(self, line: str) -> None:
        """``%fprofile attach PID [--duration S] [-o OUT] [--subs A,B]``: records a running CPython
        3.14+ program (``fprofile attach``, ``_attach``), shows the timeline, sets ``_fprofile_trace``."""
        import shlex

        from . import _show
        from ._attach import AttachError
        from .cli.attach import run

        try:
            argv = shlex.split(line)
        except ValueError as e:
            raise UsageError(f"%fprofile attach: {e}") from None
        try:
            trace, _output, _result = run(argv, "%fprofile attach", print)
        except AttachError as e:
            raise UsageError(str(e)) from None
        shell = self.shell
        assert shell is not None
        shell.user_ns[TRACE_VARIABLE] = trace
        _show.show(trace)

    @staticmethod
    def _write(trace: Any, opts: Options) -> None:
        assert opts.output is not None
        try:
            if opts.format is not None:
                trace.save(opts.output, format=opts.format)
            else:
                trace.save(opts.output)
        except (OSError, ValueError) as e:
            print(f"fprofile: could not write {opts.output}: {e}", file=sys.stderr)
            return
        size = os.path.getsize(opts.output) if os.path.exists(opts.output) else 0
        print(f"fprofile: wrote {len(trace):,} calls to {opts.output} ({size:,} bytes)")


#: The words that make ``%fprofile WORD ...`` a subcommand rather than a statement.
SUBCOMMANDS = ("start", "stop", "status")
_SUBCOMMAND = re.compile(r"^\s*(" + "|".join(SUBCOMMANDS) + r")(?:\s*$|\s+(-.*)$)"
                         r"|^\s*(attach)\s+(\d.*)$", re.S)


def subcommand(line: str) -> Optional[tuple]:
    """``(word, rest)`` when the line magic's line is a subcommand: it begins with one of
    SUBCOMMANDS followed by nothing or by options (a word beginning with ``-``); else None (a
    statement: ``stop()``, ``start = 1``, ``status.x`` are Python)."""
    m = _SUBCOMMAND.match(line)
    if m is None:
        return None
    if m.group(3):  # `attach 1234 ...` (not Python)
        return m.group(3), m.group(4).strip()
    return m.group(1), (m.group(2) or "").strip()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext fprofile_jupyter``."""
    ipython.register_magics(FprofileMagics)
