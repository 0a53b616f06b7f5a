// Validates rendered Kubernetes manifests offline.
//
//   node validate.mjs OVERLAY=FILE.yaml ...      (OVERLAY: single, ha, or anything else)
//
// For every object:
//   1. the kubernetes-models (v5) validator of its apiVersion/kind: types, required fields, enums,
//      formats (the Kubernetes OpenAPI schema compiled to JSON-schema validators);
//   2. unknown fields: kubernetes-models' schemas accept extra properties, so a misspelt field
//      ("readOnlyRootFileSystem") would pass and be dropped by the API server; this walks each
//      object against the model's TypeScript declarations and rejects properties they do not have;
//   3. the project's rules: security context, probes, resources, references between objects
//      (ConfigMaps, Secrets, claims, Service selectors and target ports, NetworkPolicies, PDB and
//      HPA targets), the delivery-stream NetworkPolicy, and what each overlay promises;
//   4. TLS and tokens (deploy/k8s/components/tls, components/tokens): every certificate, key, CA
//      and tokens file an env variable names lies in a read-only, whole (no subPath) Secret volume
//      that uid 65532 can read and no one else, under a key the Secret has; with TLS on, the
//      probes use the plaintext health port, which is a container port and allowed by a
//      NetworkPolicy; both sides of the delivery stream agree (TLS, mutual TLS, tokens); secret
//      values come from Secrets, never from ConfigMaps.
// OVERLAY may name a variant, BASE+COMPONENT (single+tls): BASE's promises apply to it.
// Prints one line per problem and a summary; exits 1 when there is any problem.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const apimachineryRoot = path.dirname(
  require.resolve("@kubernetes-models/apimachinery/package.json"),
);

// Secrets the ha overlay and the tls and tokens components expect to be created out of band
// (deploy/README.md), with their keys.
const EXTERNAL_SECRETS = new Map([
  ["stancewire-postgres", ["password"]],
  ["stancewire-query", ["page-token-key"]],
  ["stancewire-ca", ["ca.crt"]],
  ["stancewire-query-tls", ["tls.crt", "tls.key"]],
  ["stancewire-ingest-tls", ["tls.crt", "tls.key"]],
  ["stancewire-ingest-client-tls", ["tls.crt", "tls.key"]],
  ["stancewire-query-tokens", ["tokens"]],
  ["stancewire-ingest-tokens", ["tokens", "query-token"]],
]);
// Environment variables that name files of secret material, and that carry secret values.
const SECRET_FILE_VARS = ["STANCEWIRE_TLS_CERT", "STANCEWIRE_TLS_KEY", "STANCEWIRE_TLS_CLIENT_CA",
  "STANCEWIRE_QUERY_CA", "STANCEWIRE_QUERY_CERT", "STANCEWIRE_QUERY_KEY", "STANCEWIRE_TOKENS"];
const SECRET_VALUE_VARS = ["STANCEWIRE_QUERY_TOKEN", "STANCEWIRE_PAGE_TOKEN_KEY", "PGPASSWORD"];

const problems = [];
let checked = 0;
const problem = (where, msg) => problems.push(`${where}: ${msg}`);

// ---- 1. kubernetes-models validators ---------------------------------------------------------

function modelFile(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const dir = group ? path.join(modelsRoot, group, version) : path.join(modelsRoot, version);
  return path.join(dir, `${kind}.js`);
}

async function validateModel(obj, where) {
  const file = modelFile(obj.apiVersion, obj.kind);
  if (!fs.existsSync(file)) {
    problem(where, `no kubernetes-models schema for ${obj.apiVersion} ${obj.kind}`);
    return null;
  }
  const mod = await import(file);
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    problem(where, `schema: ${e.message}`);
  }
  return file.replace(/\.js$/, ".d.ts");
}

// ---- 2. unknown fields, from the models' TypeScript declarations -----------------------------

const declCache = new Map();

function resolveImport(fromFile, spec) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(fromFile), spec.replace(/\.js$/, ".d.ts"));
  const apim = "@kubernetes-models/apimachinery/";
  if (spec.startsWith(apim)) return path.join(apimachineryRoot, spec.slice(apim.length) + ".d.ts");
  return null; // @kubernetes-models/base etc.: not a resource type
}

