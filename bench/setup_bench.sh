#!/usr/bin/env bash
# What `make bench` needs beyond scripts/setup.sh: OpenBLAS (the machine-peak sgemm), Node.js +
# npm (ONNX Runtime's peer is onnxruntime-node, installed by tests/split/setup_ort.sh on first use).
# Installs only the missing Debian packages.
set -eu
missing=""
dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q "install ok installed" || missing="libopenblas-dev"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "dycl bench setup: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
