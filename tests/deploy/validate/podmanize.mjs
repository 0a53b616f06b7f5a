// Turns the rendered single overlay into what `podman kube play --network=host` can run here:
//
//   node podmanize.mjs RENDERED.yaml OUT.yaml PREFIX INGEST_PORT QUERY_PORT SINK_PORT [--no-claims]
//
// --no-claims leaves the PersistentVolumeClaims out: podman 4.3's kube play refuses to play a
// claim whose volume exists, so playing the pods again over existing volumes needs that.
// - keeps the kinds podman 4.3 plays (ConfigMap, Secret, PersistentVolumeClaim, Deployment, Pod);
//   Services, NetworkPolicies and the Namespace have no meaning on the host network;
// - on the host network there is no cluster DNS and every pod shares the host's ports: the
//   services listen on 127.0.0.1 only, on the ports given (7400, 7410, 7411 in the manifests),
//   and ingest-service reaches the delivery stream at 127.0.0.1:SINK_PORT instead of
//   query-service-sink:7411; containerPorts go (podman refuses port mappings on the host network);
// - prefixes the Deployments and claims with PREFIX so that a test never touches a user's pods or
//   volumes of the same name; emptyDir volumes, which podman 4.3 makes into named volumes called
//   after the pod's volume name (so shared by every pod with a volume "tmp"), are renamed
//   PREFIX-DEPLOYMENT-NAME, one per pod as in Kubernetes.
// Everything else (images, env, probes, security context, volumes) is played as rendered.
import fs from "node:fs";
import YAML from "yaml";

const [input, output, prefix, ingestPort, queryPort, sinkPort, flag] = process.argv.slice(2);
const noClaims = flag === "--no-claims";
const ports = { 7400: Number(ingestPort), 7410: Number(queryPort), 7411: Number(sinkPort) };
const PLAYED = new Set(["ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Pod"]);

const objs = YAML.parseAllDocuments(fs.readFileSync(input, "utf8")).map((d) => d.toJS()).filter(Boolean);
const out = [];
for (const o of objs) {
  if (!PLAYED.has(o.kind)) continue;
  if (noClaims && o.kind === "PersistentVolumeClaim") continue;
  delete o.metadata.namespace;
  if (o.kind === "ConfigMap") {
    for (const [k, v] of Object.entries(o.data ?? {})) {
      if (k === "STANCEWIRE_LISTEN" || k === "STANCEWIRE_SINK_LISTEN") {
        const port = Number(v.split(":").pop());
        o.data[k] = `127.0.0.1:${ports[port] ?? port}`;
      }
      if (k === "STANCEWIRE_QUERY") o.data[k] = `127.0.0.1:${ports[7411]}`;
    }
  }
  if (o.kind === "PersistentVolumeClaim") o.metadata.name = prefix + o.metadata.name;
  if (o.kind === "Deployment") {
    o.metadata.name = prefix + o.metadata.name;
    const spec = o.spec.template.spec;
    const renamed = {};
    for (const v of spec.volumes ?? []) {
      if (v.persistentVolumeClaim) v.persistentVolumeClaim.claimName = prefix + v.persistentVolumeClaim.claimName;
      if (v.emptyDir) v.name = renamed[v.name] = `${o.metadata.name}-${v.name}`;
    }
    for (const c of spec.containers) {
      for (const m of c.volumeMounts ?? []) m.name = renamed[m.name] ?? m.name;
      // Podman refuses port mappings on the host network ("PortMappings can only be used with
      // Bridge or slirp4netns networking"), and the listen addresses above decide the ports.
      delete c.ports;
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        if (c[probe]?.grpc) c[probe].grpc.port = ports[c[probe].grpc.port] ?? c[probe].grpc.port;
      }
    }
  }
  out.push(o);
}
fs.writeFileSync(output, out.map((o) => YAML.stringify(o)).join("---\n"));
console.log(out.map((o) => `${o.kind}/${o.metadata.name}`).join(" "));
