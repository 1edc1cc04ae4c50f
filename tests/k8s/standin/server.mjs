// A local Kubernetes API stand-in for the tests of the k8s compute plugin. NOT a Kubernetes
// cluster: one Node process that answers the parts of the REST API mflow and kubectl use
// (discovery, namespaces, nodes, pods, jobs, secrets, events; list, watch, Table, logs,
// delete) over HTTPS (HTTP/2 or HTTP/1.1), has each pod's container run as a local process by
// its child procs.mjs, and injects faults on request.
// Behaviour follows the official API reference of Kubernetes 1.32; what it does not do is
// listed in plugins/compute/k8s/README.md ("The API stand-in").
//
//   node server.mjs DIR MODELS_DIR
//
// DIR (written by up.sh) holds ca.crt, server.crt, server.key and tokens ("TOKEN USER" lines);
// the server writes DIR/port once it listens, DIR/procs/PGID for every live pod process group
// (down.sh kills what is left), and reads DIR/exec-tokens ("TOKEN EXPIRY-EPOCH" lines, appended
// by the exec credential plugin). MODELS_DIR holds npm kubernetes-models (the official
// OpenAPI schema compiled to validators), used for type checks and unknown-field detection.
//
// Sections: config/util · errors · store+watch · selectors · validation+defaults · tables ·
// controllers (scheduler, job, ttl, gc) · kubelet (processes, logs, OOM) · faults+stats ·
// HTTP (TLS/auth, routing, handlers) · main.
import http2 from "node:http2";
import { readFileSync, writeFileSync, mkdirSync, renameSync, statSync as statSyncSafe } from "node:fs";
import { fork } from "node:child_process";
import { randomUUID, randomBytes } from "node:crypto";
import { join, dirname } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";

// ───────────────────────────── config / util ─────────────────────────────
const [DIR, MODELS_DIR] = process.argv.slice(2);
if (!DIR || !MODELS_DIR) { console.error("usage: node server.mjs DIR MODELS_DIR"); process.exit(2); }
const ENV = process.env;
const NODE_COUNT = Math.max(1, parseInt(ENV.STANDIN_NODES || "1", 10) || 1);
const NODE_CPU = ENV.STANDIN_NODE_CPU || "2";
const NODE_MEMORY = ENV.STANDIN_NODE_MEMORY || "4Gi";
const NODE_GPUS = parseInt(ENV.STANDIN_GPUS || "0", 10) || 0;
const POD_PATH = ENV.STANDIN_PATH || ENV.PATH || "/usr/local/bin:/usr/bin:/bin";
const BOOKMARK_MS = parseInt(ENV.STANDIN_BOOKMARK_MS || "5000", 10);
const HISTORY_MAX = parseInt(ENV.STANDIN_WATCH_WINDOW || "50000", 10);  // watch window: events kept for resourceVersion resumes
const VERSION = { major: "1", minor: "32", gitVersion: "v1.32.0-standin", gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean", buildDate: "2026-01-01T00:00:00Z", goVersion: "go1.23.0", compiler: "gc", platform: "linux/amd64" };

const now = () => new Date();
const iso = (d = now()) => d.toISOString().replace(/\.\d{3}Z$/, "Z");       // metav1.Time: seconds
const isoNano = (d = now()) => d.toISOString().replace(/Z$/, "000000Z");      // RFC3339Nano, log lines
const clone = (o) => (o === undefined ? undefined : JSON.parse(JSON.stringify(o)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";  // the apiserver's generateName alphabet
function randSuffix(n = 5) {
  const b = randomBytes(n); let s = "";
  for (let i = 0; i < n; i++) s += SUFFIX_ALPHABET[b[i] % SUFFIX_ALPHABET.length];
  return s;
}
const log = (...a) => console.log(new Date().toISOString(), ...a);

// Quantities (cpu in cores, memory in bytes), as resource.Quantity parses them.
const QTY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const SUFFIX = { "": 1, m: 1e-3, u: 1e-6, n: 1e-9, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
function parseQuantity(q) {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return NaN;
  const m = QTY_RE.exec(q.trim());
  if (!m) return NaN;
  const num = parseFloat(m[1]);
  if (isNaN(num)) return NaN;
  const suf = m[2];
  if (suf in SUFFIX) return num * SUFFIX[suf];
  const e = /^[eE]([-+]?[0-9]+)$/.exec(suf);
  return e ? num * 10 ** parseInt(e[1], 10) : NaN;
}

// Human durations as kubectl prints AGE/DURATION (k8s.io/apimachinery duration.HumanDuration).
function humanDuration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}
const age = (ts) => (ts ? humanDuration(Date.now() - Date.parse(ts)) : "<unknown>");

// ───────────────────────────── errors (v1 Status) ─────────────────────────────
class ApiError extends Error {
  constructor(code, reason, message, details, headers) {
    super(message);
    this.code = code; this.reason = reason; this.details = details; this.headers = headers;
  }
  status() {
    const s = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: this.message, reason: this.reason };
    if (this.details) s.details = this.details;
    s.code = this.code;
    return s;
  }
}
const REASON_BY_CODE = { 400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
  406: "NotAcceptable", 409: "AlreadyExists", 410: "Gone", 415: "UnsupportedMediaType", 422: "Invalid",
  429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout" };
const badRequest = (msg) => new ApiError(400, "BadRequest", msg);
function notFound(res, name) {
  const r = RES[res];
  return new ApiError(404, "NotFound", `${r.plural}${r.group ? "." + r.group : ""} "${name}" not found`,
    { name, ...(r.group ? { group: r.group } : {}), kind: r.plural });
}
function alreadyExists(res, name) {
  const r = RES[res];
  return new ApiError(409, "AlreadyExists", `${r.plural}${r.group ? "." + r.group : ""} "${name}" already exists`,
    { name, ...(r.group ? { group: r.group } : {}), kind: r.plural });
}
function invalid(res, name, causes) {
  const r = RES[res];
  const msgs = causes.map((c) => `${c.field}: ${c.message}`);
  return new ApiError(422, "Invalid",
    `${r.kind}${r.group ? "." + r.group : ""} "${name}" is invalid: ${msgs.length === 1 ? msgs[0] : "[" + msgs.join(", ") + "]"}`,
    { name, ...(r.group ? { group: r.group } : {}), kind: r.kind, causes });
}

// ───────────────────────────── store + watch ─────────────────────────────
// One map per resource (key "ns/name" or "name"), one global resourceVersion counter, and a
// history of change events (the watch window) so a watch can resume from a resourceVersion.
const RES = {
  namespaces: { kind: "Namespace", plural: "namespaces", singular: "namespace", group: "", namespaced: false, short: ["ns"],
    verbs: ["create", "delete", "get", "list", "watch"] },
  nodes: { kind: "Node", plural: "nodes", singular: "node", group: "", namespaced: false, short: ["no"], verbs: ["get", "list", "watch"] },
  pods: { kind: "Pod", plural: "pods", singular: "pod", group: "", namespaced: true, short: ["po"], categories: ["all"],
    verbs: ["create", "delete", "deletecollection", "get", "list", "watch"] },
  events: { kind: "Event", plural: "events", singular: "event", group: "", namespaced: true, short: ["ev"], verbs: ["get", "list", "watch"] },
  secrets: { kind: "Secret", plural: "secrets", singular: "secret", group: "", namespaced: true,
    verbs: ["create", "delete", "deletecollection", "get", "list", "watch"] },
  jobs: { kind: "Job", plural: "jobs", singular: "job", group: "batch", namespaced: true, categories: ["all"],
    verbs: ["create", "delete", "deletecollection", "get", "list", "watch"] },
};
for (const r of Object.values(RES)) r.apiVersion = r.group ? `${r.group}/v1` : "v1";

const store = { rv: 1, maps: Object.fromEntries(Object.keys(RES).map((k) => [k, new Map()])), history: [], watchers: new Set() };
const keyOf = (ns, name) => (ns ? `${ns}/${name}` : name);
const objKey = (o) => keyOf(o.metadata.namespace, o.metadata.name);
const getObj = (res, ns, name) => store.maps[res].get(keyOf(ns, name));
const listeners = [];   // controllers: fn(res, type, obj, prev)
const podsByOwner = new Map();   // owner uid → Set of pods (the job controller's lookup)
function indexPod(pod, add) {
  for (const o of pod.metadata.ownerReferences ?? []) {
    let set = podsByOwner.get(o.uid);
    if (add) { if (!set) podsByOwner.set(o.uid, (set = new Set())); set.add(pod); }
    else if (set) { set.delete(pod); if (!set.size) podsByOwner.delete(o.uid); }
  }
}

// Records a change: a snapshot of the object (and of the one before, for watches whose selector
// it leaves), kept in the watch window and offered to every watch and controller.
function record(res, type, obj, prev) {
  const rv = ++store.rv;
  obj.metadata.resourceVersion = String(rv);
  const json = JSON.stringify(obj);
  const ev = { rv, res, type, obj: JSON.parse(json), json, prev };
  store.history.push(ev);
  if (store.history.length > HISTORY_MAX) store.history.splice(0, store.history.length - HISTORY_MAX);
  for (const w of store.watchers) w.offer(ev);
  for (const fn of listeners) fn(res, type, obj, prev);
}
function createObj(res, obj) {
  store.maps[res].set(objKey(obj), obj);
  if (res === "pods") indexPod(obj, true);
  record(res, "ADDED", obj, null);
  return obj;
}
// Changes a stored object with fn; records MODIFIED only when something changed.
function updateObj(res, obj, fn) {
  const before = JSON.stringify(obj);
  const prev = JSON.parse(before);
  fn(obj);
  if (JSON.stringify(obj) === before) return false;
  if (store.maps[res].get(objKey(obj)) !== obj) return false;     // deleted meanwhile
  record(res, "MODIFIED", obj, prev);
  return true;
}
function removeObj(res, obj) {
  if (store.maps[res].get(objKey(obj)) !== obj) return false;
  store.maps[res].delete(objKey(obj));
  if (res === "pods") indexPod(obj, false);
  record(res, "DELETED", obj, clone(obj));
  return true;
}

// ───────────────────────────── selectors ─────────────────────────────
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
function parseLabelSelector(s) {
  const reqs = [];
  if (!s) return reqs;
  // split at commas outside parentheses
  const parts = []; let depth = 0, cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) { parts.push(cur); cur = ""; } else cur += ch;
  }
  parts.push(cur);
  for (let p of parts) {
    p = p.trim();
    let m;
    if (p === "") throw badRequest(`unable to parse requirement: found '', expected: identifier`);
    if ((m = /^!\s*([^\s=!(),]+)$/.exec(p))) reqs.push({ key: m[1], op: "!exists" });
    else if ((m = /^([^\s=!(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p)))
      reqs.push({ key: m[1], op: m[2], values: m[3].split(",").map((v) => v.trim()) });
    else if ((m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(p)))
      reqs.push({ key: m[1], op: m[2] === "!=" ? "!=" : "=", values: [m[3]] });
    else if ((m = /^([^\s=!(),]+)$/.exec(p))) reqs.push({ key: m[1], op: "exists" });
    else throw badRequest(`unable to parse requirement: invalid label selector "${s}"`);
  }
  for (const r of reqs) {
    const e = labelKeyError(r.key);
    if (e) throw badRequest(`unable to parse requirement: <nil>: Invalid value: "${r.key}": ${e}`);
    for (const v of r.values || [])
      if (v.length > 63 || !LABEL_VALUE_RE.test(v))
        throw badRequest(`unable to parse requirement: values[0][${r.key}]: Invalid value: "${v}": ${LABEL_VALUE_MSG}`);
  }
  return reqs;
}
function labelsMatch(reqs, labels = {}) {
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key), v = labels[r.key];
    switch (r.op) {
      case "exists": if (!has) return false; break;
      case "!exists": if (has) return false; break;
      case "=": if (!has || v !== r.values[0]) return false; break;
      case "!=": if (has && v === r.values[0]) return false; break;
      case "in": if (!has || !r.values.includes(v)) return false; break;
      case "notin": if (has && r.values.includes(v)) return false; break;
    }
  }
  return true;
}
// Which fields each resource can be selected on (the apiserver's field label conversion).
const FIELDS = {
  pods: ["metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
    "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
  jobs: ["metadata.name", "metadata.namespace", "status.successful"],
  events: ["metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
    "reason", "reportingComponent", "source", "type"],
  secrets: ["metadata.name", "metadata.namespace", "type"],
  nodes: ["metadata.name", "spec.unschedulable"],
  namespaces: ["metadata.name", "status.phase"],
};
function parseFieldSelector(res, s) {
  const reqs = [];
  if (!s) return reqs;
  for (const p of s.split(",")) {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(p.trim());
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${p}'`);
    const field = m[1].trim();
    if (!FIELDS[res].includes(field)) throw badRequest(`field label not supported: ${field}`);
    reqs.push({ field, neg: m[2] === "!=", value: m[3].trim() });
  }
  return reqs;
}
function fieldValue(res, o, field) {
  if (field === "status.successful") return String(o.status?.succeeded ?? 0);
  if (field === "source") return o.source?.component ?? "";
  if (field === "spec.hostNetwork") return String(!!o.spec?.hostNetwork);
  if (field === "spec.unschedulable") return String(!!o.spec?.unschedulable);
  let v = o;
  for (const k of field.split(".")) v = v?.[k];
  return v === undefined || v === null ? "" : String(v);
}
const fieldsMatch = (res, reqs, o) => reqs.every((r) => (fieldValue(res, o, r.field) === r.value) !== r.neg);

// ───────────────────────────── validation ─────────────────────────────
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
function labelKeyError(k) {
  const slash = k.lastIndexOf("/");
  const prefix = slash >= 0 ? k.slice(0, slash) : null, name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix !== null && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)))
    return `prefix part ${SUBDOMAIN_MSG}`;
  if (name.length === 0) return "name part must be non-empty";
  if (name.length > 63) return "name part must be no more than 63 characters";
  if (!LABEL_NAME.test(name)) return QUALIFIED_MSG;
  return null;
}

