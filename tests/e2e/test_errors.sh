#!/bin/bash
# One error vocabulary: a storage plugin that refuses to start (permission denied, no such
# directory, credentials refused) is reported as that refusal, in words, by every command that
# opens the datastore — not as a bare code or as "unavailable".
. "$(dirname "$0")/lib.sh"

export MFLOW_PLUGIN_PATH=${MFLOW_TEST_REFUSING_PLUGINS:?}
FLOW=$FLOWS/linear.c

# A run in the local datastore, for the commands that read one.
run_flow "$FLOW"
check_eq "a local run" 0 $?
LOCAL=$RUN

# refused STORAGE WORDS: run, get, reindex and package each say WORDS, and no code number
refused() {
  local name=$1 words=$2
  run_fails "$name: run" 1 "storage plugin '$name' did not start: $words" \
    mflow --storage="$name" run "$FLOW"
  check_eq "$name: run gives no bare code" "" "$(echo "$OUT" | grep -E 'code -?[0-9]+|unavailable')"
  run_fails "$name: get" 1 "storage plugin '$name' did not start: $words" \
    mflow --storage="$name" get LinearFlow/$LOCAL/end v
  check_eq "$name: get gives no bare code" "" "$(echo "$OUT" | grep -E 'code -?[0-9]+|unavailable')"
  run_fails "$name: reindex" 1 "storage plugin '$name' did not start: $words" \
    mflow --storage="$name" reindex
  run_fails "$name: package" 1 "storage plugin '$name' did not start: $words" \
    mflow --storage="$name" package "$FLOW"
}

refused denied "Permission denied"
refused nodir "No such file or directory"
refused nocreds "permission refused"

# an unknown plugin is the one case that is "not installed"
run_fails "unknown storage plugin" 1 "nosuch" mflow --storage=nosuch get LinearFlow/$LOCAL/end v

# the local datastore is untouched
check_eq "the local run's value" 20 "$(mflow get LinearFlow/$LOCAL/end v)"

finish
