# dycl — top-level driver. `make demo` and `make check` set up what is missing, build, and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI builds with warnings as errors.
ifeq ($(CI),true)
WERROR := ON
else
WERROR ?= OFF
endif
PY := /usr/bin/python3

.PHONY: all build asan check check-asan test demo suite setup clean help
SUITE ?= small
all: build

help:
	@echo "make            build dycl into $(BUILD)/ (the tool is $(BUILD)/dycl)"
	@echo "make demo       build, then run the bundled early-exit model on inputs taking each path"
	@echo "make check      build, then run every test (unit, ONNX conformance, bad inputs, PyTorch models),"
	@echo "                then the same tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make suite      run the dynamic-network suite (SUITE=small, or SUITE=full for the paper sizes)"
	@echo "make check-asan only the sanitizer build and its tests"
	@echo "make clean      remove the build folders"

setup:
	@bash scripts/setup.sh all

$(BUILD)/CMakeCache.txt:
	@bash scripts/setup.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDYCL_WERROR=$(WERROR) >/dev/null

build: $(BUILD)/CMakeCache.txt
	@bash scripts/setup.sh build
	@cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	@bash scripts/setup.sh build
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDYCL_SANITIZE=ON -DDYCL_WERROR=$(WERROR) >/dev/null

asan: $(ASAN_BUILD)/CMakeCache.txt
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

check-asan: setup asan
	@echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS)

check: setup build
	@echo "== tests ($(BUILD))"
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory check-asan

demo: build
	@bash scripts/demo.sh $(BUILD)/dycl

# The dynamic-network suite: generates what is missing, runs dycl on every case, prints the table.
suite: setup build
	@$(PY) models/suite/suite.py run --dycl $(BUILD)/dycl --config $(SUITE) --out $(BUILD)/suite

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

-include bench/bench.mk