// JSON with the duplicate keys reported (JSON.parse keeps the last one silently; the apiserver
// reports them under fieldValidation Strict/Warn). Paths are in the apiserver's form: a.b[0].c
function parseJsonDup(text) {
  let i = 0;
  const dups = [];
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const fail = (what) => { throw new SyntaxError(`${what} at offset ${i}`); };
  function str() {
    const start = i; i++;
    while (i < text.length) {
      if (text[i] === "\\") i += 2;
      else if (text[i] === '"') { i++; return JSON.parse(text.slice(start, i)); }
      else i++;
    }
    fail("unterminated string");
  }
  function val(path) {
    ws();
    const c = text[i];
    if (c === "{") {
      i++; const o = {}; const seen = new Set();
      ws();
      if (text[i] === "}") { i++; return o; }
      for (;;) {
        ws(); if (text[i] !== '"') fail("expected a key");
        const k = str(); ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        const p = path ? `${path}.${k}` : k;
        if (seen.has(k)) dups.push(p);
        seen.add(k);
        o[k] = val(p); ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return o; }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++; const a = []; ws();
      if (text[i] === "]") { i++; return a; }
      for (;;) {
        a.push(val(`${path}[${a.length}]`)); ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return a; }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) fail("invalid character");
    i += m[0].length;
    return JSON.parse(m[0]);
  }
  const v = val("");
  ws();
  if (i !== text.length) fail("invalid character after top-level value");
  return { value: v, dups };
}

// kubernetes-models: the official schema as compiled validators. They ignore undeclared
// properties, so unknown fields are found by probing (as tests/k8s/validate-job.mjs does):
// a declared key given a function fails at its path, an unknown one does not. Answers are
// cached per path shape (array indices folded), so a stream of similar Jobs stays cheap.
const models = {};
async function loadModel(apiVersion, kind) {
  const file = join(MODELS_DIR, "node_modules", "kubernetes-models", ...apiVersion.split("/"), `${kind}.js`);
  return (await import(pathToFileURL(file).href))[kind];
}
function schemaErrors(Model, doc) {
  try { new Model(doc).validate(); return []; } catch (e) { if (!e.errors) throw e; return e.errors; }
}
const probeCache = new Map();
const ptrToField = (ptr) => ptr.split("/").slice(1).map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
  .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
function unknownFields(res, Model, doc) {
  const unknown = [];
  const work = clone(doc);
  const visit = (node, ptr, shape) => {
    if (Array.isArray(node)) { node.forEach((v, i) => visit(v, `${ptr}/${i}`, `${shape}/*`)); return; }
    if (!node || typeof node !== "object") return;
    for (const k of Object.keys(node)) {
      const p = `${ptr}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      const sh = `${res}${shape}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (p === "/apiVersion" || p === "/kind") continue;
      let known = probeCache.get(sh);
      if (known === undefined) {
        const saved = node[k];
        node[k] = function notAValue() {};
        known = schemaErrors(Model, work).some((e) => e.instancePath === p || e.instancePath.startsWith(p + "/"));
        node[k] = saved;
        probeCache.set(sh, known);
      }
      if (!known) { unknown.push(ptrToField(p)); continue; }
      visit(node[k], p, sh.slice(res.length));
    }
  };
  visit(work, "", "");
  return unknown;
}
function dropFields(doc, fields) {
  for (const f of fields) {
    const parts = f.match(/[^.[\]]+/g);
    let o = doc;
    for (const p of parts.slice(0, -1)) o = o?.[p];
    if (o && typeof o === "object") delete o[parts[parts.length - 1]];
  }
}
const GO_TYPE = { integer: "int32", number: "float64", string: "string", boolean: "bool", object: "struct", array: "slice" };
const jsType = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v);

