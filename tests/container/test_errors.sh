#!/bin/bash
# Clear failures: a missing image, an engine that is not installed, no image at all, a host
# mflow that cannot run in the image (mflow=host), and a non-zero exit; each named.
. "$(dirname "$0")/lib.sh"

MFLOW_CONTAINER_IMAGE=localhost/mflow-nope:1 run_cflow "$FLOWS/linear.c" && fail "a missing image should fail"
check_contains "missing image named" "image 'localhost/mflow-nope:1' cannot be found or pulled" "$OUT"
check_eq "no container of the missing image" "" "$(containers_of LinearFlow)"

MFLOW_CONTAINER_ENGINE=/nonexistent run_cflow "$FLOWS/linear.c" && fail "a missing engine should fail"
check_contains "missing engine named" "the container engine '/nonexistent' cannot be run: it is not installed" "$OUT"

MFLOW_CONTAINER_ENGINE=podman-missing-xyz run_cflow "$FLOWS/linear.c" && fail "an engine not on PATH should fail"
check_contains "engine not on PATH named" "'podman-missing-xyz' cannot be run" "$OUT"

# An engine that is installed but not usable (a storage root it cannot use).
: >"$WORK/notadir"
MFLOW_CONTAINER_ROOT=$WORK/notadir/root run_cflow "$FLOWS/linear.c" && fail "an unusable engine should fail"
check_contains "unusable engine named" "the container engine 'podman' is not running or not usable" "$OUT"

( unset MFLOW_CONTAINER_IMAGE; run_cflow "$FLOWS/linear.c" && exit 9
  case "$OUT" in *"no default image is set"*) exit 0 ;; *) echo "$OUT"; exit 1 ;; esac )
check_eq "no image at all named" 0 $?

# A non-zero exit: the task's own failure, and its container named.
run_cflow "$FLOWS/failing.c" --mode=exit && fail "exit 3 should fail"
check_contains "exit code named" "exited with code 3 in container mflow-FailingFlow-$RUN-work-" "$OUT"

# mflow=host: works in the test image (the host's libraries are there) ...
MFLOW_CONTAINER_MFLOW=host run_cflow "$FLOWS/linear.c" --base=4 || fail "mflow=host run: $OUT"
check_eq "mflow=host result" 50 "$(mflow get LinearFlow/$RUN/end v)"
# ... and is refused, naming the missing library, in an image with a shell and a C library only.
bare=$WORK/bare
mkdir -p "$bare"/usr/lib/x86_64-linux-gnu "$bare"/usr/bin "$bare"/etc
for l in bin lib lib64; do ln -s usr/$l "$bare/$l"; done
mkdir -p "$bare"/usr/lib64
cp -L /usr/lib/x86_64-linux-gnu/libc.so.6 "$bare"/usr/lib/x86_64-linux-gnu/
cp -L /lib64/ld-linux-x86-64.so.2 "$bare"/usr/lib64/
cp -L /bin/dash "$bare"/usr/bin/sh
tar -C "$bare" -c . | podman import - localhost/mflow-bare:test >/dev/null
MFLOW_CONTAINER_MFLOW=host MFLOW_CONTAINER_IMAGE=localhost/mflow-bare:test run_cflow "$FLOWS/linear.c" && fail "mflow=host in a bare image should fail"
check_contains "mismatch refused" "mflow=host: the host's mflow" "$OUT"
check_contains "missing library named" "the library lib" "$OUT"
check_contains "image named" "image 'localhost/mflow-bare:test'" "$OUT"
# mflow=image in an image without mflow
MFLOW_CONTAINER_IMAGE=localhost/mflow-bare:test run_cflow "$FLOWS/linear.c" && fail "an image without mflow should fail"
check_contains "image without mflow named" "image 'localhost/mflow-bare:test' cannot run the task: mflow is not in it" "$OUT"
podman rmi -f localhost/mflow-bare:test >/dev/null 2>&1

# mflow plugins lists it; mflow resources describes the engine and the machine.
check_contains "plugins lists container" "container" "$(mflow plugins | grep '^compute *container')"
OUT=$("$MFLOW" resources --compute=container 2>&1) || fail "resources: $OUT"
check_contains "resources names the engine and its version" "engine podman 4." "$OUT"
check_contains "resources shows the machine" "$(nproc) CPUs" "$OUT"
check_eq "no container left" "" "$(containers_of LinearFlow)$(containers_of FailingFlow)"
finish
