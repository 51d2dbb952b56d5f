#!/usr/bin/env bash
# Every test, on a fresh machine: installs Chromium (Debian) if missing, makes the virtual
# environments, builds the package, then runs the Rust, JavaScript and Python suites (Python 3.11,
# and the recording, hook and trace suites again on Python 3.13, 3.14 and 3.15; the last two in a
# Debian sid root made once per machine by scripts/debian_pythons.sh; tests/test_wheels.py builds
# the 3.11 and 3.14 wheels with scripts/wheels.sh and installs them where there is no Rust).
# Without root, the 3.14/3.15 suites run in a user namespace with the root read-only
# (scripts/debian_pythons.sh, "Without root"); where that is not possible (or CPython 3.13 is not
# installed) those suites are not run: one NOT RUN line each says which and how to run them, the
# last line names them again, and the command fails for it only in CI (CI=1): a suite that did not
# run never counts as passed.
# Usage: bash scripts/test.sh
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" test
cd "$ROOT"

if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# The Rust-notebook kernel, so that notebooks/rust_trace.ipynb runs in a real evcxr kernel. Built once
# per machine (about 9 minutes on 2 cores) into ~/.cargo/bin; its kernelspec goes into the venv.
if ! command -v evcxr_jupyter >/dev/null; then
  say "building the evcxr Jupyter kernel (once per machine: cargo install evcxr_jupyter --locked)"
  cargo install -q evcxr_jupyter --locked
fi
export JUPYTER_PATH="$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
[ -f "$VENV/share/jupyter/kernels/rust/kernel.json" ] || JUPYTER_PATH="$VENV/share/jupyter" evcxr_jupyter --install >/dev/null

# The suites that run again on every other Python: the hook and what records through it.
SUITE=$(ls tests/test_recording*.py tests/test_hook*.py tests/test_threadprofiler*.py tests/test_trace_api.py tests/test_stream.py tests/test_keep_last.py tests/test_attach.py tests/test_asyncio.py 2>/dev/null)

status=0
not_run=()  # the suites that could not run here (said at the end; a failure only in CI)
say "Style: cargo fmt, cargo clippy, ruff (scripts/lint.sh)"
bash scripts/lint.sh || status=1

say "Rust: cargo test -p fprofile"
cargo test -q -p fprofile || status=1

say "JavaScript: node --test tests/js/"
node --test --test-reporter=spec tests/js/ || status=1

say "Python $("$VENV/bin/python" --version): pytest"
timeout -k 30 1800 "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests || status=1

# CPython 3.13: $FPROFILE_PYTHON313, else pyenv's (its `python3.13` shim fails unless selected), else PATH
PY313=${FPROFILE_PYTHON313:-$(ls "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.13*/bin/python3 2>/dev/null | tail -n 1 || true)}
if [ -z "$PY313" ] && python3.13 -c "" 2>/dev/null; then PY313=$(command -v python3.13); fi
if [ -n "$PY313" ] && [ -x "$PY313" ]; then
  V313=${FPROFILE_VENV313:-$ROOT/.venv-3.13}
  say "Python $("$PY313" --version): recording and trace suites"
  [ -x "$V313/bin/python" ] || "$PY313" -m venv "$V313"
  "$V313/bin/python" -m pip install -q --upgrade pip
  CARGO_TARGET_DIR="$ROOT/target/py313" "$V313/bin/python" -m pip install -q "$ROOT" pytest coverage ipython uvloop
  timeout -k 30 900 "$V313/bin/python" -m pytest -q -p no:cacheprovider $SUITE || status=1
else
  echo "NOT RUN: the Python 3.13 suites ($(echo $SUITE | wc -w) files): CPython 3.13 not found (pyenv's, or python3.13 on PATH); to run them: pyenv install 3.13 (or set FPROFILE_PYTHON313=/path/to/python3.13) and run this again" >&2
  not_run+=("Python 3.13 suites")
fi

# CPython 3.14 and 3.15: Debian's packages in a debootstrap root (cached under /var/cache/fprofile):
# as root (or with passwordless sudo), else in a user namespace with the root read-only; exit 3
# when none of these is possible here (it said why and how to run them, in one line)
say "CPython 3.14 and 3.15 (Debian sid root): recording and trace suites"
rc=0
bash scripts/debian_pythons.sh suites $SUITE || rc=$?
if [ $rc = 3 ]; then not_run+=("Python 3.14 and 3.15 suites"); elif [ $rc != 0 ]; then status=1; fi

if [ ${#not_run[@]} -gt 0 ]; then
  if [ "${CI:-}" = 1 ]; then
    echo "error: CI=1: every suite must run" >&2
    status=1
  fi
fi
if [ $status != 0 ]; then say "some suites FAILED"
elif [ ${#not_run[@]} -gt 0 ]; then
  printf -v joined '%s, ' "${not_run[@]}"
  say "the suites that ran passed; NOT RUN: ${joined%, } (how to run them: the NOT RUN lines above)"
else say "all suites passed"; fi
exit $status
