#!/usr/bin/env bash
# Measure the hardening with a standard compliance scanner: OpenSCAP with the SCAP Security Guide's Debian 12 data
# stream, on one new same-host container, before and after playbooks/site.yml (hardening on, the default).
# A benchmark run by hand, not a test: record its output in docs/hardening.md ("Measured: OpenSCAP before and after").
#   tests/benchmarks/openscap.sh [bookworm|trixie]
# The scanner and its content are test-side only, never part of a role: `openscap-scanner` comes from the target's own
# archive (bookworm 1.3.7, trixie 1.4.2); the content is `ssg-debian12-ds.xml` from trixie's `ssg-debian` 0.1.76 (the
# only package with Debian 12 content: bookworm's 0.1.65 has Debian 10/11 only, and there is no Debian 13 content),
# fetched from Debian's pool and checked against its sha256 (SSG_DEB_URL and SSG_DEB_SHA256 override both).
# PROFILES: the data stream's profile ids without `xccdf_org.ssgproject.content_profile_` (default: standard,
# anssi_bp28_intermediary and anssi_bp28_enhanced; `oscap info` lists them, so does this script's log).
# On trixie the data stream's platform check (/etc/debian_version matching ^12.[0-9]+$) marks every rule
# notapplicable: the script scans with the data stream as shipped, and again with a copy whose platform check also
# accepts 13 ("as-12"), which shows what the Debian 12 rules find on Debian 13 (indicative only, see docs/hardening.md).
# Prints, per profile, the results before and after (pass, fail, notapplicable, ...), oscap's time per scan, and the
# rules failing after with their titles. HTML reports and ARF results stay in .cache/openscap/<run>/ (not committed).
# A container has no kernel package, and the content judges its kernel rules (sysctls, modules, audit, boot: 95 of
# anssi_bp28_intermediary's 220, 161 of anssi_bp28_enhanced's 316) only where `linux-base` is installed: the script
# installs it, test-side, as a VPS's kernel brings it, so that those rules are judged (their runtime half reads the
# host's kernel, which the container cannot change). LINUX_BASE=0 leaves it out: those rules are then notapplicable.
# Uses the stand-in release (or MATHESAR_RELEASE_ARCHIVE) and the test vault, like the scenarios; Ansible reaches the
# container over `docker exec` (prepare gives it sshd and root's key, as a VPS has).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-bookworm}
case "$suite" in bookworm|trixie) ;; *) echo "usage: $0 [bookworm|trixie]" >&2; exit 2;; esac
name="mdt-oscap-$$"
work="$repo/.cache/bench/$name"
out="$repo/.cache/openscap/$suite-$(date -u +%Y%m%dT%H%M%SZ)"
profiles=${PROFILES:-standard anssi_bp28_intermediary anssi_bp28_enhanced}
ssg_url=${SSG_DEB_URL:-http://deb.debian.org/debian/pool/main/s/scap-security-guide/ssg-debian_0.1.76-1_all.deb}
ssg_sha256=${SSG_DEB_SHA256:-f6880719015c16e8e221bc2503c0e5a9f83d6a09fc6f9292d3522e46bf4fc9d7}
mkdir -p "$out" "$work"
# KEEP=1 leaves the container running; remove it with docker rm -f.
trap '[ -n "${KEEP:-}" ] || docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
. tests/benchmarks/common.sh
bench_prepare "$suite"

# The content, once per checksum: the .deb from Debian's pool, unpacked with dpkg-deb (nothing is installed here).
content="$repo/.cache/openscap/ssg-$ssg_sha256"
if [ ! -f "$content/ssg-debian12-ds.xml" ]; then
  curl -sSf -o "$work/ssg-debian.deb" "$ssg_url"
  echo "$ssg_sha256  $work/ssg-debian.deb" | sha256sum -c --quiet
  dpkg-deb -x "$work/ssg-debian.deb" "$work/ssg"
  mkdir -p "$content"
  cp "$work/ssg/usr/share/xml/scap/ssg/content/ssg-debian12-ds.xml" "$content/"
fi
datastreams=(ssg-debian12-ds.xml)
if [ "$suite" = trixie ]; then
  # Two patterns changed, everything else as shipped: the platform check's, widened to 12 or 13; and the one that
  # tells whether augenrules loads the rules (then rules.d is judged, else audit.rules), which looks for it in
  # auditd.service: Debian 13's auditd.service instead requires audit-rules.service, which runs `augenrules --load`.
  pattern='<ind:pattern operation="pattern match">^12.[0-9]+$</ind:pattern>'
  augenrules='|Requires=augenrules.service)</ind:pattern>'
  [ "$(grep -oF "$pattern" "$content/ssg-debian12-ds.xml" | wc -l)" = 1 ] \
    && [ "$(grep -oF "$augenrules" "$content/ssg-debian12-ds.xml" | wc -l)" = 1 ] \
    || { echo "openscap: a pattern this script widens is not where it expects it"; exit 1; }
  sed -e 's/>^12\.\[0-9\]+\$</>^1[23].[0-9]+$</' \
    -e 's/|Requires=augenrules\.service)</|Requires=(?:augenrules|audit-rules)\.service)</' \
    "$content/ssg-debian12-ds.xml" > "$content/ssg-debian12-ds-as-12.xml"
  datastreams+=(ssg-debian12-ds-as-12.xml)
fi

bench_start_systemd "--cap-add NET_ADMIN" "$name"
bench_same_host_inventory "$work/inventory" "$name"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_VAULT_PASSWORD_FILE="$repo/molecule/resources/test-vault-password"
export MATHESAR_TEST_ARCHIVE=$archive MATHESAR_TEST_VERSION=$version
MOLECULE_EPHEMERAL_DIRECTORY="$work" ansible-playbook -i "$work/inventory/hosts.yml" molecule/resources/prepare.yml \
  > "$out/prepare.log"
# Test setup, as prepare's: the scanner from the target's archive and the content; then the package lists go, so
# that the converge fetches them itself as on a fresh VPS (as converge-times.sh does).
scanner=(openscap-scanner)
[ "${LINUX_BASE:-1}" = 0 ] || scanner+=(linux-base)
docker exec "$name" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${scanner[*]} >/dev/null && mkdir -p /root/scap"
for ds in "${datastreams[@]}"; do docker cp "$content/$ds" "$name:/root/scap/$ds"; done
docker exec "$name" sh -c 'rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp &&
  touch -d "2 days ago" /var/lib/apt/lists'
docker exec "$name" oscap --version | sed -n 1p > "$out/oscap-version.txt"
# (oscap 1.4.2 on trixie prints a harmless error there: it lacks its default CPE dictionary.)
docker exec "$name" oscap info "/root/scap/${datastreams[0]}" > "$out/oscap-info.txt" 2>&1

# scan LABEL: every profile with every data stream; oscap exits 2 when a rule fails, 0 when none does.
scan() {
  local label=$1 ds p base rc start end
  for ds in "${datastreams[@]}"; do
    for p in $profiles; do
      base="$label-${ds%.xml}-$p"
      rc=0
      start=$(date +%s.%N)
      docker exec "$name" oscap xccdf eval --profile "xccdf_org.ssgproject.content_profile_$p" \
        --results-arf "/root/scap/$base-arf.xml" --report "/root/scap/$base.html" "/root/scap/$ds" \
        > "$out/$base.log" 2>&1 || rc=$?
      end=$(date +%s.%N)
      if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then
        tail -20 "$out/$base.log"; echo "openscap: $base: oscap exited $rc (log: $out/$base.log)"; exit 1
      fi
      docker cp "$name:/root/scap/$base-arf.xml" "$out/" && docker cp "$name:/root/scap/$base.html" "$out/"
      printf '%s: oscap %.1f s\n' "$base" "$(python3 -c "print($end - $start)")" | tee -a "$out/times.txt"
    done
  done
}
echo "OpenSCAP on Debian $suite ($(docker exec "$name" cat /etc/debian_version)), $(cat "$out/oscap-version.txt"),"\
  "ssg-debian $(basename "$ssg_url"), test-side packages ${scanner[*]}, release $version, $(nproc) cores;"\
  "results in $out"
scan before
start=$(date +%s.%N)
if ! ansible-playbook -i "$work/inventory/hosts.yml" molecule/same_host/converge.yml > "$out/converge.log" 2>&1; then
  tail -40 "$out/converge.log"; echo "converge: FAILED (log: $out/converge.log)"; exit 1
fi
printf 'converge: %.1f s  (%s)\n' "$(python3 -c "print($(date +%s.%N) - $start)")" \
  "$(grep -Eo 'ok=[0-9]+ +changed=[0-9]+' "$out/converge.log" | tr -s ' ')"
scan after

# The figures: per data stream and profile, each result's count before and after, what changed, and the fails after.
python3 - "$out" "$content/ssg-debian12-ds.xml" "$profiles" "${datastreams[@]}" <<'EOF'
import collections, sys, xml.etree.ElementTree as ET
out, ds_file, profiles, datastreams = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
X = '{http://checklists.nist.gov/xccdf/1.2}'
prefix = 'xccdf_org.ssgproject.content_rule_'
titles = {r.get('id'): r.findtext(X + 'title') for r in ET.parse(ds_file).getroot().iter(X + 'Rule')}

def results(path):
    # The TestResult of the ARF: rule id -> result (notselected rules left out).
    got = {}
    for _, el in ET.iterparse(path):
        if el.tag == X + 'rule-result':
            result = el.findtext(X + 'result')
            if result != 'notselected':
                got[el.get('idref')] = result
            el.clear()
    return got

order = ['pass', 'fail', 'notapplicable', 'notchecked', 'error', 'unknown', 'informational', 'fixed']
for ds in datastreams:
    for p in profiles:
        before = results(f'{out}/before-{ds[:-4]}-{p}-arf.xml')
        after = results(f'{out}/after-{ds[:-4]}-{p}-arf.xml')
        print(f'\n== {p} ({ds}, {len(after)} rules)')
        cb, ca = collections.Counter(before.values()), collections.Counter(after.values())
        keys = [k for k in order if cb[k] or ca[k]] + sorted((set(cb) | set(ca)) - set(order))
        print('         ' + ''.join(f'{k:>15}' for k in keys))
        for label, c in (('before', cb), ('after', ca)):
            print(f'{label:9}' + ''.join(f'{c[k]:>15}' for k in keys))
        fixed = sorted(r for r in after if before.get(r) == 'fail' and after[r] == 'pass')
        broke = sorted(r for r in after if after[r] == 'fail' and before.get(r) != 'fail')
        print(f'fail before, pass after: {len(fixed)}; fail after but not before: {len(broke)}'
              + (' (' + ', '.join(r.replace(prefix, '') for r in broke) + ')' if broke else ''))
        for k in ('fail', 'error', 'unknown'):
            rules = sorted(r for r in after if after[r] == k)
            if rules:
                print(f'{k} after ({len(rules)}):')
                for r in rules:
                    print(f'  {r.replace(prefix, ""):55} {titles.get(r, "?")}')
EOF
[ -z "${KEEP:-}" ] || echo "container kept: $name"
