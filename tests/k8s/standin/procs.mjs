// The API stand-in's process runner (a child of server.mjs, over its IPC channel): starts each
// container as a local process in its own process group, forwards its output, watches memory
// limits, and reports the exit. A separate process so that fork/exec, /proc scans and output
// do not hold up the API's event loop. When the server goes (even kill -9: the channel
// closes), every process group it started is killed.
//
// server → here: {op:"start", id, argv, env, memLimit}  {op:"signal", id, sig}  {op:"stopAll"}
// here → server: {op:"spawned", id, pid}  {op:"out", id, data}  {op:"rss", id, rss}
//                {op:"exit", id, code, signal, oom, startError?}
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, rmSync, mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const procsDir = process.argv[2];
const live = new Map();     // id → { pid, memLimit, tmp, oom, rss }
const send = (m) => { if (process.connected) process.send(m); };

function start({ id, argv, env, memLimit }) {
  const tmp = mkdtempSync(join(tmpdir(), "standin-pod-"));
  const c = { pid: 0, memLimit, tmp, oom: false, rss: 0, done: false };
  live.set(id, c);
  let proc;
  const fail = (e) => finish(id, c, 128, null, e.code ?? e.message);
  try {
    proc = spawn(argv[0], argv.slice(1), { cwd: tmp, env: { HOME: tmp, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) { return fail(e); }
  const out = (b) => send({ op: "out", id, data: b.toString("utf8") });
  proc.stdout.on("data", out);
  proc.stderr.on("data", out);
  proc.on("error", (e) => { if (!c.pid) fail(e); });
  proc.on("spawn", () => {
    c.pid = proc.pid;
    writeFileSync(join(procsDir, String(proc.pid)), `${env.HOSTNAME} ${id}\n`);
    send({ op: "spawned", id, pid: proc.pid });
  });
  proc.on("exit", (code, signal) => {
    try { process.kill(-proc.pid, "SIGKILL"); } catch {}      // a container ends with its main process
    // wait for the pipes to drain, but not for a stray process that holds them open
    const t = setTimeout(() => finish(id, c, code, signal), 1000);
    proc.once("close", () => { clearTimeout(t); finish(id, c, code, signal); });
  });
}
function finish(id, c, code, signal, startError) {
  if (c.done) return;
  c.done = true;
  live.delete(id);
  if (c.pid) rmSync(join(procsDir, String(c.pid)), { force: true });
  rmSync(c.tmp, { recursive: true, force: true });
  send({ op: "exit", id, code, signal, oom: c.oom, ...(startError ? { startError } : {}) });
}

// Memory limits: each limited process group's RSS (all its processes), SIGKILL past the limit.
// Every 50 ms; slower when one scan of /proc takes long (many processes on a loaded machine).
const PAGE = 4096;
let every = 50;
function scan() {
  const limited = [...live.values()].filter((c) => c.pid && c.memLimit > 0);
  if (limited.length) {
    const t0 = Date.now();
    const rss = new Map();
    for (const pid of readdirSync("/proc")) {
      if (pid.charCodeAt(0) > 57) continue;
      let st;
      try { st = readFileSync(`/proc/${pid}/stat`, "latin1"); } catch { continue; }
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      rss.set(+f[2], (rss.get(+f[2]) ?? 0) + +f[21] * PAGE);
    }
    for (const [id, c] of live) {
      if (!c.pid || !(c.memLimit > 0)) continue;
      const used = rss.get(c.pid) ?? 0;
      if (Math.abs(used - c.rss) > 1 << 20) send({ op: "rss", id, rss: used });
      c.rss = used;
      if (used > c.memLimit && !c.oom) {
        c.oom = true;
        try { process.kill(-c.pid, "SIGKILL"); } catch {}
      }
    }
    every = Math.max(50, (Date.now() - t0) * 4);
  }
  setTimeout(scan, every);
}
scan();

function stopAll() {
  for (const c of live.values()) if (c.pid) {
    try { process.kill(-c.pid, "SIGKILL"); } catch {}
    rmSync(join(procsDir, String(c.pid)), { force: true });
    rmSync(c.tmp, { recursive: true, force: true });
  }
  live.clear();
}
process.on("message", (m) => {
  if (m.op === "start") start(m);
  else if (m.op === "signal") {
    const c = live.get(m.id);
    if (c?.pid) try { process.kill(-c.pid, m.sig); } catch {}
  } else if (m.op === "stopAll") { stopAll(); send({ op: "stopped" }); }
});
process.on("disconnect", () => { stopAll(); process.exit(0); });
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => { stopAll(); process.exit(0); });
