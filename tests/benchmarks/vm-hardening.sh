#!/usr/bin/env bash
# The hardening role on a Debian VM with a kernel of its own: what a container cannot show. A benchmark run by hand,
# not a test (record its output in docs/hardening.md, "Measured: on a VM").
#   tests/benchmarks/vm-hardening.sh [bookworm|trixie]
# Builds (once) the VM disk of tests/testbed/vm-image.sh, boots a throwaway copy under QEMU (ACCEL=tcg by default:
# software emulation, as this test bed's /dev/kvm does not run a guest; ACCEL=kvm where it does), and then:
#   1. Lynis before (installed test-side, as in the hardening scenario);
#   2. tests/benchmarks/vm-hardening.yml: the hardening role alone, with chrony pointed at an NTP server this script
#      runs on the QEMU host (chronyd -x: it serves its clock and never sets it), then the same playbook again
#      (changed=0 expected);
#   3. checks: every sysctl of the role's file is live; auditd runs with the role's rules loaded and records a change
#      to /etc/sudoers.d; chrony synchronises with the host; AppArmor enforces; no failed unit; all again after a
#      reboot;
#   4. Lynis after, and the Lynis tests that still miss points.
# Why not Mathesar as well: under software emulation one Lynis run takes about 10 minutes and a full converge would
# take hours; Mathesar's services add nothing to these checks, and the hardening scenario runs Lynis with them.
# Needs qemu-system-x86, qemu-utils, debootstrap and chrony on this machine. Logs in .cache/vm-bench/<suite>-<time>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-bookworm}
case "$suite" in bookworm|trixie) ;; *) echo "usage: $0 [bookworm|trixie]" >&2; exit 2;; esac
for tool in qemu-system-x86_64 qemu-img chronyd debootstrap; do
  command -v "$tool" >/dev/null || { echo "vm-hardening: needs $tool (qemu-system-x86, qemu-utils, chrony, debootstrap)" >&2; exit 2; }
done
accel=${ACCEL:-tcg}
out="$repo/.cache/vm-bench/$suite-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
tests/testbed/venv.sh
image=$(tests/testbed/vm-image.sh "$suite")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ssh_port=$(free_port)
ntp_port=$(free_port)

cleanup() {
  [ -f "$out/qemu.pid" ] && kill "$(cat "$out/qemu.pid")" 2>/dev/null || true
  [ -f "$out/chronyd.pid" ] && kill "$(cat "$out/chronyd.pid")" 2>/dev/null || true
  rm -f "$out/disk.qcow2"
}
trap cleanup EXIT

# The NTP server the VM's chrony is pointed at: QEMU forwards the guest's 10.0.2.2:PORT to the host's loopback.
cat > "$out/ntp-server.conf" <<EOF
port $ntp_port
bindaddress 127.0.0.1
cmdport 0
local stratum 8
allow 127.0.0.1
pidfile $out/chronyd.pid
EOF
chronyd -x -f "$out/ntp-server.conf" -l "$out/ntp-server.log"

qemu-img create -q -f qcow2 -b "$image/disk.qcow2" -F qcow2 "$out/disk.qcow2"
# -cpu max: under the default CPU model (qemu64) the Debian 13 guest kernel oopsed twice in one run.
qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 3072 -display none -daemonize -pidfile "$out/qemu.pid" \
  -serial "file:$out/console.log" -drive "file=$out/disk.qcow2,if=virtio" \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "root=/dev/vda rw console=ttyS0 net.ifnames=0" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$ssh_port-:22" -device virtio-net-pci,netdev=n0
ssh_args=(-q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=60
          -i "$image/id_ed25519" -p "$ssh_port" root@127.0.0.1)
vm() { ssh "${ssh_args[@]}" "$@"; }
wait_ssh() {
  local start=$SECONDS
  until vm true 2>/dev/null; do
    [ $((SECONDS - start)) -lt 600 ] || { tail -20 "$out/console.log"; echo "vm-hardening: no SSH after 600 s"; exit 1; }
    sleep 3
  done
  # sshd answers before every unit has started.
  vm 'systemctl is-system-running --wait >/dev/null || true'
  echo "$((SECONDS - start))"
}
lynis() {
  vm 'lynis audit system --quick --no-colors >/dev/null 2>&1; cat /var/log/lynis-report.dat' > "$out/lynis-$1-report.dat"
  vm 'cat /var/log/lynis.log' > "$out/lynis-$1.log"
  python3 molecule/resources/tests/lynis_report.py "$out/lynis-$1-report.dat" "$out/lynis-$1.log" "$1"
}
timed() {
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "$label: $((SECONDS - start)) s"
}

