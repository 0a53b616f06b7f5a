#!/usr/bin/env bash
# (a) Every overlay under deploy/k8s/overlays/ renders with kustomize (`kubectl kustomize`,
# kustomize v5 built in), into $STANCEWIRE_DEPLOY_WORK/rendered/OVERLAY.yaml (default
# /tmp/stancewire-deploy). Also checks that rendering is deterministic and that every overlay
# yields Deployments or StatefulSets. Also renders the test-only variants in tests/deploy/variants/
# (an overlay plus an optional component, e.g. single+tls, ha+tokens) so that validate.sh checks
# those combinations too. Exits non-zero on failure (77, skipped, without kustomize v4+: see
# require_kustomize in lib.sh); the last line is a summary.
source "$(dirname "$0")/lib.sh"
start=$SECONDS
version=$(require_kustomize)
out="$work/rendered"
rm -rf "$out"
mkdir -p "$out"
rendered=()
for dir in "$k8s"/overlays/*/ "$deploy_tests"/variants/*/; do
  overlay=$(basename "$dir")
  kustomize_build "$dir" >"$out/$overlay.yaml" 2>"$out/$overlay.err" ||
    die "overlay $overlay does not render: $(cat "$out/$overlay.err")"
  kustomize_build "$dir" 2>/dev/null | cmp -s - "$out/$overlay.yaml" ||
    die "overlay $overlay renders differently twice"
  grep -qE '^kind: (Deployment|StatefulSet)$' "$out/$overlay.yaml" ||
    die "overlay $overlay renders no workload"
  rendered+=("$overlay($(grep -c '^kind:' "$out/$overlay.yaml"))")
done
for overlay in single ha; do
  [[ -s "$out/$overlay.yaml" ]] || die "expected the overlays single and ha, found ${rendered[*]:-none}"
done
echo "render: ${#rendered[@]} overlays and variants rendered with kustomize $version: ${rendered[*]} -> $out ($((SECONDS - start)) s)"