// Returns {props: Map(name -> {file, array, map}) | null for leaf types} for a declaration file.
function loadDecl(file) {
  if (declCache.has(file)) return declCache.get(file);
  const text = fs.readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
    for (const name of m[1].split(",").map((s) => s.trim())) imports.set(name, resolveImport(file, m[2]));
  }
  const body = text.match(/export interface I\w+(?: extends [\w, ]+)? \{([\s\S]*?)\n\}/);
  const props = new Map();
  if (body) {
    // Property types may span lines ({ [key: string]: string; }): read each up to its ';' at depth 0.
    const src = body[1].replace(/\/\*\*[\s\S]*?\*\//g, "");
    const re = /"([^"]+)"\??:\s*/g;
    let m;
    while ((m = re.exec(src))) {
      let i = re.lastIndex, depth = 0;
      for (; i < src.length; i++) {
        const ch = src[i];
        if (ch === "{" || ch === "<" || ch === "(") depth++;
        else if (ch === "}" || ch === ">" || ch === ")") depth--;
        else if (ch === ";" && depth === 0) break;
      }
      const type = src.slice(re.lastIndex, i).replace(/\s+/g, " ").trim();
      re.lastIndex = i + 1;
      let t = type.match(/^(I\w+)$/);
      let entry = null;
      if (t && imports.get(t[1])) entry = { file: imports.get(t[1]), array: false, map: false };
      t = type.match(/^Array<(I\w+)>$/);
      if (t && imports.get(t[1])) entry = { file: imports.get(t[1]), array: true, map: false };
      t = type.match(/^\{ \[key: string\]: (I\w+);? \}$/);
      if (t && imports.get(t[1])) entry = { file: imports.get(t[1]), array: false, map: true };
      props.set(m[1], entry);
    }
  }
  const decl = { props, open: !body || props.size === 0 };
  declCache.set(file, decl);
  return decl;
}

function checkFields(value, file, where, at) {
  if (value === null || typeof value !== "object" || !file || !fs.existsSync(file)) return;
  const decl = loadDecl(file);
  if (decl.open) return; // free-form (e.g. RawExtension) or a type this walker cannot read
  for (const [key, child] of Object.entries(value)) {
    if (!decl.props.has(key)) {
      problem(where, `unknown field ${at}.${key} (not in ${path.basename(file, ".d.ts")})`);
      continue;
    }
    const sub = decl.props.get(key);
    if (!sub || child === null) continue;
    if (sub.array && Array.isArray(child)) child.forEach((c, i) => checkFields(c, sub.file, where, `${at}.${key}[${i}]`));
    else if (sub.map && typeof child === "object") for (const [k, c] of Object.entries(child)) checkFields(c, sub.file, where, `${at}.${key}.${k}`);
    else if (!sub.array && !sub.map) checkFields(child, sub.file, where, `${at}.${key}`);
  }
}

// ---- 3. the project's rules ---------------------------------------------------------------------

