#!/usr/bin/env bash
# `make install` into a temporary prefix and what a user does with it, then `make uninstall`:
#   - the installed tree has the tool, the library (shared and static), the header, dycl.pc, the
#     CMake package, the man page and the Python package, and the tool runs;
#   - the tutorial's C program (docs/tutorial.md, classify.c, taken from the page) builds with
#     `pkg-config --cflags --libs dycl` and runs; with `pkg-config --static` it links libdycl.a and
#     runs without the shared library;
#   - a CMake project using find_package(dycl) and dycl::dycl builds and runs;
#   - the Python package imports from the prefix and loads the prefix's libdycl.so;
#   - the prefix moved elsewhere still works (the .pc and CMake files are relocatable);
#   - `make uninstall` leaves the prefix empty; a DESTDIR (staged) install and uninstall likewise.
# Usage: test_install.sh BUILD   (a configured and built build folder). Last line:
# `install: N passed, M failed`.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_install.sh BUILD}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a test run from `make check` must not hand its jobserver to these makes
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR PREFIX PYTHONPATH PKG_CONFIG_PATH LD_LIBRARY_PATH CMAKE_PREFIX_PATH
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# check NAME COMMAND...: runs the command, output shown on failure
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name"; echo "$out" | tail -30 | sed 's/^/    | /'; fi
}
finish() {
  echo "install: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}

prefix="$work/prefix"
mkdir -p "$prefix"
t0=$(date +%s)
if ! make -s -C "$root" install BUILD="$build" PREFIX="$prefix" >"$work/install.log" 2>&1; then
  bad "make install PREFIX=$prefix"
  tail -30 "$work/install.log"
  finish
fi
ok "make install PREFIX=... ($(($(date +%s) - t0)) s)"

# --- the layout ---------------------------------------------------------------------------------
for f in bin/dycl lib/libdycl.so lib/libdycl.a include/dycl/dycl.h lib/pkgconfig/dycl.pc \
  lib/cmake/dycl/dyclConfig.cmake lib/cmake/dycl/dyclConfigVersion.cmake lib/cmake/dycl/dyclTargets.cmake \
  share/man/man1/dycl.1 lib/python3/dist-packages/dycl/__init__.py share/doc/dycl/tutorial.md \
  share/dycl/install_manifest.txt; do
  if [ -e "$prefix/$f" ]; then ok "installed $f"; else bad "installed $f: missing"; fi
done
# every installed file is in the manifest, and every manifest file is installed
(cd "$prefix" && find . -mindepth 1 \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort) >"$work/files"
sed -n 's/^f //p' "$prefix/share/dycl/install_manifest.txt" | LC_ALL=C sort >"$work/manifest"
check "the manifest lists exactly the installed files" diff "$work/manifest" "$work/files"
check "the installed python package matches python/dycl" \
  bash -c 'cd "$0/python/dycl" && for f in *.py; do cmp "$f" "$1/lib/python3/dist-packages/dycl/$f" || exit 1; done' \
  "$root" "$prefix"
check "installed dycl --version" "$prefix/bin/dycl" --version
check "installed dycl runs the demo model" "$prefix/bin/dycl" run "$root/models/demo/early_exit.onnx" \
  "$root/models/demo/inputs/hard.pb" --backend ref
check "man -l on the installed man page" bash -c 'MANWIDTH=80 man -l "$0" | grep -q "dycl compile"' \
  "$prefix/share/man/man1/dycl.1"

# --- a C program built with pkg-config ------------------------------------------------------------
/usr/bin/python3 "$root/tests/docs/run_tutorial.py" --extract classify.c >"$work/classify.c" ||
  { bad "classify.c from docs/tutorial.md"; finish; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config --modversion dycl is dycl --version's" \
  bash -c '[ "dycl $(pkg-config --modversion dycl)" = "$("$0" --version | cut -d" " -f1-2)" ]' "$prefix/bin/dycl"
model="$root/models/demo/early_exit.onnx"
# the demo model has the tutorial's interface (1 input of 1x3x32x32, outputs logits and exit)
expect_exit() { # PROGRAM...: prints "left at exit N", N in 1..3
  local out
  out=$("$@" 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -Eq "left at exit [123], class [0-9]"
}
check "cc classify.c \$(pkg-config --cflags --libs dycl)" \
  bash -c 'cc -O2 -Wall -Wextra -Werror "$0/classify.c" $(pkg-config --cflags --libs dycl) -lm -o "$0/classify"' "$work"
check "classify (shared libdycl) runs" env LD_LIBRARY_PATH="$prefix/lib" bash -c "$(declare -f expect_exit); expect_exit \"\$@\"" \
  _ "$work/classify" "$model" 100
check "classify needs libdycl.so.0 from the prefix" \
  bash -c 'env LD_LIBRARY_PATH="$1/lib" ldd "$0" | grep -q "libdycl.so.0 => $1/lib/libdycl.so.0"' "$work/classify" "$prefix"
check "cc classify.c \$(pkg-config --static --cflags --libs dycl) with libdycl.a" \
  bash -c 'cc -O2 "$0/classify.c" $(pkg-config --static --cflags --libs dycl | sed "s/-ldycl /-l:libdycl.a /") -lm -o "$0/classify_static"' \
  "$work"
check "classify (static libdycl) runs and needs no libdycl.so" \
  bash -c '! ldd "$1" | grep -q libdycl && out=$("$1" "$2" 1) && echo "$out" | grep -Eq "left at exit [123]"' \
  _ "$work/classify_static" "$model"

# --- a CMake project ----------------------------------------------------------------------------
mkdir -p "$work/cmake-app"
cp "$work/classify.c" "$work/cmake-app/"
cat >"$work/cmake-app/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(classify C)
find_package(dycl 0.1 REQUIRED)
add_executable(classify classify.c)
target_link_libraries(classify PRIVATE dycl::dycl m)
add_executable(classify_static classify.c)
target_link_libraries(classify_static PRIVATE dycl::dycl_static)
EOF
check "find_package(dycl): configure and build" bash -c \
  'cmake -S "$0/cmake-app" -B "$0/cmake-app/build" -DCMAKE_PREFIX_PATH="$1" && cmake --build "$0/cmake-app/build"' \
  "$work" "$prefix"
check "find_package(dycl): dycl::dycl program runs" env LD_LIBRARY_PATH="$prefix/lib" \
  bash -c "$(declare -f expect_exit); expect_exit \"\$@\"" _ "$work/cmake-app/build/classify" "$model" 1
check "find_package(dycl): dycl::dycl_static program runs" \
  bash -c "$(declare -f expect_exit); expect_exit \"\$@\"" _ "$work/cmake-app/build/classify_static" "$model" 1
check "find_package(dycl 99) fails (version check)" bash -c \
  'sed "s/dycl 0.1 REQUIRED/dycl 99 REQUIRED/" "$0/cmake-app/CMakeLists.txt" >"$0/v.txt" && mkdir -p "$0/v" &&
   cp "$0/v.txt" "$0/v/CMakeLists.txt" && cp "$0/classify.c" "$0/v/" && ! cmake -S "$0/v" -B "$0/v/build" -DCMAKE_PREFIX_PATH="$1" >/dev/null 2>&1' \
  "$work" "$prefix"

# --- the Python package -------------------------------------------------------------------------
check "python: import dycl from the prefix, which loads the prefix's libdycl.so" env -u DYCL_LIBRARY \
  PYTHONPATH="$prefix/lib/python3/dist-packages" /usr/bin/python3 -c '
import os, sys, numpy as np
import dycl
prefix = os.path.realpath(sys.argv[1])
assert os.path.realpath(dycl.__file__).startswith(prefix + "/"), dycl.__file__
assert os.path.realpath(dycl.library_path()).startswith(prefix + "/lib/"), dycl.library_path()
m = dycl.load(sys.argv[2])
outs = m.run(np.zeros((1, 3, 32, 32), np.float32))
assert len(outs) == 2, outs
' "$prefix" "$model"

# --- a moved prefix -----------------------------------------------------------------------------
mv "$prefix" "$work/moved"
check "moved prefix: pkg-config and the program still work" bash -c \
  'export PKG_CONFIG_PATH="$0/lib/pkgconfig" && cc "$1/classify.c" $(pkg-config --cflags --libs dycl) -lm -o "$1/classify_moved" &&
   LD_LIBRARY_PATH="$0/lib" "$1/classify_moved" "$2" 100 | grep -q "left at exit"' "$work/moved" "$work" "$model"
mv "$work/moved" "$prefix"

# --- uninstall ----------------------------------------------------------------------------------
check "make uninstall PREFIX=..." make -s -C "$root" uninstall PREFIX="$prefix"
left=$(cd "$prefix" && find . -mindepth 1 | head -20)
if [ -z "$left" ]; then ok "the prefix is empty after make uninstall"; else bad "left in the prefix: $left"; fi
check "make uninstall again fails (nothing recorded)" bash -c '! make -s -C "$0" uninstall PREFIX="$1" 2>/dev/null' \
  "$root" "$prefix"

# --- staged install (DESTDIR) -------------------------------------------------------------------
stage="$work/stage"
mkdir -p "$stage"
check "make install DESTDIR=... PREFIX=/usr/local" make -s -C "$root" install BUILD="$build" DESTDIR="$stage" PREFIX=/usr/local
check "DESTDIR: files under DESTDIR/usr/local only" bash -c \
  '[ -x "$0/usr/local/bin/dycl" ] && [ -z "$(cd "$0" && find . -mindepth 1 -maxdepth 1 ! -name usr)" ]' "$stage"
check "make uninstall DESTDIR=... PREFIX=/usr/local" make -s -C "$root" uninstall DESTDIR="$stage" PREFIX=/usr/local
check "DESTDIR: empty after uninstall" bash -c '[ -z "$(cd "$0" && find . -mindepth 1 ! -path ./usr ! -path ./usr/local)" ]' "$stage"
finish
