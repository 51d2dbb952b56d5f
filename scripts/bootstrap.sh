# Sourced by demo.sh and test.sh: makes the virtual environment and installs the package into it.
# Usage: . scripts/bootstrap.sh [extra]   (extra: "" for the package alone, "test" for the test extra)
# Environment: FPROFILE_VENV (default .venv), FPROFILE_PYTHON (default python3.11 or python3).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${FPROFILE_VENV:-$ROOT/.venv}
PY=${FPROFILE_PYTHON:-$(command -v python3.11 || command -v python3)}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"  # rustup's cargo and what `cargo install` puts there
command -v cargo >/dev/null || { echo "error: cargo (Rust) is needed to build the extension: install rustup" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment $VENV ($("$PY" --version))"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
# js/dist/fragment.min.js is generated and committed (.gitattributes): a merge keeps this side's
# copy instead of a conflict; tests/js/minified.test.mjs then says whether to run `npm run build`
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" config merge.fprofile-generated.name "generated file: keep this side's copy, then npm run build"
  git -C "$ROOT" config merge.fprofile-generated.driver true
fi
extra=${1:-}
spec="$ROOT"
[ -n "$extra" ] && spec="$ROOT[$extra]"
say "building and installing fprofile-jupyter${extra:+ [$extra]} (pip install .)"
"$VENV/bin/python" -m pip install -q "$spec"
say "installed fprofile-jupyter $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("fprofile-jupyter"))') into $VENV"
