#!/bin/sh
# Build the sandbox base image without a registry: debootstrap a minimal Debian, add the
# agent user, and `docker import` the tree. Usage: build-offline.sh IMAGE_TAG
set -eu
tag="$1"
here=$(cd "$(dirname "$0")" && pwd)
mirror="${TESTBED_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work=$(mktemp -d /var/tmp/testbed-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
debootstrap --variant=minbase \
  --include=python3,python3-pytest,python3-pip,python3-venv,git,procps,less,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
cp "$here/setup-user.sh" "$rootfs/tmp/setup-user.sh"
chroot "$rootfs" sh /tmp/setup-user.sh
rm -f "$rootfs/tmp/setup-user.sh"
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/archives/"*.deb
tar -C "$rootfs" -c . | docker import \
  --change 'USER agent' \
  --change 'WORKDIR /workspace' \
  --change 'ENV HOME=/home/agent LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'CMD ["sleep", "infinity"]' \
  --change "LABEL testbed.image=base" \
  - "$tag" >/dev/null
echo "built $tag offline"
