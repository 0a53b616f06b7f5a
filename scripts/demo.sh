#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts query-service (SQLite store
# in data/local/) and ingest-service on loopback, ingests samples/news.jsonl and shows the stances
# found by actor and by condition. The services keep running afterwards; `scripts/demo.sh stop`
# stops them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run="$root/.run"
build=${STANCEWIRE_BUILD_DIR:-$root/build}
query_addr=127.0.0.1:${QUERY_PORT:-7410}
ingest_addr=127.0.0.1:${INGEST_PORT:-7400}

stop() {
  for name in ingest-service query-service; do
    if [[ -f "$run/$name.pid" ]]; then
      pid=$(cat "$run/$name.pid")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        # SIGTERM drains in-flight work; wait for it rather than killing.
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "stopped $name (pid $pid)"
      fi
      rm -f "$run/$name.pid"
    fi
  done
}

if [[ "${1:-}" == "stop" ]]; then
  stop
  exit 0
fi

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
stop
mkdir -p "$run" "$root/data/local"
cd "$root"
# --insecure-delivery: on a laptop's loopback the delivery stream takes ingest-service without
# a client certificate or delivery token (docs/security.md); never on a reachable address.
"$build/query-service/query-service" --listen "$query_addr" --insecure-delivery \
  --store "sqlite:$root/data/local/query/stances.db" >"$run/query-service.log" 2>&1 &
echo $! >"$run/query-service.pid"
"$build/ingest-service/ingest-service" --listen "$ingest_addr" --query "$query_addr" \
  --outbox "$root/data/local/ingest/outbox.db" >"$run/ingest-service.log" 2>&1 &
echo $! >"$run/ingest-service.pid"

cli="$build/cli/stancewire"
"$cli" --timeout 30 wait-ready --target "$query_addr"
"$cli" --timeout 30 wait-ready --target "$ingest_addr"
echo "== query-service on $query_addr, ingest-service on $ingest_addr (logs in .run/)"
echo "== ingesting samples/news.jsonl"
"$cli" ingest --ingest "$ingest_addr" "$root/samples/news.jsonl"
# Delivery to query-service is asynchronous (outbox + stream); give it a moment.
sleep 1
echo
echo "== stancewire list --actor Baku     (any alias the actor dictionary knows)"
"$cli" list --query "$query_addr" --actor Baku --all
echo
echo "== stancewire list --condition UN_MANDATE     (who conditions participation on a UN mandate?)"
"$cli" list --query "$query_addr" --condition UN_MANDATE --all
echo
echo "The services keep running. Stop them with: scripts/demo.sh stop"
