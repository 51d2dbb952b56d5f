#!/usr/bin/env bash
# The style checks, one command: rustfmt and clippy (warnings are errors) on the Rust workspace,
# ruff on the Python code and tests, the TypeScript checker on the `// @ts-check` files of js/
# (tsc from package.json's devDependencies, installed by `npm ci` into node_modules/). Run by
# scripts/test.sh; alone: bash scripts/lint.sh (needs the .venv that bootstrap.sh makes, for ruff
# and for the Python the binding builds against, and node with npm).
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
echo "lint: tsc (js/: the files with // @ts-check)" >&2
if command -v npm >/dev/null; then
  # npm ci when node_modules is missing or older than the lock file
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2 || status=1
  fi
  npm run -s typecheck || status=1
else
  echo "lint: npm (node 20) is needed for the type check of js/" >&2
  status=1
fi
exit $status
