#!/bin/bash
# Per-task overhead and small-run latency, printed as one table, beside the floors of the
# same run: spawning /bin/true (posix_spawn + wait), fork + _exit + wait, and fork + a
# 750-byte record stored as a task stores its record (written, fsync'ed, linked) + _exit.
#   bench/bench_tasks.sh BUILD_DIR [N]
# Wall time moves with the machine's load (and the disk's fsync latency); CPU time (user +
# system of the whole tree: orchestrator, task server and tasks, from getrusage) moves less,
# so both are printed, each with the floor it is compared to. One more run prints the CPU split
# by process: the orchestrator (`mflow run`), the task server and the tasks.
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}/mflow-bench.XXXXXX")
SHM=$(mktemp -d /dev/shm/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME" "$SHM"' EXIT
export BENCH_MFLOW=$BUILD/core/mflow BENCH_FLOOR=$BUILD/bench/spawn_floor BENCH_N=$N \
       BENCH_FLOWS=$HERE/flows BENCH_SHM=$SHM
python3 - <<'PY'
import os, resource, statistics, subprocess, tempfile, time

mflow, floor, n = os.environ['BENCH_MFLOW'], os.environ['BENCH_FLOOR'], int(os.environ['BENCH_N'])
flows, shm = os.environ['BENCH_FLOWS'], os.environ['BENCH_SHM']
foreach, linear = flows + '/trivial_foreach.c', flows + '/linear5.c'
tasks = n + 3   # start, the n splits, join, end

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def timed(args):
    """Wall and CPU seconds of one command and everything it started and reaped."""
    c0, t0 = children_cpu(), time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0, children_cpu() - c0

def floors(kind, where=None):
    mode = {'spawn': [], 'fork': ['fork']}.get(kind)
    if kind == 'record':   # a fresh directory beside the datastore: each child links a new name
        mode = ['record', tempfile.mkdtemp(dir=where)]
    out = subprocess.run([floor, str(n), '1'] + mode + ['--cpu'],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])

load0 = os.getloadavg()
run = [mflow, 'run', foreach, f'--n={n}', '--max-workers', '2']
subprocess.run([mflow, 'run', foreach, '--n=2'], check=True, capture_output=True)  # compile once
subprocess.run([mflow, '--datastore-root=' + shm, 'run', foreach, '--n=2'], check=True, capture_output=True)
subprocess.run([mflow, 'run', linear], check=True, capture_output=True)
# Three rounds, each a disk run, a tmpfs run and both floors, so that every figure has its
# floors measured minutes apart at most; the medians are printed.
disk, mem, spawn, fork, rec, rec_mem = [], [], [], [], [], []
for _ in range(3):
    spawn.append(floors('spawn'))
    fork.append(floors('fork'))
    rec.append(floors('record', os.environ['MFLOW_HOME']))
    rec_mem.append(floors('record', shm))
    disk.append(timed(run))
    mem.append(timed([mflow, '--datastore-root=' + shm] + run[1:]))
lin = [timed([mflow, 'run', linear])[0] * 1000 for _ in range(5)]
# One more disk run split by process: the task server writes each reaped child's rusage and, at
# its end, its own (MFLOW_TS_RUSAGE); the orchestrator's is the rest of the tree's. Kept out of
# the runs above: the server's getrusage and write a child cost it a little.
ru = os.path.join(os.environ['MFLOW_HOME'], 'split.rusage')
os.environ['MFLOW_TS_RUSAGE'] = ru
split_cpu = timed(run)[1]
del os.environ['MFLOW_TS_RUSAGE']
task_cpu, server_cpu, task_flt, server_flt = 0.0, 0.0, 0, 0
for line in open(ru):
    f = line.split()
    if f[0] == 'server':
        server_cpu, server_flt = (int(f[1]) + int(f[2])) / 1e6, int(f[3])
    else:
        task_cpu, task_flt = task_cpu + (int(f[3]) + int(f[4])) / 1e6, task_flt + int(f[1])
load1 = os.getloadavg()

med = lambda xs: statistics.median(xs)
per = lambda runs, i: med([r[i] for r in runs]) * 1000 / tasks
spawn_w, spawn_c = med([f[0] for f in spawn]), med([f[1] for f in spawn])
fork_w, fork_c = med([f[0] for f in fork]), med([f[1] for f in fork])
rec_c, rec_mem_c = med([f[1] for f in rec]), med([f[1] for f in rec_mem])
dw, dc, mw, mc = per(disk, 0), per(disk, 1), per(mem, 0), per(mem, 1)
rows = [
    (f'foreach of {n} trivial tasks, --max-workers 2, median of 3', f'{med([r[0] for r in disk]):.2f}s'),
    ('  wall per task (ms)', f'{dw:.3f}'),
    ('  wall per task, fastest / slowest run (ms)',
     f'{min(r[0] for r in disk) * 1000 / tasks:.3f}/{max(r[0] for r in disk) * 1000 / tasks:.3f}'),
    ('  CPU per task, whole tree (ms)', f'{dc:.3f}'),
    ('same, datastore on tmpfs: wall per task (ms)', f'{mw:.3f}'),
    ('  CPU per task, whole tree (ms)', f'{mc:.3f}'),
    ('floor: posix_spawn + wait of /bin/true, wall (ms)', f'{spawn_w:.3f}'),
    ('  its CPU, parent + child (ms)', f'{spawn_c:.3f}'),
    ('floor: fork + _exit + wait, wall (ms)', f'{fork_w:.3f}'),
    ('  its CPU, parent + child (ms)', f'{fork_c:.3f}'),
    ('floor: fork + store a record + _exit, CPU (ms)', f'{rec_c:.3f}'),
    ('  on tmpfs', f'{rec_mem_c:.3f}'),
    ('ratio: wall per task / spawn floor wall', f'{dw / spawn_w:.2f}'),
    ('  on tmpfs', f'{mw / spawn_w:.2f}'),
    ('ratio: CPU per task / fork floor CPU', f'{dc / fork_c:.2f}'),
    ('  on tmpfs', f'{mc / fork_c:.2f}'),
    ('ratio: CPU per task / fork floor wall', f'{dc / fork_w:.2f}'),
    ('ratio: record floor CPU / fork floor CPU', f'{rec_c / fork_c:.2f}'),
    ('  on tmpfs', f'{rec_mem_c / fork_c:.2f}'),
    ('ratio: CPU per task / record floor CPU', f'{dc / rec_c:.2f}'),
    ('  on tmpfs', f'{mc / rec_mem_c:.2f}'),
    ('split of one more disk run, CPU per task (ms):', ''),
    ('  orchestrator / task server / tasks',
     f'{(split_cpu - server_cpu - task_cpu) * 1000 / tasks:.3f}/{server_cpu * 1000 / tasks:.3f}/'
     f'{task_cpu * 1000 / tasks:.3f}'),
    ('  page faults per task: task server / a task', f'{server_flt / tasks:.1f}/{task_flt / tasks:.1f}'),
    ('5-step linear run, compiled, best / median of 5 (ms)', f'{min(lin):.1f}/{med(lin):.1f}'),
    ('load average before / after (1 min)', f'{load0[0]:.2f}/{load1[0]:.2f}'),
]
print(f"{'measure':<54} {'value':>12}")
for k, v in rows:
    print(f'{k:<54} {v:>12}')
PY