const matches = (selector, labels) =>
  !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function projectRules(overlay, objs) {
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const named = (k, n) => objs.find((o) => o.kind === k && o.metadata.name === n);
  const workloads = objs.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
  const configMaps = new Set(byKind("ConfigMap").map((o) => o.metadata.name));
  const secrets = new Set(byKind("Secret").map((o) => o.metadata.name));
  const claims = new Set(byKind("PersistentVolumeClaim").map((o) => o.metadata.name));
  const W = (o) => `${overlay} ${o.kind}/${o.metadata.name}`;
  const secretKeys = (name) => {
    const s = named("Secret", name);
    if (s) return new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]);
    return EXTERNAL_SECRETS.has(name) ? new Set(EXTERNAL_SECRETS.get(name)) : null;
  };

  for (const o of objs) {
    if (o.kind !== "Namespace" && !o.metadata.namespace) problem(`${overlay} ${o.kind}/${o.metadata.name}`, "has no namespace");
  }
  const namespaces = new Set(objs.filter((o) => o.kind !== "Namespace").map((o) => o.metadata.namespace));
  if (namespaces.size > 1) problem(overlay, `objects in several namespaces: ${[...namespaces]}`);

  for (const w of workloads) {
    const spec = w.spec.template.spec;
    const labels = w.spec.template.metadata?.labels ?? {};
    if (!matches(w.spec.selector.matchLabels, labels)) problem(W(w), "selector does not match the pod template's labels");
    const psc = spec.securityContext ?? {};
    if (psc.runAsNonRoot !== true) problem(W(w), "pod securityContext.runAsNonRoot is not true");
    if (psc.seccompProfile?.type !== "RuntimeDefault") problem(W(w), "pod seccompProfile is not RuntimeDefault");
    if (spec.automountServiceAccountToken !== false) problem(W(w), "automountServiceAccountToken is not false");
    const claimTemplates = new Set((w.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name));
    const volumes = new Set([...(spec.volumes ?? []).map((v) => v.name), ...claimTemplates]);
    for (const v of spec.volumes ?? []) {
      if (v.persistentVolumeClaim && !claims.has(v.persistentVolumeClaim.claimName)) problem(W(w), `claim ${v.persistentVolumeClaim.claimName} is not rendered`);
      if (v.configMap && !configMaps.has(v.configMap.name)) problem(W(w), `ConfigMap ${v.configMap.name} is not rendered`);
      if (v.secret && !secrets.has(v.secret.secretName) && !EXTERNAL_SECRETS.has(v.secret.secretName)) problem(W(w), `Secret ${v.secret.secretName} is unknown`);
    }
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const C = `${W(w)} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) problem(C, "allowPrivilegeEscalation is not false");
      if (sc.readOnlyRootFilesystem !== true) problem(C, "readOnlyRootFilesystem is not true");
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) problem(C, "capabilities do not drop ALL");
      if (sc.privileged) problem(C, "privileged");
      for (const r of ["cpu", "memory"]) if (!c.resources?.requests?.[r]) problem(C, `no ${r} request`);
      if (!c.resources?.limits?.memory) problem(C, "no memory limit");
      if (!c.image || /:latest$/.test(c.image) || !/:[\w.-]+$/.test(c.image.split("/").pop())) problem(C, `image ${c.image} has no fixed tag`);
      const stancewire = /stancewire\//.test(c.image ?? "");
      const ports = new Set((c.ports ?? []).map((p) => p.containerPort));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = c[probe];
        if (!p) { problem(C, `no ${probe}`); continue; }
        if (stancewire) {
          if (!p.grpc) problem(C, `${probe} is not a native gRPC probe`);
          else if (!ports.has(p.grpc.port)) problem(C, `${probe} port ${p.grpc.port} is not a container port`);
        }
      }
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problem(C, `mounts unknown volume ${m.name}`);
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef && !configMaps.has(e.configMapRef.name)) problem(C, `ConfigMap ${e.configMapRef.name} is not rendered (a generated name not rewritten?)`);
        if (e.secretRef && !secrets.has(e.secretRef.name) && !EXTERNAL_SECRETS.has(e.secretRef.name)) problem(C, `Secret ${e.secretRef.name} is unknown`);
      }
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s && !secrets.has(s.name) && !EXTERNAL_SECRETS.has(s.name)) problem(C, `Secret ${s.name} is unknown`);
        else if (s && secretKeys(s.name) && !secretKeys(s.name).has(s.key)) problem(C, `Secret ${s.name} has no key ${s.key}`);
        const m = e.valueFrom?.configMapKeyRef;
        if (m && !configMaps.has(m.name)) problem(C, `ConfigMap ${m.name} is not rendered`);
      }
      if (stancewire) {
        if (sc.runAsNonRoot !== true && psc.runAsNonRoot !== true) problem(C, "may run as root");
        if (![sc.runAsUser, psc.runAsUser].includes(65532)) problem(C, "does not run as 65532 (the images' user)");
        if (!(c.volumeMounts ?? []).some((m) => m.mountPath === "/var/lib/stancewire")) problem(C, "no volume at /var/lib/stancewire (read-only root filesystem)");
      }
    }
  }

  const workloadFor = (selector) => workloads.filter((w) => matches(selector, w.spec.template.metadata.labels));
  for (const s of byKind("Service")) {
    const targets = workloadFor(s.spec.selector);
    if (targets.length === 0) { problem(`${overlay} Service/${s.metadata.name}`, "selects no workload"); continue; }
    for (const p of s.spec.ports) {
      const ok = targets.some((w) => w.spec.template.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)));
      if (!ok) problem(`${overlay} Service/${s.metadata.name}`, `targetPort ${p.targetPort} is no container port`);
    }
  }
  for (const s of byKind("StatefulSet")) {
    const gov = named("Service", s.spec.serviceName);
    if (!gov || gov.spec.clusterIP !== "None") problem(W(s), `serviceName ${s.spec.serviceName} is not a rendered headless Service`);
  }
  for (const p of byKind("PodDisruptionBudget")) {
    if (workloadFor(p.spec.selector.matchLabels).length === 0) problem(`${overlay} PodDisruptionBudget/${p.metadata.name}`, "selects no workload");
  }
  for (const h of byKind("HorizontalPodAutoscaler")) {
    const t = named(h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name);
    if (!t) problem(`${overlay} HorizontalPodAutoscaler/${h.metadata.name}`, "target is not rendered");
    else if (!t.spec.template.spec.containers.every((c) => c.resources?.requests?.cpu)) problem(`${overlay} HorizontalPodAutoscaler/${h.metadata.name}`, "target has no CPU request");
  }
  for (const n of byKind("NetworkPolicy")) {
    if (workloadFor(n.spec.podSelector.matchLabels).length === 0) problem(`${overlay} NetworkPolicy/${n.metadata.name}`, "selects no workload");
  }

  // The delivery stream: a headless Service on 7411, and only ingest-service may reach 7411.
  const query = named("Deployment", "query-service");
  const ingest = named("Deployment", "ingest-service") ?? named("StatefulSet", "ingest-service");
  if (!query || !ingest) { problem(overlay, "query-service Deployment or ingest-service workload missing"); return; }
  const env = (w, name) => {
    const c = w.spec.template.spec.containers[0];
    const direct = (c.env ?? []).find((e) => e.name === name);
    if (direct) return direct.value ?? (direct.valueFrom ? "<from ref>" : undefined);
    for (const e of c.envFrom ?? []) {
      const cm = e.configMapRef && named("ConfigMap", e.configMapRef.name);
      if (cm?.data?.[name] !== undefined) return cm.data[name];
    }
    return undefined;
  };
  const sinkListen = env(query, "STANCEWIRE_SINK_LISTEN");
  if (!sinkListen?.endsWith(":7411")) problem(overlay, `query-service STANCEWIRE_SINK_LISTEN is ${sinkListen}, not *:7411`);
  const sink = named("Service", "query-service-sink");
  if (!sink || sink.spec.clusterIP !== "None" || sink.spec.ports[0].port !== 7411) problem(overlay, "no headless Service query-service-sink on 7411");
  const target = env(ingest, "STANCEWIRE_QUERY");
  if (target !== "query-service-sink:7411" && !/^(dns:\/\/\/)?query-service-sink(\.[\w.-]+)?:7411$/.test(target ?? "")) problem(overlay, `ingest-service STANCEWIRE_QUERY is ${target}, not the headless sink Service`);
  const queryLabels = query.spec.template.metadata.labels;
  const ingestLabels = ingest.spec.template.metadata.labels;
  let sinkAllowed = false;
  for (const n of byKind("NetworkPolicy")) {
    if (!matches(n.spec.podSelector.matchLabels, queryLabels)) continue;
    for (const rule of n.spec.ingress ?? []) {
      const covers = !rule.ports || rule.ports.some((p) => p.port === 7411 || p.port === "grpc-sink");
      if (!covers) continue;
      sinkAllowed = true;
      const from = rule.from ?? [];
      const onlyIngest = from.length > 0 && from.every((f) => f.podSelector && !f.namespaceSelector && !f.ipBlock && matches(f.podSelector.matchLabels, ingestLabels) && Object.keys(f.podSelector.matchLabels ?? {}).length > 0);
      if (!onlyIngest) problem(`${overlay} NetworkPolicy/${n.metadata.name}`, "lets pods other than ingest-service reach the delivery stream port 7411");
    }
  }
  if (!sinkAllowed) problem(overlay, "no NetworkPolicy lets ingest-service reach query-service on 7411");

  tlsRules(overlay, objs, { query, ingest, env, named, secretKeys });

  // What each overlay promises (a variant BASE+COMPONENT promises what BASE does).
  overlay = overlay.split("+")[0];
  const store = env(query, "STANCEWIRE_STORE") ?? "";
  const vol = (w, mountPath) => {
    const m = w.spec.template.spec.containers[0].volumeMounts.find((x) => x.mountPath === mountPath);
    return m && ((w.spec.template.spec.volumes ?? []).find((v) => v.name === m.name) ?? (w.spec.volumeClaimTemplates ?? []).find((t) => t.metadata.name === m.name));
  };
  if (overlay === "single") {
    if (query.spec.replicas !== 1) problem(overlay, "query-service replicas is not 1");
    if (!store.startsWith("sqlite:/var/lib/stancewire/")) problem(overlay, `query-service store ${store} is not SQLite on the state volume`);
    if (!vol(query, "/var/lib/stancewire")?.persistentVolumeClaim) problem(overlay, "query-service state is not on a PersistentVolumeClaim");
    if (query.spec.strategy?.type !== "Recreate") problem(overlay, "query-service strategy is not Recreate (one RWO volume, one SQLite writer)");
    if (ingest.kind !== "Deployment") problem(overlay, "ingest-service is not a Deployment");
    if (!vol(ingest, "/var/lib/stancewire")?.persistentVolumeClaim) problem(overlay, "ingest-service outbox is not on a PersistentVolumeClaim");
    if (ingest.spec.replicas !== 1 || ingest.spec.strategy?.type !== "Recreate") problem(overlay, "ingest-service is not one replica with Recreate");
  }
  if (overlay === "ha") {
    if (!(query.spec.replicas >= 2)) problem(overlay, "query-service has fewer than 2 replicas");
    if (!/^postgres(ql)?:\/\/[^:@/]+@[^/:]+:\d+\/\w+$/.test(store)) problem(overlay, `query-service store ${store} is not postgres://USER@HOST:PORT/DB`);
    const c = query.spec.template.spec.containers[0];
    for (const name of ["PGPASSWORD", "STANCEWIRE_PAGE_TOKEN_KEY"]) {
      if (!(c.env ?? []).some((e) => e.name === name && e.valueFrom?.secretKeyRef)) problem(overlay, `query-service ${name} does not come from a Secret`);
    }
    // TLS on in ha (components/tls): every port, mutual TLS on the stream, ingest-service's identity.
    for (const name of ["STANCEWIRE_TLS_CERT", "STANCEWIRE_TLS_KEY", "STANCEWIRE_TLS_CLIENT_CA", "STANCEWIRE_HEALTH_LISTEN"]) {
      if (!env(query, name)) problem(overlay, `query-service has no ${name} (TLS is on in ha)`);
    }
    if (!(env(query, "STANCEWIRE_SINK_ALLOWED_IDENTITIES") ?? "").split(",").includes("ingest-service")) problem(overlay, "query-service STANCEWIRE_SINK_ALLOWED_IDENTITIES does not list ingest-service");
    for (const name of ["STANCEWIRE_TLS_CERT", "STANCEWIRE_TLS_KEY", "STANCEWIRE_QUERY_CA", "STANCEWIRE_QUERY_CERT", "STANCEWIRE_QUERY_KEY", "STANCEWIRE_HEALTH_LISTEN"]) {
      if (!env(ingest, name)) problem(overlay, `ingest-service has no ${name} (TLS is on in ha)`);
    }
    if (ingest.kind !== "StatefulSet" || !(ingest.spec.replicas >= 2)) problem(overlay, "ingest-service is not a StatefulSet with 2 or more replicas");
    else if (!vol(ingest, "/var/lib/stancewire")?.spec?.accessModes) problem(overlay, "ingest-service outbox is not from volumeClaimTemplates");
    for (const w of [query, ingest]) {
      if (!byKind("PodDisruptionBudget").some((p) => matches(p.spec.selector.matchLabels, w.spec.template.metadata.labels))) problem(overlay, `no PodDisruptionBudget for ${w.metadata.name}`);
    }
    const hpa = byKind("HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === "query-service");
    if (!hpa || !(hpa.spec.minReplicas >= 2)) problem(overlay, "no HorizontalPodAutoscaler for query-service with minReplicas >= 2");
    const host = store.match(/@([^:/]+):/)?.[1];
    if (host && !named("Service", host)) console.log(`note: ${overlay}: database host ${host} is not a rendered Service (external database)`);
  }
}

