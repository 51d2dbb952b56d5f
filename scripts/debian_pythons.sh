#!/usr/bin/env bash
# CPython 3.14 and 3.15 for the tests: Debian's development suite (sid) packages both, and
# debootstrap installs that suite into a folder (a "root"), made once per machine and reused. The
# package is built for each Python inside the root with this machine's Rust toolchain, and pytest
# runs there (about 600 MB under /var/cache/fprofile; reused by every clone of the repository).
#
# Usage (as root: chroot and mount need it; `test` and `wheel-test` also run without root, see
# "Without root" below):
#   bash scripts/debian_pythons.sh root              make sure the root exists (first time: about
#                                                    3 minutes of download and unpacking, 600 MB)
#   bash scripts/debian_pythons.sh test FILE...      build for each Python, run pytest FILE... on each
#   bash scripts/debian_pythons.sh suites FILE...    `test` as root, with passwordless sudo, or without
#                                                    root (below), whichever this machine allows; where
#                                                    none does: one line "NOT RUN: ..." saying why and
#                                                    how to run them, exit 3 (scripts/test.sh)
#   bash scripts/debian_pythons.sh wheel-test SCRIPT WHEEL...
#                                                    install each wheel (cp314, cp315) into a fresh venv
#                                                    of its Python, with no Rust toolchain in the root,
#                                                    and run `python SCRIPT FOLDER` there (FOLDER: an
#                                                    empty folder of the root, the current directory)
#   bash scripts/debian_pythons.sh bench OUTDIR [ARG...]
#                                                    build for each Python into a venv of its own
#                                                    (/venvs/bench-VERSION, with viztracer and trace0),
#                                                    run benchmarks/bench_recording.py ARG... on each
#                                                    and copy its results to OUTDIR/recording-VERSION.{md,json}
#                                                    (used by benchmarks/bench_all_versions.sh)
#
# Environment:
#   FPROFILE_CACHE           where the root lives (default /var/cache/fprofile; outside the repository,
#                            so a fresh clone or `git clean` reuses it)
#   FPROFILE_DEBIAN_PYTHONS  the versions to test (default "3.14 3.15")
#   FPROFILE_DEBIAN_MIRROR   the Debian mirror (default: the one apt uses here, else deb.debian.org)
#   FPROFILE_ROOTLESS_DIR    without root: where what is written goes (default ~/.cache/fprofile/rootless)
#   FPROFILE_AS_USER=1       take an ordinary user's path although root (tests of this script)
#
# Without root: `test` and `wheel-test` run as an ordinary user where the kernel allows
# unprivileged user namespaces (`unshare --map-root-user`: Debian and Ubuntu do by default) and
# the root exists (made once by root: `sudo bash scripts/debian_pythons.sh root`; making it needs
# root). The root is then used read-only: everything written (the copy of the source, the venvs,
# cargo's home and build folder) goes to the user's FPROFILE_ROOTLESS_DIR (default
# ~/.cache/fprofile/rootless), mounted at /tmp/fprofile inside the root, in a private mount
# namespace. `bash scripts/debian_pythons.sh rootless-check` says in one line why that is not
# possible here (exit 1), or nothing (exit 0).
#
# Safety: the host folders the root needs (the Rust toolchain) are bind-mounted READ-ONLY, in a
# private mount namespace (unshare) that disappears with the process, and unmounted by a trap as
# well; nothing is ever deleted under a folder that has anything mounted below it.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$REPO/scripts/debian_pythons.sh"
CACHE=${FPROFILE_CACHE:-/var/cache/fprofile}
R="$CACHE/debian-sid"
PYTHONS=${FPROFILE_DEBIAN_PYTHONS:-3.14 3.15}
# What the root holds; changing this list makes the root anew.
INCLUDE="python3.14-dev,python3.14-venv,python3.15-dev,python3.15-venv,gcc,libc6-dev,ca-certificates"
MARKER="$R/.fprofile-root-complete"
# What each venv gets besides the package (the suites' needs; coverage for the coexistence tests).
SUITE_DEPS=(pytest coverage ipython "maturin>=1.5,<2")  # ipython: the magic with child processes
# The benchmark's venvs (apart from the test venvs, so that the suites never see the peers): the
# peers are optional (a peer that does not install is left out of the tables, and said so).
BENCH_DEPS=("maturin>=1.5,<2")
BENCH_PEERS=(viztracer trace0)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# Where things live inside the root: as root, in the root's own folders; without root (the root
# read-only), under /tmp/fprofile, which is the user's FPROFILE_ROOTLESS_DIR mounted there.
ROOTLESS_DIR=${FPROFILE_ROOTLESS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fprofile/rootless}
if [ "${FPROFILE_ROOTLESS:-}" = 1 ]; then
  IN=/tmp/fprofile
  SRC_IN=$IN/src/project VENVS_IN=$IN/venvs HOME_IN=$IN/home CARGO_IN=$IN/cargo TARGET_IN=$IN/target
  RUST_IN=$IN/rust CA_IN=$IN/host-ca.crt WHEEL_IN=$IN/wheel-test
