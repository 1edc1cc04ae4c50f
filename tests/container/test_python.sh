#!/bin/bash
# A Python flow with --compute=container, in an image made by `make-image.sh --python`
# (Debian's python3 copied in offline, the SDK installed with mflow): every task's artifacts
# (branch, foreach, joins, parameters, an obj, a pickled class from a module beside the
# flow, a data file read beside it) equal local compute's; the flow's directory is bound
# read-only (the module it imports, its data) and nothing else of the host's is needed; a
# retried step; a step's exception with its traceback in `mflow logs`; the bare image
# (no python3) refused with a message that says what to do.
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] || { echo "SKIP: no Debian python3 (/usr/bin/python3) to copy into the image"; exit 77; }
export MFLOW_PYTHON=/usr/bin/python3 PYTHONPATH=$SRC/sdk/python
export MFLOW_LIBMFLOW=$MFLOW_TEST_BUILD_ROOT/core/libmflow.so.$("$MFLOW" --version | awk '{print $2; exit}')
. "$SRC/tests/pyflow/remote_lib.sh"

PYIMAGE=localhost/mflow-python:test
exec 9>"$CT/lock"
flock 9
if ! podman image exists "$PYIMAGE" || [ "$BUILD/core/mflow" -nt "$CT/pyimage.stamp" ]; then
  out=$(ENGINE_FLAGS="--root $ENGINE_ROOT --runroot $ENGINE_RUNROOT" \
        "$SRC/plugins/compute/container/make-image.sh" --python "$BUILD" "$PYIMAGE" 2>&1) ||
    { echo "FAIL: make-image.sh --python: $out"; exit 1; }
  touch "$CT/pyimage.stamp"
fi
flock -u 9
export MFLOW_CONTAINER_IMAGE=$PYIMAGE
run_ok "the image's python3 imports the SDK's modules" podman run --rm "$PYIMAGE" python3 -c \
  'import ctypes, json, pickle, hashlib, ast, select, struct, zlib; print("py", ctypes.sizeof(ctypes.c_void_p))'
check_eq "python3 in the image runs" "py 8" "$OUT"
check_eq "the image's mflow finds the installed SDK" mflow \
  "$(podman run --rm "$PYIMAGE" sh -c 'PYTHONPATH=$(ls -d /usr/local/lib/python3*/*-packages | head -1) python3 -c "import mflow; print(mflow.__name__)"' 2>&1)"

# The same flow locally and in containers.
export MFLOW_CONTAINER_PRINT_COMMAND=$WORK/commands
run_flow "$RFLOW" --n=4 --label=abc || fail "local run: $OUT"
LOCAL=$RUN
run_cflow "$RFLOW" --n=4 --label=abc || fail "container run: $OUT"
C=$RUN
MS=$WORK/m
printf '#!/bin/sh\nexec "%s" "$@"\n' "$MFLOW" > "$MS"; chmod +x "$MS"
same_runs "container run: every task's artifacts as on local compute" "$MS" "$LOCAL" "$C"
check_eq "values: the module and the data file beside the flow" 150 "$(mflow get RemoteFlow/$C/join from_a)"
check_eq "foreach inside the branch" "[0,2,6,12]" "$(mflow get RemoteFlow/$C/join sqs --json | tr -d ' \n')"
check_eq "the pickled class, as local compute stored it" "$(pickled "$MFLOW_HOME/datastore" RemoteFlow/$LOCAL/end)" \
  "$(pickled "$MFLOW_HOME/datastore" RemoteFlow/$C/end)"
check_contains "the pickled class's value" "Point(4, 3) pickle" "$(pickled "$MFLOW_HOME/datastore" RemoteFlow/$C/end)"
check_eq "a container per task" 10 "$(grep -c ' run --name mflow-RemoteFlow-' "$WORK/commands")"
check_eq "the flow's directory bound read-only" 10 "$(grep -c -- "-v $RFLOW_DIR:$RFLOW_DIR:ro " "$WORK/commands")"
check_eq "nothing else of the sources bound" 0 "$(grep -c -- "-v $SRC" "$WORK/commands")"
check_eq "no host python path passed" 0 "$(grep -c -- '-e MFLOW_PYTHON\b\|-e MFLOW_LIBMFLOW\|-e PYTHONPATH' "$WORK/commands")"
check_eq "the containers ran the image's mflow on the flow's file" 10 \
  "$(grep -c -- "$PYIMAGE mflow --home .* task $RFLOW " "$WORK/commands")"
# read-only: a step writing beside its flow fails
check_eq "the flow's directory is read-only inside" "ro" \
  "$(podman run --rm -v "$RFLOW_DIR:$RFLOW_DIR:ro" "$PYIMAGE" sh -c "echo x > '$RFLOW_DIR/new' 2>/dev/null && echo rw || echo ro")"

# A retried step (two containers for a), and a step's exception with its traceback.
run_cflow "$RFLOW" --mode=flaky || fail "flaky in containers: $OUT"
check_contains "first attempt's failure shown" "a fails on its first attempt" "$OUT"
check_eq "second attempt's record" 1 "$(mflow get RemoteFlow/$RUN/a tries)"
run_cflow "$RFLOW" --mode=raise && fail "mode=raise should fail"
check_contains "the exception named" "ValueError: remote step fails on purpose with n=3" "$OUT"
LOGS=$(mflow logs "RemoteFlow/$RUN/a" --stderr 2>&1)
check_contains "traceback in mflow logs" "Traceback (most recent call last)" "$LOGS"
check_contains "traceback names the flow's file and function" "$RFLOW\", line" "$LOGS"
check_eq "run recorded failed" failed "$(mflow inspect RemoteFlow/$RUN --json | json_status)"

# The bare image (no python3): the task cannot start python3, and says so.
MFLOW_CONTAINER_IMAGE=$IMAGE run_cflow "$SRC/tests/pyflow/flows/linear.py" && fail "a Python flow in an image without python3 should fail"
check_contains "no python3 in the image named" "install python3 or set MFLOW_PYTHON" "$OUT"
check_eq "no container left" "" "$(containers_of RemoteFlow)"
finish
