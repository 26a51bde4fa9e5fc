#!/usr/bin/env bash
# Build the systemd base image for one Debian suite with debootstrap (no registry is needed).
# Usage: base-image.sh [bookworm|trixie]   (default: $MATHESAR_TEST_SUITE or trixie)
# Prints the image name. The tag is a hash of this recipe, so an unchanged recipe is a no-op.
set -euo pipefail
suite=${1:-${MATHESAR_TEST_SUITE:-trixie}}
case "$suite" in bookworm|trixie) ;; *) echo "base-image: unknown suite '$suite' (bookworm|trixie)" >&2; exit 2;; esac
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# As a VPS image comes: with sshd and curl (each container makes its own SSH host keys in prepare).
packages=systemd,systemd-sysv,dbus,python3,sudo,iproute2,ca-certificates,procps,openssh-server,curl
recipe="suite=$suite packages=$packages variant=minbase $(sha256sum "$0" | cut -c1-64)"
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
image="mathesar-deploy-base:$suite-$tag"
if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi
root=$(mktemp -d /var/tmp/mathesar-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap $suite into $root" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >/dev/null
# A container has no real console or kernel to manage: keep systemd from waiting on them.
chroot "$root" systemctl mask getty@tty1.service serial-getty@.service console-getty.service \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null 2>&1 || true
rm -f "$root"/etc/machine-id && touch "$root"/etc/machine-id
# No host keys shared by every container: prepare makes them per container (ssh-keygen -A) and starts sshd
# where a test needs it.
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" systemctl disable ssh.service >/dev/null 2>&1
# Keep apt lean in tests: no recommends unless a role asks for them.
printf 'APT::Install-Recommends "false";\n' > "$root"/etc/apt/apt.conf.d/90-test-no-recommends
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$image" >/dev/null
echo "base-image: built $image" >&2
echo "$image"
