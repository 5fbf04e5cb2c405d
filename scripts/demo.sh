#!/usr/bin/env bash
# The demo: an early-exit classifier whose path depends on its input. dycl loads it, cuts it into
# sub-networks around its If nodes, and runs it on three inputs that leave at different exits.
set -eu
DYCL=${1:-build/dycl}
MODEL=models/demo/early_exit.onnx
if [ ! -f "$MODEL" ]; then
  echo "demo: $MODEL is missing; regenerate it with: /usr/bin/python3 models/demo/export_demo.py" >&2
  exit 1
fi
echo "== dycl inspect $MODEL (the host tree dycl synthesizes; sub-network listings omitted)"
"$DYCL" inspect "$MODEL" | sed -n '/^host:/,/^subnet_0 /p' | sed '$d'
echo
for input in easy medium hard; do
  echo "== dycl run $MODEL models/demo/inputs/$input.pb"
  "$DYCL" run "$MODEL" "models/demo/inputs/$input.pb"
  for backend in ref cpu; do
    printf '%-4s backend: ' "$backend"
    "$DYCL" bench "$MODEL" "models/demo/inputs/$input.pb" --backend "$backend" --iters 50 --warmup 5 | tail -1
  done
  echo
done
