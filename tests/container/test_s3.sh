#!/bin/bash
# An S3 datastore on loopback (run under tests/s3/s3-fixture.sh): container tasks reach it on
# the host network with the credentials passed by name, and give the same artifacts as local
# compute; nothing is written to a local datastore.
. "$(dirname "$0")/lib.sh"
: "${S3FIX_ENDPOINT:?run under s3-fixture.sh}"
ROOT="s3://$S3FIX_BUCKET/ct"
OUT=$("$MFLOW" --datastore-root="$ROOT" run "$FLOWS/branch3.c" --run-id-file "$WORK/rid" 2>&1) || fail "local run on s3: $OUT"
LRUN=$(cat "$WORK/rid")
OUT=$("$MFLOW" --compute=container --datastore-root="$ROOT" run "$FLOWS/branch3.c" --run-id-file "$WORK/rid" 2>&1) || fail "container run on s3: $OUT"
CRUN=$(cat "$WORK/rid")
for a in digits order; do
  check_eq "s3: join $a as local" "$(mflow --datastore-root="$ROOT" get Branch3Flow/$LRUN/join $a)" \
    "$(mflow --datastore-root="$ROOT" get Branch3Flow/$CRUN/join $a)"
done
check_eq "s3: join digits" 345 "$(mflow --datastore-root="$ROOT" get Branch3Flow/$CRUN/join digits)"
check_eq "s3: nothing written locally" 0 "$(find "$MFLOW_HOME" -path '*datastore*' -type f 2>/dev/null | wc -l)"
check_eq "s3: no container left" "" "$(containers_of Branch3Flow)"
finish
