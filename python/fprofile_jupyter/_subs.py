"""What a recording records: the ``subs`` policy. The defaults (the code being run, not the
libraries it uses: :func:`default_filter`), ``+name`` entries added to them (:func:`resolve_subs`),
``--subs`` values (:func:`split_subs`), the user's ``subs`` checked (:func:`check_subs`) and
resolved into the filter's three lists when a recording starts (:func:`resolve_filter`), and the
folders file names are shown relative to (:func:`path_roots`, :func:`cell_labels`), and the one
warning naming the entries that matched no recorded call (:func:`warn_unmatched`).

Rules: this package's own files are never recorded (:data:`OWN_DIR` is always excluded); the
defaults depend on the running program, so they are resolved when recording starts, not when a
``profile`` is made.
"""
from __future__ import annotations

import functools
import json
import os
import sys
import sysconfig
import warnings
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

__all__ = ["SubsWarning", "warn_unmatched", "Filter", "default_filter", "default_subs", "resolve_subs", "split_subs", "check_subs", "resolve_filter",
           "user_entries", "DefaultsPlus", "path_roots", "cell_labels", "OWN_DIR"]

#: This package's own folder: its files are never recorded.
OWN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def _ipython_cell_subs() -> Optional[List[str]]:
    """The cells of the running IPython/Jupyter session, or None outside IPython."""
    ip_mod = sys.modules.get("IPython")
    if ip_mod is None:
        return None
    try:
        shell = ip_mod.get_ipython()
    except Exception:
        return None
    if shell is None:
        return None
    subs: List[str] = []
    compiler = getattr(shell, "compile", None)
    name = ""
    if compiler is not None and hasattr(compiler, "get_code_name"):
        try:
            name = str(compiler.get_code_name("pass\n", "pass\n", 0))
        except Exception:
            name = ""
    if name and os.path.isabs(name):
        subs.append(os.path.join(os.path.dirname(name), ""))  # ipykernel: <tmp>/ipykernel_<pid>/
    elif name.startswith("<"):
        cut = name.find("-", name.find("-") + 1)  # "<ipython-input-" of "<ipython-input-3-abc>"
        subs.append(name[: cut + 1] if cut > 0 else name)
    else:
        subs.append("<ipython-input-")
    return subs


class Filter(NamedTuple):
    """What a recording records: code whose file name contains one of ``include``, or one of
    ``subs`` and none of ``exclude``. ``profile(subs=...)`` takes one in place of a list of strings."""

    subs: List[str]
    exclude: List[str]
    #: Recorded even when they match ``exclude`` (the ``+name`` entries: defaults plus these).
    include: List[str] = []


def default_filter(main_file: Optional[str] = None) -> Filter:
    """What is recorded when no ``subs`` are given: the code being run, not the libraries it uses.

    ``main_file``: the program's main file (``fprofile run`` passes the script, or the module's
    file for ``-m``); None: the running program's ``__main__``.

    - In IPython / Jupyter (``main_file`` None): this kernel's cells (ipykernel compiles each cell to
      ``<tmp>/ipykernel_<pid>/<hash>.py``; terminal IPython names them ``<ipython-input-N-...>``)
      plus the notebook's directory (the kernel's working directory), so that modules next to the
      notebook are recorded too.
    - In a script (``python script.py`` or ``python -m pkg.mod``): the directory of the main file,
      so the script and the modules beside it are recorded.
    - Otherwise (the plain REPL, ``python -c``): ``<stdin>`` / ``<string>`` and the working directory.

    Installed packages (``site-packages``, ``dist-packages``) and the standard library are excluded,
    even when they lie inside such a directory, unless the main file is itself part of one (``python
    -m json.tool``, ``python -m pip``): then its own package is what is recorded. This package's own
    files are never recorded.
    """
    if main_file is None:
        cells = _ipython_cell_subs()
        if cells is not None:
            return Filter(cells + [os.path.join(os.getcwd(), "")], [OWN_DIR] + _default_excludes())
        main = sys.modules.get("__main__")
        found = getattr(main, "__file__", None)
        main_file = found if isinstance(found, str) and found else None
    if main_file is None:
        return Filter(["<stdin>", "<string>", os.path.join(os.getcwd(), "")], [OWN_DIR] + _default_excludes())
    folder = os.path.join(os.path.dirname(os.path.abspath(main_file)), "")
    if _is_library(main_file):
        return Filter([folder], [OWN_DIR])
    return Filter([folder], [OWN_DIR] + _default_excludes())


