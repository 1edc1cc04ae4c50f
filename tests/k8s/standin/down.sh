#!/bin/bash
# Stops the Kubernetes API stand-in started by up.sh DIR and every pod process it started
# (DIR/procs lists their process groups). Idempotent: nothing running is fine.
# Usage: tests/k8s/standin/down.sh DIR
dir=${1:?usage: down.sh DIR}
[ -d "$dir" ] || exit 0
if [ -f "$dir/pid" ]; then
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    # the server leads its own process group (setsid in up.sh), with its process runner
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  rm -f "$dir/pid"
fi
# whatever the server could not stop (killed with -9, say)
if [ -d "$dir/procs" ]; then
  for f in "$dir"/procs/*; do
    [ -e "$f" ] || continue
    pg=${f##*/}
    case $pg in ''|*[!0-9]*) ;; *) kill -KILL -- "-$pg" 2>/dev/null ;; esac
    rm -f "$f"
  done
fi
exit 0
