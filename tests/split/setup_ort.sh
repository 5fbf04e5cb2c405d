#!/bin/sh
# Installs ONNX Runtime for Node (the peer `dycl split` is tested against) into an npm prefix, unless
# it is there already. usage: tests/split/setup_ort.sh [PREFIX]   (default: build/ort)
# Exit status 0 when `require('onnxruntime-node')` works from PREFIX afterwards, 1 otherwise.
set -u
PREFIX=${1:-build/ort}
VERSION=1.30.0
NODE=${NODE:-node}

works() {
  "$NODE" -e "require(require('path').resolve(process.argv[1], 'node_modules', 'onnxruntime-node'))" "$PREFIX" \
    >/dev/null 2>&1
}

if works; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup_ort: npm is not installed" >&2
  exit 1
fi
mkdir -p "$PREFIX"
echo "setup_ort: installing onnxruntime-node@$VERSION into $PREFIX" >&2
# the package bundles the CPU binaries; its install script only fetches GPU extras
ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --prefix "$PREFIX" "onnxruntime-node@$VERSION" >&2 || {
  echo "setup_ort: npm install failed" >&2
  exit 1
}
if works; then
  exit 0
fi
echo "setup_ort: onnxruntime-node does not load from $PREFIX" >&2
exit 1
