"""The hand-written stubs of the extension (python/fprofile_jupyter/_core.pyi) match the runtime:
``mypy.stubtest`` reports every name, signature or class that differs."""
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("mypy")

# `__all__` of a pyo3 module lists what was registered, in registration order; the stub does not
# repeat it (nobody star-imports the private extension module).
ALLOWLIST = textwrap.dedent(
    """
    fprofile_jupyter._core.__all__
    """
)


def test_core_stubs_match_runtime(tmp_path):
    import fprofile_jupyter

    allow = tmp_path / "allowlist.txt"
    allow.write_text(ALLOWLIST)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(fprofile_jupyter.__file__)))
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\ncache_dir = {tmp_path / 'mypy-cache'}\n")
    env = dict(os.environ)
    # a source checkout needs its python/ folder on mypy's path; an installed package is found
    # through site-packages, which mypy refuses to see in MYPYPATH
    import site

    if pkg_root not in site.getsitepackages() + [site.getusersitepackages()]:
        env["MYPYPATH"] = pkg_root
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fprofile_jupyter._core", "--allowlist", str(allow),
         "--mypy-config-file", str(config)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stub_is_shipped_with_py_typed():
    import fprofile_jupyter

    pkg = os.path.dirname(os.path.abspath(fprofile_jupyter.__file__))
    assert os.path.isfile(os.path.join(pkg, "_core.pyi"))
    assert os.path.isfile(os.path.join(pkg, "py.typed"))
