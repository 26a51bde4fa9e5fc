# shellcheck shell=bash disable=SC2034  # sourced: the variables are the callers'
# Sourced by the benchmark scripts, from the repository's root: starts Docker, makes the venv, and sets `image` (the
# base image of the suite given) and `archive` and `version` (the stand-in release, or MATHESAR_RELEASE_ARCHIVE).
bench_prepare() {
  tests/testbed/docker-engine.sh >/dev/null
  tests/testbed/venv.sh
  image=$(tests/testbed/base-image.sh "$1")
  # A file of the benchmarks' own: the scenarios rebuild .cache/standin/mathesar.tar.gz (another version) when they
  # start, and a benchmark beside them would install that one.
  archive=${MATHESAR_RELEASE_ARCHIVE:-$(pwd)/.cache/standin/bench-0.10.1-standin1.tar.gz}
  [ -n "${MATHESAR_RELEASE_ARCHIVE:-}" ] || tests/standin/build.sh 0.10.1-standin1 "$archive" >/dev/null
  version=$(tests/testbed/archive-version.sh "$archive")
}

# Start fresh sibling containers from `image` with systemd as PID 1, as the scenarios run them, and wait until
# systemd has booted (on a busy machine a `docker exec` right after the start can fail).
#   bench_start_systemd "EXTRA DOCKER ARGS" NAME...   (e.g. "--cap-add NET_ADMIN" for the hardening role's firewall)
bench_start_systemd() {
  local extra=$1 c
  shift
  for c in "$@"; do
    # shellcheck disable=SC2086  # extra is a list of docker arguments
    docker run -d --name "$c" --hostname mathesar-vps --cap-add SYS_ADMIN $extra \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns host \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --stop-signal SIGRTMIN+3 \
      "$image" /lib/systemd/systemd >/dev/null
  done
  for c in "$@"; do
    for _ in $(seq 1 60); do
      case $(docker exec "$c" systemctl is-system-running --wait 2>/dev/null) in running|degraded) break;; esac
      sleep 1
    done
  done
}

# Mitogen (README, "Faster runs with Mitogen"), for STRATEGY=mitogen: sets `mitogen_env`, the environment that makes
# ansible-playbook use its strategy. Containers reached through `docker exec` go by the connection's short name
# `docker` in the benchmarks' inventories: Ansible routes it to community.docker.docker, and Mitogen takes it over
# (it leaves the FQCN to Ansible's own plugin).
bench_strategy() {
  local plugins
  case "${STRATEGY:-linear}" in
    linear|mitogen) ;;
    *) echo "STRATEGY must be linear or mitogen" >&2; exit 2 ;;
  esac
  plugins=$(.venv/bin/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))' \
    2>/dev/null)/plugins/strategy
  # Mitogen runs ssh itself and enforces host key checking unless told not to (it refused a new container's key
  # despite the inventory's ansible_ssh_common_args): the same trust as the default strategy gets here.
  mitogen_env=(ANSIBLE_STRATEGY_PLUGINS="$plugins" ANSIBLE_STRATEGY=mitogen_linear ANSIBLE_HOST_KEY_CHECKING=False)
}

# The same-host layout's inventory in DIR for the container NAME (the host in both groups, reached through
# `docker exec`), with the example inventory's group_vars from CHECKOUT (default: this checkout).
#   bench_same_host_inventory DIR NAME [CHECKOUT]
bench_same_host_inventory() {
  local dir=$1 host=$2 checkout=${3:-$(pwd)}
  mkdir -p "$dir/group_vars"
  ln -s "$checkout/inventories/example/group_vars/all" "$dir/group_vars/all"
  printf -- '---\nmathesar_app:\n  hosts:\n    %s:\n      ansible_connection: docker\nmathesar_db:\n  hosts:\n    %s:\n' \
    "$host" "$host" > "$dir/hosts.yml"
}
