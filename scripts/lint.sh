#!/usr/bin/env bash
# The style checks, one command: rustfmt and clippy (warnings are errors) on the Rust workspace,
# ruff on the Python code and tests. Run by scripts/test.sh; alone: bash scripts/lint.sh
# (needs the .venv that bootstrap.sh makes, for ruff and for the Python the binding builds against).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${FPROFILE_VENV:-$ROOT/.venv}
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
status=0
echo "lint: cargo fmt --check" >&2
cargo fmt --all -- --check >&2 || { echo "lint: run 'cargo fmt --all'" >&2; status=1; }
echo "lint: cargo clippy -D warnings" >&2
PYO3_PYTHON="$VENV/bin/python" cargo clippy -q --workspace --all-targets -- -D warnings || status=1
echo "lint: ruff check" >&2
"$VENV/bin/ruff" check -q python tests benchmarks || status=1
exit $status
