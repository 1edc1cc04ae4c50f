#!/bin/bash
# Every mistake in a flow's graph gets its own message and a non-zero exit.
. "$(dirname "$0")/lib.sh"

# flow NAME STEPS [PARAMS]: write a flow whose step functions do nothing.
flow() {
  local f=$WORK/$1.c
  {
    echo '#include <mflow/flow.h>'
    echo 'static void s(mf_task *t) { (void)t; }'
    echo "static const mf_step_def steps[] = { $2 };"
    if [ -n "${3:-}" ]; then
      echo "static const mf_param_def params[] = { $3 };"
      echo "MF_FLOW(\"V\", steps, params);"
    else
      echo "MF_FLOW(\"V\", steps, NULL);"
    fi
  } > "$f"
  echo "$f"
}
st() { echo "{.name = \"$1\", .fn = s${2:+, .$2}},"; }

run_fails "missing start" 1 "no step named 'start'" mflow check "$(flow nostart "$(st a 'next="end"') $(st end)")"
run_fails "missing end" 1 "no step named 'end'" mflow check "$(flow noend "$(st start 'next="a"') $(st a)")"
run_fails "unknown successor" 1 "did you mean 'join'" mflow check "$(flow unknown \
  "$(st start 'next="a b"') $(st a 'next="jion"') $(st b 'next="join"') $(st join 'next="end", .join = 1') $(st end)")"
run_fails "cycle" 1 "steps form a cycle (a -> b -> a)" mflow check "$(flow cycle "$(st start 'next="a"') $(st a 'next="b end"') $(st b 'next="a"') $(st end)")"
run_fails "unreachable" 1 "unreachable" mflow check "$(flow unreach "$(st start 'next="end"') $(st lost 'next="end"') $(st end)")"
run_fails "duplicate step" 1 "defined twice" mflow check "$(flow dup "$(st start 'next="end"') $(st start 'next="end"') $(st end)")"
run_fails "foreach with two successors" 1 "needs exactly one successor" mflow check "$(flow fe2 \
  "$(st start 'next="a b", .foreach = "xs"') $(st a 'next="join"') $(st b 'next="join"') $(st join 'next="end", .join = 1') $(st end)")"
run_fails "join that does not close its split" 1 "has 2 inputs (a, b) but is not a join" mflow check "$(flow badjoin \
  "$(st start 'next="a b"') $(st a 'next="end"') $(st b 'next="end"') $(st end)")"
run_fails "join with one input path" 1 "no split is open" mflow check "$(flow onejoin \
  "$(st start 'next="a"') $(st a 'next="end", .join = 1') $(st end)")"
run_fails "bad int default" 1 "ten" mflow check "$(flow badparam "$(st start 'next="end"') $(st end)" \
  '{.name = "n", .type = MF_I64, .default_value = "ten"},')"
run_fails "bad float default" 1 "1.2.3" mflow check "$(flow badf "$(st start 'next="end"') $(st end)" \
  '{.name = "x", .type = MF_F64, .default_value = "1.2.3"},')"
run_fails "branch closed by two joins" 1 "does not reach join 'j1'" mflow check "$(flow twojoin \
  "$(st start 'next="a b c"') $(st a 'next="j1"') $(st b 'next="j1"') $(st c 'next="j2"') $(st j1 'next="j2", .join = 1') $(st j2 'next="end", .join = 1') $(st end)")"
run_fails "foreach straight to its join" 1 "goes straight to join" mflow check "$(flow fejoin \
  "$(st start 'next="join", .foreach = "xs"') $(st join 'next="end", .join = 1') $(st end)")"
echo hi > "$WORK/x.txt"
run_fails "not a flow file" 1 "not a .c, .py or .so" mflow check "$WORK/x.txt"
echo 'int main(void) { return syntax error; }' > "$WORK/broken.c"
run_fails "compile error shown" 1 "did not compile" mflow run "$WORK/broken.c"
check_contains "compiler's own words" "error" "$OUT"
echo 'int x;' > "$WORK/noflow.c"
run_fails "no MF_FLOW" 1 "MF_FLOW" mflow check "$WORK/noflow.c"

# A good flow passes check and show renders it.
run_ok "check a good flow" mflow check "$SRC/examples/branch.c"
check_contains "check says ok" "ok" "$OUT"
run_ok "show --dot" mflow show "$SRC/examples/branch.c" --dot
check_contains "dot edge" "start" "$OUT"
check_contains "dot digraph" "digraph" "$OUT"
run_ok "show --json" mflow show "$SRC/examples/foreach.c" --json
check_eq "json parses" ForeachFlow "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["flow"])')"

# Parameters are checked against their type.
run_fails "bad param value" 1 "must be an integer" mflow run "$SRC/examples/foreach.c" --n=many
run_fails "unknown param" 1 "did you mean 'name'" mflow run "$SRC/examples/hello.c" --nmae=x
finish