// Decodes a request body into an object of the resource's kind, as the apiserver does before
// validation: JSON, apiVersion/kind, types (400), unknown and duplicate fields per
// fieldValidation (Strict: 400; Warn: Warning headers, fields dropped; Ignore: dropped).
async function decodeBody(res, body, query, warnings) {
  const r = RES[res];
  const fv = query.get("fieldValidation") ?? "Warn";
  if (!["Strict", "Warn", "Ignore", ""].includes(fv))
    throw badRequest(`fieldValidation: Invalid value: "${fv}": fieldValidation must be one of Ignore, Warn, or Strict`);
  let parsed;
  try { parsed = parseJsonDup(body.toString("utf8")); }
  catch (e) { throw badRequest(`couldn't get version/kind; json parse error: ${e.message}`); }
  const doc = parsed.value;
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${jsType(doc)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  if (doc.kind === undefined || doc.kind === "") doc.kind = r.kind;
  if (doc.apiVersion === undefined || doc.apiVersion === "") doc.apiVersion = r.apiVersion;
  if (doc.kind !== r.kind || doc.apiVersion !== r.apiVersion)
    throw badRequest(`the API version in the data (${doc.apiVersion}) does not match the expected API version (${r.apiVersion})`.replace(
      /.*/, doc.apiVersion !== r.apiVersion ? "$&" : `the kind in the data (${doc.kind}) does not match the expected kind (${r.kind})`));
  const Model = models[res];
  const prefix = `${r.kind} in version "v1" cannot be handled as a ${r.kind}: `;
  // type errors: what Go's JSON decoder refuses (required/enum/pattern are validation's, 422)
  const typeErr = schemaErrors(Model, doc).find((e) => e.keyword === "type" || e.keyword === "format");
  if (typeErr) {
    let v = doc;
    for (const s of typeErr.instancePath.split("/").slice(1)) v = v?.[s.replaceAll("~1", "/").replaceAll("~0", "~")];
    const field = ptrToField(typeErr.instancePath);
    if (typeErr.params.format === "byte" && typeof v === "string")
      throw badRequest(`${prefix}illegal base64 data at input byte ${Math.max(0, v.search(/[^A-Za-z0-9+/=]/))}`);
    throw badRequest(`${prefix}json: cannot unmarshal ${jsType(v)} into Go struct field ${r.kind}.${field} of type ${GO_TYPE[typeErr.params.type] ?? typeErr.params.format ?? "value"}`);
  }
  if (fv === "Ignore") { dropFields(doc, unknownFields(res, Model, doc)); return doc; }
  const unknown = unknownFields(res, Model, doc);
  const problems = [...unknown.map((f) => `unknown field "${f}"`), ...parsed.dups.map((f) => `duplicate field "${f}"`)];
  if (problems.length && fv === "Strict") throw badRequest(`${prefix}strict decoding error: ${problems.join(", ")}`);
  for (const p of problems) warnings.push(p);
  dropFields(doc, unknown);
  return doc;
}

// What the apiserver's validation refuses (422 Invalid, with causes), for the fields the
// stand-in reads. `fp` is the field path prefix.
function validateMeta(meta, causes, { namespaced, labelName }) {
  const name = meta?.name, gen = meta?.generateName;
  if (!name && !gen) causes.push({ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" });
  if (name) {
    if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${name}": ${SUBDOMAIN_MSG}`, field: "metadata.name" });
    else if (labelName && (name.length > 63 || !DNS1123_LABEL.test(name)))
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${name}": ${name.length > 63 ? "must be no more than 63 characters" : LABEL_MSG}`, field: "metadata.name" });
  }
  validateLabels(meta?.labels, "metadata.labels", causes);
  const annBytes = Object.entries(meta?.annotations ?? {}).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
  for (const k of Object.keys(meta?.annotations ?? {})) {
    const e = labelKeyError(k);
    if (e) causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${k}": ${e}`, field: "metadata.annotations" });
  }
  if (annBytes > 262144) causes.push({ reason: "FieldValueTooLong", message: `Too long: may not be more than 262144 bytes`, field: "metadata.annotations" });
}
function validateLabels(labels, fp, causes) {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const e = labelKeyError(k);
    if (e) causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${k}": ${e}`, field: fp });
    if (v.length > 63) causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${v}": must be no more than 63 characters`, field: fp });
    else if (!LABEL_VALUE_RE.test(v)) causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${v}": ${LABEL_VALUE_MSG}`, field: fp });
  }
}
const req = (field, detail) => ({ reason: "FieldValueRequired", message: detail ? `Required value: ${detail}` : "Required value", field });
const inv = (field, value, detail) => ({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(value)}: ${detail}`, field });
function validatePodSpec(spec, fp, causes) {
  if (!spec) { causes.push(req(`${fp}.containers`)); return; }
  const cs = spec.containers ?? [];
  if (cs.length === 0) causes.push(req(`${fp}.containers`));
  const names = new Set();
  [...(spec.initContainers ?? []).map((c, i) => [c, `${fp}.initContainers[${i}]`]), ...cs.map((c, i) => [c, `${fp}.containers[${i}]`])]
    .forEach(([c, cp]) => {
      if (!c.name) causes.push(req(`${cp}.name`));
      else if (c.name.length > 63 || !DNS1123_LABEL.test(c.name)) causes.push(inv(`${cp}.name`, c.name, LABEL_MSG));
      else if (names.has(c.name)) causes.push({ reason: "FieldValueDuplicate", message: `Duplicate value: "${c.name}"`, field: `${cp}.name` });
      names.add(c.name);
      if (!c.image || !c.image.trim()) causes.push(req(`${cp}.image`));
      for (const [i, e] of (c.env ?? []).entries()) {
        const ep = `${cp}.env[${i}]`;
        if (!e.name) causes.push(req(`${ep}.name`));
        else if (!ENV_NAME.test(e.name)) causes.push(inv(`${ep}.name`, e.name, "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"));
        if (e.valueFrom) {
          const srcs = Object.keys(e.valueFrom).filter((k) => e.valueFrom[k]);
          if (e.value) causes.push(inv(`${ep}.valueFrom`, "", "may not be specified when `value` is not empty"));
          if (srcs.length !== 1) causes.push(inv(`${ep}.valueFrom`, "", "may not have more than one field specified at a time"));
          const skr = e.valueFrom.secretKeyRef;
          if (skr && !skr.key) causes.push(req(`${ep}.valueFrom.secretKeyRef.key`));
          if (skr && !skr.name) causes.push(req(`${ep}.valueFrom.secretKeyRef.name`));
        }
      }
      for (const [i, ef] of (c.envFrom ?? []).entries())
        for (const kind of ["secretRef", "configMapRef"])
          if (ef[kind] && (!ef[kind].name || !DNS1123_SUBDOMAIN.test(ef[kind].name)))
            causes.push(ef[kind].name ? inv(`${cp}.envFrom[${i}].${kind}.name`, ef[kind].name, SUBDOMAIN_MSG) : req(`${cp}.envFrom[${i}].${kind}.name`));
      const lim = c.resources?.limits ?? {}, rq = c.resources?.requests ?? {};
      for (const [kind, m] of [["limits", lim], ["requests", rq]])
        for (const [k, v] of Object.entries(m)) {
          const q = parseQuantity(v);
          if (isNaN(q)) causes.push(inv(`${cp}.resources.${kind}[${k}]`, v, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
          else if (q < 0) causes.push(inv(`${cp}.resources.${kind}[${k}]`, v, "must be greater than or equal to 0"));
          else if ((k === "nvidia.com/gpu") && q % 1 !== 0) causes.push(inv(`${cp}.resources.${kind}[${k}]`, v, "must be an integer"));
        }
      for (const [k, v] of Object.entries(rq))
        if (k in lim && parseQuantity(v) > parseQuantity(lim[k]))
          causes.push(inv(`${cp}.resources.requests`, v, `must be less than or equal to ${k} limit of ${lim[k]}`));
      if (rq["nvidia.com/gpu"] !== undefined && lim["nvidia.com/gpu"] !== undefined && parseQuantity(rq["nvidia.com/gpu"]) !== parseQuantity(lim["nvidia.com/gpu"]))
        causes.push(inv(`${cp}.resources.requests[nvidia.com/gpu]`, rq["nvidia.com/gpu"], "must be equal to nvidia.com/gpu limit of " + lim["nvidia.com/gpu"]));
      if (c.imagePullPolicy && !["Always", "IfNotPresent", "Never"].includes(c.imagePullPolicy))
        causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${c.imagePullPolicy}": supported values: "Always", "IfNotPresent", "Never"`, field: `${cp}.imagePullPolicy` });
    });
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0)
    causes.push(inv(`${fp}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, "must be between 1 and 2147483647, inclusive"));
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0)
    causes.push(inv(`${fp}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, "must be greater than or equal to 0"));
  validateLabels(spec.nodeSelector, `${fp}.nodeSelector`, causes);
  for (const [i, t] of (spec.tolerations ?? []).entries()) {
    if (t.operator && !["Exists", "Equal"].includes(t.operator))
      causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${t.operator}": supported values: "Equal", "Exists"`, field: `${fp}.tolerations[${i}].operator` });
    if (t.operator === "Exists" && t.value)
      causes.push(inv(`${fp}.tolerations[${i}].operator`, t.value, "value must be empty when `operator` is 'Exists'"));
    if (t.effect && !["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(t.effect))
      causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${t.effect}": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"`, field: `${fp}.tolerations[${i}].effect` });
  }
  for (const [i, s] of (spec.imagePullSecrets ?? []).entries())
    if (!s.name) causes.push(req(`${fp}.imagePullSecrets[${i}].name`));
  if (spec.serviceAccountName && !DNS1123_SUBDOMAIN.test(spec.serviceAccountName))
    causes.push(inv(`${fp}.serviceAccountName`, spec.serviceAccountName, SUBDOMAIN_MSG));
}
function validateJob(job) {
  const causes = [];
  validateMeta(job.metadata, causes, { labelName: false });
  const s = job.spec ?? {};
  if (!job.spec) causes.push(req("spec.template"));
  for (const f of ["parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"])
    if (s[f] !== undefined && s[f] !== null && s[f] < 0) causes.push(inv(`spec.${f}`, s[f], "must be greater than or equal to 0"));
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds !== null && s.activeDeadlineSeconds <= 0)
    causes.push(inv("spec.activeDeadlineSeconds", s.activeDeadlineSeconds, "must be greater than or equal to 0".replace("or equal to ", "")));
  if (s.completionMode && !["NonIndexed", "Indexed"].includes(s.completionMode))
    causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${s.completionMode}": supported values: "NonIndexed", "Indexed"`, field: "spec.completionMode" });
  if (s.completionMode === "Indexed") causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "Indexed": the API stand-in runs NonIndexed Jobs only`, field: "spec.completionMode" });
  if (s.podFailurePolicy) causes.push({ reason: "FieldValueForbidden", message: "Forbidden: the API stand-in does not implement podFailurePolicy", field: "spec.podFailurePolicy" });
  if (s.successPolicy) causes.push({ reason: "FieldValueForbidden", message: "Forbidden: the API stand-in does not implement successPolicy", field: "spec.successPolicy" });
  if (s.manualSelector) causes.push({ reason: "FieldValueForbidden", message: "Forbidden: the API stand-in does not implement manualSelector", field: "spec.manualSelector" });
  if (s.selector && !s.manualSelector)
    causes.push(inv("spec.selector", s.selector, "`selector` will be auto-generated"));
  const t = s.template;
  if (job.spec && !t) causes.push(req("spec.template"));
  if (t) {
    validateLabels(t.metadata?.labels, "spec.template.metadata.labels", causes);
    const rp = t.spec?.restartPolicy ?? "Always";
    if (rp !== "OnFailure" && rp !== "Never")
      causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${rp}": supported values: "OnFailure", "Never"`, field: "spec.template.spec.restartPolicy" });
    validatePodSpec(t.spec, "spec.template.spec", causes);
    const name = job.metadata?.name;
    // the job controller puts the name in the pods' job-name label
    if (name && name.length > 63)
      causes.push(inv("spec.template.labels", name, "must be no more than 63 characters"));
  }
  return causes;
}
function validatePod(pod) {
  const causes = [];
  validateMeta(pod.metadata, causes, {});
  const rp = pod.spec?.restartPolicy;
  if (rp && !["Always", "OnFailure", "Never"].includes(rp))
    causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${rp}": supported values: "Always", "OnFailure", "Never"`, field: "spec.restartPolicy" });
  validatePodSpec(pod.spec, "spec", causes);
  return causes;
}
function validateSecret(sec) {
  const causes = [];
  validateMeta(sec.metadata, causes, {});
  let total = 0;
  for (const [k, v] of Object.entries(sec.data ?? {})) {
    if (!/^[-._a-zA-Z0-9]+$/.test(k)) causes.push(inv(`data[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
    total += Buffer.from(v, "base64").length;
  }
  if (total > 1048576) causes.push({ reason: "FieldValueTooLong", message: "Too long: may not be more than 1048576 bytes", field: "data" });
  return causes;
}
function validateNamespace(ns) {
  const causes = [];
  validateMeta(ns.metadata, causes, { labelName: true });
  return causes;
}

// ───────────────────────────── defaults (as the apiserver's defaulting and admission) ─────────
function fillMeta(res, obj, ns) {
  const m = (obj.metadata ??= {});
  if (RES[res].namespaced) m.namespace = ns; else delete m.namespace;
  if (!m.name && m.generateName) {
    do m.name = m.generateName + randSuffix(); while (store.maps[res].has(keyOf(m.namespace, m.name)));
  }
  m.uid = randomUUID();
  m.creationTimestamp = iso();
  if (res === "jobs") m.generation = 1;
  for (const f of ["deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink", "managedFields"]) delete m[f];
  return obj;
}
const pullPolicyFor = (image) => {
  const last = image.split("/").pop();
  const tagged = last.includes(":") || image.includes("@");
  return !tagged || image.endsWith(":latest") ? "Always" : "IfNotPresent";
};
function defaultPodSpec(spec) {
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    c.imagePullPolicy ??= pullPolicyFor(c.image);
    c.resources ??= {};
    // requests default to limits where only limits are given
    if (c.resources.limits) {
      c.resources.requests ??= {};
      for (const [k, v] of Object.entries(c.resources.limits)) c.resources.requests[k] ??= v;
    }
  }
}
function defaultJob(job) {
  const s = job.spec;
  s.parallelism ??= 1;
  s.completions ??= 1;
  s.backoffLimit ??= 6;
  s.completionMode ??= "NonIndexed";
  s.suspend ??= false;
  s.podReplacementPolicy ??= "TerminatingOrFailed";
  const uid = job.metadata.uid, name = job.metadata.name;
  s.selector = { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
  const tm = (s.template.metadata ??= {});
  tm.labels = { ...(tm.labels ?? {}), "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
    "controller-uid": uid, "job-name": name };
  job.metadata.labels ??= { ...tm.labels };
  defaultPodSpec(s.template.spec);
  job.status = {};
}
function qosClass(spec) {
  let any = false, guaranteed = true;
  for (const c of spec.containers) {
    const l = c.resources?.limits ?? {}, r = c.resources?.requests ?? {};
    if (Object.keys(l).length || Object.keys(r).length) any = true;
    for (const k of ["cpu", "memory"]) if (!(k in l) || (k in r && parseQuantity(r[k]) !== parseQuantity(l[k]))) guaranteed = false;
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}
function defaultPod(pod) {
  const s = pod.spec;
  defaultPodSpec(s);
  s.serviceAccountName ??= "default";
  s.serviceAccount ??= s.serviceAccountName;
  s.enableServiceLinks ??= true;
  s.priority ??= 0;
  s.preemptionPolicy ??= "PreemptLowerPriority";
  // DefaultTolerationSeconds admission
  s.tolerations ??= [];
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"])
    if (!s.tolerations.some((t) => t.key === key))
      s.tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
  pod.status = { phase: "Pending", qosClass: qosClass(s) };
}

// ───────────────────────────── events (v1 Event, as kubectl describe lists them) ─────────────
function emitEvent(involved, type, reason, message, component, host) {
  const m = involved.metadata;
  const ev = {
    kind: "Event", apiVersion: "v1",
    metadata: { name: `${m.name}.${randomBytes(8).toString("hex")}`, namespace: m.namespace || "default" },
    involvedObject: { kind: RES_BY_KIND[involved.kind]?.kind ?? involved.kind, namespace: m.namespace, name: m.name, uid: m.uid,
      apiVersion: involved.apiVersion, resourceVersion: m.resourceVersion,
      ...(involved.kind === "Pod" && !["Scheduled", "FailedScheduling", "TaintManagerEviction", "NodeNotReady"].includes(reason)
        ? { fieldPath: `spec.containers{${involved.spec.containers[0].name}}` } : {}) },
    reason, message, source: { component, ...(host ? { host } : {}) },
    firstTimestamp: iso(), lastTimestamp: iso(), count: 1, type, eventTime: null,
    reportingComponent: component, reportingInstance: host ?? "",
  };
  fillMeta("events", ev, ev.metadata.namespace);
  // names as the event recorder makes them: the object's name and the time in hex (so they sort by time)
  ev.metadata.name = `${m.name}.${(BigInt(Date.now()) * 1000000n + BigInt(eventSeq++ % 1000000)).toString(16)}`;
  createObj("events", ev);
  const evs = store.maps.events;
  if (evs.size > 20000) removeObj("events", evs.values().next().value);
}
let eventSeq = 0;
const RES_BY_KIND = Object.fromEntries(Object.entries(RES).map(([k, r]) => [r.kind, r]));

// ───────────────────────────── nodes ─────────────────────────────
function makeNodes() { for (let i = 1; i <= NODE_COUNT; i++) makeNode(i); }
function makeNode(i) {
  {
    const name = `standin-node-${i}`;
    const res = { cpu: NODE_CPU, memory: NODE_MEMORY, pods: "110", "ephemeral-storage": "100Gi",
      ...(NODE_GPUS ? { "nvidia.com/gpu": String(NODE_GPUS) } : {}) };
    const node = fillMeta("nodes", {
      kind: "Node", apiVersion: "v1",
      metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64" } },
      spec: {},
      status: {
        capacity: { ...res }, allocatable: { ...res },
        conditions: [readyCondition(true)],
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }, { type: "Hostname", address: name }],
        nodeInfo: { kubeletVersion: "v1.32.0-standin", containerRuntimeVersion: "standin://1.0", operatingSystem: "linux",
          architecture: "amd64", osImage: "mflow Kubernetes API stand-in (local processes)", kernelVersion: "", kubeProxyVersion: "",
          machineID: "", systemUUID: "", bootID: "" },
      },
    }, "");
    createObj("nodes", node);
  }
}
function readyCondition(ready) {
  return ready
    ? { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: iso(), lastTransitionTime: iso() }
    : { type: "Ready", status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status.", lastHeartbeatTime: iso(), lastTransitionTime: iso() };
}

// ───────────────────────────── faults (POST /standin/v1/faults) ─────────────────────────────
let faults = {};
const FAULT_KEYS = ["missing_images", "http_errors", "drop_connections", "latency_ms", "unschedulable", "evict_next",
  "node_lost_next", "pod_start_delay_ms", "controller_timers_early_ms", "ignore_deadlines"];
function setFaults(f) {
  if (!f || typeof f !== "object" || Array.isArray(f)) throw badRequest("faults: a JSON object is expected");
  for (const k of Object.keys(f)) if (!FAULT_KEYS.includes(k)) throw badRequest(`faults: unknown field "${k}" (known: ${FAULT_KEYS.join(", ")})`);
  const n = (k) => { if (f[k] !== undefined && !(Number.isInteger(f[k]) && f[k] >= 0)) throw badRequest(`faults: ${k} must be an integer >= 0`); };
  ["drop_connections", "latency_ms", "evict_next", "node_lost_next", "pod_start_delay_ms", "controller_timers_early_ms"].forEach(n);
  if (f.missing_images !== undefined && !(Array.isArray(f.missing_images) && f.missing_images.every((s) => typeof s === "string")))
    throw badRequest("faults: missing_images must be a list of image names");
  for (const k of ["unschedulable", "ignore_deadlines"])
    if (f[k] !== undefined && typeof f[k] !== "boolean") throw badRequest(`faults: ${k} must be true or false`);
  const errs = f.http_errors ?? [];
  if (!Array.isArray(errs)) throw badRequest("faults: http_errors must be a list");
  const compiled = errs.map((e, i) => {
    if (!e || typeof e !== "object") throw badRequest(`faults: http_errors[${i}] must be an object`);
    if (![429, 500, 503, 504].includes(e.status)) throw badRequest(`faults: http_errors[${i}].status must be 429, 500, 503 or 504`);
    let re;
    try { re = new RegExp(e.path_regex ?? ".*"); } catch (x) { throw badRequest(`faults: http_errors[${i}].path_regex: ${x.message}`); }
    return { method: e.method ? String(e.method).toUpperCase() : null, re, status: e.status, count: e.count ?? 1, retry_after: e.retry_after };
  });
  const ignored = faults.ignore_deadlines;
  faults = { ...f, http_errors: compiled };
  setImmediate(rescheduleAll);
  // deadlines enforced again: every Job's sync re-arms its deadline
  if (ignored && !faults.ignore_deadlines) setImmediate(() => { for (const j of store.maps.jobs.values()) queueJob(j); });
}

// ───────────────────────────── scheduler ─────────────────────────────
const requestsCache = new WeakMap();   // a pod's spec does not change
function podRequests(pod) {
  let r = requestsCache.get(pod);
  if (r) return r;
  r = { cpu: 0, memory: 0, "nvidia.com/gpu": 0 };
  for (const c of pod.spec.containers) for (const k of Object.keys(r)) r[k] += parseQuantity(c.resources?.requests?.[k] ?? 0) || 0;
  requestsCache.set(pod, r);
  return r;
}
const isTerminal = (pod) => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
function nodeReady(node) { return node.status.conditions.some((c) => c.type === "Ready" && c.status === "True"); }
// What the pods bound to each node (and not finished) request, kept up to date from pod changes.
const nodeUsed = new Map(), usageOf = new Map();   // node → sums; pod → node it is counted on
listeners.push((res, type, pod) => {
  if (res !== "pods") return;
  const counted = usageOf.get(pod);
  const on = type !== "DELETED" && pod.spec.nodeName && !isTerminal(pod) ? pod.spec.nodeName : undefined;
  if (counted === on) return;
  const r = podRequests(pod);
  const adjust = (node, sign) => {
    const u = nodeUsed.get(node) ?? { cpu: 0, memory: 0, "nvidia.com/gpu": 0 };
    for (const k of Object.keys(u)) u[k] += sign * r[k];
    nodeUsed.set(node, u);
  };
  if (counted) { adjust(counted, -1); usageOf.delete(pod); }
  if (on) { adjust(on, +1); usageOf.set(pod, on); }
});
function rescheduleAll() {
  for (const pod of store.maps.pods.values()) if (!pod.spec.nodeName && !pod.metadata.deletionTimestamp) schedule(pod);
}
function schedule(pod) {
  if (pod.spec.nodeName || pod.metadata.deletionTimestamp || store.maps.pods.get(objKey(pod)) !== pod) return;
  const nodes = [...store.maps.nodes.values()];
  const N = nodes.length;
  let message = null;
  if (faults.unschedulable) {
    message = `0/${N} nodes are available: ${N} node(s) were unschedulable. preemption: 0/${N} nodes are available: ${N} Preemption is not helpful for scheduling.`;
  } else {
    const want = podRequests(pod);
    const reasons = new Map();
    let fitsEmpty = false, chosen = null;
    const add = (r) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
    for (const node of nodes) {
      if (!nodeReady(node)) { add("node(s) had untolerated taint {node.kubernetes.io/unreachable: }"); continue; }
      const sel = pod.spec.nodeSelector ?? {};
      if (!Object.entries(sel).every(([k, v]) => node.metadata.labels?.[k] === v)) { add("node(s) didn't match Pod's node affinity/selector"); continue; }
      const alloc = node.status.allocatable;
      const used = nodeUsed.get(node.metadata.name) ?? { cpu: 0, memory: 0, "nvidia.com/gpu": 0 };
      let ok = true, emptyOk = true;
      for (const k of Object.keys(want)) {
        const cap = parseQuantity(alloc[k] ?? "0");
        if (want[k] > cap) emptyOk = false;
        if (want[k] > 0 && want[k] + used[k] > cap + 1e-9) { add(`Insufficient ${k}`); ok = false; }
      }
      if (emptyOk) fitsEmpty = true;
      // the default scoring prefers the least allocated node (cpu, then memory)
      const load = (n) => { const u = nodeUsed.get(n.metadata.name) ?? { cpu: 0, memory: 0 };
        return u.cpu / parseQuantity(n.status.allocatable.cpu) + u.memory / parseQuantity(n.status.allocatable.memory); };
      if (ok && (!chosen || load(node) < load(chosen))) chosen = node;
    }
    if (chosen) return bind(pod, chosen);
    const parts = [...reasons.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
    message = `0/${N} nodes are available: ${parts.join(", ")}. preemption: 0/${N} nodes are available: ${N} ${fitsEmpty ? "No preemption victims found for incoming pod" : "Preemption is not helpful for scheduling"}.`;
  }
  const prev = pod.status.conditions?.find((c) => c.type === "PodScheduled");
  if (prev?.message === message) return;
  updateObj("pods", pod, (p) => {
    p.status.conditions = [{ type: "PodScheduled", status: "False", lastProbeTime: null, lastTransitionTime: iso(), reason: "Unschedulable", message }];
  });
  emitEvent(pod, "Warning", "FailedScheduling", message, "default-scheduler");
}
let podIpSeq = 2;
function bind(pod, node) {
  updateObj("pods", pod, (p) => {
    p.spec.nodeName = node.metadata.name;
    p.status.conditions = [{ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: iso() }];
  });
  emitEvent(pod, "Normal", "Scheduled", `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node.metadata.name}`, "default-scheduler");
  kubeletStart(pod, node);
}

// ───────────────────────────── kubelet: containers as local processes ─────────────────────────
// Per pod uid: { pod, node, ctrs: Map(name → container runtime), ended, timers }.
// Container runtime: { spec, proc, pgid, lines:[{ts,text}], partial, followers:Set, done,
//   oom, startedAt, restarts, status }.
const kubelet = new Map();
const pulled = new Set();                 // node/image pairs already pulled
const procsDir = join(DIR, "procs");
mkdirSync(procsDir, { recursive: true });
const normImage = (img) => {
  let ref = img;
  const first = ref.split("/")[0];
  if (!ref.includes("/") || !(first.includes(".") || first.includes(":") || first === "localhost")) ref = `docker.io/${ref.includes("/") ? "" : "library/"}${ref}`;
  if (!ref.split("/").pop().includes(":") && !ref.includes("@")) ref += ":latest";
  return ref;
};
const imageMissing = (img) => (faults.missing_images ?? []).some((m) => m === img || normImage(m) === normImage(img));
const ctrStatus = (pod, name) => pod.status.containerStatuses?.find((s) => s.name === name);
function setCtr(pod, name, fn) {
  return updateObj("pods", pod, (p) => fn(p.status.containerStatuses.find((s) => s.name === name), p));
}
function podConditions(p, { ready, initialized = true, sandbox = true, reason }) {
  const unready = p.spec.containers.filter((c) => !ctrStatus(p, c.name)?.ready).map((c) => c.name);
  const t = iso();
  const keep = (type) => p.status.conditions?.find((c) => c.type === type);
  const cond = (type, status, extra = {}) => {
    const old = keep(type);
    const c = { type, status, lastProbeTime: null, lastTransitionTime: old && old.status === status ? old.lastTransitionTime : t, ...extra };
    return c;
  };
  const notReady = ready ? {} : { reason: reason ?? "ContainersNotReady", ...(reason ? {} : { message: `containers with unready status: [${unready.join(" ")}]` }) };
  const dt = keep("DisruptionTarget");
  p.status.conditions = [
    cond("PodReadyToStartContainers", sandbox ? "True" : "False"),
    cond("Initialized", initialized ? "True" : "False"),
    cond("Ready", ready ? "True" : "False", notReady),
    cond("ContainersReady", ready ? "True" : "False", notReady),
    keep("PodScheduled"),
    ...(dt ? [dt] : []),
  ];
}
function kubeletStart(pod, node) {
  const K = { pod, node: node.metadata.name, ctrs: new Map(), ended: false, timers: new Set() };
  kubelet.set(pod.metadata.uid, K);
  const after = (ms, fn) => { const t = setTimeout(() => { K.timers.delete(t); if (!K.ended) fn(); }, ms); K.timers.add(t); };
  K.after = after;
  after(faults.pod_start_delay_ms ?? 0, () => {
    updateObj("pods", pod, (p) => {
      p.status.hostIP = "127.0.0.1"; p.status.hostIPs = [{ ip: "127.0.0.1" }];
      const ip = `10.244.${Math.floor(podIpSeq / 250) % 250}.${(podIpSeq++ % 250) + 2}`;
      p.status.podIP = ip; p.status.podIPs = [{ ip }];
      p.status.startTime = iso();
      p.status.containerStatuses = p.spec.containers.map((c) => ({
        name: c.name, state: { waiting: { reason: "ContainerCreating" } }, lastState: {}, ready: false, restartCount: 0,
        image: c.image, imageID: "", started: false }));
      podConditions(p, { ready: false });
    });
    for (const c of pod.spec.containers) pullAndStart(K, c, 0);
  });
}
function pullAndStart(K, c, attempt) {
  const pod = K.pod;
  if (K.ended || pod.metadata.deletionTimestamp) return;
  const img = c.image;
  const hostPulled = pulled.has(`${K.node} ${normImage(img)}`);
  if (c.imagePullPolicy === "Never" && !hostPulled && imageMissing(img)) {
    const msg = `Container image "${img}" is not present with pull policy of Never`;
    setCtr(pod, c.name, (s) => { s.state = { waiting: { reason: "ErrImageNeverPull", message: msg } }; });
    emitEvent(pod, "Warning", "ErrImageNeverPull", msg, "kubelet", K.node);
    return;
  }
  if (c.imagePullPolicy === "Always" || !hostPulled) {
    emitEvent(pod, "Normal", "Pulling", `Pulling image "${img}"`, "kubelet", K.node);
    if (imageMissing(img)) {
      const ref = normImage(img);
      const why = `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
      setCtr(pod, c.name, (s) => { s.state = { waiting: { reason: "ErrImagePull", message: why } }; });
      emitEvent(pod, "Warning", "Failed", `Failed to pull image "${img}": ${why}`, "kubelet", K.node);
      emitEvent(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", K.node);
      K.after(1000, () => {
        const back = `Back-off pulling image "${img}"`;
        setCtr(pod, c.name, (s) => { s.state = { waiting: { reason: "ImagePullBackOff", message: back } }; });
        emitEvent(pod, "Normal", "BackOff", back, "kubelet", K.node);
        emitEvent(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet", K.node);
        // the kubelet's image back-off: 10 s, doubling, at most 300 s
        K.after(Math.min(300, 10 * 2 ** attempt) * 1000, () => pullAndStart(K, c, attempt + 1));
      });
      return;
    }
    pulled.add(`${K.node} ${normImage(img)}`);
    emitEvent(pod, "Normal", "Pulled", `Successfully pulled image "${img}" in 5ms (5ms including waiting). Image size: 0 bytes.`, "kubelet", K.node);
  } else {
    emitEvent(pod, "Normal", "Pulled", `Container image "${img}" already present on machine`, "kubelet", K.node);
  }
  startContainer(K, c);
}
// The container's environment as the kubelet builds it; throws the CreateContainerConfigError text.
function containerEnv(pod, c) {
  const ns = pod.metadata.namespace;
  const env = {};
  const secret = (name, optional) => {
    const s = getObj("secrets", ns, name);
    if (!s && !optional) throw new Error(`secret "${name}" not found`);
    return s;
  };
  const decode = (v) => Buffer.from(v, "base64").toString("utf8");
  for (const ef of c.envFrom ?? []) {
    if (ef.secretRef) {
      const s = secret(ef.secretRef.name, ef.secretRef.optional);
      for (const [k, v] of Object.entries(s?.data ?? {})) if (ENV_NAME.test(k)) env[(ef.prefix ?? "") + k] = decode(v);
    } else if (ef.configMapRef && !ef.configMapRef.optional) throw new Error(`configmap "${ef.configMapRef.name}" not found`);
  }
  const expand = (s) => s.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (m, n) => (m === "$$" ? "$" : n in env ? env[n] : m));
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) { env[e.name] = expand(e.value ?? ""); continue; }
    if (vf.secretKeyRef) {
      const r = vf.secretKeyRef;
      const s = secret(r.name, r.optional);
      if (s && !(r.key in (s.data ?? {}))) { if (!r.optional) throw new Error(`couldn't find key ${r.key} in Secret ${ns}/${r.name}`); continue; }
      if (s) env[e.name] = decode(s.data[r.key]);
    } else if (vf.fieldRef) {
      const path = vf.fieldRef.fieldPath;
      const v = { "metadata.name": pod.metadata.name, "metadata.namespace": ns, "metadata.uid": pod.metadata.uid,
        "spec.nodeName": pod.spec.nodeName, "spec.serviceAccountName": pod.spec.serviceAccountName,
        "status.hostIP": pod.status.hostIP, "status.podIP": pod.status.podIP }[path];
      env[e.name] = v ?? "";
    } else if (vf.configMapKeyRef && !vf.configMapKeyRef.optional) throw new Error(`configmap "${vf.configMapKeyRef.name}" not found`);
    else if (vf.resourceFieldRef) {
      const lim = c.resources?.limits?.[vf.resourceFieldRef.resource.replace(/^limits\./, "")];
      env[e.name] = lim === undefined ? "" : String(Math.ceil(parseQuantity(lim) / parseQuantity(vf.resourceFieldRef.divisor ?? "1")));
    }
  }
  return { env, expand };
}
function startContainer(K, c) {
  const pod = K.pod;
  if (K.ended || pod.metadata.deletionTimestamp) return;
  let built;
  try { built = containerEnv(pod, c); } catch (e) {
    const s = ctrStatus(pod, c.name);
    if (s?.state?.waiting?.message !== e.message) {
      setCtr(pod, c.name, (s) => { s.state = { waiting: { reason: "CreateContainerConfigError", message: e.message } }; });
      emitEvent(pod, "Warning", "Failed", `Error: ${e.message}`, "kubelet", K.node);
    }
    K.after(2000, () => startContainer(K, c));   // the kubelet retries (the Secret may appear)
    return;
  }
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map(built.expand);
  const ctr = K.ctrs.get(c.name) ?? { lines: [], partial: "", followers: new Set(), restarts: 0 };
  K.ctrs.set(c.name, ctr);
  Object.assign(ctr, { spec: c, done: false, oom: false, proc: null, pgid: 0, exited: null });
  const containerID = `standin://${randomBytes(32).toString("hex")}`;
  ctr.containerID = containerID;
  emitEvent(pod, "Normal", "Created", `Created container ${c.name}`, "kubelet", K.node);
  if (argv.length === 0) {
    // no image entrypoint to fall back on here
    return containerExited(K, ctr, 128, null, "StartError",
      "failed to create containerd task: the API stand-in runs a container's command and args as a local process; this container has neither");
  }
  const env = { PATH: POD_PATH, HOSTNAME: pod.metadata.name, KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: String(PORT), ...built.env };
  ctr.id = `${pod.metadata.uid}/${c.name}/${ctr.restarts}`;
  ctr.argv0 = argv[0];
  runs.set(ctr.id, { K, ctr });
  runner.send({ op: "start", id: ctr.id, argv, env, memLimit: parseQuantity(c.resources?.limits?.memory ?? 0) || 0 });
}
// What the process runner reports about a container's process.
function onRunner(m) {
  const run = runs.get(m.id);
  if (!run) return;
  const { K, ctr } = run;
  const pod = K.pod, c = ctr.spec;
  switch (m.op) {
    case "out": appendLog(ctr, m.data); break;
    case "rss": ctr.rss = m.rss; break;
    case "spawned":
      ctr.pgid = m.pid;
      ctr.startedAt = iso();
      if (K.ended || pod.metadata.deletionTimestamp) { signalCtr(ctr, "SIGKILL"); break; }
      setCtr(pod, c.name, (s, p) => {
        s.state = { running: { startedAt: ctr.startedAt } }; s.ready = true; s.started = true;
        s.containerID = ctr.containerID; s.imageID = `${normImage(c.image).replace(/:[^:/]*$/, "")}@sha256:${"0".repeat(64)}`;
        const all = p.status.containerStatuses.every((x) => x.ready);
        p.status.phase = "Running";
        podConditions(p, { ready: all });
      });
      emitEvent(pod, "Normal", "Started", `Started container ${c.name}`, "kubelet", K.node);
      if (faults.evict_next > 0) { faults.evict_next--; K.after(300, () => evictPod(K)); }
      else if (faults.node_lost_next > 0) { faults.node_lost_next--; K.after(300, () => loseNode(K)); }
      break;
    case "exit":
      runs.delete(m.id);
      ctr.oom = m.oom;
      if (m.startError) containerExited(K, ctr, 128, null, "StartError", startErrorMessage(ctr.argv0, { code: m.startError, message: m.startError }));
      else containerExited(K, ctr, m.code, m.signal);
      break;
  }
}
const signalCtr = (ctr, sig) => { if (ctr.id && !ctr.done) runner.send({ op: "signal", id: ctr.id, sig }); };
const runs = new Map();       // runner id → { K, ctr }
const runner = fork(join(dirname(fileURLToPath(import.meta.url)), "procs.mjs"), [procsDir], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
runner.on("message", onRunner);
runner.on("exit", (code, sig) => { log(`BUG: the process runner exited (${code ?? sig})`); });
const SIGNUM = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
function startErrorMessage(cmd, e) {
  const why = e.code === "ENOENT" ? `exec: "${cmd}": executable file not found in $PATH` : e.code === "EACCES" ? `exec: "${cmd}": permission denied` : e.message;
  return `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${why}: unknown`;
}
function appendLog(ctr, text) {
  const parts = (ctr.partial + text).split("\n");
  ctr.partial = parts.pop();
  for (const line of parts) pushLine(ctr, line + "\n");
  if (ctr.partial.length > 65536) { pushLine(ctr, ctr.partial); ctr.partial = ""; }
}
function pushLine(ctr, text) {
  const l = { ts: isoNano(), t: Date.now(), text };
  ctr.lines.push(l);
  if (ctr.lines.length > 200000) ctr.lines.splice(0, 100000);
  for (const f of ctr.followers) f(l);
}
function containerExited(K, ctr, code, signal, reason, message) {
  if (ctr.done) return;
  ctr.done = true;
  if (ctr.partial) { pushLine(ctr, ctr.partial); ctr.partial = ""; }
  for (const f of ctr.followers) f(null);
  const pod = K.pod, c = ctr.spec;
  const exitCode = code ?? (signal ? 128 + (SIGNUM[signal] ?? 0) : 128);
  reason ??= ctr.oom ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
  const term = { exitCode, reason, ...(message ? { message } : {}), startedAt: ctr.startedAt ?? null, finishedAt: iso(), containerID: ctr.containerID };
  if (ctr.oom) term.exitCode = 137;
  if (K.lost) return;                        // the node is gone: nobody reports
  const policy = pod.spec.restartPolicy;
  const restart = !pod.metadata.deletionTimestamp && !K.evicted && (policy === "Always" || (policy === "OnFailure" && term.exitCode !== 0));
  if (restart) {
    const delay = Math.min(300, 10 * 2 ** ctr.restarts);
    ctr.restarts++;
    setCtr(pod, c.name, (s, p) => {
      s.lastState = { terminated: term }; s.restartCount = ctr.restarts; s.ready = false; s.started = false;
      s.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${delay}s restarting failed container=${c.name} pod=${p.metadata.name}_${p.metadata.namespace}(${p.metadata.uid})` } };
      podConditions(p, { ready: false });
    });
    emitEvent(pod, "Warning", "BackOff", "Back-off restarting failed container " + c.name + " in pod " + `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`, "kubelet", K.node);
    K.after(delay * 1000, () => startContainer(K, c));
    return;
  }
  setCtr(pod, c.name, (s, p) => {
    s.state = { terminated: term }; s.ready = false; s.started = false;
    if (ctr.containerID && reason !== "StartError") s.containerID = ctr.containerID;
    const all = p.status.containerStatuses.every((x) => x.state.terminated);
    if (all && !K.evicted) {
      p.status.phase = p.status.containerStatuses.every((x) => x.state.terminated.exitCode === 0) ? "Succeeded" : "Failed";
      podConditions(p, { ready: false, sandbox: false, reason: p.status.phase === "Succeeded" ? "PodCompleted" : "PodFailed" });
    } else podConditions(p, { ready: false });
  });
  if (reason === "StartError") emitEvent(pod, "Warning", "Failed", `Error: ${message}`, "kubelet", K.node);
  if ([...K.ctrs.values()].length === pod.spec.containers.length && [...K.ctrs.values()].every((x) => x.done)) podFinished(K);
}
function podFinished(K) {
  if (K.ended) return;
  K.ended = true;
  for (const t of K.timers) clearTimeout(t);
  if (K.killTimer) clearTimeout(K.killTimer);
  setImmediate(rescheduleAll);
  if (K.pod.metadata.deletionTimestamp) finishPodDeletion(K.pod);
}
// Graceful stop: SIGTERM to each container's process group, SIGKILL after the grace period.
function killPod(K, grace, event = true) {
  const pod = K.pod;
  let running = false;
  for (const ctr of K.ctrs.values()) {
    if (ctr.done || !ctr.pgid) continue;
    running = true;
    if (event) emitEvent(pod, "Normal", "Killing", `Stopping container ${ctr.spec.name}`, "kubelet", K.node);
    signalCtr(ctr, grace === 0 ? "SIGKILL" : "SIGTERM");
  }
  if (running && grace > 0) K.killTimer = setTimeout(() => {
    for (const ctr of K.ctrs.values()) if (!ctr.done && ctr.pgid) signalCtr(ctr, "SIGKILL");
  }, grace * 1000);
  return running;
}
// Eviction as the kubelet does it under memory pressure.
function evictPod(K) {
  const pod = K.pod;
  const c = pod.spec.containers[0];
  const usedKi = Math.max(1, Math.round((K.ctrs.get(c.name)?.rss ?? 1024 * 1024) / 1024));
  const reqMem = c.resources?.requests?.memory ?? "0";
  const msg = `The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container ${c.name} was using ${usedKi}Ki, request is ${reqMem}, has larger consumption of memory. `;
  K.evicted = true;
  emitEvent(pod, "Warning", "Evicted", msg, "kubelet", K.node);
  killPod(K, 0);
  updateObj("pods", pod, (p) => {
    p.status.phase = "Failed"; p.status.reason = "Evicted"; p.status.message = msg;
    p.status.conditions = p.status.conditions.filter((x) => x.type !== "DisruptionTarget");
    p.status.conditions.push({ type: "DisruptionTarget", status: "True", lastProbeTime: null, lastTransitionTime: iso(), reason: "TerminationByKubelet", message: msg });
    for (const s of p.status.containerStatuses)
      if (!s.state.terminated) {
        s.state = { terminated: { exitCode: 137, reason: "Error", startedAt: s.state.running?.startedAt ?? null, finishedAt: iso(), containerID: s.containerID } };
        s.ready = false; s.started = false;
      }
    podConditions(p, { ready: false, sandbox: false, reason: "PodFailed" });
  });
}
// A node lost: the node stops reporting (Ready Unknown, unreachable taint), the taint manager
// marks the pod for deletion (DisruptionTarget DeletionByTaintManager), the node object goes
// (cloud node controller), PodGC fails and removes the pod; a fresh node then registers.
function loseNode(K) {
  const pod = K.pod;
  const node = getObj("nodes", "", K.node);
  K.lost = true;
  killPod(K, 0, false);
  if (node) updateObj("nodes", node, (n) => {
    n.status.conditions = [readyCondition(false)];
    n.spec.taints = [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: iso() }];
  });
  emitEvent(pod, "Warning", "NodeNotReady", "Node is not ready", "node-controller");
  const msg = "Taint manager: deleting due to NoExecute taint";
  emitEvent(pod, "Normal", "TaintManagerEviction", `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`, "taint-eviction-controller");
  updateObj("pods", pod, (p) => {
    const t = iso();
    p.status.conditions = p.status.conditions.map((c) => (c.type === "Ready" || c.type === "ContainersReady"
      ? { ...c, status: "False", lastTransitionTime: t, reason: undefined, message: undefined } : c)).map((c) => JSON.parse(JSON.stringify(c)));
    p.status.conditions.push({ type: "DisruptionTarget", status: "True", lastProbeTime: null, lastTransitionTime: t, reason: "DeletionByTaintManager", message: msg });
    p.metadata.deletionTimestamp = iso(new Date(Date.now() + (p.spec.terminationGracePeriodSeconds ?? 30) * 1000));
    p.metadata.deletionGracePeriodSeconds = p.spec.terminationGracePeriodSeconds ?? 30;
  });
  setTimeout(() => {
    const nodeName = K.node;
    const n = getObj("nodes", "", nodeName);
    if (n) removeObj("nodes", n);
    const cur = store.maps.pods.get(objKey(pod));
    if (cur === pod) {
      updateObj("pods", pod, (p) => { p.status.phase = "Failed"; });
      K.ended = true;
      for (const t of K.timers) clearTimeout(t);
      finishPodDeletion(pod);
    }
    setTimeout(() => {
      if (!getObj("nodes", "", nodeName)) {
        const idx = parseInt(nodeName.split("-").pop(), 10);
        makeNode(idx);
        rescheduleAll();
      }
    }, 1000);
  }, 500);
}

// ───────────────────────────── pod deletion, garbage collector ─────────────────────────────
const ownerJob = (pod) => pod.metadata.ownerReferences?.find((o) => o.controller && o.kind === "Job");
// DELETE of a pod: graceful when its containers run (deletionTimestamp, SIGTERM, SIGKILL after
// the grace period), else at once. Returns the pod as the API answers it.
function deletePod(pod, grace) {
  const K = kubelet.get(pod.metadata.uid);
  grace = grace ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  if (pod.metadata.deletionTimestamp) {
    if (grace === 0 && K) killPod(K, 0, false);
    return pod;
  }
  const running = K && !K.ended && [...K.ctrs.values()].some((c) => !c.done && c.pgid);
  if (!running || grace === 0) {
    if (K && !K.ended) { killPod(K, 0, false); K.ended = true; for (const t of K.timers) clearTimeout(t); }
    if (running || (K && !isTerminal(pod))) {
      // stopped at once: report what the kubelet saw before the object goes
      updateObj("pods", pod, (p) => { p.metadata.deletionTimestamp = iso(); p.metadata.deletionGracePeriodSeconds = 0; });
    }
    finishPodDeletion(pod);
    return pod;
  }
  updateObj("pods", pod, (p) => {
    p.metadata.deletionTimestamp = iso(new Date(Date.now() + grace * 1000));
    p.metadata.deletionGracePeriodSeconds = grace;
  });
  killPod(K, grace);
  return pod;
}
// The object goes; a job's pod is first counted by the job controller (its tracking finalizer).
function finishPodDeletion(pod) {
  if (store.maps.pods.get(objKey(pod)) !== pod) return;
  const K = kubelet.get(pod.metadata.uid);
  if (K) { K.ended = true; for (const t of K.timers) clearTimeout(t); if (K.killTimer) clearTimeout(K.killTimer); kubelet.delete(pod.metadata.uid); }
  const ref = ownerJob(pod);
  if (ref) {
    const job = jobByUid.get(ref.uid);
    if (job) countPod(job, pod);
    if (pod.metadata.finalizers?.length)
      updateObj("pods", pod, (p) => { p.metadata.finalizers = p.metadata.finalizers.filter((f) => f !== "batch.kubernetes.io/job-tracking"); if (!p.metadata.finalizers.length) delete p.metadata.finalizers; });
  }
  removeObj("pods", pod);
  setImmediate(rescheduleAll);
  if (ref) { const job = jobByUid.get(ref.uid); if (job) queueJob(job); }
}
// DELETE of a Job, with the garbage collector's propagation (batch/v1 defaults to Orphan).
function deleteJob(job, policy) {
  const pods = podsOf(job);
  if (policy === "Orphan") {
    for (const p of pods) updateObj("pods", p, (x) => {
      indexPod(x, false);
      x.metadata.ownerReferences = x.metadata.ownerReferences.filter((o) => o.uid !== job.metadata.uid);
      if (!x.metadata.ownerReferences.length) delete x.metadata.ownerReferences;
      if (x.metadata.finalizers) { x.metadata.finalizers = x.metadata.finalizers.filter((f) => f !== "batch.kubernetes.io/job-tracking"); if (!x.metadata.finalizers.length) delete x.metadata.finalizers; }
    });
    dropJob(job);
    return { deleted: true };
  }
  if (policy === "Foreground") {
    updateObj("jobs", job, (j) => {
      j.metadata.deletionTimestamp ??= iso(); j.metadata.deletionGracePeriodSeconds = 0;
      j.metadata.finalizers = [...new Set([...(j.metadata.finalizers ?? []), "foregroundDeletion"])];
    });
    for (const p of pods) deletePod(p);
    if (podsOf(job).length === 0) { dropJob(job); return { deleted: true }; }
    return { deleted: false };
  }
  dropJob(job);
  setImmediate(() => { for (const p of pods) if (store.maps.pods.get(objKey(p)) === p) deletePod(p); });
  return { deleted: true };
}
function dropJob(job) {
  const J = jobState.get(job.metadata.uid);
  if (J) for (const t of J.timers) clearTimeout(t);
  jobState.delete(job.metadata.uid);
  // pods of a Background-deleted job still count against it until they go: keep the lookup a while
  setTimeout(() => jobByUid.delete(job.metadata.uid), 120000).unref();
  removeObj("jobs", job);
}

// ───────────────────────────── job controller, ttl-after-finished ─────────────────────────────
const jobState = new Map();   // uid → { counted: Set, timers: Set, queued, lastFailure }
const jobByUid = new Map();
const podsOf = (job) => [...(podsByOwner.get(job.metadata.uid) ?? [])].filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid));
const cond = (obj, type) => obj.status?.conditions?.find((c) => c.type === type && c.status === "True");
// A controller timer. Node runs timers on libuv's monotonic clock in whole ms while the
// controller compares Date.now() (the wall clock, also whole ms), so a timer may wake a ms
// before the time it was set for: whoever arms one must re-check and re-arm, as the controller
// does at every sync. The fault controller_timers_early_ms makes such early wake-ups larger
// (only for timers longer than it, so that a re-armed timer reaches its time).
function jobTimer(job, ms, fn) {
  const J = jobState.get(job.metadata.uid);
  if (!J) return null;
  const early = faults.controller_timers_early_ms ?? 0;
  const t = setTimeout(() => { J.timers.delete(t); fn(); }, Math.max(0, ms > early ? ms - early : ms));
  J.timers.add(t);
  return t;
}
function queueJob(job) {
  const J = jobState.get(job.metadata.uid);
  if (!J || J.queued) return;
  J.queued = true;
  setImmediate(() => { J.queued = false; if (store.maps.jobs.get(objKey(job)) === job) syncJob(job); });
}
// Counts a terminal (or terminating) pod once into the Job's succeeded/failed.
function countPod(job, pod) {
  const J = jobState.get(job.metadata.uid);
  if (!J || J.counted.has(pod.metadata.uid)) return;
  const ok = pod.status?.phase === "Succeeded";
  if (!ok && !isTerminal(pod) && !pod.metadata.deletionTimestamp) return;
  J.counted.add(pod.metadata.uid);
  if (!ok) J.lastFailure = Date.now();
  updateObj("jobs", job, (j) => { if (ok) j.status.succeeded = (j.status.succeeded ?? 0) + 1; else j.status.failed = (j.status.failed ?? 0) + 1; });
  // counted: the tracking finalizer goes
  if (pod.metadata.finalizers?.includes("batch.kubernetes.io/job-tracking"))
    updateObj("pods", pod, (p) => { p.metadata.finalizers = p.metadata.finalizers.filter((f) => f !== "batch.kubernetes.io/job-tracking"); if (!p.metadata.finalizers.length) delete p.metadata.finalizers; });
}
function newJobCondition(type, reason, message) {
  return { type, status: "True", lastProbeTime: iso(), lastTransitionTime: iso(), reason, message };
}
function createJobPod(job) {
  const t = job.spec.template;
  const pod = {
    kind: "Pod", apiVersion: "v1",
    metadata: { generateName: `${job.metadata.name}-`, namespace: job.metadata.namespace, labels: clone(t.metadata?.labels ?? {}),
      ...(t.metadata?.annotations ? { annotations: clone(t.metadata.annotations) } : {}),
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
      finalizers: ["batch.kubernetes.io/job-tracking"] },
    spec: clone(t.spec),
  };
  fillMeta("pods", pod, job.metadata.namespace);
  defaultPod(pod);
  createObj("pods", pod);
  emitEvent(job, "Normal", "SuccessfulCreate", `Created pod: ${pod.metadata.name}`, "job-controller");
  setImmediate(() => schedule(pod));
}
function syncJob(job) {
  const J = jobState.get(job.metadata.uid);
  if (!J) return;
  const s = job.spec, st = job.status;
  if (cond(job, "Complete") || cond(job, "Failed")) return;
  const pods = podsOf(job);
  for (const p of pods) if (isTerminal(p) || p.metadata.deletionTimestamp) countPod(job, p);
  const live = pods.filter((p) => !isTerminal(p) && !p.metadata.deletionTimestamp);
  const terminating = pods.filter((p) => !isTerminal(p) && p.metadata.deletionTimestamp);
  const restarts = live.reduce((n, p) => n + (p.status.containerStatuses ?? []).reduce((m, c) => m + c.restartCount, 0), 0);
  // The deadline counts from status.startTime; like the controller's own copy of the Job the
  // stand-in keeps the ms that the stored field (whole seconds) drops.
  J.startMs ??= Date.now();
  updateObj("jobs", job, (j) => {
    j.status.startTime ??= iso(new Date(J.startMs));
    j.status.active = live.length; if (!live.length) delete j.status.active;
    j.status.ready = live.filter((p) => cond(p, "Ready")).length;
    j.status.terminating = terminating.length;
    j.status.uncountedTerminatedPods ??= {};
  });
  const failed = job.status.failed ?? 0, succeeded = job.status.succeeded ?? 0;
  const target = cond(job, "FailureTarget") ?? cond(job, "SuccessCriteriaMet");
  if (!target) {
    let fail = null;
    // ignore_deadlines (a fault): a job controller that is late with activeDeadlineSeconds
    const deadlineLeft = s.activeDeadlineSeconds && !faults.ignore_deadlines ? J.startMs + s.activeDeadlineSeconds * 1000 - Date.now() : Infinity;
    if (failed + restarts > s.backoffLimit) fail = ["BackoffLimitExceeded", "Job has reached the specified backoff limit"];
    else if (deadlineLeft <= 0) fail = ["DeadlineExceeded", "Job was active longer than specified deadline"];
    else if (deadlineLeft !== Infinity) {
      // as the job controller requeues the Job for the time left at every sync: one timer,
      // replaced each time, so a timer that woke early is followed by another
      if (J.deadlineTimer) { clearTimeout(J.deadlineTimer); J.timers.delete(J.deadlineTimer); }
      J.deadlineTimer = jobTimer(job, deadlineLeft, () => { J.deadlineTimer = null; queueJob(job); });
    }
    if (fail) {
      updateObj("jobs", job, (j) => { (j.status.conditions ??= []).push(newJobCondition("FailureTarget", ...fail)); });
      emitEvent(job, "Warning", fail[0], fail[1], "job-controller");
      for (const p of live) { deletePod(p); emitEvent(job, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, "job-controller"); }
      return queueJob(job);
    }
    if (succeeded >= s.completions) {
      updateObj("jobs", job, (j) => { (j.status.conditions ??= []).push(newJobCondition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods")); });
      for (const p of live) deletePod(p);
      return queueJob(job);
    }
    const want = Math.min(s.parallelism, s.completions - succeeded) - live.length;
    if (want > 0 && !s.suspend && !job.metadata.deletionTimestamp) {
      // the job controller's pod failure back-off: 10 s doubling, at most 6 min
      const delay = failed ? Math.min(360, 10 * 2 ** (failed - 1)) * 1000 - (Date.now() - (J.lastFailure ?? 0)) : 0;
      if (delay > 0) { if (!J.backoffTimer) { J.backoffTimer = true; jobTimer(job, delay, () => { J.backoffTimer = false; queueJob(job); }); } }
      else for (let i = 0; i < want; i++) createJobPod(job);
    }
    return;
  }
  if (live.length || terminating.length) return;
  // every pod has stopped: the terminal condition
  const finalType = target.type === "FailureTarget" ? "Failed" : "Complete";
  updateObj("jobs", job, (j) => {
    j.status.conditions.push(newJobCondition(finalType, target.reason, target.message));
    if (finalType === "Complete") j.status.completionTime = iso();
    delete j.status.active;
    j.status.ready = 0; j.status.terminating = 0;
  });
  if (finalType === "Complete") emitEvent(job, "Normal", "Completed", "Job completed", "job-controller");
  const ttl = s.ttlSecondsAfterFinished;
  if (ttl !== undefined && ttl !== null)
    jobTimer(job, ttl * 1000, () => { if (store.maps.jobs.get(objKey(job)) === job) deleteJob(job, "Foreground"); });
}
listeners.push((res, type, obj) => {
  if (res === "pods") {
    const ref = ownerJob(obj);
    const job = ref && jobByUid.get(ref.uid);
    if (job) queueJob(job);
    if (type === "DELETED" && job?.metadata.deletionTimestamp && podsOf(job).length === 0) setImmediate(() => {
      if (store.maps.jobs.get(objKey(job)) === job && podsOf(job).length === 0) dropJob(job);
    });
  }
});

// ───────────────────────────── Table (meta.k8s.io/v1), as kubectl get prints ─────────────────
const col = (name, type, description, priority = 0, format = "") => ({ name, type, format, description, priority });
const TABLES = {
  pods: {
    columns: [col("Name", "string", "Name must be unique within a namespace.", 0, "name"), col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
      col("Status", "string", "The aggregate status of the containers in this pod."), col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
      col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
      col("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
      col("Node", "string", "NodeName is a request to schedule this pod onto a specific node.", 1),
      col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node.", 1),
      col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", 1)],
    cells(p) {
      const cs = p.status.containerStatuses ?? [];
      let reason = p.status.reason || p.status.phase;
      let hasRunning = false, restarts = 0, ready = 0;
      for (const c of cs) {
        restarts += c.restartCount;
        if (c.ready && c.state.running) ready++;
      }
      for (let i = cs.length - 1; i >= 0; i--) {
        const c = cs[i];
        if (c.state.waiting?.reason) reason = c.state.waiting.reason;
        else if (c.state.terminated?.reason) reason = c.state.terminated.reason;
        else if (c.state.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
        else if (c.ready && c.state.running) hasRunning = true;
      }
      if (reason === "Completed" && hasRunning) reason = cond(p, "Ready") ? "Running" : "NotReady";
      if (p.metadata.deletionTimestamp) reason = p.status.reason === "NodeLost" ? "Unknown" : "Terminating";
      return [p.metadata.name, `${ready}/${p.spec.containers.length}`, reason, String(restarts), age(p.metadata.creationTimestamp),
        p.status.podIP ?? "<none>", p.spec.nodeName || "<none>", p.status.nominatedNodeName || "<none>", "<none>"];
    },
  },
  jobs: {
    columns: [col("Name", "string", "Name must be unique within a namespace.", 0, "name"), col("Status", "string", "Status of the job."),
      col("Completions", "string", "The desired number of successfully finished pods the job should be run with."),
      col("Duration", "string", "Time required to complete the job."), col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
      col("Containers", "string", "Names of each container in the template.", 1), col("Images", "string", "Images referenced by each container in the template.", 1),
      col("Selector", "string", "A label query over pods that should match the pod count.", 1)],
    cells(j) {
      const st = j.status ?? {};
      const status = j.spec.suspend ? "Suspended" : cond(j, "Failed") ? "Failed" : cond(j, "Complete") ? "Complete"
        : cond(j, "FailureTarget") ? "FailureTarget" : cond(j, "SuccessCriteriaMet") ? "SuccessCriteriaMet"
          : j.metadata.deletionTimestamp ? "Terminating" : "Running";
      const dur = st.startTime ? humanDuration((st.completionTime ? Date.parse(st.completionTime) : Date.now()) - Date.parse(st.startTime)) : "";
      const sel = Object.entries(j.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
      const cs = j.spec.template.spec.containers;
      return [j.metadata.name, status, `${st.succeeded ?? 0}/${j.spec.completions}`, dur, age(j.metadata.creationTimestamp),
        cs.map((c) => c.name).join(","), cs.map((c) => c.image).join(","), sel];
    },
  },
  nodes: {
    columns: [col("Name", "string", "Name must be unique within a namespace.", 0, "name"), col("Status", "string", "The status of the node"),
      col("Roles", "string", "The roles of the node"), col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
      col("Version", "string", "Kubelet Version reported by the node.")],
    cells: (n) => [n.metadata.name, nodeReady(n) ? "Ready" : "NotReady", "<none>", age(n.metadata.creationTimestamp), n.status.nodeInfo.kubeletVersion],
  },
  namespaces: {
    columns: [col("Name", "string", "Name must be unique within a namespace.", 0, "name"), col("Status", "string", "The status of the namespace"),
      col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created.")],
    cells: (n) => [n.metadata.name, n.status?.phase ?? "Active", age(n.metadata.creationTimestamp)],
  },
  secrets: {
    columns: [col("Name", "string", "Name must be unique within a namespace.", 0, "name"), col("Type", "string", "The type of the secret"),
      col("Data", "string", "The number of keys in the secret."), col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created.")],
    cells: (s) => [s.metadata.name, s.type, Object.keys(s.data ?? {}).length, age(s.metadata.creationTimestamp)],
  },
  events: {
    columns: [col("Last Seen", "string", "Time when last event was seen"), col("Type", "string", "Type of this event"),
      col("Reason", "string", "Reason is why the action was taken."), col("Object", "string", "The object that this event is about."),
      col("Message", "string", "A human-readable description of the status of this operation.")],
    cells: (e) => [age(e.lastTimestamp), e.type, e.reason, `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}`, e.message],
  },
};
const partial = (o) => ({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: clone(o.metadata) });
function tableOf(res, items, include, rv, extra = {}) {
  const t = TABLES[res];
  return { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: rv, ...extra }, columnDefinitions: t.columns,
    rows: items.map((o) => ({ cells: t.cells(o), object: include === "None" ? undefined : include === "Object" ? o : partial(o) })) };
}
function wantsTable(req) {
  const a = req.headers.accept ?? "";
  return a.split(",").some((p) => /as=Table/.test(p) && /g=meta\.k8s\.io/.test(p) && /v=v1(;|$|\s)/.test(p + ";"));
}

// ───────────────────────────── HTTP: TLS and authentication ─────────────────────────────
// Bearer tokens (DIR/tokens; the exec plugin's, with their expiry, in DIR/exec-tokens) or a
// client certificate signed by the test CA; no credential is system:anonymous, which may read
// only what system:public-info-viewer allows on a real cluster.
const tokens = new Map(readFileSync(join(DIR, "tokens"), "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")));
let execTokens = new Map(), execMtime = 0;
function execTokenUser(tok) {
  const f = join(DIR, "exec-tokens");
  try {
    const { mtimeMs } = statSyncSafe(f);
    if (mtimeMs !== execMtime) {
      execMtime = mtimeMs;
      execTokens = new Map(readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => { const [t, e] = l.split(" "); return [t, +e]; }));
    }
  } catch { return null; }
  const exp = execTokens.get(tok);
  return exp !== undefined && exp * 1000 > Date.now() ? "standin-exec" : null;
}
const unauthorized = () => new ApiError(401, "Unauthorized", "Unauthorized");
function authenticate(req) {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    const user = m && (tokens.get(m[1]) ?? execTokenUser(m[1]));
    if (!user) throw unauthorized();
    return user;
  }
  const sock = req.stream?.session?.socket ?? req.socket;   // HTTP/2: the session's TLS socket
  const cert = sock.getPeerCertificate?.();
  if (cert && Object.keys(cert).length) {
    if (!sock.authorized) throw unauthorized();
    return cert.subject?.CN ?? "standin-cert";
  }
  return "system:anonymous";
}
const PUBLIC = /^\/(version|healthz|livez|readyz)(\/.*)?$/;

// ───────────────────────────── HTTP: faults and stats on the wire ─────────────────────────────
const stats = new Map();
function routeTemplate(method, path, query) {
  const t = path.replace(/^(\/api\/v1|\/apis\/batch\/v1)\/namespaces\/[^/]+\/([^/]+)\/[^/]+/, "$1/namespaces/{ns}/$2/{name}")
    .replace(/^(\/api\/v1|\/apis\/batch\/v1)\/namespaces\/[^/]+\/([^/]+)$/, "$1/namespaces/{ns}/$2")
    .replace(/^\/api\/v1\/(namespaces|nodes)\/[^/]+$/, "/api/v1/$1/{name}");
  const watch = method === "GET" && ["true", "1"].includes(query.get("watch") ?? "");
  return `${method} ${t}${watch ? "?watch" : ""}`;
}
function injectedError(e) {
  const msg = { 429: "Too many requests, please try again later.", 500: "Internal error occurred: injected by the API stand-in",
    503: "the server is currently unable to handle the request", 504: "the server was unable to return a response in the time allotted, but may still be processing the request" }[e.status];
  const details = e.status === 429 || e.retry_after !== undefined ? { retryAfterSeconds: e.retry_after ?? 1 }
    : e.status === 500 ? { causes: [{ message: "injected by the API stand-in" }] } : {};
  return new ApiError(e.status, REASON_BY_CODE[e.status], msg, details,
    e.retry_after !== undefined ? { "Retry-After": String(e.retry_after) } : {});
}

// ───────────────────────────── HTTP: answers ─────────────────────────────
function send(res, code, obj, headers = {}) {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify(obj);
  res.writeHead(code, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
function sendError(res, e, warnings = []) {
  if (!(e instanceof ApiError)) {
    log("internal error:", e.stack ?? e);
    e = new ApiError(500, "InternalError", `Internal error occurred: ${e.message}`, { causes: [{ message: String(e.message) }] });
  }
  send(res, e.code, e.status(), { ...(e.headers ?? {}), ...warnHeader(warnings) });
}
const warnHeader = (w) => (w.length ? { Warning: w.map((m) => `299 - ${JSON.stringify(m)}`) } : {});
const stripKind = ({ kind, apiVersion, ...rest }) => rest;

// discovery
function apiResourceList(gv) {
  const list = Object.entries(RES).filter(([, r]) => r.apiVersion === gv).flatMap(([name, r]) => {
    const e = [{ name, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs,
      ...(r.short ? { shortNames: r.short } : {}), ...(r.categories ? { categories: r.categories } : {}), storageVersionHash: "standin0000=" }];
    if (name === "pods") e.push({ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
      { name: "pods/status", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
    if (name === "jobs") e.push({ name: "jobs/status", singularName: "", namespaced: true, kind: "Job", verbs: ["get"] });
    return e;
  });
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources: list };
}
const batchGroup = { name: "batch", versions: [{ groupVersion: "batch/v1", version: "v1" }], preferredVersion: { groupVersion: "batch/v1", version: "v1" } };

function listObjects(resName, ns, query) {
  const lsel = parseLabelSelector(query.get("labelSelector"));
  const fsel = parseFieldSelector(resName, query.get("fieldSelector"));
  let items = [...store.maps[resName].values()].filter((o) => (!ns || o.metadata.namespace === ns) &&
    labelsMatch(lsel, o.metadata.labels) && fieldsMatch(resName, fsel, o));
  items.sort((a, b) => (objKey(a) < objKey(b) ? -1 : objKey(a) > objKey(b) ? 1 : 0));
  return { items, selected: lsel.length > 0 || fsel.length > 0 };
}
function handleList(req, res, resName, ns, query) {
  const r = RES[resName];
  let { items, selected } = listObjects(resName, ns, query);
  let rv = String(store.rv);
  const meta = {};
  const cont = query.get("continue");
  if (cont) {
    let tok;
    try { tok = JSON.parse(Buffer.from(cont, "base64").toString("utf8")); if (tok.v !== "meta.k8s.io/v1") throw new Error("bad"); }
    catch { throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"); }
    const oldest = store.history.length ? store.history[0].rv : store.rv;
    if (tok.rv < oldest - 1)
      throw new ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
    items = items.filter((o) => objKey(o) >= tok.start);
    rv = String(tok.rv);
  }
  const limit = parseInt(query.get("limit") ?? "0", 10);
  if (limit > 0 && items.length > limit) {
    const rest = items.length - limit;
    items = items.slice(0, limit);
    meta.continue = Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: +rv, start: objKey(items[items.length - 1]) + "\u0000" })).toString("base64");
    if (!selected) meta.remainingItemCount = rest;
  }
  if (wantsTable(req) && TABLES[resName]) return send(res, 200, tableOf(resName, items, query.get("includeObject") ?? "Metadata", rv, meta));
  send(res, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: rv, ...meta }, items: items.map(stripKind) });
}
function handleWatch(req, res, resName, ns, query) {
  const r = RES[resName];
  const lsel = parseLabelSelector(query.get("labelSelector"));
  const fsel = parseFieldSelector(resName, query.get("fieldSelector"));
  const table = wantsTable(req) && TABLES[resName];
  const include = query.get("includeObject") ?? "Metadata";
  const matches = (o) => o && (!ns || o.metadata.namespace === ns) && labelsMatch(lsel, o.metadata.labels) && fieldsMatch(resName, fsel, o);
  const rvParam = query.get("resourceVersion") ?? "";
  const initial = query.get("sendInitialEvents") === "true";
  let from = store.rv;
  if (rvParam !== "" && rvParam !== "0" && !initial) {
    from = parseInt(rvParam, 10);
    if (isNaN(from) || String(from) !== rvParam) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a valid resource version`);
  }
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });   // chunked (HTTP/1.1) or a stream (HTTP/2)
  const write = (type, obj, json) => {
    if (res.destroyed) return;
    if (table && type !== "BOOKMARK" && type !== "ERROR") json = JSON.stringify(tableOf(resName, [obj], include, obj.metadata.resourceVersion));
    res.write(`{"type":"${type}","object":${json ?? JSON.stringify(obj)}}\n`);
  };
  const oldest = store.history.length ? store.history[0].rv : store.rv + 1;
  if (rvParam !== "" && rvParam !== "0" && !initial && from < oldest - 1) {
    write("ERROR", { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `too old resource version: ${from} (${oldest - 1})`, reason: "Expired", code: 410 });
    return res.end();
  }
  if (rvParam === "" || rvParam === "0" || initial) {
    for (const o of listObjects(resName, ns, query).items) write("ADDED", o);
    if (initial && query.get("allowWatchBookmarks") === "true")
      write("BOOKMARK", { kind: r.kind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(store.rv), annotations: { "k8s.io/initial-events-end": "true" } } });
  } else {
    for (const ev of store.history) if (ev.rv > from) offer(ev);
  }
  function offer(ev) {
    if (ev.res !== resName) return;
    const now = ev.type === "DELETED" ? false : matches(ev.obj), before = ev.prev ? matches(ev.prev) : false;
    if (ev.type === "ADDED" && now) write("ADDED", ev.obj, ev.json);
    else if (ev.type === "MODIFIED") {
      if (now && before) write("MODIFIED", ev.obj, ev.json);
      else if (now) write("ADDED", ev.obj, ev.json);
      else if (before) write("DELETED", ev.obj, ev.json);
    } else if (ev.type === "DELETED" && before) write("DELETED", ev.obj, ev.json);
  }
  const w = { offer };
  store.watchers.add(w);
  const timers = [];
  if (query.get("allowWatchBookmarks") === "true")
    timers.push(setInterval(() => write("BOOKMARK", { kind: r.kind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(store.rv) } }), BOOKMARK_MS));
  const stop = () => { store.watchers.delete(w); timers.forEach(clearInterval); clearTimeout(tmo); if (!res.writableEnded) res.end(); };
  const secs = parseInt(query.get("timeoutSeconds") ?? "0", 10);
  const tmo = secs > 0 ? setTimeout(stop, secs * 1000) : null;
  res.on("close", stop);
}

