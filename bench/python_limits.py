"""The table of bench_python_limits.sh: its rows (JSON lines: label, cell, size, put wall, put
CPU, put peak, get wall, get CPU, get peak, floor) as medians per limit, size and path, with
the spread (min-max) of the walls; "x" is the wall over the first path's at the same size.
    python3 bench/python_limits.py < ROWS"""
import json
import statistics
import sys

cells = {}
for line in sys.stdin:
    label, cell, n, ps, pc, pp, gs, gc, gp, fl = json.loads(line)
    lim, path, size, _ = cell.split(":")
    if lim == "zstd":
        path = "piece " + label     # a READ_PIECE of its own build
    elif label != "main":
        path += " " + label         # LIMITS_LABEL: a before or an after
    cells.setdefault((lim, int(size), path), []).append((n, ps, pc, pp, gs, gc, gp, fl))


def size(b):
    return "%d KiB" % (b >> 10) if b < 1 << 20 else "%d MiB" % (b >> 20)


def med(xs):
    return statistics.median(xs)


print("median of each cell's runs; wall and CPU in ms; peak: the task's VmHWM over its RSS "
      "before, over the value's size n; [min-max] of the walls; x: wall over the first path's")
hdr = (f"{'limit':<13} {'size':>8} {'path':<11} {'store wall':>21} {'x':>5} {'cpu':>7} "
       f"{'peak/n':>6} {'read wall':>21} {'x':>5} {'cpu':>7} {'peak/n':>6} {'floor':>7} runs")
last = None
first = {}
for (lim, s, path), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    if lim != last:
        print()
        print(hdr)
        last = lim
    n = rs[0][0]
    col = list(zip(*rs))
    pw, gw = med(col[1]), med(col[4])
    key = (lim, s)
    if key not in first:
        first[key] = (pw, gw)
    fw = first[key]
    print(f"{lim:<13} {size(s):>8} {path:<11} "
          f"{pw * 1e3:>7.1f} [{min(col[1]) * 1e3:>5.1f}-{max(col[1]) * 1e3:>5.1f}] "
          f"{pw / fw[0]:>5.2f} {med(col[2]) * 1e3:>7.1f} {med(col[3]) / n:>6.2f} "
          f"{gw * 1e3:>7.1f} [{min(col[4]) * 1e3:>5.1f}-{max(col[4]) * 1e3:>5.1f}] "
          f"{gw / fw[1]:>5.2f} {med(col[5]) * 1e3:>7.1f} {med(col[6]) / n:>6.2f} "
          f"{med(col[7]) * 1e3:>7.1f} {len(rs)}")
