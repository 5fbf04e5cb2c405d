# dycl — top-level driver. `make demo` and `make check` set up what is missing, build, and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI builds with warnings as errors.
ifeq ($(CI),true)
WERROR := ON
else
WERROR ?= OFF
endif
PY := /usr/bin/python3

.PHONY: all build asan check check-asan test demo suite setup clean help
# `make install`: where to (DESTDIR=... for a staged install is honoured as well).
PREFIX ?= /usr/local
SUITE ?= small
all: build

help:
	@echo "make            build dycl into $(BUILD)/ (the tool is $(BUILD)/dycl)"
	@echo "make demo       build, then run the bundled early-exit model on inputs taking each path"
	@echo "make check      build, then run every test (unit, ONNX conformance, bad inputs, PyTorch models),"
	@echo "                then the same tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make suite      run the dynamic-network suite (SUITE=small, or SUITE=full for the paper sizes)"
	@echo "make check-asan only the sanitizer build and its tests"
	@echo "make check-tsan the concurrency tests (threads sharing a model, packages on threads) on a"
	@echo "                ThreadSanitizer build in $(TSAN_BUILD)/ (make check runs it after check-asan)"
	@echo "make fuzz       build the libFuzzer harnesses (clang, in $(FUZZ_BUILD)/) and run each for FUZZ_TIME"
	@echo "                seconds (default 60): the model loader, tensor files, load + run (docs/fuzzing.md)"
	@echo "make install    install the tool, library, headers, dycl.pc, CMake package, man page and Python"
	@echo "                package under PREFIX (default /usr/local; DESTDIR honoured)"
	@echo "make uninstall  remove what make install put under PREFIX"
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

# ThreadSanitizer: only what the concurrency tests need is built, and only they run
# (tests/concurrency/concurrency.cmake; TSan and ASan cannot share a build).
.PHONY: check-tsan
$(TSAN_BUILD)/CMakeCache.txt:
	@bash scripts/setup.sh build
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDYCL_SANITIZE_THREAD=ON -DDYCL_WERROR=$(WERROR) >/dev/null

check-tsan: setup $(TSAN_BUILD)/CMakeCache.txt
	@echo "== concurrency tests under ThreadSanitizer ($(TSAN_BUILD))"
	@cmake --build $(TSAN_BUILD) -j$(JOBS) --target dycl_cli test_concurrency
	@cd $(TSAN_BUILD) && ctest --output-on-failure -R '^concurrency\.'

check: setup build
	@echo "== tests ($(BUILD))"
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-tsan
	@echo "== fuzzing, $(FUZZ_CHECK_TIME)s per harness (seed $(FUZZ_CHECK_SEED))"
	@bash fuzz/run_fuzz.sh --time $(FUZZ_CHECK_TIME) --seed $(FUZZ_CHECK_SEED) --build $(FUZZ_BUILD) --seeds small --jobs $(JOBS)

# libFuzzer harnesses (fuzz/): FUZZ_TIME seconds each; make check runs them FUZZ_CHECK_TIME seconds
# each with a fixed seed (FUZZ_CHECK_SEED), so that a check repeats the inputs of the last one and
# fails on a change of dycl, not on a new roll of the dice; `make fuzz` explores with new seeds.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 60
FUZZ_CHECK_TIME ?= 20
FUZZ_CHECK_SEED ?= 1
.PHONY: fuzz
fuzz:
	@bash scripts/setup.sh fuzz
	@bash fuzz/run_fuzz.sh --time $(FUZZ_TIME) --build $(FUZZ_BUILD) --jobs $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/dycl

# The dynamic-network suite: generates what is missing, runs dycl on every case, prints the table.
suite: setup build
	@$(PY) models/suite/suite.py run --dycl $(BUILD)/dycl --config $(SUITE) --out $(BUILD)/suite

# Install / uninstall (scripts/install.sh: cmake --install plus a manifest in PREFIX/share/dycl).
.PHONY: install uninstall
install: build
	@DESTDIR="$(DESTDIR)" bash scripts/install.sh install $(BUILD) "$(PREFIX)"

uninstall:
	@DESTDIR="$(DESTDIR)" bash scripts/install.sh uninstall "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)

-include bench/bench.mk
