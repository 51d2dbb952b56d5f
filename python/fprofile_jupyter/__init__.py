"""fprofile_jupyter: every call of the functions you care about, in every thread, on a zoomable timeline.

The successor of PYME's fProfile. Record with ``profile()`` (a context manager and decorator) or the
drop-in ``ThreadProfiler().profile_on(...)``; view inline in Jupyter (``%load_ext fprofile_jupyter``,
``%%fprofile``), in the standalone viewer (``fprofile view``) or as a self-contained HTML file.
"""
try:
    from ._core import FormatError, ProfilerError, Trace, __version__
except ImportError as _error:  # a wheel on another Python than its own: one clear error, not the loader's
    from ._buildcheck import core_import_error

    raise core_import_error(_error) from None
from ._recording import CapReachedWarning, OutfileError, SubsWarning, ThreadProfiler, profile
from ._io import TraceWarning, load
from ._display import show
from ._compare import Comparison, ComparisonRow, compare

__all__ = ["FormatError", "ProfilerError", "OutfileError", "CapReachedWarning", "SubsWarning", "TraceWarning", "Trace", "ThreadProfiler", "profile", "load", "show", "compare", "Comparison", "ComparisonRow", "__version__"]


def __getattr__(name):
    # TimelineWidget (the timeline tied to the kernel: its window read or set from Python) needs
    # anywidget, an optional dependency: imported when asked for, not with the package
    if name == "TimelineWidget":
        from ._widget import TimelineWidget

        return TimelineWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython):  # %load_ext fprofile_jupyter
    from ._magic import load_ipython_extension as _load

    _load(ipython)