// ---- 4. TLS and tokens ----------------------------------------------------------------------------

function tlsRules(overlay, objs, { query, ingest, env, named, secretKeys }) {
  const policies = objs.filter((o) => o.kind === "NetworkPolicy");
  const portOf = (hostPort) => Number((hostPort ?? "").match(/:(\d+)$/)?.[1]);
  for (const w of [query, ingest]) {
    const spec = w.spec.template.spec;
    const c = spec.containers[0];
    const C = `${overlay} ${w.kind}/${w.metadata.name} container ${c.name}`;
    const fromSecret = (name) => (c.env ?? []).some((e) => e.name === name && e.valueFrom?.secretKeyRef);
    for (const name of SECRET_VALUE_VARS) {
      if (env(w, name) !== undefined && !fromSecret(name)) problem(C, `${name} is set, but not from a Secret (secret values do not belong in ConfigMaps or manifests)`);
    }
    // Every secret file: in a whole, read-only Secret volume, readable by group 65532 only.
    for (const name of SECRET_FILE_VARS) {
      const file = env(w, name);
      if (file === undefined) continue;
      const mount = (c.volumeMounts ?? []).filter((m) => file.startsWith(m.mountPath.replace(/\/$/, "") + "/"))
        .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      if (!mount) { problem(C, `${name}=${file} is not in a mounted volume`); continue; }
      const vol = (spec.volumes ?? []).find((v) => v.name === mount.name);
      if (!vol?.secret) { problem(C, `${name}=${file} is not in a Secret volume (volume ${mount.name})`); continue; }
      if (mount.subPath || mount.subPathExpr) problem(C, `${name}: volume ${mount.name} is mounted with subPath, which never receives Secret updates (no rotation)`);
      if (mount.readOnly !== true) problem(C, `${name}: volume ${mount.name} is not mounted readOnly`);
      const rel = file.slice(mount.mountPath.replace(/\/$/, "").length + 1);
      const items = vol.secret.items;
      const item = items?.find((i) => i.path === rel);
      if (items && !item) problem(C, `${name}=${file}: ${rel} is not among the items of volume ${mount.name}`);
      const keys = secretKeys(vol.secret.secretName);
      const key = item ? item.key : rel;
      if (keys && !keys.has(key)) problem(C, `${name}=${file}: Secret ${vol.secret.secretName} has no key ${key}`);
      const mode = item?.mode ?? vol.secret.defaultMode ?? 0o644;
      if (mode & 0o007) problem(C, `${name}: volume ${mount.name} files are world-accessible (mode ${mode.toString(8)})`);
      if (!(mode & 0o040) || spec.securityContext?.fsGroup !== 65532) problem(C, `${name}: uid 65532 cannot read ${file} (needs group-read mode and fsGroup 65532, has mode ${mode.toString(8)}, fsGroup ${spec.securityContext?.fsGroup})`);
    }
    const pairs = [["STANCEWIRE_TLS_CERT", "STANCEWIRE_TLS_KEY"], ["STANCEWIRE_QUERY_CERT", "STANCEWIRE_QUERY_KEY"]];
    for (const [a, b] of pairs) if ((env(w, a) === undefined) !== (env(w, b) === undefined)) problem(C, `${a} and ${b} go together`);
    if (env(w, "STANCEWIRE_TLS_CLIENT_CA") && !env(w, "STANCEWIRE_TLS_CERT")) problem(C, "STANCEWIRE_TLS_CLIENT_CA without STANCEWIRE_TLS_CERT (mutual TLS is TLS first)");
    if (env(w, "STANCEWIRE_SINK_ALLOWED_IDENTITIES") && !env(w, "STANCEWIRE_TLS_CLIENT_CA")) problem(C, "STANCEWIRE_SINK_ALLOWED_IDENTITIES without STANCEWIRE_TLS_CLIENT_CA");
    // The health port: a container port, allowed by a NetworkPolicy; with TLS on, the probes' port.
    const health = env(w, "STANCEWIRE_HEALTH_LISTEN");
    const tls = env(w, "STANCEWIRE_TLS_CERT") !== undefined;
    if (tls && !health) { problem(C, "TLS is on but there is no STANCEWIRE_HEALTH_LISTEN: native gRPC probes cannot speak TLS"); continue; }
    if (!health) continue;
    const hp = portOf(health);
    const tlsPorts = [env(w, "STANCEWIRE_LISTEN"), env(w, "STANCEWIRE_SINK_LISTEN")].map(portOf);
    if (!hp || tlsPorts.includes(hp)) { problem(C, `STANCEWIRE_HEALTH_LISTEN=${health} is not a port of its own`); continue; }
    const cport = (c.ports ?? []).find((p) => p.containerPort === hp);
    if (!cport) problem(C, `health port ${hp} is not a container port`);
    if (tls) {
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const port = c[probe]?.grpc?.port;
        if (port !== hp) problem(C, `${probe} uses port ${port}, not the plaintext health port ${hp} (the kubelet's gRPC probe cannot speak TLS)`);
      }
    }
    const labels = w.spec.template.metadata.labels;
    const allowed = policies.some((n) => matches(n.spec.podSelector.matchLabels, labels) && (n.spec.ingress ?? []).some((r) =>
      !r.ports || r.ports.some((p) => p.port === hp || (cport?.name && p.port === cport.name))));
    if (!allowed) problem(C, `no NetworkPolicy allows the health port ${hp} (probes would fail where policies are enforced)`);
  }
  // Both ends of the delivery stream agree.
  const queryTls = env(query, "STANCEWIRE_TLS_CERT") !== undefined;
  const ingestCa = env(ingest, "STANCEWIRE_QUERY_CA") !== undefined;
  if (queryTls && !ingestCa) problem(overlay, "query-service serves TLS but ingest-service has no STANCEWIRE_QUERY_CA (it would speak plaintext to the stream)");
  if (!queryTls && ingestCa) problem(overlay, "ingest-service expects TLS on the stream (STANCEWIRE_QUERY_CA) but query-service serves plaintext");
  if (env(query, "STANCEWIRE_TLS_CLIENT_CA") && !env(ingest, "STANCEWIRE_QUERY_CERT")) problem(overlay, "query-service requires client certificates on the stream but ingest-service has no STANCEWIRE_QUERY_CERT");
  if (env(query, "STANCEWIRE_TOKENS") && !env(ingest, "STANCEWIRE_QUERY_TOKEN")) problem(overlay, "query-service requires tokens but ingest-service has no STANCEWIRE_QUERY_TOKEN");
  if (env(query, "STANCEWIRE_TOKENS") && !queryTls) problem(overlay, "query-service takes tokens over plaintext (add components/tls)");
}

