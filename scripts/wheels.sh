#!/usr/bin/env bash
# The release artefacts: manylinux x86_64 wheels for CPython 3.9 to 3.15 and an sdist, into dist/.
#
#   bash scripts/wheels.sh              every version: 3.9 3.10 3.11 3.12 3.13 3.14 3.15, and the sdist
#   bash scripts/wheels.sh 3.11 3.14    only these versions' wheels (and the sdist)
#
# How: maturin links with zig (the `ziglang` wheel), which targets glibc 2.17 whatever this machine's
# glibc is, so a wheel built here on Debian 12 (glibc 2.36) runs on any manylinux_2_17 system. Each
# wheel is then checked by `auditwheel show`: its symbols must allow manylinux_2_17 and it must need
# no library outside the manylinux set, else the script fails (nothing to repair: `auditwheel
# repair --plat manylinux_2_17_x86_64` on one was seen to change neither its tags nor its contents).
# FPROFILE_MANYLINUX=manylinux_2_28 works the same (seen: cp312, auditwheel manylinux_2_28, 34 s).
#   3.9-3.13: pyenv's interpreters (~/.pyenv/versions/3.X.*).
#   3.14, 3.15: the Debian sid root of scripts/debian_pythons.sh (made once per machine, needs root);
#     its interpreters cannot run on this machine's older glibc, so maturin builds for them from here
#     with their sysconfig data (PYO3_CROSS_LIB_DIR): no chroot, no mount, only files read.
# The build tools live in their own venv (.venv-wheels), pinned in scripts/wheels-requirements.txt;
# each version has its own cargo target folder (target/wheels/cp3X), so a rerun with nothing changed
# takes seconds (measured: 5 s for all seven and the sdist). The first run on a machine compiles
# each version once (measured: 4 min 41 s for all seven on the 2 shared cores, 40 s to 1 min each).
#
# Environment:
#   FPROFILE_DIST        where the artefacts go (default dist/); a version's older wheels there are replaced
#   FPROFILE_MANYLINUX   manylinux_2_17 (default) or manylinux_2_28
#   FPROFILE_SDIST       0: no sdist
#   FPROFILE_CACHE       where the Debian root lives (default /var/cache/fprofile, as debian_pythons.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=$(mkdir -p "${FPROFILE_DIST:-$ROOT/dist}" && cd "${FPROFILE_DIST:-$ROOT/dist}" && pwd)
VENV="$ROOT/.venv-wheels"
REQS="$ROOT/scripts/wheels-requirements.txt"
PLAT=${FPROFILE_MANYLINUX:-manylinux_2_17}
DEBIAN_ROOT="${FPROFILE_CACHE:-/var/cache/fprofile}/debian-sid"
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.9 3.10 3.11 3.12 3.13 3.14 3.15)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

case "$PLAT" in
  manylinux_2_17) COMPAT=manylinux2014 ;;
  manylinux_2_28) COMPAT=manylinux_2_28 ;;
  *) die "FPROFILE_MANYLINUX must be manylinux_2_17 or manylinux_2_28, not $PLAT" ;;
esac
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v cargo >/dev/null || die "cargo (Rust) is needed to build the wheels: install rustup"

pyenv_python() {  # the newest pyenv CPython 3.X (not 3.X0), or nothing
  local base
  base=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  ls -d "$base"/versions/"$1".[0-9]*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true
}

# The build venv (on pyenv's 3.11, else python3), remade when the pinned requirements change.
BASEPY=$(pyenv_python 3.11)
[ -n "$BASEPY" ] || BASEPY=$(command -v python3)
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQS" "$VENV/.requirements"; then
  say "build tools into $VENV ($(tr '\n' ' ' <"$REQS" | grep -oE '[a-z]+==[^ ]+' | tr '\n' ' '))"
  [ -x "$VENV/bin/python" ] || "$BASEPY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$VENV/.requirements"
fi
MATURIN=("$VENV/bin/maturin")
AUDITWHEEL="$VENV/bin/auditwheel"
# maturin looks for zig as `python -m ziglang`: the venv's python, first on PATH
export PATH="$VENV/bin:$PATH"

