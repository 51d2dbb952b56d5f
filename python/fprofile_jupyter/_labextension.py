"""The prebuilt JupyterLab / Notebook 7 extension ``fprofile-jupyter``: its files, made from the
embedded timeline assets.

The extension renders the mime type of a displayed trace (``TRACE_MIME`` in ``_display.py``)
from the notebook output alone, so a saved notebook reopens with its timelines with no kernel and
no widget state (``js/hosts/lab.js`` says how). pip installs it with the package into
``<prefix>/share/jupyter/labextensions/fprofile-jupyter/``: the package build writes it into the
wheel's data folder (``rust/python/build.rs``, ``fprofile::labext``; not committed, so a clone
holds no copy of ``js/`` to keep in step, and a build needs no Node).

Its files (``fprofile::labext``): ``static/timeline.<hash>.js`` is the widget's bundle (the text
of ``TimelineWidget._esm``), ``timeline.<hash>.css`` the timeline's stylesheet,
``remoteEntry.<hash>.js`` the container ``js/hosts/lab.js`` with that hash filled in, and
``package.json``. ``tests/test_reopen.py`` checks that pip installed exactly these.
"""
from __future__ import annotations

from . import _core

NAME = "fprofile-jupyter"
#: Where the extension sits in the wheel's data folder (and under the prefix once installed).
INSTALL_PATH: str = _core.LAB_EXTENSION_PATH


def files() -> dict[str, bytes]:
    """Every file of the extension, by path relative to its folder."""
    return dict(_core.lab_extension_files())