// ---- self-test: each known mistake must be caught -------------------------------------------------

async function check(overlay, objs) {
  for (const o of objs) {
    const where = `${overlay} ${o.kind}/${o.metadata?.name}`;
    const decl = await validateModel(o, where);
    if (decl) checkFields(o, decl, where, "");
    checked++;
  }
  projectRules(overlay, objs);
}

const MUTATIONS = {
  "misspelt field": (objs) => { const c = dep(objs, "query-service").spec.template.spec.containers[0]; c.securityContext.readOnlyRootFileSystem = true; },
  "wrong type": (objs) => { dep(objs, "query-service").spec.replicas = "one"; },
  "bad enum": (objs) => { dep(objs, "query-service").spec.template.spec.containers[0].imagePullPolicy = "Sometimes"; },
  "no readiness probe": (objs) => { delete dep(objs, "ingest-service").spec.template.spec.containers[0].readinessProbe; },
  "writable root": (objs) => { dep(objs, "query-service").spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; },
  "capabilities kept": (objs) => { delete dep(objs, "ingest-service").spec.template.spec.containers[0].securityContext.capabilities; },
  "stream port open to all": (objs) => { delete objs.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "query-service-sink").spec.ingress[0].from; },
  "unhashed ConfigMap": (objs) => { dep(objs, "ingest-service").spec.template.spec.containers[0].envFrom[0].configMapRef.name = "ingest-service-config"; },
  "outbox on emptyDir": (objs) => { const v = dep(objs, "ingest-service").spec.template.spec.volumes.find((x) => x.persistentVolumeClaim); delete v.persistentVolumeClaim; v.emptyDir = {}; },
  "Service port unmatched": (objs) => { objs.find((o) => o.kind === "Service" && o.metadata.name === "query-service-sink").spec.ports[0].targetPort = "sink"; },
  // On ha (TLS on): components/tls.
  "ha: probe on the TLS port": (objs) => { wl(objs, "ingest-service").spec.template.spec.containers[0].readinessProbe.grpc.port = 7400; },
  "ha: health port not on the container": (objs) => { const c = dep(objs, "query-service").spec.template.spec.containers[0]; c.ports = c.ports.filter((p) => p.containerPort !== 7412); },
  "ha: health port blocked": (objs) => { objs.splice(objs.findIndex((o) => o.kind === "NetworkPolicy" && o.metadata.name === "ingest-service-health"), 1); },
  "ha: no health port": (objs) => { delete cm(objs, "query-service-config").data.STANCEWIRE_HEALTH_LISTEN; },
  "ha: key outside the Secret": (objs) => { cm(objs, "ingest-service-config").data.STANCEWIRE_QUERY_KEY = "/etc/stancewire/query-client/client.key"; },
  "ha: file on no mount": (objs) => { cm(objs, "query-service-config").data.STANCEWIRE_TLS_CLIENT_CA = "/etc/ssl/ca.crt"; },
  "ha: subPath Secret mount": (objs) => { dep(objs, "query-service").spec.template.spec.containers[0].volumeMounts.find((m) => m.name === "tls").subPath = "tls.crt"; },
  "ha: writable Secret mount": (objs) => { delete wl(objs, "ingest-service").spec.template.spec.containers[0].volumeMounts.find((m) => m.name === "ca").readOnly; },
  "ha: world-readable Secret": (objs) => { dep(objs, "query-service").spec.template.spec.volumes.find((v) => v.name === "tls").secret.defaultMode = 0o644; },
  "ha: plaintext client of a TLS stream": (objs) => { delete cm(objs, "ingest-service-config").data.STANCEWIRE_QUERY_CA; },
  "ha: token in a ConfigMap": (objs) => { cm(objs, "ingest-service-config").data.STANCEWIRE_QUERY_TOKEN = "0123456789abcdef0123"; },
};
function dep(objs, name) { return objs.find((o) => o.kind === "Deployment" && o.metadata.name === name); }
function wl(objs, name) { return objs.find((o) => ["Deployment", "StatefulSet"].includes(o.kind) && o.metadata.name === name); }
function cm(objs, prefix) { return objs.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith(prefix + "-")); }

