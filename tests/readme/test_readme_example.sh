#!/usr/bin/env bash
# Runs the README's "compile a model into C" example exactly as written there: the commands of its
# ```sh block and the program docs/examples/early_exit_main.c, which the README includes verbatim.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dycl=$(realpath "${1:?usage: test_readme_example.sh DYCL}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the README must show the program as it is in docs/examples (the test runs the file)
python3_bin=/usr/bin/python3
"$python3_bin" - "$root/README.md" "$root/docs/examples/early_exit_main.c" <<'PY'
import sys
readme, prog = open(sys.argv[1]).read(), open(sys.argv[2]).read()
if prog.strip() not in readme:
    sys.exit("README.md does not show docs/examples/early_exit_main.c as it is")
PY
cd "$work"
cp "$root/docs/examples/early_exit_main.c" main.c
mkdir -p build && ln -s "$dycl" build/dycl
mkdir -p models/demo && cp "$root/models/demo/early_exit.onnx" models/demo/
# the commands of the README, in order
build/dycl compile models/demo/early_exit.onnx -o pkg --name early_exit --quiet
make -s -C pkg -j2 >/dev/null
cc -Ipkg main.c pkg/libearly_exit.a -ldnnl -lgomp -lpthread -lm -o main
out=$(./main)
echo "$out"
case "$out" in
  "left at exit "[123]", logit[0] = "*) echo "readme: 1 passed, 0 failed" ;;
  *) echo "readme: 0 passed, 1 failed"; exit 1 ;;
esac
