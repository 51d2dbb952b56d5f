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
from . import _core  # noqa: F401  (bound here too: in a child process, the .pth line loaded it before the package)
from ._recording import CapReachedWarning, OutfileError, SubsWarning, ThreadProfiler, profile
from ._io import TraceWarning, load

__all__ = ["FormatError", "ProfilerError", "OutfileError", "CapReachedWarning", "SubsWarning", "TraceWarning", "Trace", "ThreadProfiler", "profile", "load", "show", "compare", "Comparison", "ComparisonRow", "start", "stop", "status", "__version__"]


# Imported when first asked for, not with the package: every child process of a recording imports
# the package at start (processes=True), so what it imports is paid once per process.
_LAZY = {"show": "_show", "start": "_ongoing", "stop": "_ongoing", "status": "_ongoing", "compare": "_compare", "Comparison": "_compare", "ComparisonRow": "_compare",
         # the timeline tied to the kernel (its window read or set from Python) needs anywidget, an
         # optional dependency
         "TimelineWidget": "_widget"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython):  # %load_ext fprofile_jupyter
    from ._magic import load_ipython_extension as _load

    _load(ipython)