// Mutations named "OVERLAY: ..." are planted in that overlay, the others in single. The unmutated
// overlays must pass, or a mistake could hide behind an existing problem.
async function selfTest(files) {
  const texts = Object.fromEntries(files.map((a) => a.includes("=") ? a.split("=") : ["single", a]).map(([o, f]) => [o, fs.readFileSync(f, "utf8")]));
  const missed = [];
  for (const [overlay, text] of Object.entries(texts)) {
    const before = problems.length;
    await check(overlay, YAML.parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean));
    if (problems.length !== before) missed.push(`(none: the unmutated ${overlay} overlay already fails)`);
    problems.length = before;
  }
  for (const [name, mutate] of Object.entries(MUTATIONS)) {
    const overlay = name.match(/^(\w+): /)?.[1] ?? "single";
    if (!texts[overlay]) { missed.push(`${name} (no ${overlay} manifests given)`); continue; }
    const objs = YAML.parseAllDocuments(texts[overlay]).map((d) => d.toJS()).filter(Boolean);
    mutate(objs);
    const before = problems.length;
    await check(overlay, objs);
    if (problems.length === before) missed.push(name);
    problems.length = before;
  }
  return missed;
}

// ---- main ---------------------------------------------------------------------------------------

const summary = [];
const args = process.argv.slice(2);
if (args[0] === "--self-test") {
  const missed = await selfTest(args.slice(1));
  for (const m of missed) console.log(`FAIL self-test: the mistake "${m}" was not caught`);
  console.log(`validate self-test: ${Object.keys(MUTATIONS).length - missed.length} of ${Object.keys(MUTATIONS).length} planted mistakes caught`);
  process.exit(missed.length ? 1 : 0);
}
for (const arg of args) {
  const [overlay, file] = arg.includes("=") ? arg.split("=") : [path.basename(arg, ".yaml"), arg];
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const objs = [];
  for (const d of docs) {
    if (d.errors.length) { problem(overlay, `YAML: ${d.errors[0].message}`); continue; }
    const o = d.toJS();
    if (o) objs.push(o);
  }
  await check(overlay, objs);
  summary.push(`${overlay}: ${objs.length} objects`);
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(`validate: ${checked} objects (${summary.join(", ")}), ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