def default_subs() -> List[str]:
    """The ``subs`` of :func:`default_filter` for the running program."""
    return default_filter().subs


def resolve_subs(entries: Sequence[str], main_file: Optional[str] = None) -> Union[List[str], Filter]:
    """``subs`` as the user wrote them, resolved: plain entries replace the defaults; when any entry
    starts with ``+`` (``+urllib``: "the defaults plus urllib"), every entry is added to
    :func:`default_filter` (of ``main_file``) and recorded even where the defaults exclude (the
    standard library, installed packages). Spaces around entries are dropped.

    Raises ValueError for an empty ``+`` or one that would also match this package's own files
    (which are never recorded)."""
    items = [e.strip() for e in entries]
    if not any(e.startswith("+") for e in items):
        return items
    extra = []
    for e in items:
        name = e[1:].strip() if e.startswith("+") else e
        if not name:
            raise ValueError("a '+' in subs needs a part of a file name after it, e.g. +urllib "
                             "(the defaults plus urllib)")
        if name in OWN_DIR:
            raise ValueError(f"subs entry {e!r} would also match fprofile_jupyter's own files, which are never "
                             f"recorded: name the package or folder, e.g. +site-packages/numpy/")
        extra.append(name)
    base = default_filter(main_file)
    return Filter(base.subs, base.exclude, list(base.include) + extra)


def user_entries(subs: Union[List[str], Filter, "DefaultsPlus", None]) -> List[str]:
    """The entries the user wrote (checked for matching nothing after the run): none for the defaults."""
    if isinstance(subs, DefaultsPlus):
        return [e.lstrip("+").strip() for e in subs.entries]
    if isinstance(subs, list):
        return list(subs)
    return []


class DefaultsPlus(NamedTuple):
    """``subs`` with a ``+`` entry, resolved against the defaults when recording starts (the defaults
    depend on the running program)."""

    entries: List[str]


def split_subs(values: Iterable[str]) -> List[str]:
    """``--subs`` values as the commands take them: each may hold several strings separated by
    commas; spaces around them are dropped, and so are empty ones. Raises ValueError when none is
    left (an empty ``--subs`` is a mistake, not a request for the defaults)."""
    out = [part.strip() for v in values for part in v.split(",")]
    out = [part for part in out if part]
    if not out:
        raise ValueError("--subs needs at least one non-empty string (a part of the file names to record)")
    return out


def _is_library(path: str) -> bool:
    """Whether ``path`` lies in the standard library or an installed package."""
    p = os.path.abspath(path)
    if any(part in p.split(os.sep) for part in ("site-packages", "dist-packages")):
        return True
    for key in ("stdlib", "platstdlib"):
        d = _interpreter_paths().get(key)
        if d and p.startswith(os.path.join(os.path.abspath(d), "")):
            return True
    return False


def cell_labels() -> List[Tuple[str, str]]:
    """The notebook cells this kernel has run, as ("paths.cells", JSON [[file, "In [N]"], ...]):
    ipykernel compiles each cell to a temporary file; views show its label instead (paths.rs)."""
    ip_mod = sys.modules.get("IPython")
    if ip_mod is None:
        return []
    try:
        shell = ip_mod.get_ipython()
        names = dict(getattr(getattr(shell, "compile", None), "_filename_map", None) or {})
    except Exception:
        return []
    cells = [[str(f), f"In [{n}]"] for f, n in names.items() if isinstance(n, int) and not str(f).endswith(("/", "\\"))]
    return [("paths.cells", json.dumps(cells))] if cells else []


def path_roots() -> List[Tuple[str, str]]:
    """The folders file names are shown relative to (metadata "paths.roots", rust/core/src/paths.rs):
    the working directory, the installed-packages folders (no label: ``numpy/core/x.py``) and the
    standard library (``stdlib/json/decoder.py``)."""
    return [(os.path.join(os.getcwd(), ""), "")] + list(_install_roots())


@functools.lru_cache(maxsize=1)
def _interpreter_paths() -> Dict[str, str]:
    """``sysconfig.get_paths()``, looked up once per process: the interpreter's folders do not
    change, and it expands its install schemes anew on every call (about 0.25 ms each: four calls
    were most of what starting a recording cost)."""
    return dict(sysconfig.get_paths())


