"""The wheels of scripts/wheels.sh, installed the way a user without Rust installs them.

`scripts/wheels.sh 3.11 3.14` builds two of the seven wheels (the script's other versions go
through the same two paths: pyenv's interpreters, and the Debian root's sysconfig), checked by
auditwheel inside the script. Each is installed into a fresh virtual environment whose PATH has no
cargo or rustc, and `tests/support/wheel_smoke.py` records, saves and reloads a trace with it: 3.11
from pyenv on this machine, 3.14 inside the Debian sid root (scripts/debian_pythons.sh wheel-test).
FPROFILE_WHEEL_VERSIONS="3.9 3.10 3.11 3.12 3.13 3.14 3.15" does that for all seven wheels (9 passed
in 36 s once built). A wheel on a Python it was not built for is one clear ImportError, never a crash:
tried with the 3.11 wheel on CPython 3.13 (the interpreter scripts/test.sh already requires: pyenv's,
or $FPROFILE_PYTHON313) and with the 3.14 wheel on 3.15 in the Debian root; neither ever skips.

Measured on the 2 shared cores: 20 s once the cargo folders exist (target/wheels/cp311, cp314);
1 min 35 s the first time (each of the two versions compiles once).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "tests" / "support" / "wheel_smoke.py"
# The wheels recorded with: 3.11 and 3.14 by default; FPROFILE_WHEEL_VERSIONS="3.9 3.10 3.11 3.12 3.13
# 3.14 3.15" for all seven (measured: about 10 s more per version once built).
SMOKED = tuple(os.environ.get("FPROFILE_WHEEL_VERSIONS", "3.11 3.14").split())
VERSIONS = tuple(sorted(set(SMOKED) | {"3.11", "3.14"}, key=lambda v: int(v.split(".")[1])))  # the mismatch tests use these two
IN_ROOT = ("3.14", "3.15")  # the Debian root's Pythons; the others are pyenv's
DEBIAN_ROOT = Path(os.environ.get("FPROFILE_CACHE", "/var/cache/fprofile")) / "debian-sid"


def pyenv_python(version: str) -> str | None:
    base = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(base.glob(f"{version}.[0-9]*/bin/python3"), key=lambda p: [int(x) for x in p.parent.parent.name.split(".")[:3] if x.isdigit()])
    return str(found[-1]) if found else None


def no_rust_env(venv: Path) -> dict[str, str]:
    """The environment of a machine without Rust: the venv, then the system's bin folders."""
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    for tool in ("cargo", "rustc"):
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} in {env['PATH']}"
    return env


def fresh_venv(python: str, where: Path) -> tuple[Path, dict[str, str]]:
    subprocess.run([python, "-m", "venv", str(where)], check=True, timeout=300)
    return where, no_rust_env(where)


def _sudo() -> bool:
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


def can_chroot() -> bool:
    """Root, passwordless sudo, or an ordinary user where scripts/debian_pythons.sh runs without root
    (a user namespace, the Debian root present: its "Without root")."""
    if os.geteuid() == 0 or _sudo():
        return True
    return subprocess.run(["bash", str(ROOT / "scripts" / "debian_pythons.sh"), "rootless-check"],
                          capture_output=True).returncode == 0


def debian_pythons(*args: str) -> list:
    """The command running scripts/debian_pythons.sh with ``args``: through sudo where that is how
    this user gets root, else as it is (as root, or without root)."""
    cmd = ["bash", str(ROOT / "scripts" / "debian_pythons.sh"), *args]
    if os.geteuid() != 0 and _sudo():
        cmd = ["sudo", "-n", "env", f"PATH={os.environ['PATH']}"] + cmd
    return cmd


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """scripts/wheels.sh for VERSIONS into a temporary dist folder: {version: wheel}."""
    dist = tmp_path_factory.mktemp("dist")
    # 3.14 needs the Debian root: made by wheels.sh when it can (root), else only 3.11 (the 3.14 tests skip)
    have_root = can_chroot() or DEBIAN_ROOT.joinpath(".fprofile-root-complete").exists()
    versions = tuple(v for v in VERSIONS if have_root or v not in IN_ROOT)
    r = subprocess.run(["bash", str(ROOT / "scripts" / "wheels.sh"), *versions], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, FPROFILE_DIST=str(dist)), timeout=1500)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    found = {v: list(dist.glob(f"fprofile_jupyter-*-cp{v.replace('.', '')}-cp{v.replace('.', '')}-*.whl")) for v in versions}
    assert all(len(w) == 1 for w in found.values()), (found, sorted(os.listdir(dist)))
    for w in found.values():
        assert "manylinux_2_17_x86_64" in w[0].name, w[0].name
    assert len(list(dist.glob("fprofile_jupyter-*.tar.gz"))) == 1, sorted(os.listdir(dist))
    return {v: w[0] for v, w in found.items()}