else
  SRC_IN=/src/project VENVS_IN=/venvs HOME_IN=/root CARGO_IN=/root/.cargo TARGET_IN=/var/cache/fprofile-target
  RUST_IN=/opt/rust CA_IN=/etc/ssl/certs/host-ca.crt WHEEL_IN=/var/tmp/fprofile-wheel-test
fi

# Why this user cannot run the suites without root (one line), or nothing when it can; "$1" =
# norust: for wheel-test, which needs no Rust toolchain.
rootless_problem() {
  if ! unshare --map-root-user --mount --propagation private true 2>/dev/null; then
    echo "this kernel does not let an ordinary user make a user namespace (unshare --map-root-user failed)"
  elif [ ! -f "$MARKER" ] || [ "$(cat "$MARKER" 2>/dev/null)" != "$INCLUDE" ]; then
    echo "there is no Debian root at $R yet (making it needs root, once: sudo bash scripts/debian_pythons.sh root)"
  elif [ ! -r "$R/usr/bin" ]; then
    echo "the Debian root at $R is not readable by $(id -un)"
  elif [ "${1:-}" != norust ] && ! command -v rustc >/dev/null; then
    echo "rustc not found (install rustup)"
  fi
}

# The mount points at or below $1 (deepest first), as this process's mount namespace sees them.
mounts_under() {
  local p
  p=$(readlink -m "$1")
  awk -v p="$p" '{ m = $5; gsub(/\\040/, " ", m); if (m == p || index(m, p "/") == 1) print m }' /proc/self/mountinfo | sort -r
}

# Unmounts everything at or below $1 (a lazy unmount if a normal one fails).
unmount_under() {
  local m
  while read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: could not unmount $m" >&2
  done < <(mounts_under "$1")
}

# rm -rf that refuses while anything is mounted at or below the folder (a bind of a host folder
# would be deleted through it).
safe_rmrf() {
  [ -e "$1" ] || return 0
  unmount_under "$1"
  if [ -n "$(mounts_under "$1")" ]; then
    die "not deleting $1: something is still mounted below it ($(mounts_under "$1" | tr '\n' ' '))"
  fi
  rm -rf --one-file-system "$1"
}

