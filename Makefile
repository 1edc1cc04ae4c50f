# The two entry points: `make demo` and `make test` (see README.md).
BUILD ?= build
MFLOW = $(BUILD)/core/mflow

.PHONY: all deps configure build demo test test-asan test-asan-all bench clean install fuzz fuzz-smoke fuzz-replay fuzz-build soak

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

# Fuzzing (tests/fuzz/README.md): a clang build of its own with ASan, UBSan and libFuzzer; it
# builds only the fuzz targets (and the instrumented libmflow they link), never the rest.
# `make fuzz` runs each target FUZZ_SECONDS (default 600); `make fuzz-smoke` (CI) runs each
# FUZZ_SMOKE_SECONDS (default 10), FUZZ_JOBS (default 2) at once, one a core.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_JOBS ?= 2

$(FUZZ_BUILD)/build.ninja:
	@scripts/setup-deps.sh --fuzz
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

fuzz-build: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzz-targets

fuzz: fuzz-build
	BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# libFuzzer runs every input of the seed corpus before it mutates any, so the smoke run is
# also the ASan + UBSan replay of every corpus (what fuzz-replay does alone); CI runs it.
# FUZZ_TIMEOUT 30 for one input here, not run.sh's 10: a CI machine busy with two fuzzers
# and their builds once took over 10 s of wall time for inputs that run in 0.2 s alone (a real
# hang still exceeds any limit; a 3 CPU-s input of input_paths is close to 10 s under load).
fuzz-smoke: fuzz-build
	BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_TIMEOUT=30 tests/fuzz/run.sh

# Every corpus replayed once by the ASan + UBSan fuzz build (about 20 s after the build): it
# sees what the plain replay of `make test` cannot (an over-read found this way).
fuzz-replay: fuzz-build
	meson test -C $(FUZZ_BUILD) --no-rebuild --suite fuzz --print-errorlogs

# The suites again under AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer,
# from their own build folder. Every report of any process (mflow, its tasks, the task
# server's children) is written under $(ASAN_BUILD)/sanitizer-logs; run.sh prints them and
# fails when there is one. handle_segv/sigbus/sigfpe=0: tests crash tasks and flows on purpose
# and check that mflow names the signal (ASan would turn the signal into exit 1); memory
# errors are still caught where they happen. verify_asan_link_order=0: the fault-injection
# tests preload their (unsanitized) shims in front of the sanitizer runtime on purpose.
# intercept_tls_get_addr=0: GCC 12's LSan recorded a dlopen'ed module's dynamic TLS block
# (plugins keep their error text in __thread variables) with bogus bounds and its tracer
# faulted scanning it at exit ("Tracer caught signal 11", "DTLS 7 at 0xec-0x10000011ee" with
# LSAN_OPTIONS=verbosity=1:log_threads=1; airflow_standin's end task, 2 runs of 2). Without the
# interception LSan does not scan dynamic TLS; it can only report more, not less.
#
# What CI runs under the sanitizers (make test-asan) is cut for CI's time (README, "CI"):
# every suite but s3, slurm, container, airflow and pyflow (as before), less the tests of suite
# `asan-all` (tests/meson.build): the k8s runs on the API stand-in (k8s_e2e, k8s_faults,
# k8s_cancel, k8s_deadline: 3 minutes and more of test time under ASan; the k8s parsers are fuzzed and their unit
# tests, k8s_kubectl and k8s_validate stay), the stand-in's own checks, which run no mflow
# code (k8s_standin_api, _kubectl, _manifests, _deadline), format_fresh and format_corpus (3 minutes
# of test time under ASan for commands e2e runs; their record and value readers are fuzzed),
# and scheduler_cron (up to a minute waiting for the real cron daemon to fire what
# e2e_deploy_crontab and e2e_deploy_fire fire under ASan through the stand-in crontab).
# `make test-asan-all` runs those too (about 4 more minutes on 2 cores).
# -O1, as the sanitizers' authors advise: a third less to compile than -O2 (129 vs 190 CPU-s
# here) and the reports keep more of their frames. Neither the benchmarks nor the fuzz targets'
# corpus replays are built (-Dbench=false -Dfuzz_replay=false): no suite run here uses them, and
# make fuzz-smoke has just replayed every corpus under ASan + UBSan with the fuzz build.
# The npm packages the plain build fetched for its tests (S3 server, schema validator,
# playwright-core) are reused, not fetched again.
ASAN_BUILD ?= build-asan
ASAN_SUITES ?= unit abi e2e resources k8s scheduler conformance format ui serve python
ASAN_SKIP_SUITES ?= asan-all
ASAN_LOGS = $(CURDIR)/$(ASAN_BUILD)/sanitizer-logs

test-asan-all:
	$(MAKE) test-asan ASAN_SKIP_SUITES=

test-asan: deps
	@scripts/setup-deps.sh --test
	test -f $(ASAN_BUILD)/build.ninja || \
	  meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 \
	    -Dbench=false -Dfuzz_replay=false
	ninja -C $(ASAN_BUILD)
	for d in s3-server k8s-validator ui-deps; do \
	  [ ! -d $(BUILD)/$$d ] || [ -e $(ASAN_BUILD)/$$d ] || ln -s $(CURDIR)/$(BUILD)/$$d $(ASAN_BUILD)/$$d; done
	rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	BUILD=$(ASAN_BUILD) MFLOW_SANITIZER_LOGS=$(ASAN_LOGS) MFLOW_TEST_SKIP_SUITES="$(ASAN_SKIP_SUITES)" \
	ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:verify_asan_link_order=0:log_exe_name=1:log_path=$(ASAN_LOGS)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_exe_name=1:log_path=$(ASAN_LOGS)/ubsan \
	  tests/run.sh $(ASAN_SUITES)

bench: build
	ninja -C $(BUILD) bench-all

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)

# The crash soak (tests/soak/soak.sh): 50 kill -9s of `mflow run` across a 300-task foreach,
# each followed by `mflow resume`, then a full filesystem mid-run; every blob and record checked.
soak: build
	tests/soak/soak.sh
