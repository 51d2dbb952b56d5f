"""Why the compiled part (``_core``) did not import, in one sentence a user can act on.

A wheel holds ``_core`` built for one CPython version (its file name says which, e.g.
``_core.cpython-311-x86_64-linux-gnu.so``). pip refuses a wheel whose tag does not match the running
Python, but a forced install, a copied site-packages or a renamed file can still put it in front of
another version: Python then either does not find ``_core`` at all or fails on a missing symbol.
``_core`` itself also refuses at start when the running version is not the one it was built for.
"""
from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig

_TAG = re.compile(r"^_core\.cpython-(\d)(\d+)(t?)-")


def _running() -> str:
    free = "free-threaded " if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    return f"{free}{platform.python_implementation()} {platform.python_version()}"


def _built_for(name: str) -> str | None:
    m = _TAG.match(name)
    if m is None:
        return None
    return f"{'free-threaded ' if m.group(3) else ''}CPython {m.group(1)}.{m.group(2)}"


def core_import_error(error: ImportError) -> ImportError:
    """The ImportError to raise instead of ``error`` (raised while importing ``fprofile_jupyter._core``)."""
    text = str(error)
    if text.startswith("fprofile_jupyter"):  # _core's own check already said it
        return ImportError(text)
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        cores = sorted(f for f in os.listdir(here) if f.startswith("_core.") and not f.endswith((".py", ".pyi", ".pyc")))
    except OSError:
        cores = []
    fix = (
        "A wheel runs only on the Python it was built for: install the one for this Python "
        "(pip install --force-reinstall fprofile-jupyter, or the wheel whose name has "
        f"cp{sys.version_info[0]}{sys.version_info[1]}), or build from source with a Rust toolchain "
        "(pip install --no-binary fprofile-jupyter fprofile-jupyter)."
    )
    if not cores:
        what = f"this installation ({here}) holds no compiled part (_core)"
    else:
        built = [f"{f} (built for {_built_for(f)})" if _built_for(f) else f for f in cores]
        what = f"this installation holds {', '.join(built)}, and this is {_running()} (the loader said: {text})"
    return ImportError(f"fprofile_jupyter cannot load its compiled part: {what}. {fix}")
