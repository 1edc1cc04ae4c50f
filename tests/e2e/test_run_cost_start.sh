#!/bin/bash
# What a small run's start does not pay (README "What a task costs"): before its first task the
# orchestrator syncs four times (the run's directory once, with its steps', the parent of it,
# the graph and the run record), with every step directory made before the run directory is
# synced; and with task_server=auto a run's first task waits for a task server that starts
# slowly rather than being exec'ed (which repeated the server's whole start-up). Counted with
# strace; without it the test is skipped.
. "$(dirname "$0")/lib.sh"
need_strace
F=$SRC/bench/flows/linear5.c   # no parameters: nothing but the run is stored before its first task
mflow run "$F" >/dev/null 2>&1   # compile once, outside the traces

for round in 1 2; do
  strace -f -y -o "$WORK/tr$round" -e trace=mkdir,fsync,fdatasync,sendmsg,execve,clone,clone3,vfork \
    "$MFLOW" run "$F" --run-id-file "$WORK/runid" >"$WORK/out" 2>&1 || fail "round $round: run: $(cat "$WORK/out")"
  RUN=$(cat "$WORK/runid")
  RD=$MFLOW_HOME/datastore/runs/Linear5/$RUN
  main=$(head -1 "$WORK/tr$round" | cut -d' ' -f1)
  # The orchestrator's lines up to its first request to the task server.
  grep "^$main " "$WORK/tr$round" | sed '/sendmsg(/q' >"$WORK/pre$round"
  check_eq "round $round: the orchestrator asked the task server for the first task" 1 \
    "$(grep -c 'sendmsg(' "$WORK/pre$round")"
  check_eq "round $round: four syncs before the first task (the --run-id-file's aside)" 4 \
    "$(grep -E ' (fsync|fdatasync)\(' "$WORK/pre$round" | grep -vc "<$WORK/runid")"
  check_eq "round $round: the run directory is synced once before the first task" 1 \
    "$(grep -cE " fsync\([0-9]+<$RD>\)" "$WORK/pre$round")"
  steps=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["steps"]))' "$RD/graph.json")
  made=$(grep -cE " mkdir\(\"$RD/[a-z_]+\", .* = 0" "$WORK/pre$round")
  check_eq "round $round: every step directory was made before the first task" "$steps" "$made"
  last_mkdir=$(grep -nE " mkdir\(\"$RD/[a-z_]+\", .* = 0" "$WORK/pre$round" | tail -1 | cut -d: -f1)
  sync_at=$(grep -nE " fsync\([0-9]+<$RD>\)" "$WORK/pre$round" | head -1 | cut -d: -f1)
  check_eq "round $round: the run directory is synced after its last step directory is made" 1 \
    "$([ -n "$last_mkdir" ] && [ -n "$sync_at" ] && [ "$last_mkdir" -lt "$sync_at" ] && echo 1 ||
       echo "0 (last mkdir at line ${last_mkdir:-none}, sync at ${sync_at:-none})")"
done

# A task server slow to start (a constructor that sleeps in the server only): each task of the
# run, the first included, is forked by it; none is exec'ed.
cat >"$WORK/slow.c" <<'EOF'
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
__attribute__((constructor)) static void slow_server(void)
{
    char buf[4096];
    int fd = open("/proc/self/cmdline", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    for (ssize_t i = 0; i + 13 <= n; i++)
        if (!memcmp(buf + i, "__task-server", 13)) {
            struct timespec ts = {0, 400 * 1000 * 1000};
            nanosleep(&ts, NULL);
            return;
        }
}
EOF
cc -shared -fPIC -o "$WORK/slow.so" "$WORK/slow.c" || fail "cannot build the slow-server shim"
for mode in auto on; do
  LD_PRELOAD=$WORK/slow.so MFLOW_LOCAL_TASK_SERVER=$mode strace -f -o "$WORK/slow.$mode" -e trace=execve,prctl \
    "$MFLOW" run "$F" --run-id-file "$WORK/runid" >"$WORK/out" 2>&1 || fail "slow server, $mode: $(cat "$WORK/out")"
  RUN=$(cat "$WORK/runid")
  check_eq "slow server, $mode: no task is exec'ed" 0 "$(grep -cE 'execve\(.*"task", ' "$WORK/slow.$mode")"
  check_eq "slow server, $mode: the server forked every task" "$(ls "$MFLOW_HOME/datastore/runs/Linear5/$RUN"/*/*.json | wc -l)" \
    "$(grep -c 'PR_SET_NAME, "mflow-task"' "$WORK/slow.$mode")"
  check_eq "slow server, $mode: the run succeeded" "succeeded" "$(mflow inspect "Linear5/$RUN" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
done

finish
