#!/usr/bin/env bash
# Installs the Debian packages dycl needs for building and testing, only those missing.
# Usage: scripts/setup.sh [build|test|fuzz|all]   (default: all)
set -eu
what=${1:-all}
build_pkgs="cmake make gcc clang protobuf-c-compiler libprotobuf-c-dev libonnx-dev libdnnl-dev"
test_pkgs="python3-onnx python3-numpy python3-torch"
# make install's tests: pkg-config for the consumer build, groff to check the man page.
test_pkgs="$test_pkgs pkg-config groff-base"
# the leak check (tests/leaks): valgrind. (make check-tsan needs gcc's libtsan2, which gcc depends on.)
test_pkgs="$test_pkgs valgrind"
# libFuzzer (make fuzz, and the bounded fuzz runs of make check): clang's runtime libraries are only
# recommended by clang, so they are named here.
fuzz_pkgs="clang libclang-rt-dev"
case "$what" in
  build) pkgs="$build_pkgs" ;;
  test|all) pkgs="$build_pkgs $test_pkgs $fuzz_pkgs" ;;
  fuzz) pkgs="$build_pkgs $fuzz_pkgs" ;;
  *) echo "usage: scripts/setup.sh [build|test|fuzz|all]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "dycl setup: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