function checkDryRun(query) {
  const vals = query.getAll("dryRun");
  for (const v of vals) if (v !== "All") throw invalidOpts("dryRun", v, `Unsupported value: "${v}": supported values: "All"`);
  return vals.length > 0;
}
function invalidOpts(field, v, message) {
  return new ApiError(422, "Invalid", `CreateOptions.meta.k8s.io "" is invalid: ${field}: ${message}`,
    { group: "meta.k8s.io", kind: "CreateOptions", causes: [{ reason: "FieldValueNotSupported", message, field }] });
}
const VALIDATE = { jobs: validateJob, pods: validatePod, secrets: validateSecret, namespaces: validateNamespace };
async function handleCreate(req, res, resName, ns, query, body) {
  const r = RES[resName];
  if (!VALIDATE[resName]) throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
  const dry = checkDryRun(query);
  if (r.namespaced && !getObj("namespaces", "", ns)) throw notFound("namespaces", ns);
  const ctype = (req.headers["content-type"] ?? "application/json").split(";")[0].trim();
  if (ctype !== "application/json")     // protobuf, YAML, CBOR: not decoded here
    throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json`, {});
  const warnings = [];
  const obj = await decodeBody(resName, body, query, warnings);
  obj.metadata ??= {};
  if (r.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns)
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  if (resName === "secrets") {
    for (const [k, v] of Object.entries(obj.data ?? {}))
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 === 1)
        throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${Math.max(0, v.search(/[^A-Za-z0-9+/=]/))}`);
    if (obj.stringData) {
      obj.data ??= {};
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), "utf8").toString("base64");
      delete obj.stringData;
    }
    obj.type ??= "Opaque";
  }
  const causes = VALIDATE[resName](obj);
  if (causes.length) throw invalid(resName, obj.metadata.name ?? obj.metadata.generateName ?? "", causes);
  if (obj.metadata.name && store.maps[resName].has(keyOf(r.namespaced ? ns : "", obj.metadata.name))) throw alreadyExists(resName, obj.metadata.name);
  fillMeta(resName, obj, r.namespaced ? ns : "");
  delete obj.status;
  if (resName === "jobs") defaultJob(obj);
  if (resName === "pods") defaultPod(obj);
  if (resName === "namespaces") {
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name };
    obj.spec = { finalizers: ["kubernetes"] }; obj.status = { phase: "Active" };
  }
  if (dry) return send(res, 201, obj, warnHeader(warnings));
  createObj(resName, obj);
  if (resName === "jobs") {
    jobState.set(obj.metadata.uid, { counted: new Set(), timers: new Set(), queued: false });
    jobByUid.set(obj.metadata.uid, obj);
    queueJob(obj);
  }
  if (resName === "pods") setImmediate(() => schedule(obj));
  send(res, 201, obj, warnHeader(warnings));
}

