#!/usr/bin/env bash
# Build the local Docker images the end-to-end tests run, without any registry:
#   vpai-test/debian:bookworm  Debian bookworm rootfs (debootstrap) with
#                              postgresql, redis-server, caddy, python3, curl...
#                              and the HTTP stub /usr/local/bin/vpai-stub (CMD)
#   vpai-test/stub:broken      the same, with STUB_FAIL_HEALTH=1 (Dockerfile)
# Skipped when both images carry the label vpai.test-image-hash=<sha256 of
# build.sh + stub.py + Dockerfile>. Needs root, a running Docker daemon and the
# Debian apt mirror (installs debootstrap when missing). See README.md.
#
# Environment: VPAI_IMAGES_FORCE=1 rebuilds anyway; VPAI_DEBIAN_MIRROR overrides
# the mirror read from /etc/apt; VPAI_IMAGES_TMPDIR (default /var/tmp) holds
# the temporary rootfs (~750 MB, deleted afterwards).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly BASE=vpai-test/debian:bookworm
readonly BROKEN=vpai-test/stub:broken
readonly LABEL=vpai.test-image-hash
readonly PACKAGES=postgresql,redis-server,caddy,python3,ca-certificates,wget,curl,bash,procps,iproute2

start=$SECONDS
log() { printf '[images %4ds] %s\n' "$((SECONDS - start))" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

image_label() {
  docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true
}
image_id() { docker image inspect -f '{{ .Id }}' "$1" 2>/dev/null || true; }

# The first enabled "deb" source for bookworm: deb822 (*.sources) first, then
# one-line (sources.list, *.list).
debian_mirror() {
  local url="" f
  if [ -n "${VPAI_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$VPAI_DEBIAN_MIRROR"
    return
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    url=$(awk '
      function flush() {
        if (!found && !off && uri != "" && types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/) {
          print uri; found = 1
        }
        types = ""; suites = ""; uri = ""; off = 0
      }
      /^[ \t]*$/ { flush(); next }
      /^[Tt]ypes:/   { sub(/^[^:]*:[ \t]*/, ""); types = $0 }
      /^[Ss]uites:/  { sub(/^[^:]*:[ \t]*/, ""); suites = $0 }
      /^URIs:/       { uri = $2 }
      /^[Ee]nabled:[ \t]*[Nn]o/ { off = 1 }
      END { flush() }' "$f")
    [ -z "$url" ] || break
  done
  if [ -z "$url" ]; then
    url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == "bookworm") { print $i; exit }
      }' || true)
  fi
  printf '%s\n' "${url:-http://deb.debian.org/debian}"
}

# One build at a time on this machine.
if command -v flock >/dev/null; then
  exec 9>"${TMPDIR:-/tmp}/vpai-test-images.lock"
  flock 9
fi

docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable"

hash=$(cat "$here/build.sh" "$here/stub.py" "$here/Dockerfile" | sha256sum | cut -d' ' -f1)
force=${VPAI_IMAGES_FORCE:-0}
need_base=1
need_broken=1
[ "$force" = 1 ] || [ "$(image_label "$BASE")" != "$hash" ] || need_base=0
[ "$force" = 1 ] || [ "$need_base" = 1 ] || [ "$(image_label "$BROKEN")" != "$hash" ] || need_broken=0
if [ "$need_base" = 0 ] && [ "$need_broken" = 0 ]; then
  log "$BASE and $BROKEN are up to date ($LABEL=${hash:0:12}), nothing to do; done in $((SECONDS - start)) s"
  exit 0
fi
old_base=$(image_id "$BASE")
old_broken=$(image_id "$BROKEN")

work=""
cleanup() {
  local m
  [ -n "$work" ] && [ -d "$work" ] || return 0
  # debootstrap mounts proc/sys inside the target; never delete through them.
  while read -r m; do
    umount -l "$m" || true
  done < <(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ "$need_base" = 1 ]; then
  if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
    log "apt-get install debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap debian-archive-keyring >/dev/null
  fi
  debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)
  mirror=$(debian_mirror)
  work=$(mktemp -d "${VPAI_IMAGES_TMPDIR:-/var/tmp}/vpai-rootfs.XXXXXX")
  rootfs=$work/rootfs

  log "debootstrap bookworm from $mirror into $rootfs (about 70 s)"
  if ! "$debootstrap" --variant=minbase --include="$PACKAGES" \
      bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [ ! -f "$rootfs/debootstrap/debootstrap.log" ] || tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
  fi

  # A package's postinst may have left a daemon running in the chroot: stop it.
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$rootfs" ]; then
      log "stopping leftover chroot process ${p#/proc/}"
      kill "${p#/proc/}" 2>/dev/null || true
    fi
  done

  install -m 0755 "$here/stub.py" "$rootfs/usr/local/bin/vpai-stub"
  rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
  # Docs, man pages and translations: ~80 MB nobody reads in a test container.
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  # Docker provides these at run time; do not ship the build host's.
  : >"$rootfs/etc/resolv.conf"
  printf 'vpai-test\n' >"$rootfs/etc/hostname"
  log "rootfs ready: $(du -sh --one-file-system "$rootfs" | cut -f1)"

  log "docker import as $BASE"
  tar --numeric-owner -C "$rootfs" -cf - . | docker import \
    --change "LABEL $LABEL=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /' \
    --change 'CMD ["/usr/local/bin/vpai-stub"]' \
    --message "vpai test base image (tests/images/build.sh)" \
    - "$BASE" >/dev/null
  cleanup
  work=""
fi

log "docker build $BROKEN (classic builder, offline)"
# (Quiet: the classic builder prints a deprecation notice on every run.)
if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --label "$LABEL=$hash" -t "$BROKEN" - \
    <"$here/Dockerfile" 2>&1); then
  printf '%s\n' "$out" >&2
  die "docker build $BROKEN failed"
fi

# Drop the images these replaced (ignore ones still used by a container).
for old in "$old_broken" "$old_base"; do
  if [ -n "$old" ] && [ "$old" != "$(image_id "$BASE")" ] && [ "$old" != "$(image_id "$BROKEN")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
done

docker images --format '{{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' | grep '^vpai-test/' || true
log "smoke checks"
if ! bash "$here/smoke.sh" "$BASE" "$BROKEN"; then
  # Do not leave images labelled as good: the next run must rebuild them.
  docker image rm -f "$BROKEN" "$BASE" >/dev/null 2>&1 || true
  die "smoke checks failed; images removed"
fi
log "done in $((SECONDS - start)) s"
