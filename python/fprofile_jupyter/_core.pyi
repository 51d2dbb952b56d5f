"""Type stubs of ``fprofile_jupyter._core``, the Rust extension module (checked against the runtime
by ``tests/test_stubs.py`` with ``mypy.stubtest``).

Sections: errors and version; traces (``Trace``, ``ThreadInfo``, ``Call``, ``Summary``,
``SummaryRow``, ``load``, ``load_bytes``, ``formats``, ``format_duration``); recording; assets.
"""
import os
from ._options import RecordOptions as _RecordOptions
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union, final, overload

__version__: str

_Threads = Union[None, int, str, Sequence[Union[int, str]]]

# ---------------------------------------------------------------------------------------------------
# errors

class FormatError(ValueError):
    """A file or buffer is not a valid trace; the message says what is wrong and where
    (``<path>: <what> at line N`` / ``at byte N``)."""

class ProfilerError(RuntimeError):
    """Profiling cannot be started or stopped as asked."""

# ---------------------------------------------------------------------------------------------------
# traces

_Path = Union[str, "os.PathLike[str]"]

@final
class ThreadInfo:
    """One thread of a trace (a read-only record)."""

    @property
    def index(self) -> int:
        """Index of this thread in ``Trace.threads`` (the ``thread`` of its calls)."""
    @property
    def os_id(self) -> int:
        """OS thread id (``threading.get_native_id()``), 0 when unknown (PYME text files)."""
    @property
    def name(self) -> str:
        """The thread's latest name."""
    @property
    def names(self) -> List[Tuple[int, str]]:
        """The thread's names over time: ``[(t_ns, name), ...]``, t_ns from the trace origin."""
    @property
    def first_ns(self) -> int:
        """First event time of the thread, ns from the trace origin."""
    @property
    def last_ns(self) -> int:
        """Last event time of the thread (or the stop time for calls still running), ns."""
    @property
    def lane(self) -> int:
        """Overview lane (PYME's assignment: threads whose spans overlap get different lanes)."""
    @property
    def call_count(self) -> int:
        """Number of recorded calls of this thread."""
    @property
    def process(self) -> int:
        """Index of its process in ``Trace.processes``."""
    @property
    def pid(self) -> int:
        """OS id of its process, 0 when unknown (PYME files, ``.fpt`` version 1)."""

@final
class ProcessInfo:
    """One process of a trace (a read-only record): the program that recorded, a child process, a
    Dask worker. Times are ns from the trace origin, on the trace's clock."""

    @property
    def index(self) -> int:
        """Index of this process in ``Trace.processes`` (the ``process`` of its threads)."""
    @property
    def pid(self) -> int:
        """OS process id, 0 when unknown (PYME files, ``.fpt`` version 1)."""
    @property
    def parent_pid(self) -> int:
        """Its parent's process id, 0 when unknown."""
    @property
    def name(self) -> str:
        """A Dask worker's name, a multiprocessing process's name, or the program and its arguments."""
    @property
    def host(self) -> str:
        """Host name ("" when unknown)."""
    @property
    def start_ns(self) -> int:
        """When its recording started."""
    @property
    def end_ns(self) -> int:
        """When its recording ended."""
    @property
    def exit_status(self) -> Optional[int]:
        """Its exit status where known (negative: killed by that signal), else None."""
    @property
    def clock_offset_ns(self) -> int:
        """Added to its own clock's readings to place them on the trace's clock (ns)."""
    @property
    def clock_uncertainty_ns(self) -> int:
        """The offset is right to within this many ns (0: the same clock, exact)."""
    @property
    def aligned(self) -> bool:
        """False when its clock offset could not be measured: its times are on its own clock,
        placed from the trace's start, not comparable with other processes'."""
    @property
    def incomplete(self) -> bool:
        """Its trace is incomplete (killed or still running when recording stopped)."""
    @property
    def threads(self) -> List[int]:
        """Indices in ``Trace.threads`` of its threads."""

