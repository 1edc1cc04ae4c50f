# The two entry points: `make demo` and `make test` (see README.md).
BUILD ?= build
MFLOW = $(BUILD)/core/mflow

.PHONY: all deps configure build demo test bench clean install

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

bench: build
	ninja -C $(BUILD) bench-all

clean:
	rm -rf $(BUILD)
