#!/usr/bin/env bash
# Runs benchmarks/bench_recording.py on every Python the project is tested on and writes the table
# (one column per Python) into benchmarks/README.md and the full results into
# benchmarks/results/recording.md.
#
#   bash benchmarks/bench_all_versions.sh [ARG...]     ARG...: passed to bench_recording.py
#                                                      (default: --rounds 7)
#
# 3.11: the venv of scripts/test.sh ($FPROFILE_VENV, default .venv; `bash scripts/bootstrap.sh test`
#       makes it). 3.13: $FPROFILE_VENV313 (default .venv-3.13, made as scripts/test.sh makes it).
#       Both get the current package (pip install .) and the peers (viztracer; trace0 on 3.13+).
# 3.14, 3.15: the Debian sid root of scripts/debian_pythons.sh (`bench`: a venv of their own there,
#       with the peers; needs root or passwordless sudo, like the tests).
# Environment: FPROFILE_BENCH_PYTHONS (default "3.11 3.13 3.14 3.15"): the versions to run; the
# tables are written from every benchmarks/out/recording-*.json present (a version not rerun keeps
# its last figures: delete benchmarks/out/ to start afresh). FPROFILE_BENCH_NOTE: a paragraph on
# the conditions, written under the tables.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT="$ROOT/benchmarks/out"
VERSIONS=${FPROFILE_BENCH_PYTHONS:-3.11 3.13 3.14 3.15}
VENV=${FPROFILE_VENV:-$ROOT/.venv}
V313=${FPROFILE_VENV313:-$ROOT/.venv-3.13}
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(--rounds 7)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
mkdir -p "$OUT"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# $1 venv, $2 version, $3 target dir: the current package and the peers, then the benchmark.
host_one() {
  local venv=$1 v=$2 target=$3 peers=(viztracer)
  [ -x "$venv/bin/python" ] || { echo "error: $venv missing (Python $v): see scripts/test.sh" >&2; return 1; }
  "$venv/bin/python" -c "import sys; sys.exit(sys.version_info < (3, 13))" && peers+=(trace0)
  say "Python $v ($venv): pip install . ${peers[*]}"
  CARGO_TARGET_DIR="$target" "$venv/bin/python" -m pip install -q "$ROOT" "${peers[@]}"
  say "Python $v: benchmarks/bench_recording.py ${ARGS[*]}"
  "$venv/bin/python" benchmarks/bench_recording.py "${ARGS[@]}" \
    --out "$OUT/recording-$v.md" --json "$OUT/recording-$v.json"
}

status=0
debian=()
for v in $VERSIONS; do
  case "$v" in
    3.11) host_one "$VENV" 3.11 "$ROOT/target" || status=1 ;;
    3.13) host_one "$V313" 3.13 "$ROOT/target/py313" || status=1 ;;
    *) debian+=("$v") ;;
  esac
done
if [ ${#debian[@]} -gt 0 ]; then
  say "CPython ${debian[*]} (Debian sid root): benchmarks/bench_recording.py ${ARGS[*]}"
  if [ "$(id -u)" = 0 ]; then
    FPROFILE_DEBIAN_PYTHONS="${debian[*]}" bash scripts/debian_pythons.sh bench "$OUT" "${ARGS[@]}" || status=1
  elif sudo -n true 2>/dev/null; then
    sudo -n env PATH="$PATH" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
      FPROFILE_DEBIAN_PYTHONS="${debian[*]}" bash scripts/debian_pythons.sh bench "$OUT" "${ARGS[@]}" || status=1
  else
    echo "error: ${debian[*]} need root (chroot): run as root or with passwordless sudo" >&2
    status=1
  fi
fi

shopt -s nullglob
results=("$OUT"/recording-*.json)
if [ ${#results[@]} -gt 0 ]; then
  say "writing benchmarks/README.md and benchmarks/results/recording.md from ${results[*]##*/}"
  python3 benchmarks/recording_tables.py "${results[@]}" \
    --command "bash benchmarks/bench_all_versions.sh ${ARGS[*]}" --note "${FPROFILE_BENCH_NOTE:-}"
fi
exit $status