@pytest.mark.parametrize("version", SMOKED)
def test_wheel_records_without_rust(wheels, tmp_path, version):
    if version in IN_ROOT:  # inside the Debian root: a fresh venv there, no Rust toolchain mounted
        if not can_chroot():
            pytest.skip("the Debian root needs root, passwordless sudo or a user namespace (scripts/debian_pythons.sh rootless-check)")
        cmd = debian_pythons("wheel-test", str(SMOKE), str(wheels[version]))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0 and f"ok: CPython {version}." in r.stdout, r.stdout + r.stderr[-4000:]
        return
    python = pyenv_python(version) or (sys.executable if f"{sys.version_info[0]}.{sys.version_info[1]}" == version else None)
    assert python, f"CPython {version} not found (pyenv)"
    venv, env = fresh_venv(python, tmp_path / "venv")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheels[version])],
                   env=env, check=True, timeout=300)
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run([str(venv / "bin" / "python"), str(SMOKE), str(work)], cwd=work, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith(f"ok: CPython {version}."), r.stdout + r.stderr
    assert (work / "smoke.fpt").stat().st_size > 0


def test_every_wheel_holds_the_jupyterlab_extension(wheels):
    """The package build writes the JupyterLab extension from js/ (rust/python/build.rs; git holds
    no copy of it) into each wheel's data folder: the same four files in every wheel, the bundle
    the timeline's, package.json naming the container that is there."""
    seen = None
    for version, whl in wheels.items():
        with zipfile.ZipFile(whl) as z:
            found = [n for n in z.namelist() if n.endswith("/labextensions/fprofile-jupyter/package.json")]
            assert len(found) == 1, f"the {version} wheel holds no JupyterLab extension (rust/python/build.rs writes it)"
            prefix = found[0][:-len("package.json")]
            assert ".data/data/share/jupyter/labextensions/fprofile-jupyter/" in prefix, prefix
            files = {n[len(prefix):]: z.read(n) for n in z.namelist() if n.startswith(prefix)}
        assert len(files) == 4, (version, sorted(files))
        package = json.loads(files["package.json"])
        assert package["jupyterlab"]["_build"]["load"] in files, (version, sorted(files))
        bundle = next(k for k in files if k.startswith("static/timeline.") and k.endswith(".js"))
        assert files[bundle].startswith(b"// fprofile-jupyter "), files[bundle][:80]
        assert b"function createTimeline(" in files[bundle]
        assert seen is None or files == seen, f"the {version} wheel's extension differs"
        seen = files


def _import(venv: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import fprofile_jupyter"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _one_clear_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 1 (a Python exception, not a signal), and one ImportError of ours as the last line."""
    assert r.returncode == 1, (r.returncode, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fprofile_jupyter cannot load its compiled part"), r.stderr
    assert r.stderr.count("Traceback") == 1, r.stderr
    for n in needles:
        assert n in last, (n, last)
    return last


def python313() -> str | None:
    """CPython 3.13 as scripts/test.sh finds it: $FPROFILE_PYTHON313, else pyenv's, else PATH's."""
    return os.environ.get("FPROFILE_PYTHON313") or pyenv_python("3.13") or shutil.which("python3.13")


def test_wheel_on_another_python_is_one_clear_error(wheels, tmp_path):
    """The 3.11 wheel on 3.13 (which scripts/test.sh needs anyway for its 3.13 suites: never a skip)."""
    python = python313()
    assert python, "CPython 3.13 not found (pyenv, FPROFILE_PYTHON313 or PATH): scripts/test.sh needs it too"
    venv, env = fresh_venv(python, tmp_path / "venv")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall"]
    # pip itself refuses the 3.11 wheel on 3.13 (its tag)
    r = subprocess.run(pip + [str(wheels["3.11"])], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "is not a supported wheel on this platform" in r.stderr, r.stderr
    # forced (the same wheel renamed to a cp313 tag): installed, then one clear error at import
    forced = tmp_path / wheels["3.11"].name.replace("cp311-cp311", "cp313-cp313")
    shutil.copy(wheels["3.11"], forced)
    subprocess.run(pip + [str(forced)], env=env, check=True, timeout=300)
    _one_clear_error(_import(venv, env, tmp_path), "built for CPython 3.11", "this is CPython 3.13", "cp313")
    # the module renamed so that 3.13's loader takes it (`_core.so`): still one clear error
    pkg = next((venv / "lib").glob("python3.13/site-packages/fprofile_jupyter"))
    (core,) = pkg.glob("_core.cpython-311-*.so")
    core.rename(pkg / "_core.so")
    _one_clear_error(_import(venv, env, tmp_path), "_core.so", "this is CPython 3.13")


def test_wheel_for_314_refuses_to_start_on_315(wheels, tmp_path):
    """The 3.14 module, loadable by 3.15 (the symbols it needs are there), refuses in its own init."""
    assert can_chroot(), "the Debian root needs root, passwordless sudo or a user namespace (debian_pythons.sh rootless-check)"
    # a wheel whose module 3.15 loads: the 3.14 wheel, its tags and file name changed to 3.15's
    forced = tmp_path / wheels["3.14"].name.replace("cp314-cp314", "cp315-cp315")
    with zipfile.ZipFile(wheels["3.14"]) as src, zipfile.ZipFile(forced, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            name = item.filename.replace("cpython-314", "cpython-315")
            if name.endswith(".dist-info/WHEEL"):
                data = data.replace(b"cp314", b"cp315")
            if name.endswith(".dist-info/RECORD"):
                data = data.replace(b"cpython-314", b"cpython-315")
            dst.writestr(name, data)
    script = tmp_path / "expect_refusal.py"
    script.write_text(
        "import sys\n"
        "try:\n"
        "    import fprofile_jupyter\n"
        "except ImportError as e:\n"
        "    msg = str(e)\n"
        "    assert msg.startswith('fprofile_jupyter cannot load its compiled part: it was built for CPython 3.14, and this is CPython 3.15'), msg\n"
        "    print('ok: CPython', sys.version.split()[0], 'refused it:', msg)\n"
        "else:\n"
        "    raise SystemExit('imported the 3.14 module on 3.15')\n", encoding="utf-8")
    cmd = debian_pythons("wheel-test", str(script), str(forced))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and "ok: CPython 3.15" in r.stdout, r.stdout + r.stderr[-4000:]
