# Shared helpers for tests/deploy/*.sh (sourced, not run).
#
# Podman on these machines (see deploy/README.md): no container registry is reachable and the
# default OCI runtime (crun) fails, so every podman call goes through `pm`, which uses runc and a
# containers.conf without default ulimits; the base image debian:bookworm-slim is made locally
# with debootstrap and tagged so that `FROM debian:bookworm-slim` resolves without a pull.

set -euo pipefail

deploy_tests=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$deploy_tests/../.." && pwd)
k8s="$root/deploy/k8s"
work=${STANCEWIRE_DEPLOY_WORK:-/tmp/stancewire-deploy}
mkdir -p "$work"

# Image names the manifests use (deploy/k8s/base/kustomization.yaml `images:`) and the tag the
# tests build and run. localhost/ never triggers a pull.
image_tag=${STANCEWIRE_IMAGE_TAG:-dev}
ingest_image=localhost/stancewire/ingest-service:$image_tag
query_image=localhost/stancewire/query-service:$image_tag
base_image=docker.io/library/debian:bookworm-slim

log() { echo "[$(basename "$0")] $*" >&2; }
die() { echo "[$(basename "$0")] FAIL: $*" >&2; exit 1; }

# Installs Debian packages that are missing (idempotent; runs apt-get update only when needed).
ensure_packages() {
  local missing=() p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Writes the containers.conf podman needs here and exports CONTAINERS_CONF.
ensure_podman() {
  ensure_packages podman runc catatonit debootstrap uidmap fuse-overlayfs
  printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
  export CONTAINERS_CONF="$work/containers.conf"
}

pm() { podman --runtime runc "$@"; }

# Makes debian:bookworm-slim from Debian's archive unless the image is already there. `podman
# import` alone leaves the image without the PATH the real debian image sets (then `podman kube
# play` cannot find `sleep`, and `podman exec c id` fails), so it is set as the real one does.
debian_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ensure_base_image() {
  if pm image exists "$base_image"; then
    if ! pm image inspect --format '{{.Config.Env}}' "$base_image" | grep -q 'PATH='; then
      log "$base_image has no PATH: adding it"
      printf 'FROM %s\nENV PATH=%s\nCMD ["bash"]\n' "$base_image" "$debian_path" |
        pm build -q -t "$base_image" -f - "$work" >/dev/null
    fi
    return 0
  fi
  log "no $base_image: making it with debootstrap (about a minute)"
  local rootfs="$work/rootfs-bookworm"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed, see $work/debootstrap.log"
  # Slim like the real image: no package lists or caches, no docs, man pages or translations
  # (and dpkg keeps it so for packages installed later).
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar -C "$rootfs" -c . |
    pm import --change "ENV PATH=$debian_path" --change 'CMD ["bash"]' - "$base_image" >/dev/null
  rm -rf "$rootfs"
}

# Copies the build context (the repository's tracked and untracked files, less what .gitignore
# ignores) to $work/context, so that both images are built from the same snapshot even while the
# tree changes, and the second build reuses the first one's builder stage. Prints its path.
snapshot_context() {
  local src=${STANCEWIRE_DEPLOY_CONTEXT:-$root} dst="$work/context"
  if ! git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "$src"
    return 0
  fi
  rm -rf "$dst"
  mkdir -p "$dst"
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
    tar --null -T - -c) | tar -C "$dst" -x
  echo "$dst"
}

# Exit status ctest counts as skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt).
skip_status=77
skip() { echo "[$(basename "$0")] SKIP: $*" >&2; exit "$skip_status"; }

# The renderer: kustomize v4 or later (components, patches with targets), as `kustomize` or built
# into `kubectl` (1.24 and later print "Kustomize Version: v5..."). Prints its version. Debian 12
# packages none: its kubernetes-client is kubectl 1.20 with kustomize v2.0.3, which cannot render
# components or `patches:`, and no npm package is a substitute; so where none is installed the
# test is skipped, naming what is missing, instead of failing (see deploy/README.md).
require_kustomize() {
  local v="" found
  if command -v kustomize >/dev/null; then
    v=$(kustomize version 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1 || true)
    found="kustomize ${v:-of unknown version} is installed"
  elif command -v kubectl >/dev/null; then
    v=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p' || true)
    found="kubectl ($(kubectl version --client 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1 || true)) has ${v:-no recent kustomize} built in"
  else
    found="neither kustomize nor kubectl is installed"
  fi
  if [[ "$v" =~ ^v([0-9]+) ]] && ((BASH_REMATCH[1] >= 4)); then
    echo "$v"
    return 0
  fi
  skip "needs kustomize v4 or later (or kubectl 1.24+), but $found. Debian 12 packages none" \
    "(kubernetes-client is kubectl 1.20 with kustomize v2.0.3), so scripts/install-deps.sh" \
    "cannot install it; install kustomize v4+ to run the deploy tests"
}

# Prints the manifests of a kustomization directory on stdout (after require_kustomize).
kustomize_build() {
  if command -v kustomize >/dev/null; then
    kustomize build "$1"
  else
    kubectl kustomize "$1"
  fi
}
