#!/bin/bash
# No container outlives its run: Ctrl-C (SIGINT to mflow run) kills and removes them, and
# after a kill -9 of mflow run, `mflow resume` removes the dead run's containers.
. "$(dirname "$0")/lib.sh"
export MFLOW_CONTAINER_PASS_ENV=HOLD_S
F=$CFLOWS/hold.c
# HoldFlow is this test's alone: what an earlier, failed run of it left goes first (a container
# labelled with the other host below is no run's here to remove).
left=$(containers_of HoldFlow)
[ -z "$left" ] || podman rm -f -t 0 $left >/dev/null

# wait_running STEP: until a container of HoldFlow's STEP runs (60 s at most)
wait_running() {
  for _ in $(seq 600); do
    [ -n "$(podman ps --filter label=mflow.flow=HoldFlow --filter "label=mflow.step=$1" \
            --filter status=running --format '{{.Names}}')" ] && return 0
    sleep 0.1
  done
  return 1
}

# Ctrl-C
HOLD_S=300 "$MFLOW" --compute=container run "$F" >"$WORK/int.out" 2>&1 &
pid=$!
wait_running wait || fail "no running container for HoldFlow/wait: $(cat "$WORK/int.out")"
kill -INT $pid
SECONDS=0
wait $pid; rc=$?
check_eq "interrupted run exits 130" 130 "$rc"
check_contains "cancellation said" "interrupted: cancelling 1 running task(s)" "$(cat "$WORK/int.out")"
CHECKS=$((CHECKS + 1))
[ "$SECONDS" -lt 30 ] && echo "ok: cancelled in ${SECONDS}s" || fail "cancel took ${SECONDS}s"
check_eq "no container after Ctrl-C" "" "$(containers_of HoldFlow)"

# Ctrl-C as soon as the engine's client for `wait` exists (the container may not be created
# yet: the plugin sends kill again until the client exits).
HOLD_S=300 "$MFLOW" --compute=container run "$F" >"$WORK/early.out" 2>&1 &
pid=$!
for _ in $(seq 600); do
  pgrep -f -- "--name mflow-HoldFlow-[0-9]+-wait-" >/dev/null && break
  sleep 0.05
done
kill -INT $pid
SECONDS=0
wait $pid; rc=$?
check_eq "early interrupt exits 130" 130 "$rc"
CHECKS=$((CHECKS + 1))
[ "$SECONDS" -lt 40 ] && echo "ok: early cancel in ${SECONDS}s" || fail "early cancel took ${SECONDS}s"
check_eq "no container after an early Ctrl-C" "" "$(containers_of HoldFlow)"

# kill -9 of mflow run, then resume. Any run of the container plugin removes the containers of
# this host's dead runs, and the other container tests run beside this one: the killed run and
# its resume name another host (a UTS namespace of their own, as root), so that only the resume
# may remove its container; a run under this host's name must leave it (another machine's run
# is not its to judge).
OTHER_HOST=()
if [ "$(id -u)" = 0 ] && unshare --uts true 2>/dev/null; then
  OTHER_HOST=(unshare --uts sh -c 'hostname mflow-ct-cleanup && exec "$@"' sh)   # execs: same pid
fi
HOLD_S=300 "${OTHER_HOST[@]}" "$MFLOW" --compute=container run "$F" --run-id-file "$WORK/runid" >"$WORK/k9.out" 2>&1 &
pid=$!
wait_running wait || fail "no running container for HoldFlow/wait: $(cat "$WORK/k9.out")"
kill -9 $pid
wait $pid 2>/dev/null
sleep 1
check_eq "the dead run's container still runs" 1 \
  "$(podman ps --filter label=mflow.flow=HoldFlow --filter status=running --format '{{.Names}}' | wc -l)"
if [ ${#OTHER_HOST[@]} -gt 0 ]; then
  OUT=$(HOLD_S=0 "$MFLOW" --compute=container run "$F" 2>&1) || fail "run on this host: $OUT"
  CHECKS=$((CHECKS + 1))
  case "$OUT" in
    *removing*) fail "a run on this host removed another host's dead run's container: $OUT" ;;
    *) echo "ok: a run on this host leaves another host's dead run's container" ;;
  esac
  check_eq "the other host's dead run's container still runs" 1 \
    "$(podman ps --filter label=mflow.flow=HoldFlow --filter status=running --format '{{.Names}}' | wc -l)"
fi
old=$(containers_of HoldFlow)
OUT=$(HOLD_S=0 "${OTHER_HOST[@]}" "$MFLOW" --compute=container resume "$F" --origin-run-id "$(cat "$WORK/runid")" \
  --run-id-file "$WORK/runid2" 2>&1) || fail "resume: $OUT"
check_contains "resume removed the dead run's container" "removing 1 container(s) left by runs whose mflow is gone" "$OUT"
check_eq "resumed run's result" 14 "$(mflow get HoldFlow/$(cat "$WORK/runid2")/wait y)"
check_eq "no container after resume (was: $old)" "" "$(containers_of HoldFlow)"

# A live run's containers are not touched by another run: a second orchestrator starting
# while the first holds its container leaves that container alone.
HOLD_S=300 "$MFLOW" --compute=container run "$F" >"$WORK/live.out" 2>&1 &
pid=$!
wait_running wait || fail "no running container for HoldFlow/wait: $(cat "$WORK/live.out")"
OUT=$(HOLD_S=0 "$MFLOW" --compute=container run "$F" 2>&1) || fail "second run: $OUT"
check_eq "the live run's container still runs" 1 \
  "$(podman ps --filter label=mflow.flow=HoldFlow --filter status=running --format '{{.Names}}' | wc -l)"
kill -INT $pid
wait $pid
check_eq "no container at the end" "" "$(containers_of HoldFlow)"
finish
