#!/bin/bash
# The flow ABI: mflow reads a flow's step and parameter tables by the entry sizes the flow
# recorded, so a flow compiled against a header with fewer step fields (an older minor) or
# more (a newer minor) runs, a flow of 1.0 (no sizes recorded) runs, and a flow of another
# major or with entries too small is refused with a message.
. "$(dirname "$0")/lib.sh"

HDR=$SRC/sdk/include/mflow/flow.h

# A flow built against a copy of flow.h without the last step fields (compute, image, env)
# and the last parameter field (help): entries smaller than this mflow's.
mkdir -p "$WORK/small" "$WORK/large"
sed -e '/^    const char \*compute; /d' -e '/^    const char \*image; /d' \
    -e '/^    const char \*const \*env; /d' -e '/^    const char \*help;$/d' \
    "$HDR" > "$WORK/small/abi_flow.h"
check_eq "the small header lacks 4 fields" 4 \
  $(( $(wc -l < "$HDR") - $(wc -l < "$WORK/small/abi_flow.h") ))
cp "$FLOWS/abi_entries.c" "$WORK/small/"
run_ok "check a flow with smaller entries" mflow check "$WORK/small/abi_entries.c"
check_contains "its graph" "flow AbiSmallFlow: 5 steps, 2 parameters: ok" "$OUT"
run_flow "$WORK/small/abi_entries.c" --label=hi
check_eq "a flow with smaller entries runs" 0 $?
check_eq "smaller: the join's total (n=4 by default)" 550 "$(mflow get AbiSmallFlow/$RUN/end total)"
check_eq "smaller: a parameter given" hi "$(mflow get AbiSmallFlow/$RUN/end said)"
check_eq "smaller: no env field, no extra environment" "(unset)" "$(mflow get AbiSmallFlow/$RUN/a env)"
run_flow "$WORK/small/abi_entries.c" --n=1
check_eq "smaller: second run" 0 $?
check_eq "smaller: a parameter's default" small "$(mflow get AbiSmallFlow/$RUN/end said)"
check_eq "smaller: n given" 220 "$(mflow get AbiSmallFlow/$RUN/end total)"
small_step=$(mflow get AbiSmallFlow/$RUN/start step_entry)
small_param=$(mflow get AbiSmallFlow/$RUN/start param_entry)

# The same flow against a copy with fields of a newer minor appended (16 bytes per step,
# 8 per parameter) that it sets: mflow ignores them.
sed -e 's/^#define MF_FLOW_ABI_MINOR .*/#define MF_FLOW_ABI_MINOR 9\n#define ABI_LARGE_ENTRIES 1/' \
    -e '/^    const char \*const \*settings;$/a\    const char *k8s_namespace;    /* 1.9 */\n    int64_t future_limit;         /* 1.9 */' \
    -e '/^    const char \*help;$/a\    const char *future_note;      /* 1.9 */' \
    "$HDR" > "$WORK/large/abi_flow.h"
check_eq "the large header has 3 more fields and a flag" 4 \
  $(( $(wc -l < "$WORK/large/abi_flow.h") - $(wc -l < "$HDR") ))
cp "$FLOWS/abi_entries.c" "$WORK/large/"
run_flow "$WORK/large/abi_entries.c"
check_eq "a flow with larger entries runs" 0 $?
check_eq "larger: the join's total" 550 "$(mflow get AbiLargeFlow/$RUN/end total)"
check_eq "larger: a parameter's default" large "$(mflow get AbiLargeFlow/$RUN/end said)"
check_eq "larger: a known field after the table's first entry (env)" large \
  "$(mflow get AbiLargeFlow/$RUN/a env)"
large_step=$(mflow get AbiLargeFlow/$RUN/start step_entry)
large_param=$(mflow get AbiLargeFlow/$RUN/start param_entry)
check_eq "the small step entries are smaller than this mflow's" 1 \
  $(( small_step > 0 && small_step < large_step - 16 ))
check_eq "the small parameter entries are smaller than this mflow's" 1 \
  $(( small_param > 0 && small_param < large_param - 8 ))
run_ok "show a flow with larger entries" mflow show "$WORK/large/abi_entries.c"
check_contains "show lists its steps" "join" "$OUT"

# Definitions written by hand: DEF is the mf_flow_def initializer after the name.
# STEP (default mf_step_def) is the type of the step entries; step10 has 1.0's fields only.
handmade() {
  local f=$WORK/$1.c
  cat > "$f" <<EOC
#include <mflow/flow.h>
static void s(mf_task *t) { mf_set_str(t, "p_seen", mf_get_str(t, "p")); }
typedef struct { const char *name; void (*fn)(mf_task *t); const char *next; const char *foreach;
                 int join; mf_step_resources resources; int retry; const char *catch_var;
                 int timeout_s; const char *compute; const char *image;
                 const char *const *env; } step10;
static const ${3:-mf_step_def} steps[] = {{.name = "start", .fn = s, .next = "end"},
                                    {.name = "end", .fn = s, .retry = 1}};
static const mf_param_def params[] = {{.name = "p", .type = MF_STR, .default_value = "dflt"}};
__attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);
const mf_flow_def *mf_flow_entry_v1(void)
{
    static const mf_flow_def def = {$2};
    return &def;
}
EOC
  echo "$f"
}

# Flow ABI 1.0 recorded no sizes: what lies past its struct_size is never read.
f=$(handmade old 'MF_FLOW_DEF_V1_0_SIZE, 1, "OldFlow", (const mf_step_def *)steps, 2, params, 1, 77, 3, 3' step10)
run_flow "$f"
check_eq "a flow of ABI 1.0 runs" 0 $?
check_eq "1.0: its parameter's default" dflt "$(mflow get OldFlow/$RUN/end p_seen)"

f=$(handmade major2 'sizeof(mf_flow_def), 2, "MajorFlow", steps, 2, params, 1, 0, sizeof(mf_step_def), sizeof(mf_param_def)')
run_fails "another major is refused" 1 "was built for flow ABI 2.0, this mflow reads flow ABI 1." mflow run "$f"
check_contains "the message says what to do" "rebuild it against mflow" "$OUT"
run_fails "another major: check refuses too" 1 "flow ABI 2.0" mflow check "$f"
f=$(handmade major0 'sizeof(mf_flow_def), 0, "MajorFlow", steps, 2, params, 1, 4, sizeof(mf_step_def), sizeof(mf_param_def)')
run_fails "major 0 is refused" 1 "was built for flow ABI 0.4" mflow run "$f"

f=$(handmade tiny 'sizeof(mf_flow_def), 1, "TinyFlow", steps, 2, params, 1, 1, 8, sizeof(mf_param_def)')
run_fails "step entries too small to hold name and fn" 1 "its step entries are 8 bytes" mflow run "$f"
f=$(handmade tinyp 'sizeof(mf_flow_def), 1, "TinyFlow", steps, 2, params, 1, 1, sizeof(mf_step_def), 4')
run_fails "parameter entries too small" 1 "its parameter entries are 4 bytes" mflow run "$f"
f=$(handmade short '16, 1, "ShortFlow", steps, 2, params, 1, 1, sizeof(mf_step_def), sizeof(mf_param_def)')
run_fails "a definition smaller than 1.0's" 1 "its flow definition is 16 bytes" mflow run "$f"

finish
