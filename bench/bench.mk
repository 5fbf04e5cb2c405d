# `make bench`: dycl (cpu and ref backends) against eager PyTorch, TorchScript and ONNX Runtime on
# every model of the dynamic-network suite, same inputs, same thread count (bench/run_bench.py).
# BENCH=small for a quick run (default: full, the paper sizes); BENCH_THREADS (default: all cores);
# BENCH_ARGS for more options of bench/run_bench.py (e.g. --models a,b --rounds 3).
# Writes docs/bench.md (between markers, per configuration) and docs/bench_speedup.svg.
BENCH         ?= full
BENCH_THREADS ?= $(shell nproc 2>/dev/null || echo 1)
BENCH_ARGS    ?=

.PHONY: bench
bench: setup build
	@bash bench/setup_bench.sh
	@$(PY) models/suite/suite.py generate --config $(BENCH) --out $(BUILD)/suite
	@$(PY) bench/run_bench.py --config $(BENCH) --threads $(BENCH_THREADS) --dycl $(BUILD)/dycl \
	  --suite $(BUILD)/suite --work $(BUILD)/bench --ort $(BUILD)/ort $(BENCH_ARGS)
