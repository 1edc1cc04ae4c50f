#!/bin/bash
# tests/fuzz/run.sh with stand-in targets (shell scripts that answer as libFuzzer does: stats
# lines, an artifact on a finding): the table has one line per target in the order named,
# whatever order they end in; FUZZ_JOBS runs them at once; a finding in any of them is named
# with its artifact and makes the exit 1; a missing target is exit 2 before anything runs.
set -u
RUN=$(cd "$(dirname "$0")" && pwd)/run.sh
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tests/fuzz"
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
# stand-in NAME SLEEP RUNS [crash | after=OTHER]: notes its start and end in $W/events and
# prints libFuzzer's final stats after SLEEP seconds; with after=OTHER it ends only once OTHER
# has started (or 10 s passed), so that a run one at a time shows as OTHER starting after it
stand_in() {
  local how=${4:-}
  cat >"$W/tests/fuzz/fuzz_$1" <<SH
#!/bin/bash
for a in "\$@"; do case \$a in -artifact_prefix=*) pre=\${a#-artifact_prefix=} ;; esac; done
echo "start $1" >>"$W/events"
sleep $2
case "$how" in after=*)
  for i in \$(seq 1 100); do grep -qx "start ${how#after=}" "$W/events" && break; sleep 0.1; done ;;
esac
echo "#$3 DONE cov: 4$3 ft: 7 corp: 1/1b"
echo "stat::number_of_executed_units: $3"
echo "stat::average_exec_per_sec: 1$3"
echo "end $1" >>"$W/events"
if [ "$how" = crash ]; then echo boom >"\${pre}crash-0123"; echo "==1==ERROR: AddressSanitizer: heap-buffer-overflow"; exit 1; fi
exit 0
SH
  chmod +x "$W/tests/fuzz/fuzz_$1"
}
# before A B: event A came before event B in $W/events
before() { awk -v a="$1" -v b="$2" '$0 == a && !sa {sa = NR} $0 == b && !sb {sb = NR} END {exit !(sa && sb && sa < sb)}' "$W/events"; }
stand_in slow 0.5 11 after=mid
stand_in quick 0.2 22
stand_in mid 1 33
stand_in broken 0.5 44 crash

rm -f "$W/events"
out=$(BUILD=$W FUZZ_JOBS=3 FUZZ_SECONDS=5 bash "$RUN" slow quick mid 2>&1); rc=$?
[ $rc = 0 ] && ok "three clean targets: exit 0" || bad "three clean targets: exit $rc: $out"
order=$(printf '%s\n' "$out" | awk 'NR > 1 {print $1}' | tr '\n' ' ')
[ "$order" = "slow quick mid " ] && ok "lines in the order named" || bad "order [$order]: $out"
line=$(printf '%s\n' "$out" | grep '^quick ')
[ "$(echo $line)" = "quick 22 122 422 ok" ] && ok "runs, execs/s and cov read from the log" || bad "quick's line [$line]"
before "end quick" "end slow" && before "start mid" "end slow" &&
  ok "FUZZ_JOBS=3: at once (mid started before slow ended, quick ended first)" ||
  bad "FUZZ_JOBS=3: not at once: $(tr '\n' ' ' <"$W/events")"

rm -f "$W/events"
out=$(BUILD=$W FUZZ_JOBS=1 FUZZ_SECONDS=5 bash "$RUN" mid quick 2>&1); rc=$?
[ $rc = 0 ] && before "end mid" "start quick" && ok "FUZZ_JOBS=1: one after the other" ||
  bad "FUZZ_JOBS=1: exit $rc: $(tr '\n' ' ' <"$W/events")"

out=$(BUILD=$W FUZZ_JOBS=2 FUZZ_SECONDS=5 bash "$RUN" broken slow quick 2>&1); rc=$?
[ $rc = 1 ] && ok "a finding: exit 1" || bad "a finding: exit $rc: $out"
case "$(printf '%s\n' "$out" | grep '^broken ')" in
  *"FOUND crash-0123"*"fuzz-out/broken/log"*) ok "the finding named with its artifact and log" ;;
  *) bad "broken's line: $out" ;;
esac
[ -f "$W/fuzz-out/broken/crash-0123" ] && ok "the artifact kept" || bad "no artifact"
[ "$(printf '%s\n' "$out" | grep -c ' ok$')" = 2 ] && ok "the others still ran to the end" || bad "others: $out"

out=$(BUILD=$W FUZZ_JOBS=2 bash "$RUN" quick nosuch 2>&1); rc=$?
[ $rc = 2 ] && ok "a missing target: exit 2" || bad "a missing target: exit $rc"
case "$out" in *"no $W/tests/fuzz/fuzz_nosuch"*) ok "the missing target named" ;; *) bad "message: $out" ;; esac
[ ! -d "$W/fuzz-out/nosuch" ] && [ "$(printf '%s\n' "$out" | grep -c '^quick ')" = 0 ] &&
  ok "nothing ran" || bad "something ran: $out"
echo "$checks checks, $fails failed"
[ $fails = 0 ]