@functools.lru_cache(maxsize=1)
def _install_roots() -> Tuple[Tuple[str, str], ...]:
    """:func:`path_roots` but the working directory (the same for the whole process)."""
    import site

    paths = _interpreter_paths()
    roots: List[Tuple[str, str]] = []
    packages = set()
    for key in ("purelib", "platlib"):
        p = paths.get(key)
        if p:
            packages.add(p)
    try:
        packages.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    user = getattr(site, "USER_SITE", None)
    if isinstance(user, str):
        packages.add(user)
    for p in sorted(packages):
        roots.append((os.path.join(os.path.abspath(p), ""), ""))
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p and (os.path.join(os.path.abspath(p), ""), "stdlib/") not in roots:
            roots.append((os.path.join(os.path.abspath(p), ""), "stdlib/"))
    return tuple(roots)


def _default_excludes() -> List[str]:
    out = [os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep]
    for key in ("stdlib", "platstdlib"):
        p = _interpreter_paths().get(key)
        if p:
            out.append(os.path.join(p, ""))
    return out


def check_subs(subs: Any) -> Optional[Union[List[str], Filter, DefaultsPlus]]:
    if subs is None:
        return None
    if isinstance(subs, Filter):
        return Filter(_check_list(subs.subs), _check_list(subs.exclude), _check_list(subs.include))
    given = _check_list(subs)
    items = [s.strip() for s in given]
    items = [s for s in items if s]
    if given and not items:  # (an empty list records nothing, as asked)
        raise ValueError("subs must hold at least one non-empty string (a part of the file names to record); "
                         "pass subs=None for the defaults")
    if any(s.startswith("+") for s in items):
        resolve_subs(items)  # the errors now, not when recording starts
        return DefaultsPlus(items)
    return items


def _check_list(subs: Any) -> List[str]:
    if isinstance(subs, (str, bytes)):
        raise TypeError(
            f"subs must be a list of strings, not a single {type(subs).__name__}: "
            f"write subs=[{subs!r}] (each string is matched as a part of the file names to record)")
    try:
        items = list(subs)
    except TypeError:
        raise TypeError(f"subs must be a list of strings (parts of file names to record), "
                        f"not {type(subs).__name__}") from None
    for s in items:
        if not isinstance(s, str):
            raise TypeError(f"subs must contain only strings; got {s!r} ({type(s).__name__})")
    return items


def resolve_filter(subs: Optional[Union[List[str], Filter, DefaultsPlus]]) -> Tuple[Filter, List[str]]:
    """``subs`` as :func:`check_subs` returned them, resolved now (the defaults of the running
    program for None and ``+name`` entries): the filter (this package's own folder always
    excluded) and the entries the user named (warned about after the run when they matched
    nothing; the ``+name`` ones for a filter with includes)."""
    named = user_entries(subs)
    if subs is None:
        subs = default_filter()
    if isinstance(subs, DefaultsPlus):
        subs = resolve_subs(subs.entries)
    if isinstance(subs, Filter):
        exclude = list(subs.exclude) + ([] if OWN_DIR in subs.exclude else [OWN_DIR])
        if not named and subs.include:
            named = list(subs.include)
        return Filter(list(subs.subs), exclude, list(subs.include)), named
    return Filter(list(subs), [OWN_DIR], []), named


class SubsWarning(UserWarning):
    """Entries of ``subs`` that matched no recorded call (a misspelling, a package that was not
    used, a library excluded by the defaults): issued once, after the recording, naming them."""


def warn_unmatched(entries: List[str], trace: Any, stats: Any, stacklevel: int) -> None:
    """One SubsWarning naming the entries no recorded call's file name contains."""
    if not entries:
        return
    files = {row.file for row in trace.summary()} if len(trace) else set()
    missing = [e for e in entries if not any(e in f for f in files)]
    if not missing:
        return
    listed = ", ".join(repr(e) for e in missing)
    if len(missing) == 1:
        what = f"the subs entry {listed} matched no recorded call"
    else:
        what = f"the subs entries {listed} matched no recorded call"
    hint = ("check the spelling (each entry is a part of a file name, such as 'mypkg/' or 'urllib'); "
            "a library excluded by the defaults is recorded with +name (the defaults plus name)")
    w = SubsWarning(f"fprofile: {what}: {hint}")
    w.kind = "subs_unmatched"  # type: ignore[attr-defined]
    w.stats = stats  # type: ignore[attr-defined]
    warnings.warn(w, stacklevel=stacklevel + 1)