mirror() {
  if [ -n "${FPROFILE_DEBIAN_MIRROR:-}" ]; then echo "$FPROFILE_DEBIAN_MIRROR"; return; fi
  local m
  m=$(grep -rhE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
      | grep -oE 'https?://[^ ]+/debian/?( |$)' | tr -d ' ' | head -n 1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# Runs "$@" in a private mount namespace when the kernel allows it (mounts made there vanish with
# the process, even if it is killed), else as it is (the trap then does the unmounting).
in_private_ns() {
  if unshare --mount --propagation private true 2>/dev/null; then
    unshare --mount --propagation private "$@"
  else
    "$@"
  fi
}

make_root() {
  if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$INCLUDE" ]; then
    return 0
  fi
  local t0=$SECONDS
  if [ -e "$R" ]; then
    say "the root $R is incomplete or out of date: making it anew"
    safe_rmrf "$R"
  fi
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  local part="$R.partial" m
  safe_rmrf "$part"
  m=$(mirror)
  say "making the Debian sid root with CPython ${PYTHONS// /, } in $R (once per machine: a few minutes, about 600 MB; mirror $m)"
  if ! in_private_ns debootstrap --variant=minbase --include="$INCLUDE" sid "$part" "$m" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    unmount_under "$part"
    die "debootstrap failed (full log: $CACHE/debootstrap.log)"
  fi
  unmount_under "$part"
  rm -rf "$part/var/cache/apt/archives/"*.deb
  for v in $PYTHONS; do
    chroot "$part" "/usr/bin/python$v" -c "import venv, sysconfig; assert sysconfig.get_config_var('INCLUDEPY')" \
      || die "python$v is not usable in the new root (log: $CACHE/debootstrap.log)"
  done
  echo "$INCLUDE" >"$part/.fprofile-root-complete"
  mv "$part" "$R"
  say "root ready in $((SECONDS - t0)) s: $(for v in $PYTHONS; do chroot "$R" "python$v" -c 'import platform; print("CPython", platform.python_version(), end=" ")'; done)"
}

# Copies the working tree (tracked and untracked files, not ignored ones) into the root's /src,
# keeping modification times so that cargo rebuilds only what changed.
copy_source() {
  local dst="$R$SRC_IN"
  safe_rmrf "$dst"
  mkdir -p "$dst"
  if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
       | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
       | tar -cf - --null --no-recursion -T -) | tar -xf - -C "$dst"
  else
    (cd "$REPO" && tar -cf - --exclude=./target --exclude='./.venv*' .) | tar -xf - -C "$dst"
  fi
}

# Inside the private mount namespace: mounts /proc, /dev and, with "rust", this machine's Rust
# toolchain read-only at $RUST_IN; the trap unmounts in every case. Without root (a user namespace):
# /proc and /dev bound from the host (a new proc needs a pid namespace), the host's CA bundle put
# under /tmp/fprofile, its name servers bound over the root's.
mount_root() {
  local sysroot
  MOUNTED=()
  cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
      umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
    done
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$R/proc" "$R/dev"
  if [ "${1:-}" = rust ]; then
    sysroot=$(rustc --print sysroot) || die "rustc not found (install rustup)"
    mkdir -p "$R$RUST_IN"
    mount --bind "$sysroot" "$R$RUST_IN"; MOUNTED+=("$R$RUST_IN")
    mount -o remount,bind,ro "$R$RUST_IN"
  fi
  if [ "${FPROFILE_ROOTLESS:-}" = 1 ]; then
    mount --rbind /proc "$R/proc"; MOUNTED+=("$R/proc")
    mount --rbind /dev "$R/dev"; MOUNTED+=("$R/dev")
    cp /etc/ssl/certs/ca-certificates.crt "$R$CA_IN"
    if [ -f "$R/etc/resolv.conf" ] && [ -f /etc/resolv.conf ]; then mount --bind /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true; fi
    mkdir -p "$R/sys" 2>/dev/null || true
    mount --rbind /sys "$R/sys"; MOUNTED+=("$R/sys")
    mount -o remount,bind,ro "$R/sys"
    return 0
  fi
  mount -t proc proc "$R/proc"; MOUNTED+=("$R/proc")
  # /sys read-only: the recorder reads the clock source there (clock.rs: the TSC is used only when
  # the kernel's clocksource is `tsc`); without it every call would read CLOCK_MONOTONIC instead
  mkdir -p "$R/sys"
  mount --bind /sys "$R/sys"; MOUNTED+=("$R/sys")
  mount -o remount,bind,ro "$R/sys"
  mount --bind /dev "$R/dev"; MOUNTED+=("$R/dev")
  # the host's CA bundle (the package proxy's CA) and name servers
  cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/host-ca.crt"
  cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
}

# Inside the private mount namespace: builds and tests (mode "test") or benchmarks (mode "bench")
# on each Python.
inside() {
  local mode=$1; shift
  mount_root rust
  # cargo's own home in the root (a copy of the host's crate cache the first time, so no download)
  if [ ! -d "$R$CARGO_IN/registry" ] && [ -d "${CARGO_HOME:-$HOME/.cargo}/registry" ]; then
    mkdir -p "$R$CARGO_IN"
    cp -a "${CARGO_HOME:-$HOME/.cargo}/registry" "$R$CARGO_IN/"
  fi
  local status=0 v
  for v in $PYTHONS; do
    if [ "$mode" = bench ]; then bench_one "$v" "$@" || status=1; else run_one "$v" "$@" || status=1; fi
  done
  return $status
}

# The environment of every command run in the root (the Python venv $1 first on PATH).
root_env() {
  local venv=$1 v=$2
  ROOT_ENV=(env -i PATH="$venv/bin:$RUST_IN/bin:/usr/local/bin:/usr/bin:/bin" HOME="$HOME_IN" LANG=C.UTF-8
            CARGO_HOME="$CARGO_IN" CARGO_HTTP_CAINFO="$CA_IN"
            CARGO_TARGET_DIR="$TARGET_IN/py$v"
            PIP_CERT="$CA_IN" SSL_CERT_FILE="$CA_IN"
            PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 PIP_ROOT_USER_ACTION=ignore
            FPROFILE_IN_ROOT=1)
}

# Makes (once) the venv $2 of Python $1 in the root and installs the packages "$@" after them
# (ROOT_ENV set by root_env).
make_venv() {
  local v=$1 venv=$2; shift 2
  if ! chroot "$R" "${ROOT_ENV[@]}" /bin/bash -euo pipefail -c '
      v=$1 venv=$2; shift 2
      mkdir -p "$HOME"
      [ -x "$venv/bin/python" ] || "python$v" -m venv "$venv"
      "$venv/bin/python" -m pip install -q "$@"
    ' _ "$v" "$venv" "$@"; then
    echo "error: Python $v: installing $* into $venv (in the root) failed" >&2
    return 1
  fi
}

# Builds the project ($SRC_IN) with this machine's Rust toolchain into the venv $2 of Python $1.
build_into() {
  local v=$1 venv=$2
  if ! chroot "$R" "${ROOT_ENV[@]}" "$venv/bin/python" -m pip install -q --no-build-isolation --no-deps --force-reinstall "$SRC_IN"; then
    echo "error: Python $v: building the package failed" >&2
    return 1
  fi
}

# Builds the package for Python $1 into /venvs/bench-$1 with the peers, and runs the benchmark
# (its arguments: "$@" after the Python) writing /src/bench-out/recording-$1.{md,json}.
bench_one() {
  local v=$1; shift
  local t0=$SECONDS venv="/venvs/bench-$v" peer
  root_env "$venv" "$v"
  say "Python $v (Debian sid root): benchmark venv $venv, build and install"
  make_venv "$v" "$venv" "${BENCH_DEPS[@]}" || return 1
  for peer in "${BENCH_PEERS[@]}"; do
    # a wheel if there is one, else the sdist built here (with gcc and the host's Rust toolchain)
    chroot "$R" "${ROOT_ENV[@]}" "$venv/bin/python" -m pip install -q "$peer" \
      || echo "warning: Python $v: $peer did not install (no wheel, and the sdist did not build): left out" >&2
  done
  build_into "$v" "$venv" || return 1
  say "Python $v: built in $((SECONDS - t0)) s; benchmarks/bench_recording.py $*"
  mkdir -p "$R/src/bench-out"
  chroot "$R" "${ROOT_ENV[@]}" /bin/bash -c 'cd /src/project && exec "$@"' _ \
    "$venv/bin/python" benchmarks/bench_recording.py "$@" \
    --out "/src/bench-out/recording-$v.md" --json "/src/bench-out/recording-$v.json"
}

run_one() {
  local v=$1; shift
  local t0=$SECONDS venv="$VENVS_IN/$v"
  say "Python $v (Debian sid root): build and install"
  root_env "$venv" "$v"
  local env=("${ROOT_ENV[@]}")
  make_venv "$v" "$venv" "${SUITE_DEPS[@]}" || return 1
  build_into "$v" "$venv" || return 1
  say "Python $v: built in $((SECONDS - t0)) s; pytest"
  chroot "$R" "${env[@]}" /bin/bash -c 'cd "$0" && exec timeout -k 30 900 "$@"' "$SRC_IN" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
}

# Inside the private mount namespace: installs each wheel into a fresh venv of its Python (no Rust
# toolchain in the root's PATH, none mounted) and runs SCRIPT OUT with it from an empty folder.
wheel_inside() {
  mount_root
  local script=$1 status=0 whl tag v venv work; shift
  for whl in "$@"; do
    tag=$(basename "$whl" | cut -d- -f3)   # cp314
    v="${tag:2:1}.${tag:3}"
    venv="$WHEEL_IN/$v" work="$WHEEL_IN/run-$v"
    say "Python $v (Debian sid root): the wheel $(basename "$whl") in a fresh venv"
    rm -rf "$R$venv" "$R$work"
    mkdir -p "$R$work"
    cp "$script" "$R$work/smoke.py"
    cp "$whl" "$R$work/"
    if ! chroot "$R" env -i PATH="$venv/bin:/usr/bin:/bin" HOME="$HOME_IN" LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_ROOT_USER_ACTION=ignore /bin/bash -euo pipefail -c '
          v=$1 venv=$2 work=$3 whl=$4
          "python$v" -m venv "$venv"
          "$venv/bin/python" -m pip install -q --no-index --no-deps "$work/$whl"
          cd "$work" && exec "$venv/bin/python" smoke.py "$work"
        ' _ "$v" "$venv" "$work" "$(basename "$whl")"; then
      echo "error: Python $v: the wheel $(basename "$whl") failed in a fresh venv" >&2
      status=1
    fi
  done
  return $status
}

cmd=${1:-test}
shift || true
if [ "$cmd" = rootless-check ]; then
  why=$(rootless_problem)
  [ -z "$why" ] || { echo "$why"; exit 1; }
  exit 0
fi
if [ "$cmd" = suites ]; then
  [ $# -gt 0 ] || die "usage: bash scripts/debian_pythons.sh suites FILE..."
  if [ "$(id -u)" = 0 ] && [ "${FPROFILE_AS_USER:-}" != 1 ]; then exec bash "$SELF" test "$@"; fi
  if [ "${FPROFILE_AS_USER:-}" != 1 ] && sudo -n true 2>/dev/null; then
    exec sudo -n env PATH="$PATH" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
      bash "$SELF" test "$@"
  fi
  why=$(rootless_problem)
  [ -n "$why" ] || exec bash "$SELF" test "$@"
  echo "NOT RUN: the Python ${PYTHONS// / and } suites ($# files): no root, no passwordless sudo, and $why; to run them: sudo bash scripts/debian_pythons.sh test $*" >&2
  exit 3
fi
if { [ "$(id -u)" != 0 ] || [ "${FPROFILE_AS_USER:-}" = 1 ]; } && [ "${FPROFILE_ROOTLESS:-}" != 1 ]; then
  # without root: test and wheel-test in a user namespace, with the root read-only (see the top)
  case "$cmd" in
    test|wheel-test)
      why=$(rootless_problem "$([ "$cmd" = wheel-test ] && echo norust)")
      [ -z "$why" ] || die "without root, $cmd needs a user namespace and the Debian root: $why"
      mkdir -p "$ROOTLESS_DIR"
      chmod 700 "$ROOTLESS_DIR"
      exec 9>"$ROOTLESS_DIR/.lock"
      flock -w 3600 9 || die "another run holds $ROOTLESS_DIR/.lock"
      args=()
      if [ "$cmd" = wheel-test ]; then for a in "$@"; do args+=("$(readlink -f "$a")"); done; else args=("$@"); fi
      exec unshare --map-root-user --mount --propagation private \
        env FPROFILE_ROOTLESS=1 FPROFILE_ROOTLESS_DIR="$ROOTLESS_DIR" bash "$SELF" "__rootless_$cmd" "${args[@]}"
      ;;
    *) die "scripts/debian_pythons.sh $cmd needs root (debootstrap, chroot, mount); without root only test and wheel-test run (CI runs as root)" ;;
  esac
