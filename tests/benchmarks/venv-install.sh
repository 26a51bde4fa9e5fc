#!/usr/bin/env bash
# uv or pip for the release's virtualenv: the release's venv and requirements made as mathesar_app's
# "Install Mathesar's Python requirements into the release venv" task makes them with pip (ansible.builtin.pip with
# requirements and virtualenv_command "/usr/bin/python3 -m venv": the venv, `pip list --format=freeze`, `pip install
# -r requirements.txt` with the venv's bin first in PATH, `pip list` again; no extra options, so pip compiles the
# bytecode), against the same with uv, counting uv's own installation as a fresh converge must: a small venv for
# the tool (`python3 -m venv`), `pip install uv==UV_VERSION` into it, then `uv venv --python /usr/bin/python3` and
# `uv pip install --compile-bytecode -r requirements.txt` (bytecode too: the release folder is root's and the
# service cannot write its .pyc files later). Both from a cold cache (pip's and uv's), for the stand-in release's
# requirements (or MATHESAR_RELEASE_ARCHIVE's).
# A benchmark, not a test: record its output in docs/benchmarks.md.
#   tests/benchmarks/venv-install.sh [trixie|bookworm]
# Each side of each round runs in a new container from one image: the suite's base image plus what the role
# installs before this step (python3-venv and libcairo2; on Debian 13 gcc, libc6-dev and python3-dev) and the
# host's CA files (PyPI's TLS is re-signed on the test bed), committed once per run and removed on exit. No
# systemd: plain `sleep` containers, the steps through `docker exec`, each step timed inside the container.
# ROUNDS (default 3) rounds. PAIR=alternate (the default) runs a round's two sides one after the other, pip first
# in odd rounds and uv first in even ones, so that neither has to share the two cores with the other (uv downloads,
# builds and compiles in parallel; pip mostly on one core) and the machine's drift within the minutes of a round
# falls on both; PAIR=parallel runs them at the same time. UV_VERSION (default: the role's
# mathesar_app_uv_version when set, else 0.13.9) is the uv installed.
# Prints each step's seconds per round, the installed packages of both sides compared, and a table: step, mean,
# min, max, and the ratio of pip's total to uv's (with and without uv's own installation).
# Containers are named mdt-bench-venv-<pid>-... and removed on exit; KEEP=1 leaves them (and their image).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-trixie}
rounds=${ROUNDS:-3}
pair=${PAIR:-alternate}
case "$pair" in parallel|alternate) ;; *) echo "venv-install: PAIR must be alternate or parallel" >&2; exit 2;; esac
default_uv=$(sed -n 's/^mathesar_app_uv_version: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' roles/mathesar_app/defaults/main.yml)
uv_version=${UV_VERSION:-${default_uv:-0.13.9}}
name="mdt-bench-venv-$$"
prepared="$name:prepared"
logs="$repo/.cache/bench/logs-$name"
containers=("$name-prep")
mkdir -p "$logs"
cleanup() {
  if [ -z "${KEEP:-}" ]; then
    for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    docker rmi "$prepared" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
. tests/benchmarks/common.sh
bench_prepare "$suite"

# --- The image every side starts from ---------------------------------------------------------------------------
run_container() { docker run -d --name "$1" "${2:-$image}" sleep infinity >/dev/null; }
run_container "$name-prep"
for ca in /usr/local/share/ca-certificates/*.crt; do
  [ -e "$ca" ] && docker cp -q "$ca" "$name-prep:/usr/local/share/ca-certificates/"
done
docker cp -q "$archive" "$name-prep:/root/mathesar.tar.gz"
docker exec "$name-prep" sh -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  . /etc/os-release
  case "$VERSION_ID" in 13) build="gcc libc6-dev python3-dev";; *) build="";; esac
  update-ca-certificates >/dev/null 2>&1
  apt-get update -qq
  apt-get install -y -qq python3-venv libcairo2 $build >/dev/null
  rm -rf /var/lib/apt/lists/* /root/.cache' > "$logs/prepare.log" 2>&1 \
  || { tail -20 "$logs/prepare.log"; echo "venv-install: preparing the image failed (log: $logs/prepare.log)" >&2; exit 1; }
docker commit "$name-prep" "$prepared" >/dev/null
docker rm -f "$name-prep" >/dev/null

# --- One side in one container: SIDE is pip or uv -----------------------------------------------------------------
# The steps run inside the container; each prints "venv-step NAME SECONDS" on stderr.
# shellcheck disable=SC2016  # expanded by the container's shell
side_script='
set -euo pipefail
side=$1 version=$2 uv_version=$3
root=/opt/mathesar
release=$root/releases/$version
venv=$release/.venv
mkdir -p "$release"
tar -xzf /root/mathesar.tar.gz -C "$release" --no-same-owner
[ ! -e /root/.cache ] || { echo "venv-install: the cache is not cold" >&2; exit 1; }
# The pip module runs its commands in the temporary folder.
cd /tmp
last=$(date +%s.%N)
step() {
  local now
  now=$(date +%s.%N)
  printf "venv-step %s %s\n" "$1" "$(python3 -c "print(f\"{$now - $last:.2f}\")")" >&2
  last=$now
}
case "$side" in
  pip)
    /usr/bin/python3 -m venv "$venv"
    step venv
    "$venv/bin/pip" list --format=freeze >/dev/null
    step pip-list
    PATH="$venv/bin:$PATH" "$venv/bin/pip" install -r "$release/requirements.txt" >/dev/null
    step pip-install
    "$venv/bin/pip" list --format=freeze >/dev/null
    step pip-list-2
    ;;
  uv)
    /usr/bin/python3 -m venv "$root/tools/uv"
    step tool-venv
    "$root/tools/uv/bin/pip" install "uv==$uv_version" >/dev/null
    step uv-install
    uv=$root/tools/uv/bin/uv
    export UV_PYTHON_DOWNLOADS=never
    "$uv" venv --quiet --python /usr/bin/python3 "$venv"
    step uv-venv
    "$uv" pip install --quiet --system-certs --compile-bytecode --python "$venv/bin/python" \
      -r "$release/requirements.txt"
    step uv-pip-install
    ;;
esac
# What was installed (pip and setuptools left out: the pip venv carries them, the uv venv nothing), that the
# bytecode was compiled (the count of .pyc files, those of pip and setuptools left out) and that the packages import.
"$venv/bin/python" -c "import importlib.metadata as m
names = (f\"{d.name.lower().replace(chr(95), chr(45))}=={d.version}\" for d in m.distributions())
print(*sorted(n for n in names if n.split(chr(61))[0] not in (\"pip\", \"setuptools\")), sep=chr(10))" > /root/installed.txt
"$venv/bin/python" -c "import django, gunicorn, sqlalchemy, clevercsv, cairosvg, psycopg, s3fs, whitenoise"
printf "pyc files: %s\n" "$(find "$venv" -name "*.pyc" -not -path "*/site-packages/pip/*" \
  -not -path "*/site-packages/setuptools/*" -not -path "*/site-packages/pkg_resources/*" \
  -not -path "*/site-packages/_distutils_hack/*" | wc -l)" >&2
cat /root/installed.txt
'

# side ROUND pip|uv: a new container, the steps, its log; the container's installed packages in ROUND-SIDE.installed.
side() {
  local round=$1 which=$2 c="$name-r$1-$2"
  if ! docker exec "$c" bash -c "$side_script" side "$which" "$version" "$uv_version" \
    > "$logs/r$round-$which.installed" 2> "$logs/r$round-$which.log"; then
    tail -20 "$logs/r$round-$which.log"; echo "venv-install: round $round, $which FAILED (log: $logs/r$round-$which.log)"
    return 1
  fi
}

echo "release venv and requirements: pip (as mathesar_app does it) against uv $uv_version (with its own installation)," \
  "Debian $suite, release $version, cold caches, pairs $pair, $rounds rounds, $(nproc) cores," \
  "$(date -u '+%Y-%m-%d %H:%M UTC')"
for round in $(seq 1 "$rounds"); do
  for which in pip uv; do
    containers+=("$name-r$round-$which")
    run_container "$name-r$round-$which" "$prepared"
  done
  if [ "$pair" = parallel ]; then
    side "$round" pip & a=$!
    side "$round" uv & b=$!
    rc=0
    wait "$a" || rc=1
    wait "$b" || rc=1
    [ "$rc" = 0 ] || exit 1
  elif [ $((round % 2)) = 1 ]; then
    side "$round" pip || exit 1
    side "$round" uv || exit 1
  else
    side "$round" uv || exit 1
    side "$round" pip || exit 1
  fi
  for which in pip uv; do
    printf 'round %s %-3s %s\n' "$round" "$which" \
      "$(awk '/^venv-step/ {printf "%s%s %s s", sep, $2, $3; sep=", "} /^pyc files/ {pyc=$3}
              END {printf " (%s .pyc files besides pip and setuptools)", pyc}' "$logs/r$round-$which.log")"
  done
  # Without KEEP, a round's containers go now (the next round starts on a machine without them).
  [ -n "${KEEP:-}" ] || docker rm -f "$name-r$round-pip" "$name-r$round-uv" >/dev/null
done

if diff -u "$logs/r1-pip.installed" "$logs/r1-uv.installed" > "$logs/installed.diff"; then
  echo "installed: the same $(wc -l < "$logs/r1-pip.installed") distributions (name==version) on both sides"
else
  echo "installed: the two sides differ (pip and setuptools left out):"; cat "$logs/installed.diff"
fi
echo
python3 - "$logs" "$rounds" <<'EOF'
import statistics, sys
from pathlib import Path
logs, rounds = Path(sys.argv[1]), int(sys.argv[2])
steps = {}
for side in ("pip", "uv"):
    for r in range(1, rounds + 1):
        for line in (logs / f"r{r}-{side}.log").read_text().splitlines():
            if line.startswith("venv-step "):
                _, step, sec = line.split()
                steps.setdefault((side, step), []).append(float(sec))
def total(side, skip=()):
    return [sum(v[i] for (s, st), v in steps.items() if s == side and st not in skip) for i in range(rounds)]
rows = [(f"{s} {st}", v) for (s, st), v in steps.items()]
pip_t, uv_t, uv_noinst = total("pip"), total("uv"), total("uv", ("tool-venv", "uv-install"))
rows += [("pip total", pip_t), ("uv total (with its installation)", uv_t), ("uv total (uv already there)", uv_noinst)]
print(f"{'step':36} {'mean':>7} {'min':>7} {'max':>7}")
for label, v in rows:
    print(f"{label:36} {statistics.mean(v):7.1f} {min(v):7.1f} {max(v):7.1f}")
ratio = [p / u for p, u in zip(pip_t, uv_t)]
ratio_noinst = [p / u for p, u in zip(pip_t, uv_noinst)]
print(f"pip total / uv total, per round: {', '.join(f'{x:.2f}' for x in ratio)} (mean {statistics.mean(ratio):.2f});"
      f" without uv's installation: {', '.join(f'{x:.2f}' for x in ratio_noinst)}"
      f" (mean {statistics.mean(ratio_noinst):.2f})")
EOF
echo "(seconds, timed inside the containers; logs: $logs)"
[ -z "${KEEP:-}" ] || echo "containers kept: ${containers[*]:1} (image $prepared)"
