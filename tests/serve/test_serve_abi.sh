#!/bin/bash
# Flow ABI 1.3: the endpoint table is read by the entry size the flow recorded, a flow of an
# older minor (1.2: no endpoint fields) still loads and runs, and bad tables are refused.
. "$(dirname "$0")/lib.sh"
HDR=$SRC/sdk/include/mflow/flow.h

check_contains "flow.h is 1.3" "#define MF_FLOW_ABI_MINOR 3" "$(cat "$HDR")"

# A 1.2 flow: its definition ends before the endpoint fields. What lies past its struct_size
# (an endpoint table here) is never read.
cat > "$WORK/old12.c" <<'EOC'
#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "v", 12); }
static void end(mf_task *t) { mf_set_i64(t, "w", mf_get_i64(t, "v") + mf_get_i64(t, "p")); }
static int never(mf_endpoint *e) { return mf_reply_json(e, "1"); }
static const mf_step_def steps[] = {{.name = "start", .fn = start, .next = "end"},
                                    {.name = "end", .fn = end}};
static const mf_param_def params[] = {{.name = "p", .type = MF_I64, .default_value = "30"}};
static const mf_endpoint_def eps[] = {{.name = "never", .fn = never}};
__attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);
const mf_flow_def *mf_flow_entry_v1(void)
{
    static const mf_flow_def def = {MF_FLOW_DEF_V1_2_SIZE, 1, "OldMinorFlow", steps, 2, params, 1,
                                    2, sizeof(mf_step_def), sizeof(mf_param_def), eps, 1,
                                    sizeof(mf_endpoint_def)};
    return &def;
}
EOC
run_ok "a 1.2 flow checks" mflow check "$WORK/old12.c"
check_eq "no endpoints read past its definition" "flow OldMinorFlow: 2 steps, 1 parameters: ok" "$OUT"
run_flow "$WORK/old12.c"
check_eq "a 1.2 flow runs" 0 $?
check_eq "1.2: its values" 42 "$(mflow get OldMinorFlow/$RUN/end w)"
run_flow "$WORK/old12.c" --p=1
check_eq "1.2: a parameter given" 13 "$(mflow get OldMinorFlow/$RUN/end w)"
run_fails "1.2: serve says it has no endpoints" 1 "flow OldMinorFlow declares no endpoints" \
  mflow serve "$WORK/old12.c" --port 0

# MF_FLOW of 1.3, without endpoints: the same.
run_ok "MF_FLOW without endpoints" mflow check "$SRC/examples/hello.c"
check_eq "hello has none" "flow HelloFlow: 3 steps, 1 parameters: ok" "$OUT"

# Endpoint entries of this mflow's size, and of a newer minor's (one more field).
mkdir -p "$WORK/same" "$WORK/large"
cp "$HDR" "$WORK/same/abi_flow.h"
sed -e 's/^#define MF_FLOW_ABI_MINOR .*/#define MF_FLOW_ABI_MINOR 9\n#define ABI_LARGE_ENDPOINTS 1/' \
    -e '/listed at \/ \*\/$/a\    int64_t future;               /* 1.9 */' "$HDR" > "$WORK/large/abi_flow.h"
check_eq "the large header has a field and a flag more" 2 \
  $(( $(wc -l < "$WORK/large/abi_flow.h") - $(wc -l < "$HDR") ))
for v in same large; do
  cp "$SFLOWS/abi_endpoints.c" "$WORK/$v/"
  run_ok "$v: check" mflow check "$WORK/$v/abi_endpoints.c"
  check_eq "$v: its endpoints" "flow AbiEndpointsFlow: 2 steps, 0 parameters, 3 endpoints: ok" "$OUT"
  run_flow "$WORK/$v/abi_endpoints.c" || fail "$v: run: $OUT"
  start_server "$WORK/$v/abi_endpoints.c" --workers 1 || continue
  check_req "$v: the first entry" 200 '{"v": 21}' GET first
  check_req "$v: the second entry (one entry size on)" 200 '{"w": 42}' GET second
  check_req "$v: the third" 200 '"third"' GET third
  req GET ''
  check_eq "$v: names and help read at the recorded size" "first:one second:two third:None" \
    "$(json '" ".join("%s:%s" % (e["name"], e["help"]) for e in b["endpoints"])')"
  stop_server
done

# Tables that are refused, naming what is wrong.
bad() {   # bad NAME DEF-INITIALIZER-AFTER-PARAMS ENDPOINTS
  cat > "$WORK/$1.c" <<EOC
#include <mflow/flow.h>
static void s(mf_task *t) { (void)t; }
static int ep(mf_endpoint *e) { return mf_reply_json(e, "1"); }
static const mf_step_def steps[] = {{.name = "start", .fn = s, .next = "end"}, {.name = "end", .fn = s}};
static const mf_endpoint_def eps[] = {$3};
__attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);
const mf_flow_def *mf_flow_entry_v1(void)
{
    static const mf_flow_def def = {sizeof(mf_flow_def), 1, "BadFlow", steps, 2, 0, 0, 3,
                                    sizeof(mf_step_def), sizeof(mf_param_def), $2};
    return &def;
}
EOC
  echo "$WORK/$1.c"
}
f=$(bad tiny 'eps, 1, 8' '{.name = "a", .fn = ep}')
run_fails "endpoint entries too small" 1 "its endpoint entries are 8 bytes, too small to hold an endpoint's name and fn" mflow check "$f"
f=$(bad slash 'eps, 1, sizeof(mf_endpoint_def)' '{.name = "a/b", .fn = ep}')
run_fails "a name with a slash" 1 "flow BadFlow: endpoint 0's name 'a/b' is not valid" mflow check "$f"
f=$(bad empty 'eps, 2, sizeof(mf_endpoint_def)' '{.name = "ok", .fn = ep}, {.name = "", .fn = ep}')
run_fails "an empty name" 1 "endpoint 1's name '' is not valid" mflow check "$f"
f=$(bad ctl 'eps, 1, sizeof(mf_endpoint_def)' '{.name = "a\nb", .fn = ep}')
run_fails "a control character, shown escaped" 1 "endpoint 0's name 'a\\nb' is not valid" mflow check "$f"
f=$(bad twice 'eps, 2, sizeof(mf_endpoint_def)' '{.name = "x", .fn = ep}, {.name = "x", .fn = ep}')
run_fails "a name twice" 1 "flow BadFlow: endpoint 'x' is declared twice" mflow run "$f"
f=$(bad nofn 'eps, 1, sizeof(mf_endpoint_def)' '{.name = "x"}')
run_fails "no fn" 1 "flow BadFlow: endpoint 'x' has no fn" mflow check "$f"
f=$(bad none 'eps, 0, 8' '{.name = "x", .fn = ep}')
run_ok "no endpoints: their entry size is not looked at" mflow check "$f"
finish