ensure_debian_root() {
  [ -f "$DEBIAN_ROOT/.fprofile-root-complete" ] && return 0
  say "the Debian sid root (CPython 3.14, 3.15) is missing: making it (scripts/debian_pythons.sh root)"
  if [ "$(id -u)" = 0 ]; then
    bash "$ROOT/scripts/debian_pythons.sh" root
  elif sudo -n true 2>/dev/null; then
    sudo -n env PATH="$PATH" bash "$ROOT/scripts/debian_pythons.sh" root
  else
    die "the 3.14/3.15 wheels need the Debian root, which needs root to make: run as root or with passwordless sudo once"
  fi
}

built=()
for v in "${VERSIONS[@]}"; do
  t0=$SECONDS
  tag="cp${v/./}"
  stage="$DIST/.build-$tag"
  rm -rf "$stage"
  env=(env CARGO_TARGET_DIR="$ROOT/target/wheels/$tag${PLAT#manylinux_2_17}")   # cp312, or cp312manylinux_2_28
  case "$v" in
    3.9|3.10|3.11|3.12|3.13)
      py=$(pyenv_python "$v")
      [ -n "$py" ] || die "CPython $v not found under pyenv's versions (pyenv install $v)"
      interp=(-i "$py")
      from="$py" ;;
    3.14|3.15)
      ensure_debian_root
      lib="$DEBIAN_ROOT/usr/lib/python$v"
      [ -f "$lib/_sysconfigdata__x86_64-linux-gnu.py" ] || die "no sysconfig data for $v in $lib"
      env+=(PYO3_CROSS_LIB_DIR="$lib")
      interp=(-i "python$v")
      from="the Debian root's sysconfig ($lib)" ;;
    *) die "no interpreter known for CPython $v (3.9 to 3.15)" ;;
  esac
  say "CPython $v: building the $PLAT wheel (maturin --zig, for $from)"
  "${env[@]}" "${MATURIN[@]}" build --quiet --release --zig --compatibility "$COMPAT" "${interp[@]}" -o "$stage" \
    || die "CPython $v: maturin build failed"
  whl=$(ls "$stage"/*.whl)
  case "$(basename "$whl")" in
    *"-$tag-$tag-"*) ;;
    *) die "CPython $v: the wheel $(basename "$whl") is not tagged $tag" ;;
  esac
  # auditwheel: the symbols the extension needs must allow $PLAT, with no external library
  report=$("$AUDITWHEEL" show --json "$whl") || die "auditwheel show failed on $whl"
  verdict=$(python3 -c '
import json, sys
want = sys.argv[1] + "_x86_64"
r = json.loads(sys.stdin.read())
rank = lambda t: tuple(int(x) for x in t.split("_")[1:3])
ok = rank(r["overall_tag"]) <= rank(want) and not r["external_libs"]
print(("ok " if ok else "BAD ") + r["overall_tag"] + (" external: " + " ".join(r["external_libs"]) if r["external_libs"] else ""))
' "$PLAT" <<<"$report")
  [ "${verdict%% *}" = ok ] || die "CPython $v: auditwheel says $whl is ${verdict#* } (wanted $PLAT)"
  rm -f "$DIST"/fprofile_jupyter-*-"$tag"-"$tag"-*.whl
  mv "$whl" "$DIST/"
  rm -rf "$stage"
  built+=("$(basename "$whl")  $(du -k "$DIST/$(basename "$whl")" | cut -f1) KB  auditwheel: ${verdict#ok }  $((SECONDS - t0)) s")
done

if [ "${FPROFILE_SDIST:-1}" != 0 ]; then
  say "sdist (maturin sdist)"
  rm -f "$DIST"/fprofile_jupyter-*.tar.gz
  "${MATURIN[@]}" sdist -o "$DIST" >/dev/null || die "maturin sdist failed"
  sdist=$(ls "$DIST"/fprofile_jupyter-*.tar.gz)
  # what a build from the sdist needs: both crates, the lock file, the Python package, the timeline's JS
  listing=$(tar -tzf "$sdist")
  for need in Cargo.lock rust/core/Cargo.toml rust/python/src/lib.rs python/fprofile_jupyter/__init__.py js/; do
    grep -q "^[^/]*/$need" <<<"$listing" || die "the sdist $sdist lacks $need"
  done
  built+=("$(basename "$sdist")  $(du -k "$sdist" | cut -f1) KB")
fi

say "into $DIST:"
printf '  %s\n' "${built[@]}" >&2
