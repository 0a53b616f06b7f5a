#!/usr/bin/env bash
# (c) The images build from deploy/*/Dockerfile with podman (runc, no registry: the base image
# comes from debootstrap, see lib.sh), and are what they claim:
#   - the image's user is 65532:65532 and the container runs as uid 65532;
#   - every shared library the binaries load resolves (ldd), and every runtime package the
#     Dockerfile installs provides one of them (libpq5 excepted: for the PostgreSQL store);
#   - no compiler, build system or -dev headers are in the final image;
#   - /var/lib/stancewire is the only writable place the image prepares (owned by 65532);
#   - the knowledge files are found through STANCEWIRE_DATA_DIR: `ingest-service extract` turns
#     the first sample news item into stances inside the container, with a read-only root
#     filesystem and no network.
# Tags: localhost/stancewire/{ingest,query}-service:$STANCEWIRE_IMAGE_TAG (default dev).
# Build context: a snapshot of the repository (or of $STANCEWIRE_DEPLOY_CONTEXT), see lib.sh.
source "$(dirname "$0")/lib.sh"
start=$SECONDS
ensure_podman
ensure_base_image
context=$(snapshot_context)
# Packages a runtime stage may install although no binary loads them yet.
allowed_unused=" libpq5 "

summary=()
for svc in ingest-service query-service; do
  image=localhost/stancewire/$svc:$image_tag
  t0=$SECONDS
  log "building $image"
  pm build --network=host --layers -f "$root/deploy/$svc/Dockerfile" \
    --ignorefile "$root/deploy/.dockerignore" -t "$image" "$context" >"$work/build-$svc.log" 2>&1 ||
    { tail -30 "$work/build-$svc.log" >&2; die "building $image failed (log: $work/build-$svc.log)"; }
  build_s=$((SECONDS - t0))

  user=$(pm image inspect --format '{{.Config.User}}' "$image")
  [[ "$user" == "65532:65532" ]] || die "$image: user is '$user', not 65532:65532"

  # Runtime packages the Dockerfile installs (the last apt-get install, i.e. the runtime stage).
  packages=$(awk '/^FROM .* AS runtime/{rt=1} rt && /apt-get install/{on=1; next} on && /^ *&&/{on=0} on{print}' \
    "$root/deploy/$svc/Dockerfile" | tr -d '\\' | tr -s ' \n' ' ')
  [[ -n "${packages// /}" ]] || die "cannot read the runtime packages from deploy/$svc/Dockerfile"

  # Everything below runs inside the image as its own user, with no network, read-only.
  report=$(pm run --rm --network=none --read-only --entrypoint /bin/sh "$image" -c '
    echo "uid=$(id -u) gid=$(id -g)"
    for b in /usr/bin/'"$svc"' /usr/bin/stancewire; do
      [ -x "$b" ] || echo "MISSING $b"
      ldd "$b" | grep "not found" | sed "s/^/UNRESOLVED /"
    done
    libs=$(for b in /usr/bin/'"$svc"' /usr/bin/stancewire; do ldd "$b" | awk "/=> \\//{print \$3}"; done | xargs -r readlink -f | sort -u)
    for p in '"$packages"'; do
      used=no
      for f in $(dpkg -L "$p" 2>/dev/null | grep "\.so"); do
        r=$(readlink -f "$f"); case " $(echo $libs) " in *" $r "*) used=yes; break;; esac
      done
      echo "PACKAGE $p $used"
    done
    for t in gcc g++ cc c++ cpp cmake ninja make protoc ld as pkg-config; do
      command -v "$t" >/dev/null 2>&1 && echo "BUILDTOOL $t"
    done
    ls /usr/include 2>/dev/null | grep -q . && echo "HEADERS /usr/include is not empty"
    echo "STATE $(stat -c %u:%g /var/lib/stancewire)"
    test -w /var/lib/stancewire && echo "WRITABLE /var/lib/stancewire (volume expected)"
    echo "DATA $STANCEWIRE_DATA_DIR $(ls "$STANCEWIRE_DATA_DIR" | tr "\n" " ")"
  ' 2>&1) || die "$image: the inspection container failed: $report"
  grep -q '^uid=65532 gid=65532$' <<<"$report" || die "$image: runs as $(head -1 <<<"$report")"
  if grep -E '^(MISSING|UNRESOLVED|BUILDTOOL|HEADERS)' <<<"$report"; then die "$image: see above"; fi
  grep -q '^STATE 65532:65532$' <<<"$report" || die "$image: /var/lib/stancewire is $(grep ^STATE <<<"$report")"
  while read -r _ p used; do
    [[ "$used" == yes || "$allowed_unused" == *" $p "* ]] ||
      die "$image: runtime package $p provides no library the binaries load"
  done < <(grep '^PACKAGE' <<<"$report")

  if [[ "$svc" == ingest-service ]]; then
    stances=$(head -1 "$root/samples/news.jsonl" |
      pm run --rm -i --network=none --read-only "$image" extract --ignore-unknown-fields 2>"$work/extract.err") ||
      die "$image: ingest-service extract failed: $(cat "$work/extract.err")"
    n=$(grep -c '"actor' <<<"$stances" || true)
    ((n > 0)) || die "$image: ingest-service extract found no stance in the first sample item"
    extra="extract: $n stances"
  else
    pm run --rm --network=none --read-only "$image" --help >/dev/null 2>&1 ||
      die "$image: query-service --help failed"
    extra="--help ok"
  fi
  size=$(pm image inspect --format '{{.Size}}' "$image")
  summary+=("$svc $((size / 1000000)) MB built in ${build_s} s ($extra)")
done
echo "images: built and checked: ${summary[0]}; ${summary[1]} ($((SECONDS - start)) s)"
