#!/usr/bin/env bash
# Build a Debian VM disk for one suite with debootstrap (no registry, no cloud image): a kernel of its own, systemd,
# AppArmor, systemd-timesyncd and sshd, as a provider's Debian image comes. For what a container cannot show (live
# sysctls, auditd, the clock, AppArmor): tests/benchmarks/vm-hardening.sh boots it under QEMU.
# Usage: vm-image.sh [bookworm|trixie]   Prints the folder that holds disk.qcow2, vmlinuz, initrd.img and the SSH key.
# The folder is named after a hash of this recipe, so an unchanged recipe is a no-op. Needs debootstrap, qemu-utils
# and e2fsprogs (mke2fs -d fills the file system from a folder: no loop device, no mount).
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:-trixie}
case "$suite" in bookworm|trixie) ;; *) echo "vm-image: unknown suite '$suite' (bookworm|trixie)" >&2; exit 2;; esac
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,udev,kmod,python3,sudo,iproute2,ifupdown,ca-certificates,procps,openssh-server
packages=$packages,curl,linux-image-amd64,initramfs-tools,apparmor,systemd-timesyncd
recipe="suite=$suite packages=$packages $(sha256sum "$0" | cut -c1-64)"
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
dir=$(pwd)/.cache/vm/$suite-$tag
if [ -f "$dir/disk.qcow2" ]; then echo "$dir"; exit 0; fi
command -v qemu-img >/dev/null || { echo "vm-image: needs qemu-utils (apt-get install qemu-utils)" >&2; exit 2; }
root=$(mktemp -d /var/tmp/mathesar-vm-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$dir"
echo "vm-image: debootstrap $suite into $root" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >/dev/null
# QEMU's user network: the guest is 10.0.2.15, the host 10.0.2.2, QEMU's DNS 10.0.2.3 (net.ifnames=0: eth0).
cat > "$root/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback
auto eth0
iface eth0 inet static
  address 10.0.2.15/24
  gateway 10.0.2.2
EOF
echo 'nameserver 10.0.2.3' > "$root/etc/resolv.conf"
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' > "$root/etc/fstab"
echo "vm-$suite" > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vm-%s\n' "$suite" > "$root/etc/hosts"
# Root's key for Ansible and the benchmark (a throwaway VM on loopback); host keys made now, once per image.
[ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "vm-$suite" -f "$dir/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$dir/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
chroot "$root" ssh-keygen -A >/dev/null
rm -f "$root/etc/machine-id" && touch "$root/etc/machine-id"
printf 'APT::Install-Recommends "false";\n' > "$root/etc/apt/apt.conf.d/90-test-no-recommends"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
cp "$(readlink -f "$root/vmlinuz")" "$dir/vmlinuz"
cp "$(readlink -f "$root/initrd.img")" "$dir/initrd.img"
truncate -s 12G "$dir/disk.raw"
mke2fs -q -t ext4 -d "$root" "$dir/disk.raw"
qemu-img convert -O qcow2 "$dir/disk.raw" "$dir/disk.qcow2.tmp" && rm "$dir/disk.raw"
mv "$dir/disk.qcow2.tmp" "$dir/disk.qcow2"
echo "vm-image: built $dir" >&2
echo "$dir"