echo "vm-hardening: Debian $suite, accel $accel, image $image, logs $out"
echo "boot: SSH after $(wait_ssh) s"
vm 'cat /etc/debian_version; uname -r' | paste -sd' ' | sed 's/^/guest: Debian /'
vm 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lynis >/dev/null 2>&1'
# LYNIS_BEFORE=0 and SECOND_RUN=0 leave those steps out (a shorter run, e.g. to re-measure after a change).
[ "${LYNIS_BEFORE:-1}" = 0 ] || timed "lynis before" lynis before

cat > "$out/inventory.yml" <<EOF
vm:
  hosts:
    vm-$suite:
      ansible_host: 127.0.0.1
      ansible_port: $ssh_port
      ansible_user: root
      ansible_ssh_private_key_file: $image/id_ed25519
      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
      vm_ntp_server: 10.0.2.2 port $ntp_port
      # Key exchange under software emulation can take longer than Ansible's 10 s default.
      ansible_timeout: 60
EOF
converge() {
  if ! .venv/bin/ansible-playbook -i "$out/inventory.yml" tests/benchmarks/vm-hardening.yml > "$out/$1.log" 2>&1; then
    tail -30 "$out/$1.log"; echo "vm-hardening: $1 FAILED (log: $out/$1.log)"; exit 1
  fi
  grep -Eo 'ok=[0-9]+ +changed=[0-9]+' "$out/$1.log" | tr -s ' ' | sed "s/^/$1: /"
}
timed "converge" converge converge
[ "${SECOND_RUN:-1}" = 0 ] || timed "second run" converge second-run

# What a container cannot show. Each check prints its evidence; a failed one ends the run.
check() {
  local what=$1 script=$2 got
  if got=$(vm "$script" 2>&1); then echo "ok: $what: $got"; else echo "FAILED: $what: $got"; exit 1; fi
}
checks() {
  check "sysctls live" 'set -e; n=0; while read -r key _ value; do
      case "$key" in ""|"#"*) continue;; esac
      live=$(sysctl -n "$key"); [ "$live" = "$value" ] || { echo "$key is $live, not $value"; exit 1; }; n=$((n+1))
    done < /etc/sysctl.d/99-zz-mathesar-deploy.conf; echo "$n of the file'"'"'s settings applied"'
  check "auditd" 'set -e; systemctl is-active auditd >/dev/null
    n=$(auditctl -l | wc -l); want=$(grep -c "^-[aw] " /etc/audit/rules.d/50-mathesar-deploy.rules)
    [ "$n" = "$want" ] || { echo "$n rules loaded, the file has $want"; exit 1; }
    touch /etc/sudoers.d/vm-check && rm /etc/sudoers.d/vm-check
    # auditd writes the record a moment later; under emulation on a busy host, seconds later.
    for i in $(seq 1 30); do
      ausearch --input /var/log/audit/audit.log -k scope -f /etc/sudoers.d/vm-check >/dev/null 2>&1 && break
      [ "$i" -lt 30 ] || { echo "no record of the write to /etc/sudoers.d after 30 s"; exit 1; }
      sleep 1
    done
    echo "$n rules loaded; the write to /etc/sudoers.d recorded (ausearch -k scope)"'
  check "chrony" 'set -e; for i in $(seq 1 60); do chronyc -n sources | grep -q "^\^\* 10.0.2.2" && break; sleep 2; done
    chronyc -n sources | grep "^\^\* 10.0.2.2" >/dev/null; systemctl is-active systemd-timesyncd >/dev/null 2>&1 && exit 1
    echo "synchronised with $(chronyc -n sources | grep "^\^\*" | cut -c1-40 | tr -s " "); $(chronyc tracking | grep "Leap status")"'
  check "AppArmor" 'set -e; aa-status --enabled; echo "$(aa-status --profiled) profiles, $(aa-status --enforced) enforced"'
  check "no failed unit" 'state=$(systemctl is-system-running); systemctl --failed --no-legend; [ "$state" = running ] && echo "$state"'
}
checks
vm 'systemctl reboot' || true
sleep 10
echo "reboot: SSH after $(wait_ssh) s"
checks
timed "lynis after" lynis after
