#!/bin/bash
# The command's own surface: version, help, unknown things, the compile cache.
. "$(dirname "$0")/lib.sh"

run_ok "--version" mflow --version
abi=$(sed -n 's/^#define MF_PLUGIN_ABI_\(MAJOR\|MINOR\) \([0-9]*\).*/\2/p' "$SRC/sdk/include/mflow/plugin.h" | paste -sd.)
check_contains "version names the ABI of plugin.h" "plugin ABI $abi" "$OUT"
run_ok "--help" mflow --help
check_contains "help lists run" "run" "$OUT"
run_ok "run --help" mflow run --help
check_contains "run usage" "--max-workers" "$OUT"
run_fails "unknown command" 2 "unknown command 'jump'" mflow jump
run_fails "unknown option" 2 "unknown option" mflow --colour run x.c
run_fails "missing flow file" 1 "No such file" mflow run "$WORK/none.c"
run_fails "unknown compute plugin" 1 "nosuch" mflow --compute=nosuch run "$SRC/examples/hello.c"

# An unchanged flow compiles once: the cache holds one object (and its manifest), reused.
cp "$SRC/examples/hello.c" "$WORK/h.c"
run_ok "first run" mflow run "$WORK/h.c"
n1=$(ls "$MFLOW_HOME"/cache/flows/*.so | wc -l)
m1=$(stat -c %Y "$MFLOW_HOME"/cache/flows/*.so | sort | tail -1)
sleep 1
run_ok "second run" mflow run "$WORK/h.c"
check_eq "no second object" "$n1" "$(ls "$MFLOW_HOME"/cache/flows/*.so | wc -l)"
check_eq "object reused" "$m1" "$(stat -c %Y "$MFLOW_HOME"/cache/flows/*.so | sort | tail -1)"
echo '/* changed */' >> "$WORK/h.c"
run_ok "changed flow" mflow run "$WORK/h.c"
check_eq "changed flow compiled anew" "$((n1 + 1))" "$(ls "$MFLOW_HOME"/cache/flows/*.so | wc -l)"

# A prebuilt .so runs directly.
so=$(ls "$MFLOW_HOME"/cache/flows/*.so | head -1)
cp "$so" "$WORK/hello.so"
run_ok "prebuilt .so" mflow run "$WORK/hello.so"

# --datastore-root puts everything there.
run_ok "custom datastore root" mflow --datastore-root="$WORK/ds" run "$SRC/examples/hello.c"
check_eq "run record under the root" 1 "$(ls "$WORK"/ds/runs/HelloFlow/*/run.json >/dev/null 2>&1 && echo 1 || echo 0)"
finish