@final
class Call:
    """One call of a trace (a read-only record). Times are ns from the trace origin."""

    @property
    def index(self) -> int:
        """Global index of the call in ``Trace.calls()``."""
    @property
    def thread(self) -> int:
        """Index of its thread in ``Trace.threads``."""
    @property
    def depth(self) -> int:
        """0 for the outermost recorded call of its thread."""
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...
    @property
    def duration_ns(self) -> int:
        """``end_ns - start_ns``."""
    @property
    def self_ns(self) -> int:
        """Duration minus the durations of its direct children."""
    @property
    def function(self) -> str:
        """Function name as recorded: the qualified name (``co_qualname``, e.g. ``Worker.run``)
        where the Python has it, else ``co_name``; in a PYME file, the name the file holds."""
    @property
    def file(self) -> str:
        """File of the function (``co_filename``)."""
    @property
    def line(self) -> int:
        """First line of the function (``co_firstlineno``)."""
    @property
    def parent(self) -> Optional[int]:
        """Global index of the parent call, or None for a top-level call."""
    @property
    def unfinished(self) -> bool:
        """Still running when recording stopped (closed at the stop time)."""
    @property
    def started_before(self) -> bool:
        """Began before recording started (opened at its thread's first time)."""

@final
class SummaryRow:
    """One function's figures in a ``Summary``."""

    @property
    def code(self) -> int:
        """Function id within the trace."""
    @property
    def function(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def calls(self) -> int:
        """Number of calls."""
    @property
    def total_ns(self) -> int:
        """Time inside the function (outermost active call only, so recursion is not counted twice)."""
    @property
    def self_ns(self) -> int:
        """Time inside the function minus the time in its callees."""
    @property
    def mean_ns(self) -> int:
        """Mean duration of one call."""
    @property
    def max_ns(self) -> int:
        """Longest duration of one call."""
    def to_dict(self) -> Dict[str, Any]:
        """The row as a dict (keys: code, function, file, line, calls, total_ns, self_ns, mean_ns, max_ns)."""

@final
class Summary:
    """Per-function figures, over all threads, for one process or for one thread: a read-only sequence of
    ``SummaryRow`` sorted by total time (descending), shown as a text table (``repr``: the first 25
    rows, ``str``: all) or an HTML table in a notebook."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: int, /) -> SummaryRow: ...
    @overload
    def __getitem__(self, index: slice, /) -> "Summary":
        """A row, or (for a slice) a summary of those rows, shown as a table too."""
    def __iter__(self) -> Iterator[SummaryRow]: ...
    @property
    def rows(self) -> List[SummaryRow]:
        """The rows, as a list."""
    @property
    def thread(self) -> Optional[int]:
        """Index of the thread this summary covers; None for the summary of all threads."""
    @property
    def thread_name(self) -> Optional[str]:
        """Name of the thread this summary covers; None for the summary of all threads."""
    @property
    def process(self) -> Optional[int]:
        """Index of the process this summary covers; None for the summary of all threads or of a thread."""
    @property
    def per_thread(self) -> List["Summary"]:
        """One summary per thread, in the trace's thread order (empty for a per-thread summary)."""
    @property
    def per_process(self) -> List["Summary"]:
        """One summary per process, in the trace's process order: all of its threads, by the rules
        of the overall summary (empty for a per-thread or per-process summary)."""
    def sorted(self, by: str = "total") -> "Summary":
        """The same rows ordered by ``by``: "total", "self", "calls", "mean", "max" (descending) or
        "function", "file" (ascending)."""
    def format_table(self, limit: Optional[int] = None) -> str:
        """A fixed-width text table of the rows (the first ``limit`` when given)."""
    def to_dicts(self) -> List[Dict[str, Any]]:
        """The rows as dicts (e.g. ``pandas.DataFrame(summary.to_dicts())``)."""
    def _repr_html_(self) -> str:
        """An HTML table (names escaped), at most 500 rows."""

@final
class Trace:
    """A recorded trace: per-thread call trees (read-only).

    ``len(trace)`` is the number of calls. Obtain one from ``profile()`` (``prof.trace``),
    ``ThreadProfiler``, ``load(path)`` or ``Trace.from_bytes``.
    """

    def __len__(self) -> int:
        """Number of calls."""
    def __eq__(self, other: object, /) -> bool:
        """Same threads, calls, functions and metadata."""
    @property
    def threads(self) -> List[ThreadInfo]:
        """The threads, in order of their first event (grouped by process when there are several)."""
    @property
    def processes(self) -> List[ProcessInfo]:
        """The processes (one for a one-process trace, pid 0 when the file did not say; none for a
        trace with no threads)."""
    @property
    def bands(self) -> List[Tuple[int, int, int, str]]:
        """Labelled spans above threads' calls (the Dask task a worker thread ran):
        ``(thread, start_ns, end_ns, label)``, ordered by thread then start."""
    def calls(self, thread: Optional[int] = None) -> List[Call]:
        """The calls, grouped by thread and in pre-order (parent before children) within a thread;
        only those of thread index ``thread`` when given (IndexError when out of range)."""
    @property
    def origin_ns(self) -> int:
        """Absolute monotonic clock time (ns, the clock of ``time.perf_counter``) of t = 0; 0 when unknown."""
    @property
    def file(self) -> Optional[str]:
        """The absolute path of the file this trace is answered from (a file-backed trace: ``load()``
        of a large ``.fpt``, ``prof.trace`` of a streamed recording), else None (its calls are in
        memory). What needs every call loads them once, on first use."""
    @property
    def in_memory(self) -> bool:
        """Whether every call is in memory (always for a trace made in memory; for a file-backed
        one, once something that needs every call loaded them)."""
    def _resident_bytes(self) -> int: ...
    @property
    def duration_ns(self) -> int:
        """From t = 0 to the last event of any thread, ns."""
    @property
    def metadata(self) -> Dict[str, str]:
        """Metadata recorded with the trace (subs, python version, ...); a new dict each time."""
    def folded(self) -> List[str]:
        """Folded stacks, sorted: ``"thread;outer;...;inner count"`` per distinct stack, count = the
        number of calls ending that stack; frames are function names."""
    def summary(self, *, task: Optional[str] = None) -> Summary:
        """Per-function figures (calls, total, self, mean, max), overall, ``per_process`` and ``per_thread``;
        ``task``: of the calls made inside that task's bands only (an asyncio task's name, a Dask task's key)."""
    def summary_json(self, *, overall_only: bool = False) -> str:
        """The summary as JSON: ``{"overall": [row...], "processes": [{"process", "pid", "name", "rows"}],
        "threads": [{"thread", "process", "name", "rows"}]}``; ``overall_only``: ``{"overall": [row...]}``,
        what the widget and the HTML export send (the timeline computes the rest from the trace)."""
    def to_bytes(self, level: int = ...) -> bytes:
        """The trace in the compact binary ``.fpt`` format (``docs/format.md``); ``level``: zlib
        level 0-9 (1: about 6x faster to write, 40% larger)."""
    def window_bytes(
        self, t0_ns: int, t1_ns: int, px: int, threads: Optional[Sequence[int]] = None, *, zlib_level: Optional[int] = None
    ) -> bytes:
        """What the timeline draws of the window ``[t0_ns, t1_ns]`` at ``px`` pixels: every call at
        least a pixel wide as it is, narrower ones merged per thread and depth into counted runs; a
        window reply (``docs/format.md``, "Window replies"). ``threads``: indices (default all).
        ``ValueError`` for an empty window, one outside the trace, a width of 0 or above 65536, an
        unknown thread. The calls are indexed once, by the first call; the GIL is released."""
    def _prepare_windowed(self) -> None:
        """Builds the window index and the overall summary side by side (both kept with the trace)."""
    def skeleton_bytes(self) -> bytes:
        """The trace without its calls (threads, processes, functions, bands, metadata) as ``.fpt``
        bytes: what the timeline gets first when it fetches windows."""
    @classmethod
    def from_bytes(cls, data: bytes) -> "Trace":
        """A trace from ``.fpt`` bytes; ``FormatError`` (with the byte offset) when they are not valid."""
    def save(self, path: _Path, format: Optional[str] = None, *, title: Optional[str] = None, width_px: Optional[int] = None) -> None:
        """Write the trace to ``path``. ``format``: "fpt", "pyme-json", "pyme-text", "perfetto",
        "speedscope", "html" or "png"; by default from the extension (.fpt, .json = PYME JSON,
        .perfetto.json / .trace.json, .speedscope.json, .txt = PYME raw text, .html / .htm, .png =
        the static picture, ``picture_png``). ``title``: the page title of the HTML export and the
        picture's caption (default: the file name). ``width_px``: the picture's width (PNG only;
        default 960, 320 to 4096, else ``ValueError``). The file is written to a temporary name and
        renamed, so a failed write leaves no partial file. The GIL is released while encoding."""
    def picture_png(self, *, width_px: Optional[int] = None) -> bytes:
        """The static picture of the whole run as PNG bytes: the caption (the metadata's ``title``,
        else "fprofile trace"; calls, threads, processes, duration), the time axis, every process
        (a header strip when there are several) and thread as lanes, calls coloured as in the
        timeline (functions narrower than a pixel merged per pixel column), thread names on the
        left; an empty trace gives its caption. ``width_px``: 320 to 4096 (default 960;
        ``ValueError`` otherwise, ``TypeError`` for a non-int). Under 60 kB for typical traces; the GIL is released while drawing."""
    def _repr_mimebundle_(self, include: Optional[Iterable[str]] = None, exclude: Optional[Iterable[str]] = None) -> Dict[str, Any]:
        """Rich display in Jupyter (the timeline widget, an HTML fallback and the text repr)."""
    def show(self) -> None:
        """Display the trace: the timeline in a notebook, the text repr elsewhere."""
    def flame(self, threads: _Threads = None, window: Optional[Tuple[int, int]] = None) -> List[Dict[str, Any]]:
        """The flame graph: calls merged by call path, as nested dicts (the top-level nodes) with
        ``function``, ``file``, ``line``, ``code``, ``calls``, ``total_ns``, ``self_ns`` and
        ``children`` (heaviest first). ``threads``: an index, a thread name or a list of them
        (default: every thread, merged); ``window``: ``(t0_ns, t1_ns)``, calls clipped to it."""
    def callers(self, function: Union[str, int], file: Optional[str] = None, threads: _Threads = None) -> Dict[str, Any]:
        """The function (a name, or a code id; ``file``: its path or the end of it, needed when
        several files have the name) as a nested dict whose children are its callers, merged
        upward, each with the function's calls, total and self time through that chain."""
    def callees(self, function: Union[str, int], file: Optional[str] = None, threads: _Threads = None) -> Dict[str, Any]:
        """The function as a nested dict whose children are its callees, merged downward by path
        (recursion counted once: the root's total is the summary's)."""

def open_file(path: _Path) -> Trace:
    """The trace in the ``.fpt`` file at ``path``, backed by the file (``Trace.file``): its tables and
    what answers windows, summaries and flame graphs; the calls read from the file as asked, loaded
    whole only for what needs every call."""

def load(path: _Path, format: Optional[str] = None, *, progress: Optional[Callable[[int, int], object]] = None) -> Trace:
    """Load a trace from a file: ``.fpt``, PYME raw event text or PYME JSON, detected from the
    content unless ``format`` ("fpt", "pyme-text", "pyme-json") is given. ``FileNotFoundError`` /
    ``OSError`` when it cannot be read, ``FormatError`` naming the path and the line or byte offset
    when it is not a valid trace. The GIL is released while reading; ``progress(bytes_done,
    bytes_total)`` is called now and then while parsing a large text file."""

def load_bytes(data: bytes, format: Optional[str] = None, *, max_inflated: Optional[int] = None) -> Trace:
    """Load a trace from an in-memory buffer (same formats and detection as ``load``).
    ``max_inflated``: the largest body (bytes) a compressed ``.fpt`` may inflate to, for bytes
    from someone else (the viewer's uploads); a header claiming more is refused with a
    ``FormatError`` before anything is inflated, and inflating never goes past the claim. Default:
    the format's own limit, 2 GiB. Other formats are not compressed: the limit does not apply."""

def formats() -> List[Tuple[str, List[str], bool, bool]]:
    """The format table: ``(name, endings, reads, writes)`` per format, in the order names are
    listed to users; ``endings`` are the file name endings (lower case, with the dot) that choose
    the format when saving. ``load`` reads the formats with ``reads``, ``Trace.save`` writes those
    with ``writes``."""

def short_path(file: str, roots: str) -> str:
    """``file`` relative to the folder of ``roots`` it lies in (a trace's metadata ``"paths.roots"``:
    a JSON list of [prefix, label] pairs; the longest matching prefix wins), else unchanged; the rule
    of every view (``tests/fixtures/paths.json``)."""

def summary_static_table(summary_json: str, roots: str, limit: int) -> str:
    """The HTML table of a notebook's static copy: the first ``limit`` rows of ``summary_json``'s
    ``"overall"`` (``Trace.summary_json(overall_only=True)``) in the columns of every summary table,
    names escaped, file names relative to ``roots``. ValueError for JSON that is not a summary."""

def _process_name() -> str:
    """This process's name in a trace: "kernel" (with the notebook's name from ``JPY_SESSION_NAME``)
    for a Jupyter kernel, the script and its arguments for a Python program (``child_job.py 3000``)."""

def _command_line() -> str:
    """This process's command line, arguments joined by spaces (cut to 200 characters)."""

def format_duration(ns: int) -> str:
    """A duration in integer nanoseconds as short text: ``"12.35 ms"``, ``"1 µs"``, ``"789 ns"``
    (units ns, µs, ms, s; 3 decimals under 10, 2 under 100, 1 under 1000, trailing zeros
    dropped; the rule of ``tests/fixtures/durations.json``, shared with the timeline)."""

def flame_bytes(trace: Trace, threads: _Threads = None, window: Optional[Tuple[int, int]] = None) -> bytes:
    """The flame graph in the timeline's encoding: 5 little-endian f64 per node in pre-order (depth,
    code, total_ns, self_ns, calls); ``docs/format.md``."""

@final
class _Comparison:
    """Two traces compared per function (wrapped by ``fprofile_jupyter.Comparison``)."""

    def rows(self, by: Optional[str] = None, per_call: bool = False) -> List[Tuple[Any, ...]]:
        """(id, function, file, line_a, line_b, status, [calls a, calls b, total a, total b, self a,
        self b, mean a, mean b], relative total, relative mean) per function, ordered by ``by``."""
    def table(self, name_a: str, name_b: str, by: Optional[str] = None, per_call: bool = False, limit: Optional[int] = None) -> str:
        """The text table."""
    def html(self, name_a: str, name_b: str, by: Optional[str] = None, per_call: bool = False) -> str:
        """The HTML table (names escaped; sortable by clicking a header)."""
    def flame(self) -> List[Dict[str, Any]]:
        """The differential flame tree as nested dicts."""
    def flame_bytes(self) -> bytes:
        """The differential flame tree: 8 little-endian f64 per node (``docs/format.md``)."""

def compare_traces(a: Trace, b: Trace) -> _Comparison:
    """Compare two traces per function; ``ValueError`` when one holds no calls."""

def _html_export(trace: Trace, title: str, pyramid_calls: int, max_bytes: int) -> str:
    """The HTML export with its limits given: above ``pyramid_calls`` calls, a pyramid of window
    replies of at most ``max_bytes`` (tests)."""

def _synthetic_trace(calls: int, threads: int = 8, seed: int = 1) -> Trace:
    """A synthetic trace of about ``calls`` calls in ``threads`` threads, built in Rust (benchmarks, tests)."""

def _build_trace(
    codes: Sequence[Tuple[str, str, int]],
    threads: Sequence[Tuple[int, str, Sequence[Tuple[int, int, bool]]]],
    *,
    start_ns: int = 0,
    stop_ns: int = 0,
    metadata: Optional[Sequence[Tuple[str, str]]] = None,
    process: Optional[Tuple[int, int, str, str]] = None,
) -> Trace:
    """Build a trace from flat events (tests and tools): ``codes`` = [(file, name, first_line)],
    ``threads`` = [(os_id, name, [(t_ns, code_id, is_return), ...])], absolute times;
    ``process`` = (pid, parent_pid, name, host) of the process that made them."""

def merge(parts: List[Dict[str, Any]]) -> Trace:
    """Merge traces (one per process, or per group of processes sharing a clock) into one.
    Each part: ``{"trace": Trace, "process": {overrides for its processes: pid, parent_pid, name,
    host, exit_status, incomplete, clock_offset_ns, clock_uncertainty_ns, aligned}, "processes": {pid:
    the same overrides for the processes with that pid only}, "bands":
    [(thread_os_id, start_ns, end_ns, label), ...], "code_files": [(file, name, first_line, new_file),
    ...] (those functions of the part get that file)}`` (band times absolute, on that part's clock;
    ``clock_offset_ns`` is added to the part's clock to reach the common one). Processes with
    ``aligned=False`` are shown on their own clock and named in the metadata's
    ``"warning.clock_unaligned"``. ``ValueError`` on bad input."""

@final
class _Outline:
    """What a trace file holds, without its calls (``_Compactor.write``, ``_outline``): ``len()``
    its calls; ``threads``, ``processes``, ``duration_ns``, ``metadata``, ``summary()``,
    ``summary_json()`` as a ``Trace`` gives them."""
    def __len__(self) -> int: ...
    @property
    def threads(self) -> List[ThreadInfo]: ...
    @property
    def processes(self) -> List[ProcessInfo]: ...
    def summary_json(self) -> str: ...
    @property
    def duration_ns(self) -> int: ...
    @property
    def metadata(self) -> Dict[str, str]: ...
    def summary(self) -> Summary: ...

@final
class _Compactor:
    """The stop of a streamed recording: the parent's streamed file and its children's spools
    merged into one compact ``.fpt`` without building the trace. ``add_stream`` / ``add_spool``
    return ``(pid, parent_pid, calls, end)``; ``write(path, keep)`` writes the parts numbered in
    ``keep`` and returns the ``_Outline`` (the compactor is spent then). ``OSError``,
    ``FormatError``, ``NotImplementedError`` (a recording it does not rewrite: build the trace)."""
    def __new__(cls, directory: _Path) -> "_Compactor": ...
    def add_stream(self, path: _Path) -> Tuple[int, int, int, Optional[str]]: ...
    def add_spool(self, path: _Path) -> Tuple[int, int, int, Optional[str]]: ...
    def write(self, path: _Path, keep: List[int]) -> _Outline: ...

@final
class _TaskSteps:
    """The coroutine of an asyncio task made while recording (``_asyncio``): runs ``coro``, reading
    CLOCK_MONOTONIC before and after each step; ``on_end()`` at its last step. Its other attributes
    are the coroutine's."""
    def __new__(cls, coro: Any, on_end: Callable[[], Any]) -> "_TaskSteps": ...
    def __next__(self) -> Any: ...
    def __iter__(self) -> "_TaskSteps": ...
    def __await__(self) -> "_TaskSteps": ...
    def send(self, value: Any) -> Any: ...
    def throw(self, *args: Any) -> Any: ...
    def close(self) -> Any: ...
    @property
    def _coro(self) -> Any: ...
    @property
    def timing(self) -> bool:
        """Timing on (until ``stop()``)."""
    def steps(self) -> List[int]:
        """The readings so far: start, end, start, end, ... (an odd count while a step runs)."""
    def stop(self) -> None:
        """No more timing; the coroutine runs on."""

def _outline(path: _Path, *, progress: Optional[Callable[[int, int], Any]] = None) -> Optional[_Outline]:
    """The tables, call count and summary of the ``.fpt`` file at ``path`` (compact or streamed),
    in one pass with memory bounded by its threads and functions; None for another format."""

def _read_spool(path: _Path) -> Tuple[Trace, int, int, int, Optional[str]]:
    """A child process's spool (docs/processes.md) as ``(trace, pid, parent_pid, calls, end)``;
    ``end``: "exited", "flushed" (still running at the parent's stop) or None (killed). ``OSError``
    when it cannot be read, ``FormatError`` when it is not a spool."""

@final
class JoinedSession:
    """A session directory of a recording this process joined as a child (``_join_session``),
    for ``Recorder.start(child=...)``, once."""

def _records_file(file: str) -> bool:
    """Whether the recording that runs now records calls of code in ``file`` (its filter)."""
    ...

def _join_session(path: _Path, token: str) -> Tuple[JoinedSession, str]:
    """Join the session directory ``path`` of a recording as a child process when it is really the
    live session ``token`` names (owned by this uid, mode 0700, not a link; the token matches; the
    parent holds its lock; not stopped: docs/processes.md "Threat model"); returns it and the text
    of its ``session.json``. ``ProfilerError`` saying why otherwise."""

def _child_start(key: str) -> None:
    """Start recording this process as a child of the session ``key`` (``<directory>:<token>``)
    names, when it is its parent's live session (nothing happens otherwise; one line on stderr
    with ``FPROFILE_JUPYTER_DEBUG=1``); its spool ends at exit, ``os._exit``, ``os.exec*``."""

def _child_finish(exit_status: Optional[int] = None) -> None:
    """End this process's child recording (its spool's end record), if it records."""

def _child_key() -> Optional[str]:
    """The session key this process records into as a child, if it does."""

def _child_after_fork(key: Optional[str] = None) -> None:
    """In a fork child: forget the parent's recording; record as a child of ``key`` (or of the
    session the parent recorded into as a child)."""

def _pth_child() -> None:
    """The ``.pth`` line's entry: a child recording when ``FPROFILE_JUPYTER_SESSION`` is set."""

def _arm_child_notice(callback: Callable[[], object]) -> bool:
    """Call ``callback()`` once, before the next process the program starts through Python
    (``subprocess``, ``os.posix_spawn``, ``os.system``, ``os.exec*``, ``os.fork``: an audit hook,
    hook/spawn.rs); False when the interpreter refused the audit hook."""

def _disarm_child_notice() -> None:
    """No call of the armed callback any more."""

def _is_stream_path(path: _Path) -> bool:
    """Whether a recording's outfile at ``path`` is streamed as ``.fpt`` chunks (its name ends in
    ``.fpt``, any case); else it is PYME raw text."""

def _stream_append_trace(path: _Path, trace: Trace) -> None:
    """Append ``trace`` (the trace with the child processes merged in) to the streamed file at
    ``path`` as its last chunk: loading the file then gives that trace. ``OSError`` on failure."""

# ---------------------------------------------------------------------------------------------------
# recording

@final
class Recorder:
    """The interpreter hook (use ``fprofile_jupyter.profile`` / ``ThreadProfiler``): records every
    call of Python functions whose file name contains one of ``subs`` (and none of ``exclude``), on
    every thread. One recording at a time per interpreter (``ProfilerError`` otherwise)."""

    DEFAULT_MAX_EVENTS: int
    def __new__(cls) -> "Recorder": ...
    def start(
        self,
        options: _RecordOptions,
        *,
        metadata: Sequence[Tuple[str, str]] = ...,
        child: Optional["JoinedSession"] = None,
    ) -> None:
        """Install the hook for ``options`` (a ``RecordOptions``, read whole; ``ValueError`` naming a
        bad option): calls of code whose file name contains one of ``options.include``, or one of
        ``options.subs`` and none of ``options.exclude``, are recorded. ``metadata``: pairs added to
        the trace's. ``builtins``: also C functions called from recorded code (profile function).
        ``max_events``: the cap (a call is two events; none with a streamed outfile). ``outfile``:
        written live: a name ending in ``.fpt`` streams compressed chunks (docs/format.md, "Streamed
        files"; recording stops when less than ``FPROFILE_MIN_FREE_BYTES``, default 64 MiB, is free
        on its file system), any other name PYME raw text. ``keep_last`` (``("ns", n)`` or
        ``("events", n)``, n positive, no outfile): the flight recorder: only the last window is
        kept; ``snapshot()`` reads it, ``stop()`` returns it. ``child``: record as a child process
        of a recording, into ``<pid>.spool`` in the session directory joined by ``_join_session``
        (docs/processes.md; stop with ``finish_child``). ``ProfilerError`` if recording is on
        already or the outfile (or spool) cannot be written."""
    def snapshot(self) -> Trace:
        """The flight recorder's last window as a ``Trace`` while recording goes on
        (``ProfilerError`` when not recording or without ``keep_last``)."""
    def finish_child(self, exit_status: Optional[int] = None, name: Optional[str] = None) -> None:
        """Stop a child recording (``start(child=...)``): the last events and the end record (with
        ``exit_status`` and the process's ``name``, when given) go to its spool."""
    def stop(self, metadata: Sequence[Tuple[str, str]] = ..., *, load: bool = True) -> Optional[Trace]:
        """Remove the hook and return the trace (``ProfilerError`` if this recorder is not recording);
        ``metadata``: pairs added to the trace's (what is known only at the end). With a streamed
        outfile (``.fpt``) the trace is loaded back from the file; ``load=False`` returns None
        instead (the file is complete either way). Never None otherwise."""
    def flush(self) -> None:
        """While recording to a streamed outfile: have what was recorded so far written to it now
        (waits for the writer, at most 2 s). ``os._exit`` does this first."""
    def stop_raw(self) -> RawRecording:
        """Remove the hook and return the flat events, before tree building."""
    @property
    def active(self) -> bool:
        """True while this recorder records."""
    @property
    def stats(self) -> Optional["RecorderStats"]:
        """Figures of the last stop; None before any stop."""
    @staticmethod
    def is_profiling() -> bool:
        """True while any recorder of this interpreter records."""
    @staticmethod
    def _after_fork_child() -> None:
        """In the child of ``os.fork()``: forget (do not continue) the parent's recording."""
    @staticmethod
    def mechanism(builtins: bool = False) -> str:
        """The hook used on this Python: "PEP 523 eval-frame function", "sys.monitoring" or
        "profile function" (builtins=True)."""

@final
class RecorderWarning:
    """One thing to know about a recording that still worked."""

    @property
    def kind(self) -> str:
        """What happened: ``"cap_reached"``, ``"out_of_memory"``, ``"hook_replaced"`` or
        ``"removal_failed"``."""
    @property
    def message(self) -> str:
        """The message, one line, naming the Python API's options (``max_events=``, ``subs=``)."""

@final
class RecorderStats:
    """Figures of a stopped recording (``Recorder.stats``)."""

    @property
    def events(self) -> int:
        """Events recorded, all threads (a call is two)."""
    @property
    def bytes_held(self) -> int:
        """Bytes the event buffers held (capacity of every chunk)."""
    @property
    def cap_reached(self) -> Optional[int]:
        """The cap on events when it was reached, else None."""
    @property
    def threads(self) -> int:
        """Threads recorded."""
    @property
    def codes(self) -> int:
        """Distinct functions recorded."""
    @property
    def outfile_error(self) -> Optional[str]:
        """What went wrong writing the outfile, or None."""
    @property
    def warnings(self) -> List[RecorderWarning]:
        """What the user should know (the cap was reached first, then the others)."""

@final
class RawRecording:
    """A stopped recording before tree building: the flat events per thread as the hook wrote them."""

    def events(self) -> List[Tuple[int, int, int, str]]:
        """``[(thread_index, t_ns, code_index, "call" | "return")]``, each thread's events in order."""
    def codes(self) -> List[Tuple[str, str, int]]:
        """``[(file, name, first_line)]`` by code index."""
    def threads(self) -> List[Tuple[int, int, List[Tuple[int, str]]]]:
        """``[(os_id, ident, [(t_ns, name), ...])]`` by thread index."""
    def chunk_lengths(self) -> List[List[int]]:
        """Events per buffer chunk, per thread."""
    @property
    def start_ns(self) -> int: ...
    @property
    def stop_ns(self) -> int: ...
    @property
    def metadata(self) -> List[Tuple[str, str]]: ...
    def to_trace(self) -> Trace:
        """Build the Trace (once; ``ProfilerError`` after)."""

# ---------------------------------------------------------------------------------------------------
# the timeline's windows

OVERVIEW_PX: int
"""The overview's width in pixels: the whole run as a window reply, what a windowed timeline
draws first (a file-backed trace's is stored in its index; ``fprofile::window::OVERVIEW_PX``)."""

# ---------------------------------------------------------------------------------------------------
# the JupyterLab extension (fprofile::labext; rust/python/build.rs writes it into the wheel)

LAB_EXTENSION_PATH: str
"""Where the extension sits under the prefix: ``share/jupyter/labextensions/fprofile-jupyter``."""

def lab_extension_files() -> List[Tuple[str, bytes]]:
    """Every file of the extension (path relative to its folder, content) for this version."""

# ---------------------------------------------------------------------------------------------------
# assets

def asset_bundle(host: str) -> str:
    """The timeline as one self-contained ES module (no imports) for ``host``: ``"widget"``,
    ``"viewer"`` or ``"export"``. ValueError for another host."""

def asset_css() -> str:
    """The timeline's stylesheet."""

def asset_source(path: str) -> str:
    """One embedded file of ``js/`` as it is in the source (e.g. ``"hosts/lab.js"``, the
    JupyterLab extension's container). ValueError for a path that is not there."""

def export_html(trace: Trace, title: str, *, encoded: Optional[bytes] = None, summary: Optional[str] = None) -> str:
    """The self-contained HTML page of ``trace``: the timeline, its summary and the data in one
    file that opens from disk with no server and no network. ``title`` is escaped. ``encoded`` /
    ``summary``: ``trace.to_bytes()`` / ``trace.summary_json(overall_only=True)`` if the caller has them already."""
