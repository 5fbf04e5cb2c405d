BUILD ?= build
build:
	@bash scripts/setup.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j2
.PHONY: build
