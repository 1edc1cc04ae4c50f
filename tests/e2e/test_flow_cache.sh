#!/bin/bash
# The compile cache follows everything the compiler read (issue 21, class 1): a header beside
# the flow, one in a subdirectory, one included through another, one that newly shadows
# another, the compiler (CC, a wrapper script) and its include path (CPATH) each compile the
# flow anew; `mflow package` ships the object of the new headers; an unchanged flow does not
# run the compiler at all.
. "$(dirname "$0")/lib.sh"

D=$WORK/flow
mkdir -p "$D/sub" "$D/inner" "$WORK/inc1" "$WORK/inc2"
cat > "$D/cache.c" <<'C'
#include <mflow/flow.h>
#include "val.h"
#include "sub/x.h"
#include "outer.h"
#if __has_include(<cp.h>)
#include <cp.h>
#endif
#ifndef EXTRA
#define EXTRA 0
#endif
#ifndef CPVAL
#define CPVAL 0
#endif
static void start(mf_task *t)
{
    mf_set_str(t, "v", MF_STR(VAL) " " MF_STR(SUBVAL) " " MF_STR(NESTED) " " MF_STR(SHADOW)
                           " " MF_STR(EXTRA) " " MF_STR(CPVAL));
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    { .name = "start", .fn = start, .next = "end" },
    { .name = "end", .fn = end },
};
MF_FLOW("CacheFlow", steps, NULL);
C
# MF_STR is not the SDK's: the flow's own stringizing helpers, in a header of its own.
sed -i '1i #define MF_STR_(x) #x\n#define MF_STR(x) MF_STR_(x)' "$D/cache.c"
echo '#define VAL 1' > "$D/val.h"
printf '#define SUBVAL 10\n#include "y.h"\n' > "$D/sub/x.h"
echo '#define SHADOW 100' > "$D/y.h"
echo '#include "inner/deep.h"' > "$D/outer.h"
echo '#define NESTED 5' > "$D/inner/deep.h"
echo '#define CPVAL 1' > "$WORK/inc1/cp.h"
echo '#define CPVAL 2' > "$WORK/inc2/cp.h"

# Every compile goes through this wrapper, which counts them.
export CCLOG=$WORK/cc.log
: > "$CCLOG"
cat > "$WORK/cc-count" <<'S'
#!/bin/sh
echo compile >> "$CCLOG"
exec cc "$@"
S
chmod +x "$WORK/cc-count"
export CC=$WORK/cc-count
compiles() { wc -l < "$CCLOG" | tr -d ' '; }

# run_value WHAT EXPECTED: run the flow, compare its "v" artifact.
run_value() {
  CHECKS=$((CHECKS + 1))
  if ! run_flow "$D/cache.c"; then fail "$1: run failed: $OUT"; return; fi
  local got
  got=$(mflow get "CacheFlow/$RUN/end" v 2>&1)
  if [ "$got" != "$2" ]; then fail "$1: expected [$2], got [$got]"; else echo "ok: $1"; fi
}

run_value "first run" "1 10 5 100 0 0"
n=$(compiles)
check_eq "first run compiled" 1 "$([ "$n" -ge 1 ] && echo 1)"

# Unchanged: no compiler at all, in the run nor in its tasks.
run_value "unchanged flow" "1 10 5 100 0 0"
check_eq "unchanged flow is not compiled again" "$n" "$(compiles)"
# Something unrelated appears beside the flow: still no compile.
echo notes > "$D/notes.txt"
mkdir "$D/data"
run_value "unrelated files beside the flow" "1 10 5 100 0 0"
check_eq "unrelated files do not compile again" "$n" "$(compiles)"

# expect_compiled WHAT: the compiler ran since the last look.
expect_compiled() {
  local now; now=$(compiles)
  check_eq "$1 compiled anew" 1 "$([ "$now" -gt "$n" ] && echo 1)"
  n=$now
}