function deleteOptions(query, body) {
  let opts = {};
  if (body.length) {
    try { opts = JSON.parse(body.toString("utf8")); } catch (e) { throw badRequest(`couldn't get version/kind; json parse error: ${e.message}`); }
  }
  for (const k of ["propagationPolicy", "gracePeriodSeconds"]) if (query.has(k)) opts[k] = k === "gracePeriodSeconds" ? parseInt(query.get(k), 10) : query.get(k);
  if (query.has("orphanDependents")) opts.orphanDependents = query.get("orphanDependents") === "true";
  const p = opts.propagationPolicy;
  if (p !== undefined && p !== null && !["Orphan", "Background", "Foreground"].includes(p))
    throw new ApiError(422, "Invalid", `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${p}": supported values: "Foreground", "Background", "Orphan", "nil"`,
      { group: "meta.k8s.io", kind: "DeleteOptions", causes: [{ reason: "FieldValueNotSupported", message: `Unsupported value: "${p}": supported values: "Foreground", "Background", "Orphan", "nil"`, field: "propagationPolicy" }] });
  if (p && opts.orphanDependents !== undefined)
    throw new ApiError(422, "Invalid", `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "${p}": orphanDependents and deletionPropagation cannot be both set`, { group: "meta.k8s.io", kind: "DeleteOptions" });
  if (opts.gracePeriodSeconds !== undefined && (isNaN(opts.gracePeriodSeconds) || opts.gracePeriodSeconds < 0)) opts.gracePeriodSeconds = 0;
  for (const v of [...query.getAll("dryRun"), ...(opts.dryRun ?? [])]) if (v !== "All") throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  opts.dry = query.getAll("dryRun").length > 0 || (opts.dryRun ?? []).length > 0;
  return opts;
}
const JOB_ORPHAN_WARNING = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";
// Deletes one object; returns [code, answer].
function deleteOne(resName, obj, opts, warnings) {
  const r = RES[resName], m = obj.metadata;
  const pre = opts.preconditions ?? {};
  if (pre.uid && pre.uid !== m.uid)
    throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${r.plural}${r.group ? "." + r.group : ""} "${m.name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${m.uid}`, { name: m.name, group: r.group || undefined, kind: r.plural });
  if (pre.resourceVersion && pre.resourceVersion !== m.resourceVersion)
    throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${r.plural}${r.group ? "." + r.group : ""} "${m.name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`, { name: m.name, group: r.group || undefined, kind: r.plural });
  const success = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name: m.name, ...(r.group ? { group: r.group } : {}), kind: r.plural, uid: m.uid } };
  if (opts.dry) return [200, resName === "pods" ? obj : success];
  switch (resName) {
    case "pods": deletePod(obj, opts.gracePeriodSeconds); return [200, obj];
    case "jobs": {
      let policy = opts.propagationPolicy ?? (opts.orphanDependents === false ? "Background" : "Orphan");
      if (!opts.propagationPolicy && opts.orphanDependents === undefined) warnings.push(JOB_ORPHAN_WARNING);
      const { deleted } = deleteJob(obj, policy);
      // 202 only where the deletion waits and orphanDependents=false was asked (the apiserver's rule)
      return deleted ? [200, success] : [opts.orphanDependents === false ? 202 : 200, obj];
    }
    case "namespaces": {
      if (["default", "kube-system", "kube-public"].includes(m.name))
        throw new ApiError(403, "Forbidden", `namespaces "${m.name}" is forbidden: this namespace may not be deleted`, { name: m.name, kind: "namespaces" });
      for (const res of ["jobs", "pods", "secrets", "events"])
        for (const o of [...store.maps[res].values()]) if (o.metadata.namespace === m.name)
          res === "jobs" ? deleteJob(o, "Background") : res === "pods" ? deletePod(o, 0) : removeObj(res, o);
      updateObj("namespaces", obj, (n) => { n.status.phase = "Terminating"; n.metadata.deletionTimestamp = iso(); });
      removeObj("namespaces", obj);
      return [200, obj];
    }
    default: removeObj(resName, obj); return [200, success];
  }
}
function handleDelete(req, res, resName, ns, name, query, body) {
  const r = RES[resName];
  if (!r.verbs.includes("delete")) throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
  const obj = getObj(resName, r.namespaced ? ns : "", name);
  if (!obj) throw notFound(resName, name);
  const opts = deleteOptions(query, body);
  const warnings = [];
  const [code, out] = deleteOne(resName, obj, opts, warnings);
  send(res, code, out, warnHeader(warnings));
}
function handleDeleteCollection(req, res, resName, ns, query, body) {
  const r = RES[resName];
  if (!r.verbs.includes("deletecollection")) throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
  const opts = deleteOptions(query, body);
  const { items } = listObjects(resName, ns, query);
  const warnings = [];
  for (const o of items) deleteOne(resName, o, opts, warnings);
  send(res, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: String(store.rv) }, items: items.map(stripKind) },
    warnHeader([...new Set(warnings)]));
}

