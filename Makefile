# The two entry points: `make demo` and `make test` (see README.md).
BUILD ?= build
MFLOW = $(BUILD)/core/mflow

.PHONY: all deps configure build demo test bench clean install fuzz fuzz-smoke fuzz-build

all: build

deps:
	@scripts/setup-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

configure: deps $(BUILD)/build.ninja

build: configure
	ninja -C $(BUILD)

demo: build
	$(MFLOW) run examples/hello.c

test: build
	@scripts/setup-deps.sh --test
	tests/run.sh

# Fuzzing (tests/fuzz/README.md): a clang build of its own with ASan, UBSan and libFuzzer.
# `make fuzz` runs each target FUZZ_SECONDS (default 600), `make fuzz-smoke` 20 s each.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600

$(FUZZ_BUILD)/build.ninja:
	@scripts/setup-deps.sh --fuzz
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

fuzz-build: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzz-targets

fuzz: fuzz-build
	BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

fuzz-smoke: fuzz-build
	BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=20 tests/fuzz/run.sh

bench: build
	ninja -C $(BUILD) bench-all

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