fi
case "$cmd" in
  __inside) inside "$@" ;;
  __wheel_inside) wheel_inside "$@" ;;
  __rootless_test|__rootless_wheel-test)
    # in the user namespace (uid 0 there): the user's folder over the root's /tmp, then as root does
    [ "${FPROFILE_ROOTLESS:-}" = 1 ] || die "$cmd is internal"
    mkdir -p "$ROOTLESS_DIR"
    mount --bind "$ROOTLESS_DIR" "$R/tmp"
    mkdir -p "$R$IN"
    if [ "$cmd" = __rootless_test ]; then
      [ $# -gt 0 ] || die "usage: bash scripts/debian_pythons.sh test FILE..."
      copy_source
      inside test "$@"
    else
      [ $# -gt 1 ] || die "usage: bash scripts/debian_pythons.sh wheel-test SCRIPT WHEEL..."
      wheel_inside "$@"
    fi
    ;;
  root|test|wheel-test|bench)
    mkdir -p "$CACHE"
    exec 9>"$CACHE/debian-sid.lock"
    flock -w 3600 9 || die "another run holds $CACHE/debian-sid.lock"
    # a run that was killed outside a private namespace may have left mounts in the root
    [ -d "$R" ] && unmount_under "$R"
    make_root
    if [ "$cmd" = test ]; then
      [ $# -gt 0 ] || die "usage: bash scripts/debian_pythons.sh test FILE..."
      copy_source
      in_private_ns bash "$SELF" __inside test "$@"
    elif [ "$cmd" = wheel-test ]; then
      [ $# -gt 1 ] || die "usage: bash scripts/debian_pythons.sh wheel-test SCRIPT WHEEL..."
      args=()
      for a in "$@"; do args+=("$(readlink -f "$a")"); done
      in_private_ns bash "$SELF" __wheel_inside "${args[@]}"
    elif [ "$cmd" = bench ]; then
      [ $# -gt 0 ] || die "usage: bash scripts/debian_pythons.sh bench OUTDIR [ARG...]"
      outdir=$1; shift
      mkdir -p "$outdir"
      copy_source
      # the reference hooks (../shared/bench beside the repository), where bench_recording.py looks
      if [ -f "$REPO/../shared/bench/build.sh" ]; then
        safe_rmrf "$R/src/shared"
        mkdir -p "$R/src/shared"
        cp -a "$REPO/../shared/bench" "$R/src/shared/bench"
      fi
      safe_rmrf "$R/src/bench-out"
      status=0
      in_private_ns bash "$SELF" __inside bench "$@" || status=1
      for v in $PYTHONS; do
        for ext in md json; do
          if [ -f "$R/src/bench-out/recording-$v.$ext" ]; then cp "$R/src/bench-out/recording-$v.$ext" "$outdir/"; fi
        done
      done
      exit $status
    fi
    ;;
  *) die "usage: bash scripts/debian_pythons.sh root | test FILE... | wheel-test SCRIPT WHEEL... | bench OUTDIR [ARG...]" ;;
esac
