// Validate Kubernetes manifests (JSON files) offline against the official schema, as compiled
// by npm kubernetes-models, and report every field the schema does not know.
//
//   node validate-job.mjs MODELS_DIR file.json ...     exit 0 when every file is valid
//
// MODELS_DIR holds node_modules/kubernetes-models (tests/k8s/validate-up.sh installs it).
// kubernetes-models' validators ignore properties they do not declare, so unknown fields are
// found by probing: each key of each object is given a value no schema accepts (a function);
// a key the schema declares then fails validation at that key's path, an unknown key does not.
// One line per file: "VALID <file>" or "INVALID <file>: <path> <problem>; ...".
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [modelsDir, ...files] = process.argv.slice(2);
if (!modelsDir || files.length === 0) {
  console.error("usage: node validate-job.mjs MODELS_DIR file.json ...");
  process.exit(2);
}
const models = {};
async function modelFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!(key in models)) {
    const file = join(modelsDir, "node_modules", "kubernetes-models", ...apiVersion.split("/"), `${kind}.js`);
    try { models[key] = (await import(pathToFileURL(file).href))[kind] ?? null; }
    catch { models[key] = null; }
  }
  return models[key];
}

function errorsOf(Model, doc) {
  try { new Model(doc).validate(); return []; }
  catch (e) {
    if (!e.errors) throw e;
    return e.errors;
  }
}

const esc = (k) => String(k).replaceAll("~", "~0").replaceAll("/", "~1");

// Every [pointer, holder, key] for object members, depth first.
function* members(node, ptr) {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) yield* members(node[i], `${ptr}/${i}`);
  } else if (node && typeof node === "object") {
    for (const k of Object.keys(node)) {
      yield [`${ptr}/${esc(k)}`, node, k];
      yield* members(node[k], `${ptr}/${esc(k)}`);
    }
  }
}

function unknownFields(Model, doc) {
  const unknown = [];
  const work = structuredClone(doc);
  for (const [ptr, holder, key] of members(work, "")) {
    if (ptr === "/apiVersion" || ptr === "/kind") continue;
    const saved = holder[key];
    holder[key] = function notAValue() {};
    const hit = errorsOf(Model, work).some((e) => e.instancePath === ptr || e.instancePath.startsWith(ptr + "/"));
    holder[key] = saved;
    if (!hit) unknown.push(ptr);
  }
  return unknown;
}

// What the API server checks beyond the schema, for the fields mflow makes up: the Job's name
// (a DNS-1123 label: the job controller copies it into the pods' job-name label) and the
// syntax of label keys and values.
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
function apiRules(doc) {
  const out = [];
  const name = doc.metadata?.name ?? "";
  if (name.length > 63 || !dns1123Label.test(name)) out.push("/metadata/name is not a DNS-1123 label");
  for (const [ptr, meta] of [["/metadata", doc.metadata], ["/spec/template/metadata", doc.spec?.template?.metadata]]) {
    for (const [k, v] of Object.entries(meta?.labels ?? {})) {
      const slash = k.lastIndexOf("/");
      const prefix = slash >= 0 ? k.slice(0, slash) : null, nm = slash >= 0 ? k.slice(slash + 1) : k;
      if ((prefix !== null && (prefix.length > 253 || !dns1123Subdomain.test(prefix))) ||
          nm.length > 63 || !labelName.test(nm))
        out.push(`${ptr}/labels/${esc(k)} is not a label key`);
      if (typeof v !== "string" || v.length > 63 || (v !== "" && !labelName.test(v)))
        out.push(`${ptr}/labels/${esc(k)} is not a label value`);
    }
  }
  return out;
}

let bad = 0;
for (const file of files) {
  let doc;
  try { doc = JSON.parse(readFileSync(file, "utf8")); }
  catch (e) { console.log(`INVALID ${file}: not JSON (${e.message})`); bad++; continue; }
  const Model = await modelFor(doc.apiVersion, doc.kind);
  if (!Model) { console.log(`INVALID ${file}: unknown apiVersion/kind ${doc.apiVersion}/${doc.kind}`); bad++; continue; }
  const problems = errorsOf(Model, doc).map((e) => `${e.instancePath || "/"} ${e.message}`);
  if (problems.length === 0) {
    for (const p of unknownFields(Model, doc)) problems.push(`${p} unknown field`);
    if (doc.kind === "Job") problems.push(...apiRules(doc));
  }
  if (problems.length) { console.log(`INVALID ${file}: ${problems.join("; ")}`); bad++; }
  else console.log(`VALID ${file}`);
}
process.exit(bad ? 1 : 0);
