#!/usr/bin/env bash
# (d) The single overlay runs under `podman kube play --network=host` (runc, no registry):
#   1. renders deploy/k8s/overlays/single and adapts it for the host network
#      (validate/podmanize.mjs: loopback addresses and free ports, no Services/NetworkPolicies,
#      test-only names for the pods and volumes);
#   2. plays it: the query-service and ingest-service pods come up, each container runs as uid
#      65532 with a read-only root filesystem and all capabilities dropped;
#   3. grpc.health.v1 reports SERVING on the query API, the delivery stream and the ingest API
#      (`stancewire wait-ready`, the CLI inside the image);
#   4. samples/news.jsonl goes in (`stancewire ingest`) and `stancewire list --condition
#      UN_MANDATE` comes back with stances;
#   5. the pods are deleted and played again: the stances are still there (SQLite store and
#      outbox on the PersistentVolumeClaims, which podman keeps as named volumes);
#   6. tears everything down (pods and volumes), also on failure.
# Needs the images (builds them with images.sh when missing).
source "$(dirname "$0")/lib.sh"
start=$SECONDS
require_kustomize >/dev/null  # renders first; skipped without kustomize v4+
ensure_podman
if ! pm image exists "$ingest_image" || ! pm image exists "$query_image"; then
  log "images missing: running images.sh"
  "$deploy_tests/images.sh"
fi
"$deploy_tests/validate.sh" >/dev/null || die "validate.sh failed"  # renders, installs npm deps

prefix=swtest-
read -r ingest_port query_port sink_port < <(/usr/bin/python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
EOF
)
play="$work/single-play.yaml"
replay="$work/single-replay.yaml"  # the same without the claims (their volumes exist by then)
for f in "$play" "$replay"; do
  node "$deploy_tests/validate/podmanize.mjs" "$work/rendered/single.yaml" "$f" "$prefix" \
    "$ingest_port" "$query_port" "$sink_port" $([[ $f == "$replay" ]] && echo --no-claims) \
    >/dev/null || die "podmanize failed"
done
ingest_addr=127.0.0.1:$ingest_port
query_addr=127.0.0.1:$query_port
sink_addr=127.0.0.1:$sink_port

pods() { pm pod ps --format '{{.Name}}' | grep "^${prefix}" || true; }
containers() { pm ps "$@" --format '{{.Names}}' | grep "^${prefix}" || true; }
teardown() {
  pm kube down "$play" >/dev/null 2>&1 || true
  for p in $(pods); do pm pod rm -f "$p" >/dev/null 2>&1 || true; done
  for v in $(pm volume ls --format '{{.Name}}' | grep "^${prefix}" || true); do
    pm volume rm -f "$v" >/dev/null 2>&1 || true
  done
}
show_logs() {
  for c in $(containers -a); do
    echo "--- logs of $c" >&2
    pm logs --tail 30 "$c" >&2 || true
  done
}
fail() { show_logs; teardown; die "$*"; }
trap 'teardown' EXIT
teardown

# The CLI from the query-service image, on the host network, as the image's user.
cli() { pm run --rm -i --network=host --read-only -v "$root/samples:/samples:ro" \
          --entrypoint /usr/bin/stancewire "$query_image" "$@"; }

play_and_wait() {
  pm kube play --network=host "$1" >"$work/kube-play.log" 2>&1 ||
    fail "podman kube play failed: $(cat "$work/kube-play.log")"
  for target in "$query_addr" "$sink_addr" "$ingest_addr"; do
    cli --timeout 60 wait-ready --target "$target" >/dev/null 2>&1 ||
      fail "health of $target is not SERVING within 60 s"
  done
}

play_and_wait "$play"
npods=$(pods | wc -l)
((npods == 2)) || fail "expected 2 pods, found $npods: $(pods | tr '\n' ' ')"
ncontainers=$(containers | wc -l)
((ncontainers == 2)) || fail "expected 2 running containers, found $ncontainers: $(containers -a | tr '\n' ' ')"
for c in $(containers); do
  state=$(pm inspect --format '{{.State.Status}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}}' "$c")
  [[ "$state" == "running true 65532"* ]] || fail "container $c: state/readonly/user is '$state'"
  uid=$(pm exec "$c" id -u) || fail "cannot exec in $c"
  [[ "$uid" == 65532 ]] || fail "container $c runs as uid $uid"
  caps=$(pm exec "$c" grep CapEff /proc/self/status | awk '{print $2}')
  [[ "$caps" =~ ^0+$ ]] || fail "container $c has capabilities $caps"
done

cli ingest --ingest "$ingest_addr" /samples/news.jsonl >"$work/ingest.out" 2>&1 ||
  fail "ingest failed: $(cat "$work/ingest.out")"
# Delivery is asynchronous (outbox, then the stream): poll.
query_un_mandate() {
  local out
  for _ in $(seq 1 60); do
    out=$(cli list --query "$query_addr" --condition UN_MANDATE --all --format json 2>&1) || true
    if grep -q 'UN_MANDATE' <<<"$out"; then echo "$out"; return 0; fi
    sleep 0.5
  done
  echo "$out"
  return 1
}
found=$(query_un_mandate) || fail "no stance with condition UN_MANDATE came back: $found"
n1=$(grep -c 'UN_MANDATE' <<<"$found")

# Delete the pods (as a node drain would) and play again: the claims keep store and outbox.
pm kube down "$play" >/dev/null 2>&1 || fail "podman kube down failed"
pm volume exists "${prefix}query-store" || fail "podman kube down removed the claim's volume"
play_and_wait "$replay"
again=$(query_un_mandate) || fail "after the pods were recreated, the stances are gone: $again"
n2=$(grep -c 'UN_MANDATE' <<<"$again")
((n2 >= n1)) || fail "after the pods were recreated, $n2 UN_MANDATE lines instead of $n1"

echo "kube-play: single overlay under podman kube play: 2 pods up (uid 65532, read-only root, no capabilities), health SERVING on 3 ports, samples ingested, list --condition UN_MANDATE returned $n1 matching lines, same after the pods were recreated ($((SECONDS - start)) s)"
