# Helpers of the big-value tests (test_big_*.sh), sourced after lib.sh; they use $PY.

# rows JOIN FIELD...: the join's rows (laid out as the words of $ROW_NAMES) as "field..." lines,
# sorted
rows() { mflow get "$1" rows --json | "$PY" -c '
import json, sys
names = sys.argv[1].split()
for r in sorted(json.load(sys.stdin)):
    d = dict(zip(names, r))
    print(" ".join(str(d[f]) for f in sys.argv[2:]))' "$ROW_NAMES" "${@:2}"; }

# task_paths STEP: the pathspecs of the step's tasks (Flow/run/step), on one line
task_paths() { mflow inspect "$1" --json | "$PY" -c '
import json, sys
print(" ".join(t["pathspec"] for t in json.load(sys.stdin)["tasks"]))'; }

# art_field TASK NAME FIELD: a field (type, size) of the task's artifact NAME, as inspect says
art_field() { mflow inspect "$1" --json | "$PY" -c '
import json, sys
print([a[sys.argv[2]] for a in json.load(sys.stdin)["artifacts"] if a["name"] == sys.argv[1]][0])' "$2" "$3"; }

# big_mib [MIB]: sets mib, the size of the large values: MIB (256 by default) with 4 GiB of
# memory available, 128 with 2 GiB; with less, says so and ends the test.
big_mib() {
  local avail
  avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
  if [ "$avail" -ge 4096 ]; then mib=${1:-256}; elif [ "$avail" -ge 2048 ]; then mib=128; else mib=0; fi
  if [ "$mib" = 0 ]; then
    echo "only $avail MiB of memory available: the large values are skipped"
    finish; exit
  fi
}

# check_big_peaks RUN MIB NP [WHERE]: of a bigvalues.py run (Flow/run) at MIB MiB (with the
# array when NP is true), each task's peak RSS over the value and under 1.3x, and each value
# read back exactly as its type. WHERE (" on S3") goes into the lines it prints.
check_big_peaks() {
  local t=$1 mib=$2 np=$3 where=${4:-} pair s a base peak
  local size=$((mib << 20))
  local limit=$((size * 13 / 10))
  local steps="put_bytes:raw get_bytes:raw"
  [ "$np" = true ] && steps="$steps put_array:arr get_array:arr"
  for pair in $steps; do
    s=${pair%%:*} a=${pair#*:}
    base=$(mflow get "$t/$s" ${a}_base) peak=$(mflow get "$t/$s" ${a}_peak)
    echo "$s: $mib MiB $a$where: RSS at the start $((base >> 20)) MiB, peak $((peak >> 20)) MiB ($((peak * 100 / size))% of the value)"
    check_eq "$s: peak RSS under 1.3x the value" yes "$([ "$peak" -gt "$size" ] && [ "$peak" -lt "$limit" ] && echo yes || echo "no: $peak of $size")"
  done
  check_eq "the $mib MiB bytes read back exactly" true "$(mflow get "$t/get_bytes" raw_ok)"
  check_eq "read as bytes" bytes "$(mflow get "$t/get_bytes" raw_type)"
  if [ "$np" = true ]; then
    check_eq "the $mib MiB array read back exactly" true "$(mflow get "$t/get_array" arr_ok)"
    check_eq "read as a writable array of its own" "ndarray float64 ($((size / 8)),) True" "$(mflow get "$t/get_array" arr_type)"
  fi
}
