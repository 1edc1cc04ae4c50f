#!/bin/bash
# A flow whose own code crashes while it loads (issue 21, class 12): `run` and `check` name the
# flow and the signal and exit with 128 + signal, for several kinds of crash.
. "$(dirname "$0")/lib.sh"

F=$WORK/flows
mkdir -p "$F"
steps='static void start(mf_task *t) { (void)t; }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    { .name = "start", .fn = start, .next = "end" },
    { .name = "end", .fn = end },
};'

# A constructor that writes through a bad pointer.
cat > "$F/ctor_segv.c" <<EOF2
#include <mflow/flow.h>
static int *volatile bad = (int *)16;
__attribute__((constructor)) static void boom(void) { *bad = 1; }
$steps
MF_FLOW("CtorSegvFlow", steps, NULL);
EOF2
# A constructor that recurses until the stack is gone (the handler needs a stack of its own).
cat > "$F/ctor_overflow.c" <<EOF2
#include <mflow/flow.h>
static int deep(int n) { volatile char pad[512]; pad[n % 512] = (char)n; return deep(n + 1) + pad[0]; }
__attribute__((constructor)) static void boom(void) { deep(0); }
$steps
MF_FLOW("CtorOverflowFlow", steps, NULL);
EOF2
# A constructor that divides by zero.
cat > "$F/ctor_fpe.c" <<EOF2
#include <mflow/flow.h>
static volatile int one = 1, zero = 0, out;
__attribute__((constructor)) static void boom(void) { out = one / zero; }
$steps
MF_FLOW("CtorFpeFlow", steps, NULL);
EOF2
# The flow's entry aborts.
cat > "$F/entry_abort.c" <<'EOF2'
#include <mflow/flow.h>
#include <stdlib.h>
__attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);
const mf_flow_def *mf_flow_entry_v1(void) { abort(); }
EOF2
# The flow's table points at garbage.
cat > "$F/garbage_table.c" <<'EOF2'
#include <mflow/flow.h>
__attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);
const mf_flow_def *mf_flow_entry_v1(void)
{
    static mf_flow_def def = { sizeof(mf_flow_def), MF_FLOW_ABI_VERSION, "GarbageFlow",
                               (const mf_step_def *)64, 3, NULL, 0,
                               MF_FLOW_ABI_MINOR, sizeof(mf_step_def), sizeof(mf_param_def) };
    return &def;
}
EOF2

# crashes FILE SIGNAL CODE: check and run both name the flow and the signal, exit CODE.
crashes() {
  local flow=$1 sig=$2 code=$3
  for cmd in check run; do
    run_fails "$cmd $(basename "$flow"): $sig" "$code" "flow $flow crashed while loading ($sig)" \
      mflow "$cmd" "$flow"
  done
}
crashes "$F/ctor_segv.c" SIGSEGV 139
crashes "$F/ctor_overflow.c" SIGSEGV 139
crashes "$F/ctor_fpe.c" SIGFPE 136
crashes "$F/entry_abort.c" SIGABRT 134
crashes "$F/garbage_table.c" SIGSEGV 139

# A prebuilt object crashing is named as the object.
cc -shared -fPIC -I"$SRC/sdk/include" -o "$F/ctor_segv.so" "$F/ctor_segv.c" 2>/dev/null
crashes "$F/ctor_segv.so" SIGSEGV 139

# The run stores nothing of a flow that never loaded.
check_eq "no run recorded for a flow that crashed while loading" "" \
  "$(ls "$MFLOW_HOME/datastore/runs" 2>/dev/null)"

# After loading, the handlers are gone again: a step that crashes is still a failed task of a
# run that reports it, and a healthy flow runs.
cat > "$F/step_segv.c" <<'EOF2'
#include <mflow/flow.h>
static int *volatile bad = (int *)16;
static void start(mf_task *t) { (void)t; *bad = 1; }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    { .name = "start", .fn = start, .next = "end" },
    { .name = "end", .fn = end },
};
MF_FLOW("StepSegvFlow", steps, NULL);
EOF2
run_fails "a step's crash is a failed task, not a load crash" 1 "StepSegvFlow" mflow run "$F/step_segv.c"
CHECKS=$((CHECKS + 1))
case "$OUT" in
  *"crashed while loading"*) fail "a step's crash was called a load crash: $OUT" ;;
  *) echo "ok: a step's crash is not called a load crash" ;;
esac
run_ok "a healthy flow still runs" mflow run "$SRC/examples/hello.c"
finish