// GET .../pods/NAME/log, with the query parameters the API documents.
function handleLog(req, res, pod, query) {
  const names = pod.spec.containers.map((c) => c.name);
  let cname = query.get("container");
  if (!cname) {
    if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(" ")}]`);
    cname = names[0];
  }
  if (!names.includes(cname)) throw badRequest(`container ${cname} is not valid for pod ${pod.metadata.name}`);
  const K = kubelet.get(pod.metadata.uid);
  const ctr = K?.ctrs.get(cname);
  const bool = (k) => ["true", "1"].includes(query.get(k) ?? "");
  if (bool("previous")) {
    if (!ctr || ctr.restarts === 0) throw badRequest(`previous terminated container "${cname}" in pod "${pod.metadata.name}" not found`);
  }
  if (!ctr || (!ctr.pgid && !ctr.done)) {
    const w = ctrStatus(pod, cname)?.state?.waiting?.reason ?? "ContainerCreating";
    const why = { ErrImagePull: "trying and failing to pull image", ImagePullBackOff: "image can't be pulled" }[w] ?? w;
    throw badRequest(`container "${cname}" in pod "${pod.metadata.name}" is waiting to start: ${why}`);
  }
  const int = (k) => { const v = query.get(k); if (v === null) return undefined; const n = parseInt(v, 10);
    if (isNaN(n) || String(n) !== v) throw badRequest(`${k}: Invalid value: "${v}": must be an integer`); return n; };
  const tail = int("tailLines"), since = int("sinceSeconds"), limitBytes = int("limitBytes");
  if (tail !== undefined && tail < 0) throw new ApiError(422, "Invalid", `PodLogOptions "${pod.metadata.name}" is invalid: tailLines: Invalid value: ${tail}: must be greater than or equal to 0`, { name: pod.metadata.name, kind: "PodLogOptions" });
  if (since !== undefined && since < 1) throw new ApiError(422, "Invalid", `PodLogOptions "${pod.metadata.name}" is invalid: sinceSeconds: Invalid value: ${since}: must be greater than 0`, { name: pod.metadata.name, kind: "PodLogOptions" });
  const sinceTime = query.get("sinceTime") ? Date.parse(query.get("sinceTime")) : undefined;
  const ts = bool("timestamps"), follow = bool("follow");
  const fmt = (l) => (ts ? `${l.ts} ${l.text}` : l.text);
  let lines = ctr.lines;
  if (since !== undefined) lines = lines.filter((l) => l.t >= Date.now() - since * 1000);
  else if (sinceTime !== undefined) lines = lines.filter((l) => l.t >= sinceTime);
  if (tail !== undefined) lines = tail === 0 ? [] : lines.slice(-tail);
  let budget = limitBytes ?? Infinity;
  res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private" });
  const out = (s) => {
    if (budget <= 0) return false;
    const b = Buffer.from(s, "utf8");
    res.write(b.length > budget ? b.subarray(0, budget) : b);
    budget -= b.length;
    return budget > 0;
  };
  for (const l of lines) if (!out(fmt(l))) return res.end();
  if (!follow || ctr.done) return res.end();
  const f = (l) => {
    if (l === null || !out(fmt(l))) { ctr.followers.delete(f); res.end(); }
  };
  ctr.followers.add(f);
  res.on("close", () => ctr.followers.delete(f));
}

// ───────────────────────────── HTTP: routing ─────────────────────────────
const PATH_RE = /^\/(api\/v1|apis\/batch\/v1)(?:\/namespaces\/([^/]+)(?=\/[^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/;
function forbidden(user, verb, resName, ns, path) {
  if (!resName) return new ApiError(403, "Forbidden", `forbidden: User "${user}" cannot ${verb} path "${path}"`, {});
  const r = RES[resName];
  return new ApiError(403, "Forbidden", `${r.plural}${r.group ? "." + r.group : ""} is forbidden: User "${user}" cannot ${verb} resource "${r.plural}" in API group "${r.group}"${ns ? ` in the namespace "${ns}"` : " at the cluster scope"}`,
    { kind: r.plural, ...(r.group ? { group: r.group } : {}) });
}
async function dispatch(req, res, url, body, user) {
  const path = url.pathname, q = url.searchParams, method = req.method;
  if (PUBLIC.test(path)) {
    if (method !== "GET" && method !== "HEAD") throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
    if (path === "/version") return send(res, 200, VERSION);
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
    return res.end(q.has("verbose") ? `[+]ping ok\n[+]etcd ok\n${path.slice(1).split("/")[0]} check passed\n` : "ok");
  }
  if (path.startsWith("/standin/")) {
    if (user !== "standin-admin") throw forbidden(user, method.toLowerCase(), null, null, path);
    if (path === "/standin/v1/faults" && method === "POST") {
      let f;
      try { f = JSON.parse(body.toString("utf8") || "{}"); } catch (e) { throw badRequest(`faults: ${e.message}`); }
      setFaults(f);
      return send(res, 200, { ...f });
    }
    if (path === "/standin/v1/faults" && method === "GET")
      return send(res, 200, { ...faults, http_errors: (faults.http_errors ?? []).map((e) => ({ ...e, path_regex: e.re.source, re: undefined })) });
    if (path === "/standin/v1/stats" && method === "GET") return send(res, 200, Object.fromEntries([...stats.entries()].sort()));
    if (path === "/standin/v1/stats/reset" && method === "POST") { stats.clear(); return send(res, 200, {}); }
    throw new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  }
  if (user === "system:anonymous") {
    const m = PATH_RE.exec(path);
    const resName = m && RES[m[3]] ? m[3] : m?.[3] === "namespaces" ? "namespaces" : null;
    throw forbidden(user, method === "GET" ? (m && !m[4] ? "list" : "get") : method === "POST" ? "create" : method.toLowerCase(), resName, m?.[2], path);
  }
  if (method === "GET") {
    if (path === "/api" || path === "/api/")
      return send(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${PORT}` }] });
    if (path === "/apis" || path === "/apis/") return send(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: [batchGroup] });
    if (path === "/apis/batch") return send(res, 200, { kind: "APIGroup", apiVersion: "v1", ...batchGroup });
    if (path === "/api/v1") return send(res, 200, apiResourceList("v1"));
    if (path === "/apis/batch/v1") return send(res, 200, apiResourceList("batch/v1"));
  }
  if (method === "GET" && path.startsWith("/openapi/")) return handleOpenAPI(res, path);
  const m = PATH_RE.exec(path);
  if (!m) throw new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  let [, gv, ns, resName, name, sub] = m;
  gv = gv === "api/v1" ? "v1" : "batch/v1";
  const r = RES[resName];
  if (!r || r.apiVersion !== gv || (ns && !r.namespaced) || (sub && !{ pods: ["log", "status"], jobs: ["status"] }[resName]?.includes(sub)))
    throw new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  if (!r.namespaced && ns) throw new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  if (r.namespaced && name && !ns) throw new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  const notAllowed = () => new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
  if (!name) {
    if (method === "GET") {
      if (["true", "1"].includes(q.get("watch") ?? "")) return handleWatch(req, res, resName, ns, q);
      return handleList(req, res, resName, ns, q);
    }
    if (method === "POST") {
      if (r.namespaced && !ns) throw notAllowed();
      return handleCreate(req, res, resName, ns, q, body);
    }
    if (method === "DELETE") {
      if (r.namespaced && !ns) throw notAllowed();
      return handleDeleteCollection(req, res, resName, ns, q, body);
    }
    throw notAllowed();
  }
  if (method === "GET") {
    const obj = getObj(resName, r.namespaced ? ns : "", name);
    if (!obj) throw notFound(resName, name);
    if (sub === "log") return handleLog(req, res, obj, q);
    if (wantsTable(req) && TABLES[resName] && !sub) return send(res, 200, tableOf(resName, [obj], q.get("includeObject") ?? "Metadata", obj.metadata.resourceVersion));
    return send(res, 200, obj);
  }
  if (method === "DELETE" && !sub) return handleDelete(req, res, resName, ns, name, q, body);
  throw notAllowed();
}

