#!/usr/bin/env bash
# (b) Every object of every rendered overlay validates offline against the Kubernetes API schemas
# (npm kubernetes-models v5), has no field those schemas lack, and follows the project's rules
# (security context, gRPC probes, resources, references, the delivery-stream NetworkPolicy, what
# single and ha promise): tests/deploy/validate/validate.mjs. A self-test first plants known
# mistakes in the single and ha overlays and fails unless each one is caught. Also validates the
# test-only variants of tests/deploy/variants/ (overlay + component) that render.sh renders.
# Installs its npm packages from package-lock.json into tests/deploy/validate/node_modules.
source "$(dirname "$0")/lib.sh"
start=$SECONDS
require_kustomize >/dev/null  # renders first; skipped without kustomize v4+
command -v node >/dev/null || ensure_packages nodejs npm
command -v npm >/dev/null || ensure_packages npm
validator="$deploy_tests/validate"
if [[ ! -d "$validator/node_modules/kubernetes-models" ||
      "$validator/package-lock.json" -nt "$validator/node_modules/.package-lock.json" ]]; then
  log "npm ci in $validator"
  (cd "$validator" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed"
fi
"$deploy_tests/render.sh" >/dev/null
args=()
for f in "$work"/rendered/*.yaml; do args+=("$(basename "$f" .yaml)=$f"); done
node "$validator/validate.mjs" --self-test "single=$work/rendered/single.yaml" "ha=$work/rendered/ha.yaml" || die "validator self-test failed"
node "$validator/validate.mjs" "${args[@]}" || die "rendered manifests are invalid (see FAIL lines above)"
echo "validate: all overlays valid ($((SECONDS - start)) s)"
