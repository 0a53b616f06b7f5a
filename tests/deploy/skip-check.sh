#!/usr/bin/env bash
# On a machine without kustomize v4+ (a fresh Debian 12: kubectl 1.20 from kubernetes-client,
# with kustomize v2.0.3) render.sh, validate.sh and kube-play.sh exit 77, which ctest counts as
# skipped, with a SKIP line naming what is missing, and do nothing else. Simulated with stand-in
# kubectl/kustomize commands first on PATH: Debian 12's kubectl, an old kustomize, and none at all
# (a PATH holding only the tools the scripts need, without kubectl or kustomize).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/debian" "$tmp/oldkustomize" "$tmp/none"
cat >"$tmp/debian/kubectl" <<'SH'
#!/bin/sh
# What Debian 12's kubernetes-client prints: no Kustomize Version line before kubectl 1.24.
[ "$1" = version ] && echo 'Client Version: version.Info{Major:"1", Minor:"20", GitVersion:"v1.20.5"}'
exit 0
SH
cat >"$tmp/oldkustomize/kustomize" <<'SH'
#!/bin/sh
echo '{Version:kustomize/v2.0.3 GitCommit:a6f6514 BuildDate:2019-02-28}'
SH
chmod +x "$tmp/debian/kubectl" "$tmp/oldkustomize/kustomize"
# Only what lib.sh and the scripts' first lines use, so that no kubectl or kustomize is found.
for tool in bash dirname basename mkdir grep sed head cat env; do
  ln -s "$(command -v "$tool")" "$tmp/none/$tool"
done

check() {  # PATH, what the SKIP line must name
  local path=$1 words=$2 script out status
  for script in render.sh validate.sh kube-play.sh; do
    status=0
    out=$(PATH=$path STANCEWIRE_DEPLOY_WORK="$tmp/work" bash "$here/$script" 2>&1) || status=$?
    [[ $status -eq 77 ]] || fail "$script with PATH=$path exited $status, not 77: $out"
    grep -q "SKIP: needs kustomize v4 or later" <<<"$out" || fail "$script: no SKIP line: $out"
    grep -q -- "$words" <<<"$out" || fail "$script: SKIP line does not say '$words': $out"
  done
}
check "$tmp/debian:$PATH" "kubectl (v1.20.5) has no recent kustomize"
check "$tmp/oldkustomize:$PATH" "kustomize v2.0.3 is installed"
check "$tmp/none" "neither kustomize nor kubectl is installed"
echo "skip-check: render, validate and kube-play skip (77) without kustomize v4+, naming it"