# A header beside the flow (same size, same second: the content decides).
echo '#define VAL 2' > "$D/val.h"
run_value "header beside the flow changed" "2 10 5 100 0 0"
expect_compiled "header beside the flow"
# A header in a subdirectory, included as "sub/x.h".
printf '#define SUBVAL 11\n#include "y.h"\n' > "$D/sub/x.h"
run_value "header in a subdirectory changed" "2 11 5 100 0 0"
expect_compiled "header in a subdirectory"
# A header included through another header.
echo '#define NESTED 6' > "$D/inner/deep.h"
run_value "nested header changed" "2 11 6 100 0 0"
expect_compiled "nested header"
# A new header that stands in front of one read before: sub/x.h's own directory is searched
# before -I, so sub/y.h now wins over y.h.
echo '#define SHADOW 200' > "$D/sub/y.h"
run_value "newly shadowing header" "2 11 6 200 0 0"
expect_compiled "newly shadowing header"
# ...and when it goes again, the old one is back.
rm "$D/sub/y.h"
run_value "shadowing header removed" "2 11 6 100 0 0"
expect_compiled "shadowing header removed"
# A header removed and put back with the same bytes: nothing to compile.
cp -p "$D/val.h" "$WORK/val.h.saved"; rm "$D/val.h"; cp -p "$WORK/val.h.saved" "$D/val.h"
run_value "header put back unchanged" "2 11 6 100 0 0"
check_eq "same bytes again are not compiled again" "$n" "$(compiles)"

# The compiler: another one (a wrapper that adds a flag), then that wrapper edited.
cat > "$WORK/cc-extra" <<'S'
#!/bin/sh
echo compile >> "$CCLOG"
exec cc -DEXTRA=7 "$@"
S
chmod +x "$WORK/cc-extra"
CC=$WORK/cc-extra run_value "another compiler (CC)" "2 11 6 100 7 0"
expect_compiled "another compiler"
sed -i 's/EXTRA=7/EXTRA=8/' "$WORK/cc-extra"
CC=$WORK/cc-extra run_value "the compiler wrapper edited" "2 11 6 100 8 0"
expect_compiled "the compiler wrapper edited"
run_value "back to the first compiler" "2 11 6 100 0 0"
# The same compiler name now leads to another compiler (an upgrade, a switched alternative).
ln -s cc-count "$WORK/cc-link"
CC=$WORK/cc-link run_value "a compiler behind a link" "2 11 6 100 0 0"
n=$(compiles)
ln -sfn cc-extra "$WORK/cc-link"
CC=$WORK/cc-link run_value "the link leads to another compiler" "2 11 6 100 8 0"
expect_compiled "the link leads to another compiler"
# The include path the compiler reads from the environment, and a header found on it.
CPATH=$WORK/inc1 run_value "CPATH set" "2 11 6 100 0 1"
CPATH=$WORK/inc2 run_value "CPATH changed" "2 11 6 100 0 2"
echo '#define CPVAL 3' > "$WORK/inc2/cp.h"
CPATH=$WORK/inc2 run_value "header on CPATH changed" "2 11 6 100 0 3"
expect_compiled "header on CPATH"
# A directory earlier in the search path gains a header of the same name: it wins now.
mkdir -p "$WORK/inc0"
CPATH=$WORK/inc0:$WORK/inc2 run_value "two include dirs" "2 11 6 100 0 3"
n=$(compiles)
echo '#define CPVAL 9' > "$WORK/inc0/cp.h"
CPATH=$WORK/inc0:$WORK/inc2 run_value "an earlier include dir gains the header" "2 11 6 100 0 9"
expect_compiled "an earlier include dir gains the header"

# Two processes finding the cache stale at once: both succeed, neither tears the other.
echo '#define VAL 4' > "$D/val.h"
mflow check "$D/cache.c" > "$WORK/c1" 2>&1 & p1=$!
mflow check "$D/cache.c" > "$WORK/c2" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check_eq "concurrent compiles both succeed" "0 0" "$r1 $r2"
run_value "after concurrent compiles" "4 11 6 100 0 0"
check_eq "no temporary left in the cache" 0 "$(ls "$MFLOW_HOME/cache/flows" | grep -c tmp)"

# The package ships the object of the headers it ships.
p1=$(mflow package "$D/cache.c" | head -1)
echo '#define VAL 5' > "$D/val.h"
p2=$(mflow package "$D/cache.c" | head -1)
check_eq "package address changes with a header" 1 "$([ -n "$p2" ] && [ "$p1" != "$p2" ] && echo 1)"
mkdir "$WORK/pkg"
tar --zstd -xf "$MFLOW_HOME/datastore/$p2" -C "$WORK/pkg"
check_eq "package ships the new header" '#define VAL 5' "$(cat "$WORK/pkg/val.h")"
CHECKS=$((CHECKS + 1))
if OUT=$(mflow run "$WORK/pkg/.mflow/flow.so" --run-id-file "$WORK/pkgrun" 2>&1); then
  check_eq "the package's object was built from the new header" "5 11 6 100 0 0" \
    "$(mflow get "CacheFlow/$(cat "$WORK/pkgrun")/end" v)"
else
  fail "running the package's object: $OUT"
fi
finish
