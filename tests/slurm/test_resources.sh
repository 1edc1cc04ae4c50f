#!/bin/bash
# `mflow resources --compute=slurm` on the fixture's real cluster: the figures of
# `scontrol show node` and the partitions of `sinfo`; and steps larger than any node refused
# before sbatch runs, naming the partition of the largest node.
. "$MFLOW_TEST_SOURCE_ROOT/tests/slurm/lib.sh"

json_field() {   # json_field JSON PYTHON-EXPR (the document is d)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
NODE=$(scontrol --oneliner show node | head -1)
nodef() { tr ' ' '\n' <<<"$NODE" | sed -n "s/^$1=//p" | head -1; }
name=$(nodef NodeName); cpus=$(nodef CPUTot); mem=$(nodef RealMemory); state=$(nodef State)
parts=$(nodef Partitions); dpart=$(sinfo --noheader --format=%P | sed -n 's/\*$//p' | head -1)
echo "scontrol: $name CPUTot=$cpus RealMemory=$mem State=$state Partitions=$parts; default $dpart"

OUT=$("$MFLOW" resources --compute=slurm --json 2>"$WORK/err"); rc=$?
check_eq "resources --compute=slurm --json exits 0 ($(cat "$WORK/err"))" 0 "$rc"
J=$OUT
check_eq "one node offered" 1 "$(json_field "$J" 'len(d["offers"])')"
check_eq "node name" "$name" "$(json_field "$J" 'd["offers"][0]["name"]')"
check_eq "CPUs = CPUTot" "$cpus" "$(json_field "$J" 'd["offers"][0]["cpus"]')"
check_eq "memory = RealMemory" "$mem" "$(json_field "$J" 'd["offers"][0]["memory_mb"]')"
check_eq "state = State" "$state" "$(json_field "$J" 'd["offers"][0]["state"]')"
check_eq "GPUs (Gres=(null))" "0 None" "$(json_field "$J" 'str(d["offers"][0]["gpus"]) + " " + str(d["offers"][0]["gres"])')"
check_eq "partitions = Partitions" "$parts" "$(json_field "$J" '",".join(d["offers"][0]["partitions"])')"
check_eq "the default partition" "$dpart" "$(json_field "$J" '[p["name"] for p in d["partitions"] if p["default"]][0]')"
check_eq "compute named" slurm "$(json_field "$J" 'd["compute"]')"
check_contains "source names the commands and the config" "scontrol show node and sinfo (SLURM_CONF=$SLURM_CONF)" \
  "$(json_field "$J" 'd["source"]')"

run_ok "resources --compute=slurm (text)" "$MFLOW" resources --compute=slurm
row=$(printf '%-10s %-20s %6s %10s  %-20s %-12s %s' node "$name" "$cpus" "$mem MB" 0 "$state" "$parts")
check_contains "the node's row" "$row" "$OUT"
check_contains "the source" "source     scontrol show node and sinfo" "$OUT"
check_contains "the memory limit" "memory   --mem per task" "$OUT"
run_ok "the global --compute too" "$MFLOW" --compute=slurm resources
check_contains "the node's row (global option)" "$row" "$OUT"
OUT=$(env MFLOW_SLURM_PARTITION=nope "$MFLOW" resources --compute=slurm --json 2>&1)
check_eq "a partition option: only its nodes" 0 "$(json_field "$OUT" 'len(d["offers"])')"
OUT=$(env MFLOW_SLURM_PARTITION="$dpart" "$MFLOW" resources --compute=slurm --json 2>&1)
check_eq "the default partition's nodes" "$name" "$(json_field "$OUT" '" ".join(o["name"] for o in d["offers"])')"

# Larger than any node: refused before sbatch runs (every Slurm command goes through a
# wrapper that logs it), naming the partition of the largest node.
mkdir -p "$WORK/bin"
for c in sbatch squeue scontrol scancel sinfo sacct; do
  printf '#!/bin/bash\necho "%s $*" >>"%s"\nexec %s "$@"\n' "$c" "$WORK/calls" "$(command -v $c)" >"$WORK/bin/$c"
  chmod +x "$WORK/bin/$c"
done
n_jobs=$(slurm_jobs "MixedFlow/" | wc -l)
sed "s/.cpu = 2, .memory_mb = 300/.cpu = $((cpus * 4)), .memory_mb = 300/" "$SFLOWS/mixed.c" >"$WORK/wide.c"
sed "s/.cpu = 2, .memory_mb = 300/.cpu = 1, .memory_mb = $((mem * 4))/" "$SFLOWS/mixed.c" >"$WORK/fat.c"
: >"$WORK/calls"
run_fails "more CPUs than any node" 1 \
  "step 'remote' asks for $((cpus * 4)) CPUs but the largest node of any partition has $cpus (partition '$parts', sinfo)" \
  env MFLOW_SLURM_BIN_DIR="$WORK/bin" "$MFLOW" run "$WORK/wide.c"
check_eq "sbatch never ran (wide)" 0 "$(grep -c '^sbatch' "$WORK/calls")"
: >"$WORK/calls"
run_fails "more memory than any node" 1 \
  "step 'remote' asks for $((mem * 4)) MB of memory but the largest node of any partition has $mem MB (partition '$parts', sinfo)" \
  env MFLOW_SLURM_BIN_DIR="$WORK/bin" "$MFLOW" run "$WORK/fat.c"
check_eq "sbatch never ran (fat)" 0 "$(grep -c '^sbatch' "$WORK/calls")"
check_eq "sinfo was asked" 1 "$([ -s "$WORK/calls" ] && grep -q '^sinfo' "$WORK/calls" && echo 1 || echo 0)"
check_eq "no job was submitted" "$n_jobs" "$(slurm_jobs "MixedFlow/" | wc -l)"
finish
