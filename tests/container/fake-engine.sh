#!/bin/bash
# A stand-in container engine for argv tests (linked as .../podman or .../docker): records
# each command line in $FAKE_LOG and answers ps, version, inspect, kill and rm; `run` sets
# the -e K=V variables and runs the command after the image (one of $FAKE_IMAGE) on this machine,
# with `mflow` as $MFLOW_BIN.
echo "$*" >>"${FAKE_LOG:?}"
while [ $# -gt 0 ]; do
  case $1 in --root|--runroot|--runtime) shift 2 ;; *) break ;; esac
done
cmd=$1; shift
case $cmd in
  ps|kill|rm) exit 0 ;;
  version) echo 99.1-fake; exit 0 ;;
  inspect) echo false; exit 0 ;;
  run) ;;
  *) echo "fake engine: unknown command $cmd" >&2; exit 125 ;;
esac
while [ $# -gt 0 ] && [[ " $FAKE_IMAGE " != *" $1 "* ]]; do
  case $1 in -e) shift; case $1 in *=*) export "$1" ;; esac ;; esac
  shift
done
[ $# -gt 0 ] || { echo "Error: fake engine: image $FAKE_IMAGE not on the command line" >&2; exit 125; }
shift
[ "$1" = mflow ] && { shift; set -- "$MFLOW_BIN" "$@"; }
exec "$@"