// A minimal OpenAPI v3 document per group-version: the paths served and their operations, no
// schemas. kubectl reads it to learn that the server validates fields itself (the
// fieldValidation parameter of the PATCH operation, which is how kubectl 1.32 checks), and then
// sends fieldValidation=Strict instead of downloading schemas for client-side validation.
function handleOpenAPI(res, path) {
  const gvs = { "api/v1": "v1", "apis/batch/v1": "batch/v1" };
  if (path === "/openapi/v3" || path === "/openapi/v3/")
    return send(res, 200, { paths: Object.fromEntries(Object.keys(gvs).map((k) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=STANDIN0` }])) });
  const gvPath = path.replace(/^\/openapi\/v3\//, "");
  const gv = gvs[gvPath];
  if (!gv) throw new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  const q = (name, description) => ({ name, in: "query", description, schema: { type: "string", uniqueItems: true } });
  const paths = {};
  for (const [name, r] of Object.entries(RES)) {
    if (r.apiVersion !== gv) continue;
    const ext = { "x-kubernetes-group-version-kind": { group: r.group, version: "v1", kind: r.kind } };
    const base = r.namespaced ? `/${gvPath}/namespaces/{namespace}/${name}` : `/${gvPath}/${name}`;
    const op = (verb, params = []) => ({ operationId: `${verb}${r.kind}`, "x-kubernetes-action": verb, ...ext, parameters: params,
      responses: { 200: { description: "OK" } } });
    const writeParams = [q("dryRun", "When present, indicates that modifications should not be persisted."),
      q("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields.")];
    paths[base] = { get: op("list"), ...(r.verbs.includes("create") ? { post: op("post", writeParams) } : {}),
      ...(r.verbs.includes("deletecollection") ? { delete: op("deletecollection") } : {}) };
    paths[`${base}/{name}`] = { get: op("get"), ...(r.verbs.includes("delete") ? { delete: op("delete") } : {}),
      // PATCH is not served (405); kubectl only reads this entry to see that fieldValidation exists
      ...(r.verbs.includes("create") ? { patch: op("patch", writeParams) } : {}) };
  }
  send(res, 200, { openapi: "3.0.0", info: { title: "Kubernetes API stand-in", version: "v1.32.0-standin" }, paths, components: { schemas: {} } });
}

async function onRequest(req, res) {
  const url = new URL(req.url, "https://standin");
  const tpl = routeTemplate(req.method, url.pathname, url.searchParams);
  const counted = !url.pathname.startsWith("/standin/");
  if (counted) {
    stats.set(tpl, (stats.get(tpl) ?? 0) + 1);
    if (faults.drop_connections > 0) {
      faults.drop_connections--;
      log("fault: dropping the connection of", req.method, req.url);
      // HTTP/2: the whole connection goes, with every stream on it, as when a TCP connection drops
      return req.stream ? req.stream.session.destroy() : req.socket.destroy();
    }
    const e = (faults.http_errors ?? []).find((x) => x.count > 0 && (!x.method || x.method === req.method) && x.re.test(url.pathname + url.search));
    if (e) {
      e.count--;
      // drain the body so the connection stays usable
      req.resume();
      return req.on("end", () => sendError(res, injectedError(e)));
    }
  }
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  if (counted && faults.latency_ms > 0) await sleep(faults.latency_ms);
  try {
    const user = authenticate(req);
    await dispatch(req, res, url, body, user);
  } catch (e) {
    sendError(res, e);
  }
}

// ───────────────────────────── main ─────────────────────────────
let PORT = 0;
models.jobs = await loadModel("batch/v1", "Job");
models.pods = await loadModel("v1", "Pod");
models.secrets = await loadModel("v1", "Secret");
models.namespaces = await loadModel("v1", "Namespace");
for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"])
  createObj("namespaces", fillMeta("namespaces", { kind: "Namespace", apiVersion: "v1", metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
    spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } }, ""));
makeNodes();
// HTTP/2 when the client offers it (ALPN h2: kubectl, libcurl built with nghttp2), else HTTP/1.1
// with keep-alive.
const server = http2.createSecureServer({
  allowHTTP1: true, settings: { maxConcurrentStreams: 1000 },
  key: readFileSync(join(DIR, "server.key")), cert: readFileSync(join(DIR, "server.crt")), ca: readFileSync(join(DIR, "ca.crt")),
  requestCert: true, rejectUnauthorized: false, keepAlive: true,
}, (req, res) => { onRequest(req, res).catch((e) => sendError(res, e)); });
server.keepAliveTimeout = 120000;
server.headersTimeout = 60000;
server.requestTimeout = 0;
server.listen(0, "127.0.0.1", () => {
  PORT = server.address().port;
  writeFileSync(join(DIR, "port.tmp"), String(PORT));
  renameSync(join(DIR, "port.tmp"), join(DIR, "port"));
  log(`Kubernetes API stand-in listening on https://127.0.0.1:${PORT} (${NODE_COUNT} node(s), cpu ${NODE_CPU}, memory ${NODE_MEMORY}, gpus ${NODE_GPUS})`);
});
function shutdown(sig) {
  log(`${sig}: stopping every pod process`);
  if (!runner.connected) process.exit(0);
  runner.send({ op: "stopAll" });
  runner.on("message", (m) => { if (m.op === "stopped") process.exit(0); });
  setTimeout(() => process.exit(0), 3000);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("uncaughtException", (e) => log("BUG (uncaught):", e.stack ?? e));
