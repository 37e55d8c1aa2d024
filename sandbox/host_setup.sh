#!/usr/bin/env bash
# Installs and starts what the sandbox tests need on this host, idempotently:
#   bubblewrap (local backend isolation), the Docker engine (docker backend) and the
#   locally built test image `clade-sandbox-test` (a Debian minbase root file system made
#   with debootstrap and loaded with `docker import`; no container registry is needed).
# It never fails `make test`: whatever cannot be set up is named in one line, and the
# tests that need it skip with that reason. Run as root (CI) or with passwordless sudo.
set -u

IMAGE_REPO="clade-sandbox-test"
SUITE="bookworm"
MIRROR="${CLADE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Shared libraries the host's Python and the wheels in .venv need inside the container.
INCLUDE="libssl3,libffi8,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,libncursesw6,libuuid1,zlib1g,libgomp1,procps"
SOCKET="/var/run/docker.sock"

say() { echo "clade host setup: $*"; }
missing() { echo "clade host setup: MISSING: $*"; }

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="NONE"; fi
fi

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  # apt_install PACKAGE...: installs the ones whose command is absent; one `apt-get update` at most.
  if [ "$SUDO" = "NONE" ] || ! have apt-get; then return 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then $SUDO apt-get update -qq >/dev/null 2>&1 && APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

ensure_tool() {
  # ensure_tool COMMAND PACKAGE
  have "$1" || apt_install "$2" || true
  if have "$1"; then return 0; fi
  missing "$1 (Debian package $2) could not be installed"; return 1
}

docker_up() { have docker && docker info >/dev/null 2>&1; }

start_dockerd() {
  if docker_up; then say "Docker engine already running"; return 0; fi
  ensure_tool dockerd docker.io || return 1
  if [ "$SUDO" = "NONE" ]; then missing "Docker engine not running and no root to start it"; return 1; fi
  # Jobs run with --network none, so the engine needs no bridge or iptables rules.
  $SUDO sh -c "nohup setsid dockerd --iptables=false --bridge=none >/var/log/clade-dockerd.log 2>&1 &"
  for _ in $(seq 1 60); do
    if docker_up; then say "Docker engine started"; return 0; fi
    sleep 1
  done
  missing "Docker engine did not answer on $SOCKET within 60 s (see /var/log/clade-dockerd.log)"
  return 1
}

image_tag() {
  # Content tag: changes when the recipe of the image changes.
  echo "$SUITE minbase $INCLUDE $(uname -m)" | sha256sum | cut -c1-12
}

build_image() {
  local tag; tag="$(image_tag)"
  if docker image inspect "$IMAGE_REPO:$tag" >/dev/null 2>&1; then
    docker tag "$IMAGE_REPO:$tag" "$IMAGE_REPO:latest"
    say "test image $IMAGE_REPO:$tag already built"; return 0
  fi
  ensure_tool debootstrap debootstrap || return 1
  local root; root="$(mktemp -d /tmp/clade-rootfs.XXXXXX)"
  if ! $SUDO debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR" >/tmp/clade-debootstrap.log 2>&1; then
    missing "debootstrap of $SUITE failed (see /tmp/clade-debootstrap.log)"; $SUDO rm -rf "$root"; return 1
  fi
  # The host's Python lives under /root; let the unprivileged job user reach bind mounts there.
  $SUDO chmod 0755 "$root/root"
  $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  $SUDO tar -C "$root" -c . | docker import - "$IMAGE_REPO:$tag" >/dev/null
  local rc=$?
  $SUDO rm -rf "$root"
  if [ $rc -ne 0 ]; then missing "docker import of the test image failed"; return 1; fi
  docker tag "$IMAGE_REPO:$tag" "$IMAGE_REPO:latest"
  say "test image $IMAGE_REPO:$tag built"
}

main() {
  local start; start=$(date +%s)
  ensure_tool bwrap bubblewrap || true
  # The web page's end-to-end tests drive Debian's chromium through Playwright.
  ensure_tool chromium chromium || true
  if start_dockerd; then build_image || true; fi
  say "done in $(( $(date +%s) - start )) s"
}

main
exit 0
