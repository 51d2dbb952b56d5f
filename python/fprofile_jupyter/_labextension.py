"""The prebuilt JupyterLab / Notebook 7 extension ``fprofile-jupyter``: its files, from the
embedded timeline assets.

The extension renders the mime type of a displayed trace (``TRACE_MIME`` in ``_display.py``)
from the notebook output alone, so a saved notebook reopens with its timelines with no kernel and
no widget state (``js/hosts/lab.js`` says how). pip installs it with the package into
``<prefix>/share/jupyter/labextensions/fprofile-jupyter/`` (the wheel's data folder
``python/fprofile_jupyter.data``, committed, so a clone needs no Node to build or install).

Its files are derived from ``js/``: ``static/timeline.<hash>.js`` is the widget's bundle (the
text of ``TimelineWidget._esm``), ``timeline.<hash>.css`` the timeline's stylesheet,
``remoteEntry.<hash>.js`` the container ``js/hosts/lab.js`` with that hash filled in. After a
change in ``js/``, write them again (``tests/test_reopen.py`` fails until then)::

    python -m fprofile_jupyter._labextension python/fprofile_jupyter.data/data/share/jupyter/labextensions/fprofile-jupyter
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from . import _core

NAME = "fprofile-jupyter"
#: Where the extension sits in the wheel's data folder (and under the prefix once installed).
INSTALL_PATH = f"share/jupyter/labextensions/{NAME}"
_HASH_LINE = 'const LAB_ASSET_HASH = "dev";'


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fprofile-jupyter")
    except PackageNotFoundError:  # a checkout on sys.path, not installed
        return "0.0.0"


def files() -> dict[str, bytes]:
    """Every file of the extension, by path relative to its folder."""
    module = _core.asset_bundle("widget")
    css = _core.asset_css()
    entry = _core.asset_source("hosts/lab.js")
    if entry.count(_HASH_LINE) != 1:
        raise RuntimeError(f"js/hosts/lab.js must hold the line {_HASH_LINE!r} exactly once")
    digest = hashlib.sha256("\0".join((module, css, entry)).encode()).hexdigest()[:16]
    entry = entry.replace(_HASH_LINE, f'const LAB_ASSET_HASH = "{digest}";')
    package = {
        "name": NAME,
        "version": _version(),
        "description": "Draws fprofile-jupyter timelines from the notebook output, with or without a kernel.",
        "license": "MIT",
        "jupyterlab": {"_build": {"load": f"static/remoteEntry.{digest}.js", "mimeExtension": "./mimeExtension"}},
    }
    return {
        "package.json": (json.dumps(package, indent=2) + "\n").encode(),
        f"static/remoteEntry.{digest}.js": entry.encode(),
        f"static/timeline.{digest}.js": module.encode(),
        f"static/timeline.{digest}.css": css.encode(),
    }


def write(folder: Path) -> list[str]:
    """Write the extension into ``folder`` (what was in its ``static/`` before is removed)."""
    folder = Path(folder)
    shutil.rmtree(folder / "static", ignore_errors=True)
    out = files()
    for rel, data in out.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return sorted(out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m fprofile_jupyter._labextension FOLDER")
    for name in write(Path(sys.argv[1])):
        print(name)
